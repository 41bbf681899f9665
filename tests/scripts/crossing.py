"""Python halves of the calls in cross_language_stack.ts."""


def outer(callback):
    value = 1
    return callback(value)


def inner(n):
    if n > 0:
        raise ValueError(f"bad value {n}")
    return n


def relay(callback, depth):
    return callback(depth)
