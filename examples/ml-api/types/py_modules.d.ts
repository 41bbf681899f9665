// Declarations for Python imports and the `tandem:python` module.

/** Any Python module: named exports are its public attributes. */
// Named exports are the module's public attributes (functions, classes,
// constants), typed `any` since Python carries no TypeScript types; the
// default export is the module itself (needs allowSyntheticDefaultImports).
declare module "*.py" {
  const module: any;
  export = module;
}

declare module "python:*" {
  const module: any;
  export = module;
}

declare module "tandem:python" {
  export const PythonError: Tandem.PythonErrorClass;
  export type PythonError = Tandem.PythonErrorInstance;
  const kwargsBrand: unique symbol;
  /** Python keyword arguments: what `kwargs()` returns. */
  export interface Kwargs<T> {
    readonly [kwargsBrand]: T;
  }
  /** Marks an object passed as the last argument as Python keyword arguments. */
  export function kwargs<T extends Record<string, unknown>>(values: T): Kwargs<T>;
  /** The typed arrays a numpy array crosses as (by its dtype). */
  export type TypedArray =
    | Float64Array | Float32Array | Int8Array | Int16Array | Int32Array | BigInt64Array
    | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;
  /** numpy's name of a typed array's element type. */
  export type DType =
    | "float64" | "float32" | "int8" | "int16" | "int32" | "int64"
    | "uint8" | "uint16" | "uint32" | "uint64";
  /**
   * A numpy array in TypeScript: a typed array of its dtype over the
   * array's own memory (no copy; writes are seen on both sides), every
   * dimension laid out flat in C order, with the array's `shape` and
   * `dtype` (docs/values.md). Passed back to Python it is an ndarray of
   * that shape over the same memory.
   */
  export type NDArray<T extends TypedArray = TypedArray> = T & {
    readonly shape: readonly number[];
    readonly dtype: DType;
  };
  /**
   * `data` seen as an array of `shape` (default: one dimension), over the
   * same memory: Python receives an ndarray of that shape. Throws a
   * RangeError if `shape` does not hold `data.length` elements.
   */
  export function ndarray<T extends TypedArray>(data: T, shape?: readonly number[]): NDArray<T>;
  /**
   * A Python iterator (a generator, say): iterable with `for...of`, and
   * with `for await...of`, which lets the isolate serve others meanwhile.
   */
  export interface PyIterator<T> extends Iterable<T>, AsyncIterable<T> {}
  /**
   * `fn` (a Python function or callable) with a time limit on each call:
   * past `seconds` the call is interrupted and throws a PythonError of type
   * TimeoutError. `Infinity` lifts --python-call-timeout for `fn`.
   */
  export function withTimeout<F extends (...args: any[]) => any>(fn: F, seconds: number): F;
  /**
   * Runs `fn()` with `signal` cancelling the Python awaits it starts (also
   * after its own awaits): a pending `async def` call is cancelled
   * (CancelledError in Python, its `finally` blocks run), a batched call
   * not yet in a batch leaves its queue, and the await rejects with
   * `signal.reason`. The HTTP server does this with `request.signal` for
   * every handler.
   */
  export function withSignal<T>(signal: AbortSignal, fn: () => T): T;
  /** `importlib.import_module(name)`, as a proxy. */
  function pyImport(name: string): any;
  export { pyImport as import };
  /** Whether `value` is a proxy of a Python object. */
  export function isPyObject(value: unknown): boolean;
  /** Number of Python objects JavaScript currently holds proxies to. */
  export function liveHandles(): number;
  const python: {
    PythonError: Tandem.PythonErrorClass;
    kwargs: typeof kwargs;
    withTimeout: typeof withTimeout;
    withSignal: typeof withSignal;
    import: typeof pyImport;
    isPyObject: typeof isPyObject;
    liveHandles: typeof liveHandles;
  };
  export default python;
}
