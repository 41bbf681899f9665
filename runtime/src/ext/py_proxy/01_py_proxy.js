// The JavaScript half of the TypeScript <-> Python bridge.
//
// Python objects reach JavaScript as small integer handles; this file turns
// them into functions and proxies, throws PythonError for Python exceptions,
// and releases handles when their proxies are garbage collected.

import {
  op_py_await,
  op_py_batch_call,
  op_py_call,
  op_py_call_short,
  op_py_delattr,
  op_py_dir,
  op_py_getattr,
  op_py_hasattr,
  op_py_import,
  op_py_init,
  op_py_iter,
  op_py_live_handles,
  op_py_load_module,
  op_py_next,
  op_py_release,
  op_py_repr,
  op_py_setattr,
  op_py_str,
  op_py_stream,
  op_py_take_error,
} from "ext:core/ops";
import { core } from "ext:core/mod.js";

// An op returns ERROR to say "an error is pending"; DONE ends iteration.
const ERROR = Symbol("tandem.python.error");
const DONE = Symbol("tandem.python.done");
// Proxies and function wrappers answer this key with their handle id.
const HANDLE = Symbol.for("tandem.python.handle");
const INSPECT = Symbol.for("tandem.inspect");
// Where in an error's stack the next Python frames may go (addPythonFrames).
const STACK_CURSOR = Symbol("tandem.python.stackCursor");

/**
 * A Python exception, as seen from JavaScript, with its data: `attributes`
 * (its public instance attributes, also readable as `err.code` where the
 * name is not taken by Error's own), `pythonArgs` (its `args`) and
 * `pythonMro` (its classes, most derived first), which `isInstance` reads.
 */
class PythonError extends Error {
  constructor(type, message, traceback, details = {}) {
    super(`${type}: ${message}`);
    this.name = "PythonError";
    this.isPythonException = true;
    this.pythonType = type;
    this.pythonMessage = message;
    this.pythonTraceback = traceback;
    this.pythonArgs = details.args ?? [];
    this.pythonMro = details.mro ?? [type];
    this.attributes = details.attributes ?? {};
    for (const key of Object.keys(this.attributes)) {
      if (!(key in this)) this[key] = this.attributes[key];
    }
  }

  /**
   * Whether the exception is an instance of the Python class `name`: a
   * builtin by name (`"ValueError"`), another by its name or as
   * `module.Name`. Subclasses match, as with Python's isinstance.
   */
  isInstance(name) {
    return this.pythonMro.some((full) => full === name || shortName(full) === name);
  }
}

/**
 * Makes `error.stack` one trace across both languages: the Python frames
 * an exception went through (outermost first in `frames`) are put where
 * that Python code ran, just above the frame of the JS function that
 * called it, which is the first frame of the stack here. An error made
 * here gets them on top; a JS error that came up through Python gets them
 * below the callback's own frames. Repeated at each crossing (each below
 * the last, so recursion places them right), a TS -> Python -> TS ->
 * Python chain reads in call order. The glue's own frames
 * (ext:tandem_py_proxy) are left out; a caller frame cut off by the
 * engine's stack depth limit puts the Python frames at the end.
 */
function addPythonFrames(error, frames) {
  if (!(error instanceof Error) || typeof error.stack !== "string" || !frames?.length) return;
  const lines = error.stack.split("\n");
  let start = lines.findIndex((line) => line.startsWith("    at "));
  if (start < 0) start = lines.length;
  const own = lines.slice(start).filter((line) => !isGlueFrame(line));
  const caller = (new Error().stack ?? "").split("\n").find((line) => line.startsWith("    at ") && !isGlueFrame(line));
  const from = Math.min(error[STACK_CURSOR] ?? 0, own.length);
  let at = caller === undefined ? -1 : own.indexOf(caller, from);
  if (at < 0) at = own.length;
  const python = [];
  for (let i = frames.length - 1; i >= 0; i--) {
    const { name, file, line } = frames[i];
    python.push(`    at ${name} (${file.startsWith("/") ? "file://" + file : file}:${line})`);
  }
  error.stack = [...lines.slice(0, start), ...own.slice(0, at), ...python, ...own.slice(at)].join("\n");
  Object.defineProperty(error, STACK_CURSOR, { value: at + python.length + 1, configurable: true, writable: true });
}

// Each call into Python puts three glue frames on the stack, which the
// trace leaves out: the engine's default depth of 10 frames would keep
// only the innermost crossing or two. A program may set its own limit.
Error.stackTraceLimit = 30;

function isGlueFrame(line) {
  return line.includes("ext:tandem_py_proxy/");
}

/** `Name` of `module.Name` (or of a nested `module.Outer.Name`). */
function shortName(full) {
  return full.slice(full.lastIndexOf(".") + 1);
}

// deno_core copies the properties named here into uncaught-error reports,
// so `tandem run` can print the Python traceback.
Object.defineProperty(PythonError.prototype, Symbol.for("errorAdditionalPropertyKeys"), {
  value: ["pythonTraceback"],
});

function raise() {
  const e = op_py_take_error();
  if (e.kind === "python") {
    // A JS error that went up through Python (a callback's) is rethrown
    // as itself, with the Python frames it crossed added to its stack.
    const error = "jsValue" in e ? e.jsValue : new PythonError(e.type, e.message, e.traceback, e);
    addPythonFrames(error, e.frames);
    throw error;
  }
  // The class Deno's own permission checks throw (Tandem.env, fetch).
  if (e.kind === "denied") throw new core.NotCapable(e.message);
  throw new TypeError(e.message);
}

function check(result) {
  if (result === ERROR) raise();
  return result;
}

const registry = new FinalizationRegistry((id) => op_py_release(id));

/** Marks an object passed as the last argument as Python keyword arguments. */
class Kwargs {
  constructor(values) {
    this.values = values;
  }
}

function kwargs(values) {
  return new Kwargs(values);
}

// numpy's dtype of each typed array kind (python/ndarray.rs has the same).
const DTYPES = [
  [Float64Array, "float64"], [Float32Array, "float32"], [Int8Array, "int8"],
  [Int16Array, "int16"], [Int32Array, "int32"], [BigInt64Array, "int64"],
  [Uint8Array, "uint8"], [Uint8ClampedArray, "uint8"], [Uint16Array, "uint16"],
  [Uint32Array, "uint32"], [BigUint64Array, "uint64"],
];

/** `data` as an array of `shape`, over the same memory (NDArray). */
function ndarray(data, shape = [data?.length]) {
  const entry = DTYPES.find(([kind]) => data instanceof kind);
  if (entry === undefined) {
    throw new TypeError(
      `ndarray(): data must be a typed array numpy has a dtype for (Float32Array, Float64Array, Int32Array, ...), got ${
        data === null ? "null" : data?.constructor?.name ?? typeof data
      }`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError("ndarray(): shape must be an Array of non-negative integers, like [2, 3]");
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  if (elements !== data.length) {
    throw new RangeError(
      `ndarray(): shape [${shape.join(", ")}] holds ${elements} elements, but the ${entry[0].name} has ${data.length}`,
    );
  }
  const view = new entry[0](data.buffer, data.byteOffset, data.length);
  Object.defineProperties(view, { shape: { value: [...shape] }, dtype: { value: entry[1] } });
  return view;
}

// limit: the call's time limit in seconds (see withTimeout); -1 for the
// runtime's default.
function call(id, args, limit = -1) {
  for (let i = 0; i < args.length; i++) {
    // A Promise argument is awaited before Python runs.
    if (args[i] instanceof Promise) {
      return Promise.all(args).then((resolved) => call(id, resolved, limit));
    }
  }
  let kw;
  if (args.length > 0 && args[args.length - 1] instanceof Kwargs) {
    kw = args[args.length - 1].values;
    args = args.slice(0, -1);
  }
  // A coroutine the call returns comes back as a Promise awaited under the
  // same limit (op_py_call hands it to wrap(), then awaitCoroutine).
  const result = op_py_call(id, args, kw, limit);
  if (result === ERROR) raise();
  return result;
}

// What holds the AbortSignal (as `.signal`) that cancels the Python awaits
// and batched calls made in the current async context: the HTTP server
// enters each request before calling its handler, so a deadline or a
// client that went away cancels what the handler waits for in Python. A
// request creates its signal lazily: it is read only when Python is
// awaited.
const signalScope = new core.AsyncVariable();

/**
 * Calls `fn()` with `signal` as the cancelling signal of the Python awaits
 * (coroutines, batched calls) it starts, also after its own awaits: when
 * the signal aborts, a pending coroutine is cancelled (asyncio's
 * CancelledError in Python, so its `finally` blocks run), a batched call
 * not yet in a batch is dropped from its queue, and the await rejects with
 * the signal's reason.
 */
function withSignal(signal, fn) {
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`withSignal(signal, fn): signal must be an AbortSignal, got ${signal === null ? "null" : typeof signal}`);
  }
  if (typeof fn !== "function") {
    throw new TypeError(`withSignal(signal, fn): fn must be a function, got ${fn === null ? "null" : typeof fn}`);
  }
  return withSignalOf({ signal }, fn);
}

// withSignal() for anything with a `.signal` (a Request), read when needed.
function withSignalOf(holder, fn) {
  const previous = signalScope.enter(holder);
  try {
    return fn();
  } finally {
    core.setAsyncContext(previous);
  }
}

// Runs `start(cancelRid)`, an async op that takes a cancel handle, so that
// the current signal aborting closes the handle; then the op's promise
// rejects with the signal's reason. Without a signal: `start(-1)`.
function cancellable(start) {
  const signal = signalScope.get()?.signal;
  if (signal === undefined || signal === null) return start(-1).then(check);
  const cancel = core.createCancelHandle();
  const stop = () => core.tryClose(cancel);
  signal.addEventListener("abort", stop, { once: true });
  const done = () => {
    signal.removeEventListener("abort", stop);
    core.tryClose(cancel);
  };
  const started = start(cancel);
  // Already aborted: cancelled at once, once the op holds the handle (a
  // closed handle would not be found, and the call would run).
  if (signal.aborted) stop();
  return started.then(
    (value) => {
      done();
      if (signal.aborted) {
        // Settled as the signal aborted: the abort wins, as for fetch().
        try {
          check(value);
        } catch {
          // The Python error is dropped with the result.
        }
        throw signal.reason;
      }
      return check(value);
    },
    (error) => {
      done();
      throw signal.aborted ? signal.reason : error;
    },
  );
}

// Functions made by makeBatched: their calls share a batch, which no one
// call's limit may interrupt.
const BATCHED = Symbol("tandem.python.batched");
// Holds the original function of a withTimeout wrapper, so that its handle
// is not released while the wrapper is in use.
const KEEP = Symbol("tandem.python.keep");

/**
 * `fn` (a Python function or other callable) with a time limit of
 * `seconds` on each call: past it the call is interrupted and throws a
 * PythonError of type TimeoutError. `Infinity` lifts the runtime's default
 * limit (--python-call-timeout) for this function.
 */
function withTimeout(fn, seconds) {
  const id = isPyObject(fn) ? fn[HANDLE] : undefined;
  if (id === undefined || typeof fn !== "function") {
    throw new TypeError("withTimeout(fn, seconds): fn must be a Python function or callable imported from Python");
  }
  if (fn[BATCHED]) {
    throw new TypeError(
      "withTimeout(fn, seconds): a @tandem.batch function cannot take a per-call limit, since its calls share one batch; limit the request instead (--handler-timeout)",
    );
  }
  if (typeof seconds !== "number" || !(seconds > 0)) {
    throw new TypeError(`withTimeout(fn, seconds): seconds must be a positive number or Infinity, got ${typeof seconds === "string" ? JSON.stringify(seconds) : String(seconds)}`);
  }
  const limited = function (...args) {
    return call(id, args, seconds);
  };
  Object.defineProperty(limited, "name", { value: fn.name || "limited" });
  Object.defineProperty(limited, HANDLE, { value: id });
  Object.defineProperty(limited, KEEP, { value: fn });
  return limited;
}

// Marks `fn` as the JS face of handle `id`, released with it.
function holding(fn, id, batched = false) {
  Object.defineProperty(fn, HANDLE, { value: id });
  if (batched) Object.defineProperty(fn, BATCHED, { value: true });
  registry.register(fn, id);
  return fn;
}

function makeFunction(id) {
  return holding(function (arg) {
    // No argument, or one that is neither a Promise nor Kwargs: straight to
    // the op that takes the argument itself. On the QuickJS interpreter one
    // JS call less took a no-argument call from about 0.66 to 0.55 us
    // (docs/benchmarks.md).
    const count = arguments.length;
    if (count === 0 || (count === 1 && !(arg instanceof Promise) && !(arg instanceof Kwargs))) {
      const result = op_py_call_short(id, arg, count);
      if (result === ERROR) raise();
      return result;
    }
    return call(id, Array.prototype.slice.call(arguments));
  }, id);
}

// A @tandem.batch function: a single input goes straight to its batcher
// (queued without the GIL); any other call shape runs the Python wrapper,
// which queues to the same batcher.
function makeBatched(id, batcher) {
  return holding(function (input) {
    if (arguments.length !== 1 || input instanceof Promise || input instanceof Kwargs) {
      return call(id, Array.from(arguments));
    }
    return cancellable((cancel) => op_py_batch_call(batcher, input, cancel));
  }, id, true);
}

function pyIterator(id) {
  const it = check(op_py_iter(id));
  let finished = false;
  return {
    next() {
      if (finished) return { done: true, value: undefined };
      const value = check(op_py_next(it, DONE));
      if (value === DONE) {
        finished = true;
        return { done: true, value: undefined };
      }
      return { done: false, value };
    },
    return() {
      if (!finished) {
        finished = true;
        op_py_release(it);
      }
      return { done: true, value: undefined };
    },
    [Symbol.iterator]() {
      return this;
    },
  };
}

// `for await (const x of proxy)`: the Python iterable pulled one item per
// `next()`, nothing ahead. An async generator's steps run on the asyncio
// loop (the isolate serves other requests meanwhile, and the current
// AbortSignal cancels a pending step); a plain generator's run on the
// isolate's thread, as any synchronous Python call does. `return()` (a
// `break`, a cancelled stream) closes the generator, so its `finally`
// blocks run.
function pyAsyncIterator(id) {
  const stream = check(op_py_stream(id));
  const step = stream.step;
  // Outside any AbortSignal: closing is how an aborted loop cleans up, so
  // the abort must not cancel it too.
  const close = () => withSignalOf({}, () => stream.close());
  let finished = false;
  let pending = null;
  const pull = async () => {
    if (finished) return { done: true, value: undefined };
    let item;
    try {
      item = await step();
    } catch (error) {
      // The generator raised (closing it is a no-op then), or the signal
      // aborted around a step that settled: then it is still open.
      finished = true;
      try {
        await close();
      } catch {
        // The error of the step is the one to report.
      }
      throw error;
    }
    if (item[0]) {
      finished = true;
      return { done: true, value: undefined };
    }
    return { done: false, value: item[1] };
  };
  return {
    next() {
      // One step at a time: a generator cannot run twice at once.
      const previous = pending;
      pending = previous ? previous.then(pull, pull) : pull();
      return pending;
    },
    async return(value) {
      if (!finished) {
        finished = true;
        // A generator that is running cannot be closed: let its step end.
        if (pending) await pending.catch(() => {});
        await close();
      }
      return { done: true, value };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

// Target slots: the handle id lives on the proxy's target.
const ID = Symbol("tandem.python.id");

const handler = {
  get(target, key) {
    const id = target[ID];
    if (typeof key === "symbol") {
      if (key === HANDLE) return id;
      if (key === Symbol.iterator) return () => pyIterator(id);
      if (key === Symbol.asyncIterator) return () => pyAsyncIterator(id);
      if (key === Symbol.toPrimitive) {
        return (hint) =>
          hint === "number" ? Number(check(op_py_str(id))) : check(op_py_str(id));
      }
      if (key === INSPECT) return () => check(op_py_repr(id));
      if (key === Symbol.toStringTag) return "PyObject";
      return undefined;
    }
    if (key === "toString") return () => check(op_py_str(id));
    return check(op_py_getattr(id, key));
  },
  set(target, key, value) {
    if (typeof key === "symbol") return false;
    check(op_py_setattr(target[ID], key, value));
    return true;
  },
  deleteProperty(target, key) {
    if (typeof key === "symbol") return false;
    check(op_py_delattr(target[ID], key));
    return true;
  },
  has(target, key) {
    if (typeof key === "symbol") return key === HANDLE;
    return op_py_hasattr(target[ID], key);
  },
  ownKeys(target) {
    const names = check(op_py_dir(target[ID]));
    // Proxy invariant: non-configurable own keys of the target must appear.
    for (const key of Reflect.ownKeys(target)) {
      const desc = Reflect.getOwnPropertyDescriptor(target, key);
      if (desc && !desc.configurable && !names.includes(key)) names.push(key);
    }
    return names;
  },
  getOwnPropertyDescriptor(target, key) {
    const own = Reflect.getOwnPropertyDescriptor(target, key);
    if (own && !own.configurable) return own;
    if (typeof key === "symbol" || !op_py_hasattr(target[ID], key)) return undefined;
    return {
      value: check(op_py_getattr(target[ID], key)),
      writable: true,
      enumerable: true,
      configurable: true,
    };
  },
  apply(target, _thisArg, args) {
    return call(target[ID], args);
  },
  construct(target, args) {
    return call(target[ID], args);
  },
};

function makeProxy(id, callable) {
  // A callable target makes the proxy callable and constructible; a plain
  // object keeps `typeof` honest for everything else.
  const target = callable ? function () {} : {};
  Object.defineProperty(target, ID, { value: id });
  const proxy = new Proxy(target, handler);
  registry.register(proxy, id);
  return proxy;
}

// limit: seconds, as op_py_call takes them (-1: the runtime's default).
function awaitCoroutine(id, limit) {
  return cancellable((cancel) => op_py_await(id, limit, cancel));
}

// Wrap kinds, as python/bridge.rs's WrapKind numbers them.
const WRAP_OBJECT = 0;
const WRAP_FUNCTION = 1;
const WRAP_CALLABLE = 2;
const WRAP_AWAITABLE = 3;
const WRAP_BATCHED = 4;

// extra: the batcher's index for WRAP_BATCHED, the time limit for
// WRAP_AWAITABLE.
function wrap(id, kind, extra) {
  switch (kind) {
    case WRAP_BATCHED:
      return makeBatched(id, extra);
    case WRAP_FUNCTION:
      return makeFunction(id);
    case WRAP_CALLABLE:
      return makeProxy(id, true);
    case WRAP_AWAITABLE:
      return awaitCoroutine(id, extra);
    case WRAP_OBJECT:
    default:
      return makeProxy(id, false);
  }
}

op_py_init(wrap, ERROR, HANDLE);

function isPyObject(value) {
  return (typeof value === "object" || typeof value === "function") &&
    value !== null && value[HANDLE] !== undefined;
}

/** Loads a `.py` or `python:` module for its synthetic ES module. */
function loadModule(specifier) {
  return check(op_py_load_module(specifier));
}

function importModule(name) {
  return check(op_py_import(String(name)));
}

const python = {
  PythonError,
  kwargs,
  ndarray,
  withTimeout,
  withSignal,
  import: importModule,
  isPyObject,
  liveHandles: () => op_py_live_handles(),
};

// Reachable from user modules (which cannot import ext: modules) through a
// registered symbol: the loader's generated modules use it.
Object.defineProperty(globalThis, Symbol.for("tandem.python"), {
  value: { loadModule, python },
});
globalThis.PythonError = PythonError;

export { PythonError, kwargs, python, withSignal, withSignalOf, withTimeout };
