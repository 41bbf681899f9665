"""numpy arrays shared with TypeScript (shared_arrays.ts)."""

import gc

import numpy as np

state = np.zeros((2, 3), dtype=np.float32)


def get_state():
    return state


def state_list():
    return state.tolist()


def describe(array):
    return {
        "type": type(array).__name__,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "shares_state": bool(np.shares_memory(array, state)),
    }


def write(array, value):
    array.flat[0] = value
    return array.flat[0].item()


def fresh(n):
    # The only reference Python keeps is the one the engine holds.
    array = np.arange(n, dtype=np.float64)
    return array


def collect():
    gc.collect()


def strided():
    return state[:, ::2]


def transposed():
    return np.arange(6, dtype=np.int32).reshape(2, 3).T


def big_endian():
    return np.array([1.5, -2.0], dtype=">f8")


def read_only():
    array = np.arange(3, dtype=np.int16)
    array.setflags(write=False)
    return array


def scalar_array():
    return np.array(7.5)


def booleans():
    return np.array([True, False])


def uint8_image():
    return np.full((2, 2), 255, dtype=np.uint8)


def as_bytes(value):
    return type(value).__name__
