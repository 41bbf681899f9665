"""Helpers for lone_surrogates.ts: what Python sees of a JS string."""


def code_points(s):
    return [hex(ord(c)) for c in s]


def keys(d):
    return sorted(code_points(k) for k in d)


def make(kind):
    if kind == "high":
        return "a\ud800b"
    if kind == "low":
        return "\udc00"
    if kind == "pair":
        return "\ud83d\ude00"  # two surrogates that make one character in JS
    if kind == "replacement":
        return "\ufffd"
    if kind == "long":
        return "\ud800" * 20000 + "x"
    return {"\udfff": 1, "k\ud800": 2}
