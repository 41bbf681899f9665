"""Python side of the call-latency benchmark."""


def noop():
    return None


def echo(value):
    return value


def python_loop(n, payload):
    """The same echo called from Python itself, for reference."""
    import time

    start = time.perf_counter_ns()
    for _ in range(n):
        echo(payload)
    return (time.perf_counter_ns() - start) / n / 1000
