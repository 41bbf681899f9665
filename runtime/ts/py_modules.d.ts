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
  export { PythonError };
  /** Marks an object passed as the last argument as Python keyword arguments. */
  export function kwargs(values: Record<string, unknown>): unknown;
  /**
   * `fn` (a Python function or callable) with a time limit on each call:
   * past `seconds` the call is interrupted and throws a PythonError of type
   * TimeoutError. `Infinity` lifts --python-call-timeout for `fn`.
   */
  export function withTimeout<F extends (...args: any[]) => any>(fn: F, seconds: number): F;
  /** `importlib.import_module(name)`, as a proxy. */
  function pyImport(name: string): any;
  export { pyImport as import };
  /** Whether `value` is a proxy of a Python object. */
  export function isPyObject(value: unknown): boolean;
  /** Number of Python objects JavaScript currently holds proxies to. */
  export function liveHandles(): number;
  const python: {
    PythonError: typeof PythonError;
    kwargs: typeof kwargs;
    withTimeout: typeof withTimeout;
    import: typeof pyImport;
    isPyObject: typeof isPyObject;
    liveHandles: typeof liveHandles;
  };
  export default python;
}
