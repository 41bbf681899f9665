"""A WSGI app with a route that never returns unless interrupted, for
tests/reliability.rs; every other path reports what ran when it was."""

import json

_state = {"finally": 0, "caught": []}


def app(environ, start_response):
    if environ["PATH_INFO"] == "/loop":
        try:
            while True:
                pass
        except BaseException as e:
            _state["caught"].append(f"{type(e).__module__}.{type(e).__qualname__}")
            raise
        finally:
            _state["finally"] += 1
    body = json.dumps(_state).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
