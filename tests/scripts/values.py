"""Helpers for the value-conversion scripts."""


def describe(*args, **kwargs):
    """The Python type and repr of every argument."""
    out = [f"{type(a).__name__} {a!r}" for a in args]
    if kwargs:
        out.append(f"kwargs {kwargs!r}")
    return "; ".join(out)


def echo(value):
    return value


def samples():
    return {
        "int": 7,
        "negative": -3,
        "float": 2.5,
        "str": "héllo wörld 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "true": True,
        "none": None,
        "list": [1, [2, 3]],
        "tuple": (1, "a"),
        "bytes": b"\x00\x01\xff",
        "bytearray": bytearray(b"ab"),
        "nested": {"a": {"b": [{"c": 1}]}},
        "big": 2**70,
        "big_negative": -(2**64) - 1,
        "max_safe": 2**53 - 1,
        "beyond_safe": 2**53 + 1,
        1: "int key",
    }


def non_string_key():
    return {(1, 2): "tuple key"}


def self_containing_list():
    items = [1]
    items.append(items)
    return items


def dtype_of(array):
    return f"{type(array).__name__} {array.dtype}"
