"""Batch functions for tests/scripts/batch.ts."""

from concurrent.futures import ThreadPoolExecutor

import tandem

_pool = ThreadPoolExecutor(max_workers=1)

calls = []


@tandem.batch(max_size=4, max_wait_ms=200)
def double(numbers):
    calls.append(len(numbers))
    return [n * 2 for n in numbers]


@tandem.batch(max_size=8, max_wait_ms=20)
def inverse(numbers):
    # 1/0 raises for the whole list: the batcher retries each input alone.
    return [1 / n for n in numbers]


@tandem.batch(max_size=8, max_wait_ms=20)
def checked(words):
    return [ValueError(f"{w!r} is not a word") if not w.isalpha() else w.upper() for w in words]


@tandem.batch(max_size=8, max_wait_ms=20)
def lossy(items):
    return [item for item in items if item != "b"]


def batch_sizes():
    return calls


def tripled_later(n):
    """A plain concurrent.futures.Future: also a Promise in TypeScript."""
    return _pool.submit(lambda: n * 3)


def double_from_python(n):
    """A Python caller of a batched function: it shares the queue."""
    return double(n).result()


@tandem.batch(max_size=8, max_wait_ms=0)
def echo(items):
    """Returns each input with its Python type name, to check conversions."""
    return [(type(item).__name__, item) for item in items]
