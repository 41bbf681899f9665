"""What tests/reliability/recycle.ts calls: the process id, memory that
stays allocated, and a segmentation fault."""

import ctypes
import os

_kept = []


def pid() -> int:
    return os.getpid()


def grow(mib: int) -> int:
    """Keeps `mib` MiB of written (so resident) bytes; returns the count kept."""
    _kept.append(b"x" * (mib << 20))
    return len(_kept)


def segfault() -> None:
    """Reads address 0, as a broken native extension would."""
    ctypes.string_at(0)
