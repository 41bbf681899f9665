"""Python-side helpers of the Tandem runtime.

The runtime installs this package into ``sys.modules`` before any user code
runs, so ``import tandem`` works from every Python module that TypeScript
imports. It holds what is easier to write in Python than in Rust:

* :class:`JSError`, the exception a JavaScript error becomes in Python;
* :class:`TimeoutError`, raised in Python code that Tandem interrupts;
* the background asyncio loop on which ``async def`` functions called from
  TypeScript run;
* :func:`batch`, the dynamic batching decorator;
* :class:`FileWrapper`, the ``wsgi.file_wrapper`` of WSGI apps served by
  Tandem;
* :data:`js`, whose ``require`` imports a TypeScript or JavaScript module
  and calls its exports from Python;
* :class:`ModelRegistry`, versions of models loaded side by side, with
  traffic split by header, by weight (sticky per user) and shadowed.
"""

import threading

# asyncio and concurrent.futures are imported where they are used: together
# they take tens of milliseconds to import, which a WSGI server's cold start
# (or a script that never calls async Python) should not pay.

__all__ = ["JSError", "TimeoutError", "batch", "FileWrapper", "js", "ModelRegistry", "ModelError", "ModelStateError"]

_BuiltinTimeoutError = TimeoutError

# This module is a package whose submodules (_asgi, _reload, _types) are
# embedded in the runtime's binary and compiled on first import: _asgi
# alone imports asyncio, tens of milliseconds that a process which never
# serves ASGI should not pay at start-up. The runtime fills ``sources``.
__path__ = []


class _EmbeddedSubmodules:
    """Finds and loads ``tandem.<name>`` from the embedded sources."""

    sources = {}

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in cls.sources:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, cls, origin=f"<tandem>/tandem/{name.rpartition('.')[2]}.py")

    @staticmethod
    def create_module(spec):
        return None

    @classmethod
    def exec_module(cls, module):
        name = module.__name__
        module.__file__ = module.__spec__.origin
        exec(compile(cls.sources[name], module.__file__, "exec"), module.__dict__)


import sys as _sys

_sys.meta_path.insert(0, _EmbeddedSubmodules)
del _sys


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


class TimeoutError(_BuiltinTimeoutError):
    """Raised inside Python code that Tandem interrupts because a deadline
    passed: the request's ``--handler-timeout``, or the time limit of the
    call TypeScript made. It is a built-in ``TimeoutError``, so ``except
    TimeoutError`` catches it, and ``finally`` blocks and ``with`` exits run
    as for any exception. Tandem raises it between bytecodes: C code that
    never returns to the interpreter is interrupted only when it does.
    """

    def __init__(self, *args):
        super().__init__(*(args or ("interrupted by Tandem: a deadline passed (--handler-timeout, or the call's time limit)",)))


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
            import asyncio

            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="tandem-asyncio", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


def _submit(coro, on_done, seconds=None):
    """Schedule ``coro`` on the runtime's loop, under a time limit of
    ``seconds`` if given; ``on_done(future)`` fires when it ends. Cancelling
    the returned future cancels the task (CancelledError in ``coro``)."""
    import asyncio

    if seconds is not None:
        coro = _limited(coro, seconds)
    future = asyncio.run_coroutine_threadsafe(coro, _event_loop())
    future.add_done_callback(on_done)
    return future


async def _limited(coro, seconds):
    """Await ``coro``, cancelled past ``seconds``: it sees CancelledError (so
    its ``finally`` blocks run) and the caller a ``tandem.TimeoutError``
    naming the call and the limit, as for a synchronous call."""
    import asyncio

    name = getattr(coro, "__qualname__", None) or "the awaited call"
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await coro
    except _BuiltinTimeoutError:
        if not deadline.expired():
            raise  # the coroutine's own TimeoutError
        raise TimeoutError(
            f"{name}() ran past its time limit of {seconds:g} s and was cancelled "
            "(the limit is set by withTimeout() from tandem:python, or --python-call-timeout)"
        ) from None


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


_END = object()


class _Stream:
    """What a TypeScript ``for await`` loop over a Python iterable drives.

    ``step()`` gives ``(done, item)``, one item per call, so nothing is
    computed before TypeScript asks for it; for an async iterable it is a
    coroutine (run on the runtime's asyncio loop, so the isolate serves
    other requests meanwhile). ``close()`` ends the iteration early: the
    generator's ``close()``/``aclose()``, so its ``finally`` blocks run.
    """

    __slots__ = ("_it", "_async")

    def __init__(self, iterable):
        self._async = hasattr(type(iterable), "__aiter__")
        self._it = iterable.__aiter__() if self._async else iter(iterable)

    def step(self):
        if self._async:
            return self._anext()
        item = next(self._it, _END)
        return (True, None) if item is _END else (False, item)

    async def _anext(self):
        try:
            return (False, await self._it.__anext__())
        except StopAsyncIteration:
            return (True, None)

    def close(self):
        if self._async:
            return self._aclose()
        close = getattr(self._it, "close", None)
        if close is not None:
            close()

    async def _aclose(self):
        aclose = getattr(self._it, "aclose", None)
        if aclose is not None:
            await aclose()


_file_locks = {}
_file_locks_guard = threading.Lock()


def _import_file_as(name, path):
    """Imports the Python file at ``path`` as module ``name``, once per process.

    The runtime uses it for a file whose plain module name another file has
    taken. Two isolates may import the same file at once, and executing a
    module gives up the GIL, so a per-name lock makes the second wait for
    the first to finish rather than see a half-executed module (what
    ``importlib`` does for the modules it finds itself).
    """
    import importlib.util
    import sys

    with _file_locks_guard:
        lock = _file_locks.setdefault(name, threading.RLock())
    with lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module


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


# The runtime replaces this with its batcher (a queue and a thread per
# decorated function, in Rust): see runtime/src/python/batch.rs.
_Batcher = None


def _unbatched(fn, item):
    """Outside Tandem (plain Python importing this package): run the list
    function on one input at once, with the same result and error rules."""
    import concurrent.futures

    future = concurrent.futures.Future()
    future.set_running_or_notify_cancel()
    try:
        results = list(fn([item]))
        if len(results) != 1:
            raise ValueError(
                f"@tandem.batch function {fn.__module__}.{fn.__qualname__} returned "
                f"{len(results)} results for 1 inputs; it must return one per input, in order"
            )
        if isinstance(results[0], BaseException):
            raise results[0]
        future.set_result(results[0])
    except Exception as error:
        future.set_exception(error)
    return future


def batch(max_size=32, max_wait_ms=5.0):
    """Turns a function of a list of inputs into a function of one input
    that returns a ``concurrent.futures.Future`` (a Promise in TypeScript).

    ``fn(inputs) -> outputs`` gets the inputs of concurrent calls gathered
    into one list (at most ``max_size``; the first call waits at most
    ``max_wait_ms`` for company) and returns one output per input, in order.
    With ``max_wait_ms=0`` no call waits: the calls that arrived while the
    previous batch ran form the next one, so batches grow with the load.
    TypeScript calls the decorated function with a single input and awaits
    a Promise; Python callers use ``.result()`` (or, in asyncio code,
    ``await asyncio.wrap_future(...)``). Calls from TypeScript and Python,
    from every worker of the process, share one queue; the function runs on
    a thread of its own, one per decorated function.

    An output that is an exception instance is raised to its own caller
    only; if ``fn`` raises, each input of the batch is retried alone so that
    only the caller whose input fails gets the error. The original list
    function stays available as ``decorated.batch``.

    Batch sizes are recorded in ``/metrics`` as
    ``tandem_python_batch_size{function="module.name"}``. Outside Tandem
    (this package imported by plain Python) calls run one at a time.
    """
    if not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"tandem.batch: max_size must be a positive int, got {max_size!r}")
    if max_wait_ms < 0:
        raise ValueError(f"tandem.batch: max_wait_ms must be >= 0, got {max_wait_ms!r}")

    def decorate(fn):
        import functools

        batcher = None
        if _Batcher is not None:
            batcher = _Batcher(fn, max_size, max_wait_ms / 1000.0, f"{fn.__module__}.{fn.__qualname__}")

        @functools.wraps(fn)
        def one(item):
            if batcher is None:
                return _unbatched(fn, item)
            return batcher.submit(item)

        one.batch = fn
        # The bridge finds the batcher here and queues TypeScript calls to
        # it directly, without the GIL.
        one._tandem_batcher = batcher
        return one

    return decorate


class FileWrapper:
    """``environ["wsgi.file_wrapper"]`` (PEP 3333): iterates a file-like
    object in blocks of ``blksize`` bytes and closes it when the server
    closes the response.
    """

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class _JsModules:
    """``tandem.js``: TypeScript and JavaScript modules, called from Python.

    ``js.require("./utils.ts")`` evaluates the module (a path relative to
    the calling Python file, or absolute) and returns a module object whose
    attributes are its exports: functions are callable from any thread,
    other values are copied when the module is required. Each module is
    evaluated once per process; later requires return the same object.
    """

    def __init__(self):
        self._modules = {}
        self._lock = threading.Lock()

    def require(self, specifier):
        import sys

        caller = sys._getframe(1).f_globals.get("__file__")
        path = _resolve_js_path(specifier, caller)
        with self._lock:
            module = self._modules.get(path)
        if module is not None:
            return module
        native = globals().get("_js_require")
        if native is None:
            raise RuntimeError(
                "tandem.js.require works inside the Tandem runtime only "
                "(run the program with `tandem run`)"
            )
        exports = native(path)
        import types

        module = types.ModuleType(path.rsplit("/", 1)[-1], f"JavaScript module {path}")
        module.__file__ = path
        module.__dict__.update(exports)
        with self._lock:
            return self._modules.setdefault(path, module)

    def __repr__(self):
        return "<tandem.js: require('./module.ts') to call TypeScript from Python>"


_JS_SUFFIXES = (".ts", ".mts", ".js", ".mjs", ".tsx", ".jsx")


def _resolve_js_path(specifier, caller):
    """The absolute path of ``specifier``, relative to the caller's file."""
    import os

    if not isinstance(specifier, str):
        raise TypeError(f"tandem.js.require takes a path string, got {type(specifier).__name__}")
    if specifier.startswith("file://"):
        from urllib.parse import unquote, urlparse

        specifier = unquote(urlparse(specifier).path)
    if not (specifier.startswith(("./", "../", "/"))):
        raise ValueError(
            f"tandem.js.require({specifier!r}): give a path to a module file, "
            f"relative to this Python file ('./{specifier}') or absolute"
        )
    base = os.path.dirname(os.path.abspath(caller)) if caller else os.getcwd()
    path = os.path.normpath(os.path.join(base, specifier))
    if not path.endswith(_JS_SUFFIXES):
        raise ValueError(
            f"tandem.js.require({specifier!r}): only TypeScript or JavaScript files "
            f"({', '.join(_JS_SUFFIXES)}) can be required"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tandem.js.require({specifier!r}): no such file: {path}")
    return path


js = _JsModules()


# ---------------------------------------------------------------------------
# Model versions


class ModelError(LookupError):
    """A model or version the registry does not have, or has not loaded."""


class ModelStateError(RuntimeError):
    """A change the registry refuses in its current state: unloading the
    version that takes all the traffic, giving traffic to a version not
    loaded, registering a version twice, loading one twice at once."""


class _Version:
    __slots__ = ("name", "loader", "warmup", "batch", "predict", "loaded_at")

    def __init__(self, name, loader, warmup, batch):
        self.name = name
        self.loader = loader
        self.warmup = warmup
        # (max_size, max_wait_ms) when the loader's function takes a list.
        self.batch = batch
        self.predict = None
        self.loaded_at = None


def _batch_options(name, version, batch):
    """``register``'s ``batch=``: None, True, or {max_size, max_wait_ms}."""
    if batch is None or batch is False:
        return None
    if batch is True:
        return (32, 0.0)
    if isinstance(batch, dict) and set(batch) <= {"max_size", "max_wait_ms"}:
        return (batch.get("max_size", 32), float(batch.get("max_wait_ms", 0.0)))
    raise TypeError(
        f"register({name!r}, {version!r}): batch must be True or {{'max_size': n, 'max_wait_ms': ms}}, got {batch!r}"
    )


def _batched_version(name, version, predict_many, max_size, max_wait_ms):
    """A version's list function as a one-input function returning a Future
    (``tandem.batch``), recording each batch's size for the version."""

    def run(inputs):
        _observe_model_batch(name, version, len(inputs))
        return predict_many(inputs)

    run.__module__ = "tandem.models"
    run.__qualname__ = f"{name}@{version}"
    return batch(max_size=max_size, max_wait_ms=max_wait_ms)(run)


class _Model:
    __slots__ = ("versions", "weights", "shadow", "label", "agree")

    def __init__(self, label, agree):
        self.versions = {}
        self.weights = {}
        self.shadow = None
        self.label = label
        self.agree = agree


class ModelRegistry:
    """Versions of named models, loaded side by side, and how requests are
    split between them.

    A version is declared with a loader, a function returning the version's
    ``predict(input)`` callable (load the weights there, not at import)::

        models = tandem.ModelRegistry()
        models.register("sentiment", "v1", load_v1, warmup=["fine"])
        models.load("sentiment", "v1")          # loaded, warmed up, 100% of traffic
        models.predict("sentiment", "great", key="user-7")
        # {"model": "sentiment", "version": "v1", "result": {...}}

    * ``load`` loads and warms up a version (its ``predict`` called on each
      ``warmup`` input) before any request can reach it; the first version
      loaded takes all traffic. ``unload`` takes a version out: calls already
      running on it finish.
    * ``predict(name, input, version=None, key=None)``: ``version`` (from an
      ``X-Model-Version`` header, say) picks a loaded version; otherwise the
      weights of ``set_traffic`` choose one, the same one for the same
      ``key`` (a user id: sticky A/B assignment) while the weights stay.
    * ``set_traffic(name, weights, shadow=None)``: ``{"v1": 90, "v2": 10}``;
      ``shadow="v2"`` also sends a copy of each request to v2 on a
      background thread, compares its answer with the primary's (by
      ``label``, else equality) and counts agreement in
      ``tandem_model_shadow_total``; its answer is never returned.
    * ``register(..., batch=True)`` (or ``{"max_size": 32, "max_wait_ms":
      0}``): the loader returns ``predict(inputs) -> outputs`` over a list,
      and concurrent ``predict`` calls of that version are gathered into
      one call (``tandem.batch``); ``predict`` then returns a Future (a
      Promise in TypeScript).
    * Every call is counted per version on ``/metrics``
      (``tandem_model_calls_total``, ``_errors_total``,
      ``_duration_seconds``, ``tandem_model_batch_size`` (inputs per call of
      the version's function), and ``tandem_model_predictions_total`` by
      the label that ``label(result)`` reads).

    Thread-safe: the TypeScript workers of a process share one registry.
    """

    SHADOW_BACKLOG = 64

    def __init__(self):
        self._lock = threading.Lock()
        self._models = {}
        self._loading = set()
        self._shadow_pool = None
        self._shadow_pending = 0

    def register(self, name, version, loader, *, warmup=(), label=None, agree=None, batch=None):
        """Declares ``version`` of ``name`` (not loaded yet). ``label(result)``
        reads the predicted label for metrics and shadow comparison;
        ``agree(primary, candidate)`` overrides the comparison; ``batch``
        gathers concurrent calls (see the class)."""
        if not callable(loader):
            raise TypeError(f"register({name!r}, {version!r}): loader must be callable, got {type(loader).__name__}")
        batching = _batch_options(name, version, batch)
        with self._lock:
            model = self._models.setdefault(name, _Model(label, agree))
            if label is not None:
                model.label = label
            if agree is not None:
                model.agree = agree
            if version in model.versions:
                raise ModelStateError(f"model {name!r} already has a version {version!r}")
            model.versions[version] = _Version(version, loader, list(warmup), batching)

    def load(self, name, version):
        """Loads and warms up a registered version; returns its status. The
        version takes traffic only once both are done (the first loaded
        version of a model takes all of it; others get some by
        ``set_traffic`` or by name)."""
        import time

        with self._lock:
            v = self._version(name, version)
            if v.predict is not None:
                return self._status_of(name)
            if (name, version) in self._loading:
                raise ModelStateError(f"{name}@{version} is being loaded already")
            self._loading.add((name, version))
        try:
            predict = v.loader()
            if not callable(predict):
                raise TypeError(f"the loader of {name}@{version} must return a predict(input) callable, got {type(predict).__name__}")
            if v.batch is not None:
                if v.warmup:
                    predict(list(v.warmup))
                predict = _batched_version(name, version, predict, *v.batch)
            else:
                for example in v.warmup:
                    predict(example)
        finally:
            with self._lock:
                self._loading.discard((name, version))
        with self._lock:
            v.predict = predict
            v.loaded_at = time.time()
            model = self._models[name]
            if not any(w > 0 for w in model.weights.values()):
                model.weights = {version: 100.0}
            return self._status_of(name)

    def unload(self, name, version):
        """Takes a loaded version out. Refused while it is the only one with
        traffic or the shadow: move the traffic first."""
        with self._lock:
            v = self._version(name, version)
            model = self._models[name]
            others = [n for n, w in model.weights.items() if n != version and w > 0]
            if model.weights.get(version, 0) > 0 and not others:
                raise ModelStateError(f"{name}@{version} takes all the traffic of {name!r}: give it to another version first (set_traffic)")
            model.weights.pop(version, None)
            if model.shadow == version:
                model.shadow = None
            v.predict = None
            v.loaded_at = None
            return self._status_of(name)

    def set_traffic(self, name, weights, shadow=None):
        """Splits traffic by ``weights`` ({version: weight}, any positive
        scale) among loaded versions, and shadows ``shadow`` if given."""
        with self._lock:
            model = self._model(name)
            cleaned = {}
            for version, weight in dict(weights).items():
                if not self._version(name, version).predict:
                    raise ModelStateError(f"{name}@{version} is not loaded: load it before giving it traffic")
                weight = float(weight)
                if not weight >= 0:
                    raise ValueError(f"the weight of {name}@{version} must be a number >= 0, got {weight}")
                cleaned[version] = weight
            if not any(w > 0 for w in cleaned.values()):
                raise ValueError(f"the weights of {name!r} must give some version traffic, got {weights!r}")
            if shadow is not None and not self._version(name, shadow).predict:
                raise ModelStateError(f"{name}@{shadow} is not loaded: load it before shadowing it")
            model.weights = cleaned
            model.shadow = shadow
            return self._status_of(name)

    def predict(self, name, input, version=None, key=None):
        """Calls a version of ``name`` on ``input``: ``{model, version, result}``."""
        import time

        with self._lock:
            model = self._model(name)
            chosen = version if version is not None else self._choose(name, model, key)
            v = self._version(name, chosen)
            predict, batched = v.predict, v.batch is not None
            if predict is None:
                raise ModelError(f"{name}@{chosen} is not loaded (loaded: {', '.join(self._loaded(model)) or 'none'})")
            shadow = model.shadow if version is None and model.shadow not in (None, chosen) else None
            shadow_predict = model.versions[shadow].predict if shadow else None
        started = time.perf_counter()
        try:
            result = predict(input)
        except BaseException:
            _observe_model(name, chosen, time.perf_counter() - started, False)
            raise
        if batched:
            return self._when_done(result, name, model, chosen, started, shadow, shadow_predict, input)
        _observe_model_batch(name, chosen, 1)
        return self._answered(result, name, model, chosen, started, shadow, shadow_predict, input)

    def _answered(self, result, name, model, chosen, started, shadow, shadow_predict, input):
        """Counts a version's answer, starts its shadow, and wraps it."""
        import time

        label = self._label(model, result)
        _observe_model(name, chosen, time.perf_counter() - started, True, label)
        if shadow_predict is not None:
            self._shadow(name, model, chosen, result, shadow, shadow_predict, input)
        return {"model": name, "version": chosen, "result": result}

    def _when_done(self, pending, name, model, chosen, started, shadow, shadow_predict, input):
        """predict() of a batched version: a Future of the answer."""
        import concurrent.futures
        import time

        answer = concurrent.futures.Future()
        answer.set_running_or_notify_cancel()

        def settle(done):
            try:
                result = done.result()
            except BaseException as error:
                _observe_model(name, chosen, time.perf_counter() - started, False)
                answer.set_exception(error)
                return
            try:
                answer.set_result(self._answered(result, name, model, chosen, started, shadow, shadow_predict, input))
            except BaseException as error:
                answer.set_exception(error)

        pending.add_done_callback(settle)
        return answer

    def status(self, name=None):
        """{model: {versions: {version: {loaded, weight}}, shadow}}, or one model's."""
        with self._lock:
            if name is not None:
                return self._status_of(name)
            return {n: self._status_of(n) for n in self._models}

    # -- internals (called holding the lock) --------------------------------

    def _model(self, name):
        model = self._models.get(name)
        if model is None:
            raise ModelError(f"no model {name!r} (registered: {', '.join(self._models) or 'none'})")
        return model

    def _version(self, name, version):
        model = self._model(name)
        v = model.versions.get(version)
        if v is None:
            raise ModelError(f"model {name!r} has no version {version!r} (versions: {', '.join(model.versions)})")
        return v

    @staticmethod
    def _loaded(model):
        return [n for n, v in model.versions.items() if v.predict is not None]

    def _status_of(self, name):
        model = self._model(name)
        total = sum(model.weights.values()) or 1.0
        return {
            "versions": {
                n: {"loaded": v.predict is not None, "traffic": round(model.weights.get(n, 0.0) / total, 4)}
                for n, v in model.versions.items()
            },
            "shadow": model.shadow,
        }

    @staticmethod
    def _choose(name, model, key):
        import random
        import zlib

        versions = [(n, w) for n, w in model.weights.items() if w > 0]
        if not versions:
            raise ModelError(f"no version of {name!r} takes traffic: load one")
        total = sum(w for _, w in versions)
        if key is None:
            point = random.random() * total
        else:
            # The same key lands on the same version while the weights stay.
            point = zlib.crc32(f"{name}\0{key}".encode()) / 2**32 * total
        for n, w in versions:
            point -= w
            if point < 0:
                return n
        return versions[-1][0]

    @staticmethod
    def _label(model, result):
        if model.label is None:
            return None
        try:
            return str(model.label(result))
        except Exception:
            return None

    def _shadow(self, name, model, primary, primary_result, candidate, predict, input):
        """Runs the candidate on a background thread; compares and counts."""
        with self._lock:
            if self._shadow_pending >= self.SHADOW_BACKLOG:
                _observe_shadow(name, primary, candidate, "dropped")
                return
            self._shadow_pending += 1
            if self._shadow_pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="tandem-shadow")
        self._shadow_pool.submit(self._compare, name, model, primary, primary_result, candidate, predict, input)

    def _compare(self, name, model, primary, primary_result, candidate, predict, input):
        import time

        started = time.perf_counter()
        try:
            try:
                result = predict(input)
                if model.versions[candidate].batch is not None:
                    result = result.result()
                else:
                    _observe_model_batch(name, candidate, 1)
            except Exception:
                _observe_model(name, candidate, time.perf_counter() - started, False)
                _observe_shadow(name, primary, candidate, "error")
                return
            label = self._label(model, result)
            _observe_model(name, candidate, time.perf_counter() - started, True, label)
            if model.agree is not None:
                agreed = bool(model.agree(primary_result, result))
            elif model.label is not None:
                agreed = label == self._label(model, primary_result)
            else:
                agreed = result == primary_result
            _observe_shadow(name, primary, candidate, "agree" if agreed else "disagree")
        except Exception:
            _observe_shadow(name, primary, candidate, "error")
        finally:
            with self._lock:
                self._shadow_pending -= 1
