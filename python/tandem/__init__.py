"""Python-side helpers of the Tandem runtime.

The runtime installs this package into ``sys.modules`` before any user code
runs, so ``import tandem`` works from every Python module that TypeScript
imports. It holds what is easier to write in Python than in Rust:

* :class:`JSError`, the exception a JavaScript error becomes in Python;
* the background asyncio loop on which ``async def`` functions called from
  TypeScript run.
"""

import asyncio
import threading

__all__ = ["JSError"]


class JSError(Exception):
    """A JavaScript error thrown by a TypeScript callback that Python called.

    ``js_message`` and ``js_stack`` carry the JavaScript message and stack.
    If Python does not catch it, the original JavaScript value is rethrown
    unchanged on the TypeScript side.
    """

    def __init__(self, message, stack=None, name="Error"):
        super().__init__(message)
        self.js_message = message
        self.js_stack = stack
        self.js_name = name

    def __str__(self):
        return f"{self.js_name}: {self.js_message}"


_loop = None
_loop_lock = threading.Lock()


def _event_loop():
    """Return the process-wide asyncio loop, starting its thread on first use.

    Coroutines from every JS isolate thread run here; results travel back to
    the calling isolate through a future's done-callback.
    """
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="tandem-asyncio", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


def _submit(coro, on_done):
    """Schedule ``coro`` on the runtime's loop; ``on_done(future)`` fires when it ends."""
    future = asyncio.run_coroutine_threadsafe(coro, _event_loop())
    future.add_done_callback(on_done)
    return future


class _LazySubmodule:
    """Stands for a package's submodule that is not imported yet.

    ``import { linear_model } from "python:sklearn"`` should not import every
    submodule sklearn lists in ``__all__``; the import happens on first use.
    """

    __slots__ = ("_tandem_qualname", "_tandem_module")

    def __init__(self, qualname):
        object.__setattr__(self, "_tandem_qualname", qualname)
        object.__setattr__(self, "_tandem_module", None)

    def _tandem_load(self):
        module = object.__getattribute__(self, "_tandem_module")
        if module is None:
            import importlib

            module = importlib.import_module(object.__getattribute__(self, "_tandem_qualname"))
            object.__setattr__(self, "_tandem_module", module)
        return module

    def __getattr__(self, name):
        return getattr(self._tandem_load(), name)

    def __setattr__(self, name, value):
        setattr(self._tandem_load(), name, value)

    def __dir__(self):
        return dir(self._tandem_load())

    def __repr__(self):
        return repr(self._tandem_load())


def _exports(module):
    """The (name, value) pairs a TypeScript import of ``module`` exports.

    Submodules that a package lists in ``__all__`` but has not imported yet
    are exported lazily (see :class:`_LazySubmodule`).
    """
    import importlib.util

    out = []
    namespace = vars(module)
    for name in _public_names(module):
        if name in namespace:
            out.append((name, namespace[name]))
            continue
        qualname = f"{module.__name__}.{name}"
        try:
            spec = importlib.util.find_spec(qualname)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            out.append((name, _LazySubmodule(qualname)))
        elif hasattr(module, name):
            out.append((name, getattr(module, name)))
    return out


def _public_names(module):
    """Names a TypeScript import of ``module`` exports, in definition order.

    ``__all__`` wins when the module defines it; otherwise every attribute not
    starting with ``_`` except modules the file merely imported.
    """
    names = getattr(module, "__all__", None)
    if names is not None:
        return [str(n) for n in names]
    import types

    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
