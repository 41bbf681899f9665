"""Coroutines for with_signal.ts that record how they ended."""

import asyncio

ended = []


async def sleep_for(seconds, tag):
    try:
        await asyncio.sleep(seconds)
        ended.append(f"{tag}: slept")
        return tag
    except BaseException as e:
        ended.append(f"{tag}: {type(e).__name__}")
        raise


def log():
    return ended
