// Declarations for the `tandem:http` module (its source is runtime/ts/http.ts,
// shipped in the binary). Request, Response, Headers, URL and the rest of
// the Web API are the standard ones: use TypeScript's "dom" lib for them.

declare module "tandem:http" {
  export interface ServeInfo {
    readonly remoteAddr: { transport: "tcp"; hostname: string; port: number };
  }
  export type Handler = (request: Request, info: ServeInfo) => Response | Promise<Response>;
  export interface ServeOptions {
    /** Port (the command line's --port wins). */
    port?: number;
    /** Interface (the command line's --host wins). */
    hostname?: string;
    /**
     * The app's readiness check, asked for each probe of the readiness path
     * (`--ready-path`, default `/ready`): `true` answers 200, `false` (or a
     * throw) 503, e.g. until the models are loaded. Runs in the worker that
     * took the probe, under `--handler-timeout`.
     */
    ready?: () => boolean | Promise<boolean>;
  }
  /** Serves a fetch handler or a Router; call it at module load. */
  export function serve(handler: Handler | { fetch: Handler }, options?: ServeOptions): void;
  export function serve(options: ServeOptions, handler: Handler | { fetch: Handler }): void;

  /** Requests this worker's handlers are working on, the caller's included. */
  export function inFlightRequests(): number;

  /** An error with an HTTP status, answered as JSON `{error, details, requestId}`. */
  export class HttpError extends Error {
    constructor(status: number, message: string, details?: unknown, headers?: HeadersInit);
    readonly status: number;
    readonly details?: unknown;
    readonly headers?: HeadersInit;
  }
  export function json(data: unknown, init?: number | ResponseInit): Response;

  export class Context {
    readonly request: Request;
    readonly req: Request;
    readonly info: ServeInfo;
    params: Record<string, string>;
    route: string;
    readonly state: Record<string, unknown>;
    requestId: string;
    readonly url: URL;
    /** `url.pathname`, without building a URL object for plain paths. */
    readonly path: string;
    readonly query: URLSearchParams;
    readonly validated: boolean;
    /** The body parsed as JSON (once); malformed JSON is a 400. */
    body<T = any>(): Promise<T>;
    json(data: unknown, status?: number, headers?: HeadersInit): Response;
    text(text: string, status?: number, headers?: HeadersInit): Response;
  }
  export type Next = () => Promise<Response>;
  export type Middleware = (c: Context, next: Next) => Response | Promise<Response>;
  export type RouteHandler = (c: Context, next: Next) => unknown;
  /**
   * How a Python exception type is answered: a status (JSON body `{error,
   * type, requestId}` plus `details`, the exception's public attributes,
   * when it has any), or a function of the error giving the Response or a
   * status for that body.
   */
  export type PythonErrorAnswer = number | ((error: PythonErrorLike, c: Context) => Response | number);
  /** What the router reads of a PythonError. */
  export interface PythonErrorLike extends Error {
    readonly pythonType: string;
    readonly pythonMessage: string;
    readonly pythonMro: readonly string[];
    readonly attributes: Record<string, unknown>;
  }
  export interface RouterOptions {
    /**
     * Python exception types answered with a 4xx, e.g. `{ ValueError: 400 }`;
     * a key is a class name or `module.Name`, and subclasses match (the most
     * derived class listed wins).
     */
    pythonErrors?: Record<string, PythonErrorAnswer>;
  }
  export class Router {
    constructor(options?: RouterOptions);
    use(...middleware: Middleware[]): this;
    /** A route: its handlers run in order, each passing on with `next()`;
     * the last one must answer (its `next()` rejects with an error). */
    on(method: string, pattern: string, ...handlers: RouteHandler[]): this;
    get(pattern: string, ...handlers: RouteHandler[]): this;
    post(pattern: string, ...handlers: RouteHandler[]): this;
    put(pattern: string, ...handlers: RouteHandler[]): this;
    patch(pattern: string, ...handlers: RouteHandler[]): this;
    delete(pattern: string, ...handlers: RouteHandler[]): this;
    all(pattern: string, ...handlers: RouteHandler[]): this;
    fetch(request: Request, info: ServeInfo): Promise<Response>;
  }

  export function requestId(): Middleware;
  export interface LoggerOptions {
    /** Where lines go (default: console.log). */
    write?: (line: string) => void;
  }
  export function logger(options?: LoggerOptions): Middleware;
  export interface CorsOptions {
    /** Allowed origins: "*" (default), a list, or a predicate. */
    origin?: "*" | string[] | ((origin: string) => boolean);
    methods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    credentials?: boolean;
    /** Seconds a browser may cache a preflight answer. */
    maxAge?: number;
  }
  export function cors(options?: CorsOptions): Middleware;
  export interface RateLimitOptions {
    /** Requests a client may make in a burst (the bucket's size). */
    capacity: number;
    /** Tokens added back per second. */
    refillPerSecond: number;
    /** The client's key (default: its address). */
    key?: (c: Context) => string;
    /** Keeps limiters with the same options apart. */
    name?: string;
  }
  export function rateLimit(options: RateLimitOptions): Middleware;
  export interface AuthOptions {
    /** Accepted API keys, sent in the X-API-Key header. */
    apiKeys?: string[];
    /** Accepted bearer tokens (Authorization: Bearer <token>). */
    bearerTokens?: string[];
    /** Checks a credential; returns the principal (stored in c.state.user) or null. */
    verify?: (credential: string, scheme: "api-key" | "bearer") => unknown;
    /** Paths that need no credentials (e.g. "/health"). */
    public?: string[];
  }
  export function auth(options: AuthOptions): Middleware;

  export type FieldSchema =
    & { optional?: boolean; nullable?: boolean }
    & (
      | { type: "string"; minLength?: number; maxLength?: number; pattern?: string; enum?: string[] }
      | { type: "number" | "integer"; minimum?: number; maximum?: number }
      | { type: "boolean" }
      | { type: "array"; items?: FieldSchema; minItems?: number; maxItems?: number }
      | { type: "object"; properties?: Schema }
    );
  export type Schema = Record<string, FieldSchema>;
  export interface FieldError {
    field: string;
    message: string;
  }
  export function check(schema: Schema, value: unknown, path?: string): FieldError[];
  export function validate(schema: Schema): RouteHandler;
  export interface WsgiOptions {
    /** Mount path (`"/flask"`): SCRIPT_NAME for the app, stripped from PATH_INFO. Default: the root. */
    prefix?: string;
  }
  /**
   * A route or fetch handler answered by a Python WSGI app (e.g. Flask)
   * in this process: `router.all("/flask/*", wsgi(app, { prefix: "/flask" }))`.
   */
  export function wsgi(app: unknown, options?: WsgiOptions): (from: Request | Context) => Promise<Response>;
  export interface AsgiOptions {
    /** Mount path (`"/api"`): the app's root_path (its `path` keeps the whole path). Default: the root. */
    prefix?: string;
  }
  /**
   * A route or fetch handler answered by a Python ASGI 3 app (FastAPI,
   * Starlette) in this process: `router.all("/api/*", asgi(app, { prefix: "/api" }))`.
   * Its lifespan startup runs on its first request.
   */
  export function asgi(app: unknown, options?: AsgiOptions): (from: Request | Context) => Promise<Response>;

  /** An item of `sse()` with an event name, an id or a reconnection delay. */
  export class ServerSentEvent {
    constructor(data: unknown, options?: { event?: string; id?: string; retry?: number });
    readonly data: unknown;
    readonly options: { event?: string; id?: string; retry?: number };
  }
  export interface StreamOptions {
    /** Stops the stream and closes its source when it aborts (e.g. `c.request.signal`). */
    signal?: AbortSignal;
    /** Status and headers of the response; the content type is set unless given. */
    init?: ResponseInit;
  }
  export interface SseOptions extends StreamOptions {
    /** Milliseconds without an event before a keep-alive comment (default 15000; 0: none). */
    keepAlive?: number;
  }
  /**
   * A `text/event-stream` response, one event per item of `source` (a
   * Python generator works), pulled as the client reads; strings as they
   * are, other values as JSON. The client leaving closes the source.
   */
  export function sse(source: AsyncIterable<unknown> | Iterable<unknown>, options?: SseOptions): Response;
  /** A newline-delimited JSON response, one line per item of `source`, pulled as the client reads. */
  export function ndjson(source: AsyncIterable<unknown> | Iterable<unknown>, options?: StreamOptions): Response;

  export interface UpgradeWebSocketOptions {
    /** The subprotocol to accept; it must be one the client offered. */
    protocol?: string;
    /** Seconds of silence before the client is pinged, and as long again before it is closed (1001); 0: never. Default 120. */
    idleTimeout?: number;
    /** Largest message taken, in bytes; a larger one closes the socket with 1009. Default 16 MiB. */
    maxMessageSize?: number;
  }
  /**
   * Answers the request with a switch to the WebSocket protocol: return
   * `response` from the handler; `socket` (a WHATWG WebSocket) opens once
   * it is sent. A listener that throws closes its socket with 1011.
   */
  export function upgradeWebSocket(
    from: Request | Context,
    options?: UpgradeWebSocketOptions,
  ): { socket: WebSocket; response: Response };
}
