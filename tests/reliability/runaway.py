"""Python that never returns unless interrupted, and a record of what ran
when it was."""

import asyncio
import contextlib
import time

import tandem

_record = {"finally": 0, "exits": 0, "caught": [], "awaits": [], "batched": []}


def spin():
    try:
        while True:
            pass
    except BaseException as e:
        _record["caught"].append(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
        raise
    finally:
        _record["finally"] += 1


@contextlib.contextmanager
def _counted():
    try:
        yield
    finally:
        _record["exits"] += 1


def spin_in_with():
    with _counted():
        x = 0
        while True:
            x += 1


async def sleep_async(seconds):
    """Sleeps on the runtime's asyncio loop; records how it ended."""
    try:
        await asyncio.sleep(seconds)
        _record["awaits"].append("slept")
        return "slept"
    except BaseException as e:
        _record["awaits"].append(f"{type(e).__module__}.{type(e).__qualname__}")
        raise


@tandem.batch(max_size=1, max_wait_ms=0)
def slow_batch(items):
    """One input a batch: records its tag, then sleeps its seconds."""
    _record["batched"].append(items[0]["tag"])
    time.sleep(items[0]["seconds"])
    return [item["tag"] for item in items]


def state():
    return _record
