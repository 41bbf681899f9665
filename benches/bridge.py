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


def ts_calls(n, payload):
    """Python -> TypeScript through ``tandem.js``: each call crosses to the
    JS host thread and back. Returns ``{case: [p50_us, p99_us]}``."""
    import time

    from tandem import js

    ts = js.require("./bridge_js.ts")
    out = {}
    for name, call in (("no-argument call", ts.noop), ("dict round trip (echo)", lambda: ts.echo(payload))):
        for _ in range(min(n, 2_000)):
            call()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - t0)
        samples.sort()
        out[name] = [samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000]
    return out
