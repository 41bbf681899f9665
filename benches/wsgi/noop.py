"""The smallest WSGI app: measures a server's own cold start, without the
import of a framework (cold_start.py)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
