import asyncio


async def slow_add(a, b):
    await asyncio.sleep(0.01)
    return a + b


async def slow_fail():
    await asyncio.sleep(0.001)
    raise RuntimeError("failed after await")


def total(*values):
    return sum(values)
