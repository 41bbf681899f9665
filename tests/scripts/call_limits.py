"""Python that runs as long as it is told, for tests/scripts/call_timeouts.ts."""

import time

_record = {"finally": 0, "caught": []}


def spin():
    try:
        while True:
            pass
    except BaseException as e:
        _record["caught"].append(f"{type(e).__module__}.{type(e).__qualname__}")
        raise
    finally:
        _record["finally"] += 1


def spin_for(seconds):
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        pass
    return "done"


def add(a, b):
    return a + b


def state():
    return _record
