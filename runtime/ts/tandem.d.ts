// Type declarations for the globals the Tandem runtime provides.
// Reference from tsconfig ("types") or with /// <reference path="..." />.

declare namespace Tandem {
  /** The runtime version. */
  const version: string;
  /** The script's arguments: what follows FILE in `tandem run FILE ...`. */
  const args: readonly string[];
  /** URL of the main module (`file:///.../main.ts`). */
  const mainModule: string | undefined;
  /** Process environment variables. */
  const env: {
    get(name: string): string | undefined;
    set(name: string, value: string): void;
    delete(name: string): void;
    has(name: string): boolean;
    toObject(): Record<string, string>;
  };
  /** Functions registered by a Rust program embedding Tandem. */
  const host: {
    call(name: string, ...args: unknown[]): unknown;
  };
  /**
   * Answers a server request with a switch to the WebSocket protocol
   * (Deno.upgradeWebSocket's shape): return `response` from the handler;
   * `socket` opens once it is sent. Options as `upgradeWebSocket` of
   * "tandem:http".
   */
  function upgradeWebSocket(
    request: Request,
    options?: { protocol?: string; idleTimeout?: number; maxMessageSize?: number },
  ): { socket: WebSocket; response: Response };
  /** Exits the process at once with `code` (default 0). */
  function exit(code?: number): never;
  /** The global PythonError class, for `import { PythonError } from "tandem:python"`. */
  type PythonErrorClass = typeof PythonError;
  type PythonErrorInstance = PythonError;
}

/** A Python exception raised by a call from TypeScript. */
declare class PythonError extends Error {
  readonly name: "PythonError";
  readonly isPythonException: true;
  /** The exception's class name, e.g. "ValueError". */
  readonly pythonType: string;
  /** `str(exception)`. */
  readonly pythonMessage: string;
  /** The formatted Python traceback. */
  readonly pythonTraceback: string;
  /** The exception's `args`. */
  readonly pythonArgs: readonly unknown[];
  /**
   * The exception's classes, most derived first (`object` left out):
   * builtins by name (`"KeyError"`, `"LookupError"`), others as
   * `module.Name` (`"ml_service.InputError"`).
   */
  readonly pythonMro: readonly string[];
  /**
   * The exception's public instance attributes (`self.code = ...`),
   * converted as values are; each is also a property of the error itself
   * (`err.code`) unless Error already has one by that name.
   */
  readonly attributes: Record<string, unknown>;
  /** Whether the exception is an instance of `name` (a class name or
   * `module.Name`), subclasses included, as Python's isinstance. */
  isInstance(name: string): boolean;
  /** The exception's attributes, read as properties. */
  readonly [attribute: string]: unknown;
}

// performance, timers, fetch, Request, Response, URL, streams...: TypeScript's "dom" lib.
declare function setTimeout(callback: (...args: any[]) => void, delay?: number, ...args: any[]): number;
declare function setInterval(callback: (...args: any[]) => void, delay?: number, ...args: any[]): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
