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


def _percentiles(n, call):
    import time

    for _ in range(min(n, 2_000)):
        call()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return [samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000]


def callback_calls(n, noop_fn, echo_fn, payload):
    """Python -> TypeScript re-entrant: JS functions passed in as arguments,
    called while the TypeScript call that passed them is still running (on
    the isolate's own thread, no hop). Returns ``{case: [p50_us, p99_us]}``."""
    return {
        "no-argument call": _percentiles(n, noop_fn),
        "dict round trip (echo)": _percentiles(n, lambda: echo_fn(payload)),
    }


def ts_calls(n, payload):
    """Python -> TypeScript through ``tandem.js``: each call crosses to the
    JS host thread and back. Returns ``{case: [p50_us, p99_us]}``."""
    from tandem import js

    ts = js.require("./bridge_js.ts")
    return {
        "no-argument call": _percentiles(n, ts.noop),
        "dict round trip (echo)": _percentiles(n, lambda: ts.echo(payload)),
    }
