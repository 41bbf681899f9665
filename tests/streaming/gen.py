"""Generators the streaming tests serve; `events` records what they did."""

import asyncio
import time

events = []


async def ticks(n, delay):
    """n ticks, `delay` seconds apart: the client must see each as it comes."""
    try:
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield {"tick": i, "at": time.monotonic()}
    finally:
        events.append(f"ticks({n}) closed")


def numbers(name):
    """Endless, synchronous, a little slow: only a client leaving stops it."""
    try:
        i = 0
        while True:
            time.sleep(0.01)
            yield {"n": i}
            i += 1
    finally:
        events.append(f"numbers {name} closed")


async def endless(name):
    try:
        while True:
            await asyncio.sleep(0.01)
            yield "tick"
    finally:
        events.append(f"endless {name} closed")


def breaks_after(n):
    for i in range(n):
        yield i
    raise RuntimeError(f"the model failed after {n} items")


def stuck_after_one():
    """Yields once, then never again and never returns to TypeScript."""
    try:
        yield "one"
        while True:
            pass
    finally:
        events.append("stuck closed")


def take_events():
    out = list(events)
    events.clear()
    return out
