"""Python that never returns unless interrupted, and a record of what ran
when it was."""

import contextlib

_record = {"finally": 0, "exits": 0, "caught": []}


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


def state():
    return _record
