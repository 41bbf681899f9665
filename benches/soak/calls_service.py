"""Python side of benches/soak/calls.ts: each call takes a JS callback,
calls it, and returns a new Python object that JS then drops."""

import gc


class Box:
    def __init__(self, n):
        self.n = n
        self.payload = [n] * 8


def make(n, callback):
    return Box(callback(n))


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def collect():
    gc.collect()
