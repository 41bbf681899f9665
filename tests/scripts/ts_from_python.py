"""Python calling TypeScript through tandem.js (see ts_from_python.ts)."""

import threading

import tandem
from tandem import js

utils = js.require("./_ts_utils.ts")


def attempt(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except Exception as e:  # the golden file records type and message
        return f"{type(e).__name__}: {e}"


def basics():
    return {
        "repr": repr(utils.formatPrice),
        "isinstance": isinstance(utils.formatPrice, tandem.RemoteJsFunction),
        "call": utils.formatPrice(3.5),
        "two args": utils.formatPrice(2, "USD"),
        "default export": utils.default("Python"),
        "constant": utils.VERSION,
        "object": utils.settings,
        "same module": js.require("./_ts_utils.ts") is utils,
        "async awaited": utils.later(21),
    }


def echo_identity(value):
    back = utils.echo(value)
    return [type(back).__name__, back is value]


def values():
    sample = {"int": 7, "float": 2.5, "none": None, "list": [1, "a", True], "bytes": b"xyz"}
    back = utils.echo(sample)
    return {
        "round trip": back == sample,
        "bytes arrive as": utils.describe(b"xyz"),
        "tuple arrives as": utils.describe((1, 2)),
        "big int": utils.echo(2**70) == 2**70,
        "symbol": attempt(utils.symbol),
        # A Python object with no JS equivalent goes over as a proxy and
        # comes back as itself.
        "object passes through": echo_identity(object()),
    }


def errors():
    out = {}
    try:
        utils.fail()
    except tandem.JSError as e:
        out["sync"] = [e.js_name, e.js_message, "amount out of range" in (e.js_stack or "")]
    try:
        utils.failLater()
    except tandem.JSError as e:
        out["async"] = [e.js_name, e.js_message]
    out["string thrown"] = attempt(utils.throwString)
    out["keyword args"] = attempt(utils.formatPrice, amount=1)
    out["class without new"] = attempt(utils.Counter)
    out["missing file"] = attempt(js.require, "./_no_such_module.ts")
    out["bare name"] = attempt(js.require, "lodash")
    out["not a module file"] = attempt(js.require, "./values.py")
    out["require from the host"] = attempt(js.require, "./_ts_reenter.ts")
    return out


def functions():
    add10 = utils.makeAdder(10)
    adders = [utils.makeAdder(i) for i in range(200)]
    return {
        "returned function": add10(5),
        "repr of closure": repr(add10),
        "many closures": sum(f(1) for f in adders),
        "Python callback": utils.applyTwice(lambda x: x * 3, 2),
        "JS function passed back": utils.applyTwice(add10, 1),
        "callback calling TS": utils.applyTwice(lambda x: len(utils.formatPrice(x)), 1),
        "callback kept by JS": (utils.keep(lambda x: x + 100), utils.callKept(1))[1],
        "async from a callback": attempt(utils.applyTwice, lambda x: utils.later(x), 1),
    }


def from_threads():
    results = [None] * 8

    def worker(i):
        results[i] = utils.later(i, 30) + utils.makeAdder(i)(0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def hand_to_typescript():
    # A host function given to another isolate becomes a callable there.
    return utils.formatPrice
