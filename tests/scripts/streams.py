import asyncio

# What each generator did, read back by streams.ts.
log = []


def count(n):
    """Yields 0..n-1, logging each item as it is made."""
    try:
        for i in range(n):
            log.append(f"made {i}")
            yield i
    finally:
        log.append("count closed")


async def acount(n):
    try:
        for i in range(n):
            await asyncio.sleep(0.001)
            log.append(f"amade {i}")
            yield {"i": i, "square": i * i}
    finally:
        log.append("acount closed")


def failing():
    yield "first"
    raise ValueError("the model broke on item 2")


async def afailing():
    yield "first"
    raise KeyError("missing")


async def forever():
    # Closed either way: cancelled in a pending step (CancelledError), or
    # closed by the loop if the abort came between steps.
    try:
        while True:
            await asyncio.sleep(0.005)
            yield "tick"
    finally:
        log.append("forever closed")


def take_log():
    out = list(log)
    log.clear()
    return out
