"""WSGI apps that tests/wsgi.rs serves with `tandem run --wsgi`.

Every route but /problems runs behind ``wsgiref.validate.validator``, which
checks both sides of PEP 3333: what the server hands the app and what it does
with the app's answer. Its complaints (warnings, assertion failures, an
iterator collected without close()) are recorded, and /problems returns them:
the tests require that list to be empty.
"""

import hashlib
import io
import json
import sys
import threading
import time
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import validator

problems = []


def _record_warning(message, category, filename, lineno, file=None, line=None):
    problems.append(f"{category.__name__}: {message}")


warnings.simplefilter("always")
warnings.showwarning = _record_warning
sys.unraisablehook = lambda u: problems.append(f"unraisable: {u.exc_value!r}")

ROUTES = {}


def route(path, validate=True):
    def register(fn):
        checked = validator(fn) if validate else fn

        def recording(environ, start_response):
            try:
                return checked(environ, start_response)
            except AssertionError as e:
                problems.append(f"AssertionError on {path}: {e}")
                raise

        ROUTES[path] = recording
        return fn

    return register


def text(start_response, body, status="200 OK", extra=()):
    body = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *extra])
    return [body]


def as_json(start_response, value, status="200 OK"):
    body = json.dumps(value).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def query(environ):
    return {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}


@route("/")
def hello(environ, start_response):
    return text(start_response, "Hello, World!")


@route("/environ")
def environ_view(environ, start_response):
    plain = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int, tuple))}
    return as_json(start_response, plain)


@route("/streams", validate=False)
def streams(environ, start_response):
    """The server's own wsgi.input and wsgi.errors (the validator wraps
    both, so this route runs without it)."""
    kind = type(environ["wsgi.input"])
    return as_json(start_response, {
        "input_type": f"{kind.__module__}.{kind.__qualname__}",
        "errors_is_stderr": environ["wsgi.errors"] is sys.stderr,
    })


@route("/hop-by-hop", validate=False)
def hop_by_hop(environ, start_response):
    """Sends the hop-by-hop headers PEP 3333 forbids (the validator would
    refuse them): the server must leave them out."""
    start_response("200 OK", [
        ("Content-Type", "text/plain"), ("Content-Length", "2"), ("Keep-Alive", "timeout=99"),
        ("Upgrade", "h2c"), ("Transfer-Encoding", "gzip"), ("Trailer", "X-T"), ("TE", "trailers"),
        ("Connection", "upgrade"), ("X-Kept", "yes"),
    ])
    return [b"ok"]


@route("/upload")
def upload(environ, start_response):
    """Hashes the body, read in blocks (?mode=read) or by lines (?mode=lines)."""
    stream = environ["wsgi.input"]
    digest, total, lines = hashlib.sha256(), 0, 0
    if query(environ).get("mode") == "lines":
        for line in stream:
            digest.update(line)
            total += len(line)
            lines += 1
    else:
        while True:
            block = stream.read(65536)
            if not block:
                break
            digest.update(block)
            total += len(block)
    return as_json(start_response, {"bytes": total, "sha256": digest.hexdigest(), "lines": lines})


@route("/stream")
def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def chunks():
        for i in range(5):
            yield f"chunk {i}\n".encode()

    return chunks()


@route("/write")
def write(environ, start_response):
    out = start_response("200 OK", [("Content-Type", "text/plain")])
    out(b"written, ")
    return [b"then returned"]


@route("/status")
def status(environ, start_response):
    return text(
        start_response,
        "accepted",
        status="202 Accepted For Later",
        extra=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Custom", "Value")],
    )


FILE_DATA = bytes(range(256)) * 1000


@route("/file")
def file(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(FILE_DATA)))]
    )
    return environ["wsgi.file_wrapper"](io.BytesIO(FILE_DATA), 4096)


closed = {"count": 0}


class Closing:
    def __iter__(self):
        yield b"closing"

    def close(self):
        closed["count"] += 1


@route("/closing")
def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing()


@route("/closed")
def closed_view(environ, start_response):
    return as_json(start_response, closed)


@route("/error")
def error(environ, start_response):
    raise ValueError("boom on purpose")


@route("/error-mid-stream")
def error_mid_stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def chunks():
        yield b"first part"
        raise RuntimeError("failed after the head went out")

    return chunks()


@route("/exc-info")
def exc_info(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise KeyError("missing")
    except KeyError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"recovered"]


sleeping = 0
sleeping_lock = threading.Lock()


@route("/sleep")
def sleep(environ, start_response):
    global sleeping
    with sleeping_lock:
        sleeping += 1
    try:
        time.sleep(float(query(environ).get("s", "1")))
    finally:
        with sleeping_lock:
            sleeping -= 1
    return text(start_response, "slept")


@route("/sleeping", validate=False)
def sleeping_view(environ, start_response):
    """How many /sleep requests are in their sleep now: tests wait on it
    instead of guessing with a sleep of their own."""
    return text(start_response, str(sleeping))


@route("/problems", validate=False)
def problems_view(environ, start_response):
    return as_json(start_response, problems)


def app(environ, start_response):
    handler = ROUTES.get(environ["PATH_INFO"])
    if handler is None:
        return text(start_response, f"not found: {ascii(environ['PATH_INFO'])}", status="404 Not Found")
    return handler(environ, start_response)


def not_callable():
    pass


broken = 42
