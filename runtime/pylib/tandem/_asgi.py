"""ASGI 3 apps on Tandem's server (``tandem run --asgi app.py``).

The server (Rust, runtime/src/asgi/) never runs the app itself: for each
request it builds the scope, makes a ``Sink`` for the response and calls
``start``, which runs ``app(scope, receive, send)`` on the process's
asyncio loop (``tandem._event_loop``, one thread). The request body
reaches ``receive`` through ``feed``, called from the server's threads with
``loop.call_soon_threadsafe``; what the app sends goes straight to the
sink, whose channel hyper reads. ``Lifespan`` runs the lifespan protocol
around the server's life.
"""

import asyncio
import traceback

from tandem import _event_loop

__all__ = ["start", "Lifespan"]

ASGI = {"version": "3.0", "spec_version": "2.3"}
# Sink.body's answers.
_SENT, _FULL, _CLOSED = 0, 1, 2


def start(app, scope, sink, body):
    """Runs ``app`` for one request on the loop; returns the ``Exchange``
    and the concurrent future of the run (cancelled when the request's
    deadline passes). ``body`` is the whole request body, or None when it
    is streamed: then ``feed``/``disconnect`` bring it."""
    loop = _event_loop()
    exchange = Exchange(loop, sink)
    if body is not None:
        # Given here, the body costs no second hop to the loop.
        exchange.chunks.put_nowait((body, False))
    future = asyncio.run_coroutine_threadsafe(exchange.run(app, scope), loop)
    return exchange, future


class Exchange:
    """One HTTP request: the app's ``receive`` and ``send``."""

    def __init__(self, loop, sink):
        self.loop = loop
        self.sink = sink
        self.chunks = asyncio.Queue()
        self.disconnected = asyncio.Event()
        self.body_done = False
        self.started = False
        self.finished = False

    # Called through loop.call_soon_threadsafe by the server.
    def feed(self, chunk, more):
        self.chunks.put_nowait((chunk, more))

    def disconnect(self):
        self.disconnected.set()
        self.chunks.put_nowait(None)

    async def receive(self):
        if not self.body_done:
            item = await self.chunks.get()
            if item is not None:
                chunk, more = item
                self.body_done = not more
                return {"type": "http.request", "body": chunk, "more_body": more}
            self.body_done = True
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message):
        kind = message.get("type")
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("ASGI: the app sent 'http.response.start' twice")
            self.started = True
            self.sink.start(message["status"], list(message.get("headers", ())))
        elif kind == "http.response.body":
            if not self.started:
                raise RuntimeError("ASGI: the app sent 'http.response.body' before 'http.response.start'")
            if self.finished:
                raise RuntimeError("ASGI: the app sent 'http.response.body' after the body ended")
            more = bool(message.get("more_body", False))
            self.finished = not more
            body = bytes(message.get("body", b""))
            # A full channel means a slow client: wait for room rather
            # than hold the whole body in memory.
            while (answer := self.sink.body(body, more)) == _FULL:
                await asyncio.sleep(0.001)
            if answer == _CLOSED:
                self.disconnect()
        else:
            raise RuntimeError(
                f"ASGI: unexpected message type {kind!r} on an HTTP connection "
                "(expected 'http.response.start' or 'http.response.body')"
            )

    async def run(self, app, scope):
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            self.sink.fail("the request was cancelled (its deadline passed or the server stopped)")
            raise
        except Exception:
            self.sink.fail(traceback.format_exc())
            return
        if not self.started:
            self.sink.fail("the ASGI app returned without sending 'http.response.start'")
        elif not self.finished:
            self.sink.body(b"", False)


class Lifespan:
    """The lifespan protocol: ``startup`` before the server accepts,
    ``shutdown`` after it has drained. An app that raises before answering
    the startup event does not speak the protocol and is served anyway (as
    uvicorn's ``--lifespan auto`` does); one that sends
    ``lifespan.startup.failed`` stops the server with its message."""

    def __init__(self, app):
        self.app = app
        self.state = {}
        self.supported = True
        self.loop = _event_loop()
        self.task = None

    def startup(self, timeout):
        """Blocks until the app has started; raises RuntimeError if it failed."""
        return asyncio.run_coroutine_threadsafe(self._startup(), self.loop).result(timeout)

    def shutdown(self, timeout):
        if self.task is None or not self.supported:
            return None
        return asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout)

    async def _startup(self):
        self.events = asyncio.Queue()
        self.answers = asyncio.Queue()
        self.events.put_nowait({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": ASGI, "state": self.state}
        self.task = asyncio.ensure_future(self._main(scope))
        answer = await self.answers.get()
        if answer["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the ASGI app's startup failed: {answer.get('message', '')}")
        if answer["type"] == "unsupported":
            self.supported = False
            return "unsupported"
        return "started"

    async def _shutdown(self):
        self.events.put_nowait({"type": "lifespan.shutdown"})
        answer = await self.answers.get()
        if answer["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(f"the ASGI app's shutdown failed: {answer.get('message', '')}")
        return "stopped"

    async def _main(self, scope):
        try:
            await self.app(scope, self.events.get, self._send)
        except BaseException as e:
            self.answers.put_nowait({"type": "unsupported", "error": repr(e)})
            if not isinstance(e, Exception):
                raise

    async def _send(self, message):
        self.answers.put_nowait(message)
