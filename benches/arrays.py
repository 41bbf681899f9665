"""Python side of the array-crossing benchmark (benches/array_crossing.ts)."""

import time

import numpy as np

_arrays = {}


def array(n):
    """A float32 array of n elements, made once: the benchmark times the
    crossing, not numpy's allocation."""
    if n not in _arrays:
        _arrays[n] = np.arange(n, dtype=np.float32)
    return _arrays[n]


def size(a):
    return a.size


def copy_us(n, rounds=20):
    """One memcpy of the array in Python (``tobytes``), for scale: what a
    copying crossing costs at least."""
    a = array(n)
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        a.tobytes()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return samples[len(samples) // 2] / 1000
