"""The WSGI app tests/malformed_http.rs sends its corpus of bad requests to:
a plain route, one that reads the body, and routes that try to put a line
break into the response's head."""

import json


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        out = json.dumps({"bytes": len(body), "text": body.decode("latin-1")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]
    if path == "/inject/header":
        start_response("200 OK", [("X-Note", "a\r\nSet-Cookie: injected=1")])
        return [b"x"]
    if path == "/inject/name":
        start_response("200 OK", [("X-Note\r\nSet-Cookie", "injected=1")])
        return [b"x"]
    if path == "/inject/status-text":
        start_response("200 OK\r\nSet-Cookie: injected=1", [])
        return [b"x"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
