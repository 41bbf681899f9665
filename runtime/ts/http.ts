// tandem:http: serving, a router and middleware for Tandem HTTP servers.
//
//   import { Router, cors, logger, serve } from "tandem:http";
//   const app = new Router();
//   app.use(logger(), cors());
//   app.get("/users/:id", (c) => ({ id: c.params.id }));
//   export default app;            // or: serve(app)
//
// Middleware follows the onion model: `(c, next) => Response`, code before
// `await next()` runs on the way in, code after it on the way out, and a
// middleware that returns without calling `next` answers by itself.

// deno-lint-ignore-file no-explicit-any

const internal = (globalThis as any)[Symbol.for("tandem.http")];
const python = (globalThis as any)[Symbol.for("tandem.python")]?.python;

export type Handler = (request: Request, info: ServeInfo) => Response | Promise<Response>;
export interface ServeInfo {
  readonly remoteAddr: { transport: "tcp"; hostname: string; port: number };
}
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

/** Serves a fetch handler or a Router. Call it at module load. */
export function serve(handler: Handler | { fetch: Handler }, options?: ServeOptions): void;
export function serve(options: ServeOptions, handler: Handler | { fetch: Handler }): void;
export function serve(a: any, b?: any): void {
  const [handler, options] = typeof a === "function" || typeof a?.fetch === "function" ? [a, b] : [b, a];
  const fetch = typeof handler === "function" ? handler : handler?.fetch?.bind(handler);
  if (typeof fetch !== "function") {
    throw new TypeError("serve() needs a handler: a function (request) => Response, or an object with fetch()");
  }
  internal.serve(fetch, options ?? {});
}

/** An error with an HTTP status; the router answers it as JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers?: HeadersInit,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A JSON response. */
export function json(data: unknown, init?: number | ResponseInit): Response {
  return Response.json(data, typeof init === "number" ? { status: init } : init);
}

let requestCounter = 0;
const requestPrefix = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");

/**
 * How many requests this worker's handlers are working on, the caller's
 * included. A route can use it to adapt: e.g. call a model directly when
 * alone and join a batch (`@tandem.batch`) when others are in flight.
 */
export function inFlightRequests(): number {
  return internal.inFlightRequests();
}

// Paths that a URL parser leaves as they are (see Context.path).
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~:@!$&'()*+,;=.-]*)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/** What handlers and middleware get for one request. */
export class Context {
  /** Path parameters: `/users/:id` gives `params.id`; a wildcard gives `params["*"]`. */
  params: Record<string, string> = {};
  /** The matched route pattern (`/users/:id`), or "" when none matched. */
  route = "";
  /** Per-request values middleware shares with handlers (e.g. `state.user`). */
  readonly state: Record<string, unknown> = {};
  #requestId: string | undefined;
  #url: URL | undefined;
  #body: Promise<unknown> | undefined;
  #validated = false;

  constructor(readonly request: Request, readonly info: ServeInfo) {}

  /**
   * Id of this request (from X-Request-Id, or generated). Worked out on
   * first use, so routes that never ask pay nothing; the header is read by
   * name from the server, without building the request's Headers.
   */
  get requestId(): string {
    if (this.#requestId === undefined) {
      const fromServer = internal.header(this.request, "x-request-id");
      const given = fromServer === undefined ? this.request.headers.get("x-request-id") : fromServer;
      this.#requestId = given !== null && /^[\w.:-]{1,128}$/.test(given)
        ? given
        : `${requestPrefix}-${(++requestCounter).toString(16)}`;
    }
    return this.#requestId;
  }

  set requestId(id: string) {
    this.#requestId = id;
  }

  /**
   * The URL's path, as `url.pathname` gives it. A plain path (no percent
   * escapes, no dot segments, nothing a URL parser would rewrite) is taken
   * from the URL string as it is, without building a URL object.
   */
  get path(): string {
    if (this.#url === undefined) {
      const url = this.request.url;
      const start = url.indexOf("/", url.indexOf("//") + 2);
      if (start !== -1) {
        let end = url.indexOf("?", start);
        if (end === -1) end = url.length;
        const path = url.slice(start, end);
        if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path)) return path;
      }
    }
    return this.url.pathname;
  }

  get req(): Request {
    return this.request;
  }

  get url(): URL {
    return (this.#url ??= new URL(this.request.url));
  }

  get query(): URLSearchParams {
    return this.url.searchParams;
  }

  /** The request body parsed as JSON (once); malformed JSON is a 400. */
  body<T = any>(): Promise<T> {
    this.#body ??= this.request.text().then((text) => {
      if (text.trim() === "") {
        throw new HttpError(400, "the request body is empty: send a JSON document");
      }
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`);
      }
    });
    return this.#body as Promise<T>;
  }

  /** A JSON response (status 200 unless given). */
  json(data: unknown, status = 200, headers?: HeadersInit): Response {
    return Response.json(data, headers === undefined ? { status } : { status, headers });
  }

  /** A text response. */
  text(text: string, status = 200, headers?: HeadersInit): Response {
    return new Response(text, headers === undefined ? { status } : { status, headers });
  }

  /** Set by validate(): the body passed its schema. */
  get validated(): boolean {
    return this.#validated;
  }

  /** @internal */
  markValidated(): void {
    this.#validated = true;
  }
}

export type Next = () => Promise<Response>;
export type Middleware = (c: Context, next: Next) => Response | Promise<Response>;
/** A route handler: returns a Response, or a value sent as JSON (a string as text). */
export type RouteHandler = (c: Context, next: Next) => unknown;

interface Route {
  method: string;
  pattern: string;
  segments: string[];
  handlers: RouteHandler[];
}

/**
 * How a Python exception type is answered: a status (the body is JSON
 * `{error, type, requestId}` plus `details`, the exception's public
 * attributes, when it has any), or a function of the error that returns
 * the Response, or a status for that default body.
 */
export type PythonErrorAnswer = number | ((error: PythonErrorLike, c: Context) => Response | number);

/** What the router reads of a PythonError (tandem:python's class). */
export interface PythonErrorLike extends Error {
  readonly pythonType: string;
  readonly pythonMessage: string;
  readonly pythonMro: readonly string[];
  readonly attributes: Record<string, unknown>;
}

export interface RouterOptions {
  /**
   * Python exception types answered with a 4xx instead of 500, e.g.
   * `{ ValueError: 400, KeyError: 404, "ml_service.ModelError": (e) => ... }`.
   * A key is a class name (or `module.Name`); subclasses match too, the
   * most derived class listed winning (a KeyError given `{ LookupError:
   * 404, KeyError: 400 }` gets 400).
   */
  pythonErrors?: Record<string, PythonErrorAnswer>;
}

function toResponse(value: unknown): Response {
  if (value instanceof Response) return value;
  if (value === undefined) return new Response(null, { status: 204 });
  if (typeof value === "string") return new Response(value);
  return Response.json(value);
}

function splitPath(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

/**
 * Routes by method and path, in the spirit of Fastify: `/users/:id`
 * parameters, a trailing `*` wildcard, 404 for unknown paths, 405 with an
 * Allow header for known paths with another method, JSON errors.
 */
export class Router {
  readonly #routes: Route[] = [];
  readonly #middleware: Middleware[] = [];
  readonly #pythonErrors: Record<string, PythonErrorAnswer>;

  constructor(options: RouterOptions = {}) {
    this.#pythonErrors = options.pythonErrors ?? {};
    this.fetch = this.fetch.bind(this);
  }

  /** Adds middleware that runs for every request, in order. */
  use(...middleware: Middleware[]): this {
    this.#middleware.push(...middleware);
    return this;
  }

  /** Adds a route; `method` "*" matches every method. */
  on(method: string, pattern: string, ...handlers: RouteHandler[]): this {
    if (!pattern.startsWith("/")) throw new TypeError(`route pattern ${JSON.stringify(pattern)} must start with "/"`);
    if (handlers.length === 0) throw new TypeError(`route ${method} ${pattern} has no handler`);
    const segments = splitPath(pattern);
    const star = segments.indexOf("*");
    if (star !== -1 && star !== segments.length - 1) {
      throw new TypeError(`route pattern ${JSON.stringify(pattern)}: "*" may only be the last segment`);
    }
    this.#routes.push({ method: method.toUpperCase(), pattern, segments, handlers });
    return this;
  }

  get(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("GET", pattern, ...handlers);
  }
  post(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("POST", pattern, ...handlers);
  }
  put(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("PUT", pattern, ...handlers);
  }
  patch(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("PATCH", pattern, ...handlers);
  }
  delete(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("DELETE", pattern, ...handlers);
  }
  all(pattern: string, ...handlers: RouteHandler[]): this {
    return this.on("*", pattern, ...handlers);
  }

  #match(path: string): { route: Route; params: Record<string, string> }[] {
    const parts = splitPath(path);
    const found = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params !== null) found.push({ route, params });
    }
    return found;
  }

  /** The fetch handler: `export default router` or `serve(router)`. */
  fetch(request: Request, info: ServeInfo): Promise<Response> {
    const c = new Context(request, info);
    return this.#settle(c, () => this.#run(c, 0));
  }

  // Runs a step of the chain and answers its error, thrown or rejected, as
  // an error response; plain functions rather than `async` ones, because
  // each async layer costs a Promise and a turn of the microtask queue.
  #settle(c: Context, step: () => Promise<Response>): Promise<Response> {
    let result;
    try {
      result = step();
    } catch (error) {
      return Promise.resolve(this.#errorResponse(c, error));
    }
    return result.then(undefined, (error) => this.#errorResponse(c, error));
  }

  #run(c: Context, index: number): Promise<Response> {
    if (index === this.#middleware.length) return this.#dispatch(c);
    const middleware = this.#middleware[index];
    let called = false;
    const next = () => {
      if (called) return Promise.reject(new Error("next() called twice in one middleware"));
      called = true;
      return this.#settle(c, () => this.#run(c, index + 1));
    };
    return Promise.resolve(middleware(c, next));
  }

  #dispatch(c: Context): Promise<Response> {
    const method = c.request.method;
    const matches = this.#match(c.path);
    const hit = matches.find((m) => m.route.method === method || m.route.method === "*") ??
      (method === "HEAD" ? matches.find((m) => m.route.method === "GET") : undefined);
    if (hit === undefined) {
      if (matches.length === 0) {
        throw new HttpError(404, `no route for ${method} ${c.path}`);
      }
      const allow = [...new Set(matches.flatMap((m) => m.route.method === "GET" ? ["GET", "HEAD"] : [m.route.method]))];
      throw new HttpError(405, `${method} is not allowed on ${c.path}; allowed: ${allow.join(", ")}`, undefined, {
        allow: allow.join(", "),
      });
    }
    c.params = hit.params;
    c.route = hit.route.pattern;
    internal.setRoute(c.request, hit.route.pattern);
    return this.#handle(c, hit.route.handlers, 0);
  }

  // Handler `i` of a route; its `next` runs handler `i + 1`.
  #handle(c: Context, handlers: RouteHandler[], i: number): Promise<Response> {
    if (i === handlers.length) {
      return Promise.reject(new Error(`the last handler of route ${c.route} called next(): no handler follows it`));
    }
    const value = handlers[i](c, () => this.#handle(c, handlers, i + 1));
    return value instanceof Promise ? value.then(toResponse) : Promise.resolve(toResponse(value));
  }

  /** The answer listed for the most derived class of `error`'s that has one. */
  #pythonErrorAnswer(error: PythonErrorLike): PythonErrorAnswer | undefined {
    for (const full of error.pythonMro ?? [error.pythonType]) {
      const answer = this.#pythonErrors[full] ?? this.#pythonErrors[full.slice(full.lastIndexOf(".") + 1)];
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  #errorResponse(c: Context, error: unknown): Response {
    const requestId = c.requestId;
    if (error instanceof HttpError) {
      const body: Record<string, unknown> = { error: error.message, requestId };
      if (error.details !== undefined) body.details = error.details;
      const headers = new Headers(error.headers);
      headers.set("x-request-id", requestId);
      return Response.json(body, { status: error.status, headers });
    }
    if (python !== undefined && error instanceof python.PythonError) {
      const answer = this.#pythonErrorAnswer(error as PythonErrorLike);
      const mapped = typeof answer === "function" ? answer(error as PythonErrorLike, c) : answer;
      if (mapped instanceof Response) {
        if (!mapped.headers.has("x-request-id")) mapped.headers.set("x-request-id", requestId);
        return mapped;
      }
      if (typeof mapped === "number") {
        const { pythonMessage, pythonType, attributes } = error as PythonErrorLike;
        const body: Record<string, unknown> = { error: pythonMessage, type: pythonType, requestId };
        if (Object.keys(attributes).length > 0) body.details = attributes;
        return Response.json(body, { status: mapped, headers: { "x-request-id": requestId } });
      }
    }
    console.error(JSON.stringify({
      time: new Date().toISOString(),
      level: "error",
      requestId,
      method: c.request.method,
      path: c.path,
      error: String(error),
      stack: (error as Error)?.stack,
      pythonTraceback: (error as any)?.pythonTraceback,
    }));
    return Response.json({ error: "Internal Server Error", requestId }, {
      status: 500,
      headers: { "x-request-id": requestId },
    });
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  // Most routes fail on length alone, before any object is made.
  const wildcard = pattern[pattern.length - 1] === "*";
  if (wildcard ? parts.length < pattern.length - 1 : parts.length !== pattern.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i];
    if (segment === "*") {
      params["*"] = parts.slice(i).map(decodeSegment).join("/");
      return params;
    }
    if (i >= parts.length) return null;
    if (segment.startsWith(":")) {
      params[segment.slice(1)] = decodeSegment(parts[i]);
    } else if (segment !== parts[i]) {
      return null;
    }
  }
  return pattern.length === parts.length ? params : null;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in path segment ${JSON.stringify(segment)}`);
  }
}

// ---------------------------------------------------------------------------
// Middleware

/** Reads X-Request-Id (or generates one) and echoes it on the response. */
export function requestId(): Middleware {
  return (c, next) => {
    // For a request the server made, the header is handed to the server
    // now and joins the response as it leaves: setting it on the handler's
    // Response would build that Response's Headers, which costs more than
    // the rest of this middleware.
    if (internal.setResponseHeader(c.request, "x-request-id", c.requestId)) return next();
    return next().then((response) => withHeader(response, "x-request-id", c.requestId));
  };
}

function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers (e.g. a Response from fetch()): copy.
    const copy = new Response(response.body, response);
    copy.headers.set(name, value);
    return copy;
  }
}

export interface LoggerOptions {
  /** Where lines go (default: console.log). */
  write?: (line: string) => void;
}

/** One JSON line per request: time, method, path, status, duration, request id. */
export function logger(options: LoggerOptions = {}): Middleware {
  const write = options.write ?? ((line: string) => console.log(line));
  return async (c, next) => {
    const started = performance.now();
    let status = 500;
    try {
      const response = await next();
      status = response.status;
      return response;
    } finally {
      write(JSON.stringify({
        time: new Date().toISOString(),
        method: c.request.method,
        path: c.path,
        route: c.route,
        status,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        requestId: c.requestId,
      }));
    }
  };
}

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

/** CORS headers, and answers to preflight (OPTIONS) requests. */
export function cors(options: CorsOptions = {}): Middleware {
  const methods = (options.methods ?? ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]).join(", ");
  const allowed = (origin: string): string | null => {
    const rule = options.origin ?? "*";
    if (rule === "*") return options.credentials ? origin : "*";
    if (Array.isArray(rule)) return rule.includes(origin) ? origin : null;
    return rule(origin) ? origin : null;
  };
  return async (c, next) => {
    const origin = c.request.headers.get("origin");
    if (origin === null) return next();
    const allowOrigin = allowed(origin);
    const preflight = c.request.method === "OPTIONS" && c.request.headers.has("access-control-request-method");
    if (preflight) {
      if (allowOrigin === null) return new Response(null, { status: 403 });
      const headers = new Headers({
        "access-control-allow-origin": allowOrigin,
        "access-control-allow-methods": methods,
        "vary": "Origin, Access-Control-Request-Headers",
      });
      const allowHeaders = options.allowHeaders?.join(", ") ??
        c.request.headers.get("access-control-request-headers");
      if (allowHeaders) headers.set("access-control-allow-headers", allowHeaders);
      if (options.credentials) headers.set("access-control-allow-credentials", "true");
      if (options.maxAge !== undefined) headers.set("access-control-max-age", String(options.maxAge));
      return new Response(null, { status: 204, headers });
    }
    let response = await next();
    if (allowOrigin === null) return response;
    response = withHeader(response, "access-control-allow-origin", allowOrigin);
    if (allowOrigin !== "*") response = withHeader(response, "vary", "Origin");
    if (options.credentials) response = withHeader(response, "access-control-allow-credentials", "true");
    if (options.exposeHeaders?.length) {
      response = withHeader(response, "access-control-expose-headers", options.exposeHeaders.join(", "));
    }
    return response;
  };
}

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

let limiterCount = 0;

/**
 * Token-bucket rate limiting per key (default: client address), shared by
 * every worker thread of the process; 429 with Retry-After when empty.
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) {
    throw new RangeError("rateLimit() needs capacity >= 1 and refillPerSecond > 0");
  }
  const name = options.name ?? `limiter-${++limiterCount}`;
  const keyOf = options.key ?? ((c: Context) => c.info.remoteAddr.hostname);
  return (c, next) => {
    const wait = internal.rateLimit(`${name}\u0000${keyOf(c)}`, options.capacity, options.refillPerSecond);
    if (wait > 0) {
      throw new HttpError(429, "too many requests: slow down", undefined, {
        "retry-after": String(Math.max(1, Math.ceil(wait))),
      });
    }
    return next();
  };
}

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

/**
 * API-key and bearer-token authentication: 401 (with WWW-Authenticate)
 * when no credential is sent, 403 when it is not accepted.
 */
export function auth(options: AuthOptions): Middleware {
  const keys = new Set(options.apiKeys ?? []);
  const tokens = new Set(options.bearerTokens ?? []);
  const open = new Set(options.public ?? []);
  return async (c, next) => {
    if (open.has(c.path) || c.request.method === "OPTIONS") return next();
    const apiKey = c.request.headers.get("x-api-key");
    const authorization = c.request.headers.get("authorization");
    const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null;
    if (apiKey === null && bearer === null) {
      throw new HttpError(
        401,
        "authentication required: send an X-API-Key header or Authorization: Bearer <token>",
        undefined,
        { "www-authenticate": 'Bearer realm="tandem"' },
      );
    }
    const [credential, scheme] = apiKey !== null ? [apiKey, "api-key" as const] : [bearer!, "bearer" as const];
    let principal: unknown = null;
    if (scheme === "api-key" ? keys.has(credential) : tokens.has(credential)) {
      principal = { scheme };
    } else if (options.verify !== undefined) {
      principal = await options.verify(credential, scheme);
    }
    if (principal === null || principal === undefined || principal === false) {
      throw new HttpError(403, `the ${scheme === "api-key" ? "API key" : "bearer token"} is not valid`);
    }
    c.state.user = principal;
    return next();
  };
}

// ---------------------------------------------------------------------------
// Validation

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

/** Checks `value` against `schema`; returns every failing field. */
export function check(schema: Schema, value: unknown, path = ""): FieldError[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [{ field: path || "(body)", message: "must be a JSON object" }];
  }
  const errors: FieldError[] = [];
  for (const [name, field] of Object.entries(schema)) {
    checkField(field, (value as Record<string, unknown>)[name], path ? `${path}.${name}` : name, errors);
  }
  return errors;
}

function checkField(schema: FieldSchema, value: unknown, field: string, errors: FieldError[]): void {
  const fail = (message: string) => errors.push({ field, message });
  if (value === undefined) {
    if (!schema.optional) fail("is required");
    return;
  }
  if (value === null) {
    if (!schema.nullable) fail(`must be ${article(schema.type)}, not null`);
    return;
  }
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") return void fail(`must be a string, got ${describe(value)}`);
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        fail(`must be at least ${schema.minLength} characters long (got ${value.length})`);
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        fail(`must be at most ${schema.maxLength} characters long (got ${value.length})`);
      }
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
        fail(`must match ${schema.pattern}`);
      }
      if (schema.enum !== undefined && !schema.enum.includes(value)) {
        fail(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
      }
      return;
    case "number":
    case "integer":
      if (typeof value !== "number" || !Number.isFinite(value)) return void fail(`must be a number, got ${describe(value)}`);
      if (schema.type === "integer" && !Number.isInteger(value)) return void fail(`must be an integer, got ${value}`);
      if (schema.minimum !== undefined && value < schema.minimum) fail(`must be >= ${schema.minimum} (got ${value})`);
      if (schema.maximum !== undefined && value > schema.maximum) fail(`must be <= ${schema.maximum} (got ${value})`);
      return;
    case "boolean":
      if (typeof value !== "boolean") fail(`must be a boolean, got ${describe(value)}`);
      return;
    case "array":
      if (!Array.isArray(value)) return void fail(`must be an array, got ${describe(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        fail(`must have at least ${schema.minItems} items (got ${value.length})`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        fail(`must have at most ${schema.maxItems} items (got ${value.length})`);
      }
      if (schema.items !== undefined) {
        value.forEach((item, i) => checkField(schema.items!, item, `${field}[${i}]`, errors));
      }
      return;
    case "object":
      if (typeof value !== "object" || Array.isArray(value)) return void fail(`must be an object, got ${describe(value)}`);
      if (schema.properties !== undefined) errors.push(...check(schema.properties, value, field));
      return;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 60);
}

/**
 * Validates the JSON body against `schema` before the handler runs: 400
 * listing each failing field. The handler reads it with `await c.body()`.
 */
export function validate(schema: Schema): RouteHandler {
  return async (c, next) => {
    const errors = check(schema, await c.body());
    if (errors.length > 0) {
      throw new HttpError(400, "the request body is invalid", errors);
    }
    c.markValidated();
    return next();
  };
}

// ---------------------------------------------------------------------------
// WSGI apps

export interface WsgiOptions {
  /**
   * The path the app is mounted at (`"/flask"`): requests under it reach
   * the app with SCRIPT_NAME set to it and PATH_INFO holding the rest, so
   * the app's `url_for` builds URLs under the prefix. Default: the root.
   */
  prefix?: string;
}

/**
 * A handler that answers with a Python WSGI app (Flask, or any PEP 3333
 * callable) running in this process on the WSGI thread pool:
 *
 *   import { app as flask } from "./app.py";
 *   router.all("/flask/*", wsgi(flask, { prefix: "/flask" }));
 *
 * Usable as a route handler (it takes the Context) or as a fetch handler
 * (it takes the Request). The request goes to the app as the server got
 * it (headers, body unread and streamed when large); the app's answer is a
 * Response the router's middleware can still change. A request outside the
 * prefix gets 404.
 */
export function wsgi(app: unknown, options: WsgiOptions = {}): (from: Request | Context) => Promise<Response> {
  return mountedApp("wsgi", app, options);
}

export interface AsgiOptions {
  /**
   * The path the app is mounted at (`"/api"`): requests under it reach
   * the app with `root_path` set to it (`path` keeps the whole path, as
   * Starlette expects). Default: the root.
   */
  prefix?: string;
}

/**
 * A handler that answers with a Python ASGI 3 app (FastAPI, Starlette)
 * running in this process on its asyncio loop:
 *
 *   import { app as api } from "./api.py";
 *   router.all("/api/*", asgi(api, { prefix: "/api" }));
 *
 * As `wsgi()`: a route handler or a fetch handler, the request passed on
 * as the server got it, the answer a Response the router's middleware can
 * change, 404 outside the prefix. The app's lifespan startup runs on its
 * first request (its shutdown is not run: the process's end stops it).
 */
export function asgi(app: unknown, options: AsgiOptions = {}): (from: Request | Context) => Promise<Response> {
  return mountedApp("asgi", app, options);
}

function mountedApp(
  kind: "wsgi" | "asgi",
  app: unknown,
  options: WsgiOptions | AsgiOptions,
): (from: Request | Context) => Promise<Response> {
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string" || (prefix !== "" && (!prefix.startsWith("/") || prefix.endsWith("/")))) {
    throw new TypeError(`${kind}(): prefix ${JSON.stringify(prefix)} must start with "/" and not end with one (or be "")`);
  }
  if (app === null || (typeof app !== "object" && typeof app !== "function")) {
    throw new TypeError(
      `${kind}(): app must be a Python ${kind.toUpperCase()} application (import { app } from "./app.py"), got ${app}`,
    );
  }
  let mounted: number | undefined;
  return (from) => {
    const request = from instanceof Context ? from.request : from;
    const path = from instanceof Context ? from.path : new URL(request.url).pathname;
    if (prefix !== "" && path !== prefix && !path.startsWith(prefix + "/")) {
      return Promise.resolve(new Response("Not Found", { status: 404 }));
    }
    try {
      mounted ??= (kind === "wsgi" ? internal.wsgiMount(app, prefix) : internal.asgiMount(app, prefix)) as number;
    } catch (error) {
      return Promise.reject(error);
    }
    return internal.callMounted(mounted, request);
  };
}

// ---------------------------------------------------------------------------
// Streamed responses

/** An item of `sse()` with an event name, an id or a reconnection delay. */
export class ServerSentEvent {
  constructor(
    readonly data: unknown,
    readonly options: { event?: string; id?: string; retry?: number } = {},
  ) {}
}

export interface StreamOptions {
  /** Stops the stream and closes its source when it aborts (e.g. `c.request.signal`). */
  signal?: AbortSignal;
  /** Status and headers of the response; the content type is set unless given. */
  init?: ResponseInit;
}

export interface SseOptions extends StreamOptions {
  /**
   * Milliseconds without an event after which a keep-alive comment is sent
   * (it keeps proxies from closing the connection and finds a client that
   * left). Default 15000; 0 sends none.
   */
  keepAlive?: number;
}

type Source = AsyncIterable<unknown> | Iterable<unknown>;

/**
 * A `text/event-stream` response with one event per item of `source`, pulled
 * only as the client reads: strings go as they are, other values as JSON,
 * a `ServerSentEvent` with its name and id. A Python generator works as a
 * source; the client going away (or `signal`) closes it, so its `finally`
 * blocks run. An error from the source ends the stream with an `error`
 * event `{"error": message}`.
 *
 *   router.get("/scores", (c) => sse(score_sentences(c.query.get("text"))));
 */
export function sse(source: Source, options: SseOptions = {}): Response {
  const keepAlive = options.keepAlive ?? 15000;
  if (typeof keepAlive !== "number" || !(keepAlive >= 0)) {
    throw new TypeError(`sse(): keepAlive must be a number of milliseconds >= 0, got ${keepAlive}`);
  }
  return streamed(source, "sse()", options, "text/event-stream", {
    item: eventText,
    idle: keepAlive > 0 ? { ms: keepAlive, text: ": keep-alive\n\n" } : undefined,
    error: (error) => eventText(new ServerSentEvent({ error: errorMessage(error) }, { event: "error" })),
  }, { "cache-control": "no-cache", "x-accel-buffering": "no" });
}

/**
 * A newline-delimited JSON (`application/x-ndjson`) response, one line per
 * item of `source`, pulled only as the client reads (a Python generator
 * works, as for `sse()`). An error from the source ends the stream with a
 * last line `{"error": message}`.
 */
export function ndjson(source: Source, options: StreamOptions = {}): Response {
  return streamed(source, "ndjson()", options, "application/x-ndjson", {
    item: (value) => JSON.stringify(value ?? null) + "\n",
    error: (error) => JSON.stringify({ error: errorMessage(error) }) + "\n",
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function oneLine(text: unknown): string {
  return String(text).replace(/[\r\n]/g, " ");
}

function eventText(item: unknown): string {
  const event = item instanceof ServerSentEvent ? item : undefined;
  const data = event ? event.data : item;
  const text = typeof data === "string" ? data : JSON.stringify(data) ?? String(data);
  let out = "";
  if (event?.options.event !== undefined) out += `event: ${oneLine(event.options.event)}\n`;
  if (event?.options.id !== undefined) out += `id: ${oneLine(event.options.id)}\n`;
  if (event?.options.retry !== undefined) out += `retry: ${Math.max(0, Math.floor(event.options.retry))}\n`;
  for (const line of text.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}

interface Framing {
  item: (value: unknown) => string;
  error: (error: unknown) => string;
  /** Text sent after `ms` without an item. */
  idle?: { ms: number; text: string };
}

function iteratorOf(source: Source, caller: string): AsyncIterator<unknown> {
  const s = source as any;
  if ((s !== null && typeof s === "object") || typeof s === "function") {
    if (typeof s[Symbol.asyncIterator] === "function") return s[Symbol.asyncIterator]();
    if (typeof s[Symbol.iterator] === "function") {
      const it = s[Symbol.iterator]();
      return {
        next: () => Promise.resolve(it.next()),
        return: (value?: unknown) => Promise.resolve(it.return?.(value) ?? { done: true, value }),
      };
    }
  }
  throw new TypeError(`${caller}: the source must be an iterable or async iterable (e.g. a Python generator), got ${s === null ? "null" : typeof s}`);
}

const IDLE = Symbol("idle");

function streamed(
  source: Source,
  caller: string,
  options: StreamOptions,
  contentType: string,
  framing: Framing,
  extraHeaders: Record<string, string> = {},
): Response {
  const iterator = iteratorOf(source, caller);
  const encoder = new TextEncoder();
  let pending: Promise<IteratorResult<unknown>> | null = null;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    // Closes a generator (its finally blocks run); errors there are the
    // source's own business, the response is over.
    Promise.resolve(iterator.return?.()).catch(() => {});
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      options.signal?.addEventListener("abort", () => {
        if (done) return;
        finish();
        try {
          controller.close();
        } catch {
          // Already closed or errored.
        }
      }, { once: true });
    },
    async pull(controller) {
      if (done) return;
      pending ??= iterator.next();
      let next: IteratorResult<unknown> | typeof IDLE;
      try {
        next = framing.idle ? await raceIdle(pending, framing.idle.ms) : await pending;
      } catch (error) {
        pending = null;
        done = true;
        console.error(`error: the source of a streamed response (${caller}) failed:`, error);
        controller.enqueue(encoder.encode(framing.error(error)));
        controller.close();
        return;
      }
      if (done) return;
      if (next === IDLE) {
        controller.enqueue(encoder.encode(framing.idle!.text));
        return;
      }
      pending = null;
      if (next.done) {
        done = true;
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(framing.item(next.value)));
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
  const headers = new Headers(options.init?.headers);
  if (!headers.has("content-type")) headers.set("content-type", contentType);
  for (const [name, value] of Object.entries(extraHeaders)) {
    if (!headers.has(name)) headers.set(name, value);
  }
  return new Response(body, { ...options.init, headers });
}

function raceIdle<T>(promise: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: number | undefined;
  const idle = new Promise<typeof IDLE>((resolve) => {
    timer = setTimeout(() => resolve(IDLE), ms);
  });
  return Promise.race([promise, idle]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// WebSockets

export interface UpgradeWebSocketOptions {
  /** The subprotocol to accept; it must be one the client offered. */
  protocol?: string;
  /** Seconds of silence before the client is pinged, and as long again before it is closed (1001); 0: never. Default 120. */
  idleTimeout?: number;
  /** Largest message taken, in bytes; a larger one closes the socket with 1009. Default 16 MiB. */
  maxMessageSize?: number;
}

/**
 * Switches the request's connection to the WebSocket protocol:
 * `Tandem.upgradeWebSocket`, also taking a router's Context.
 *
 *   router.get("/ws", (c) => {
 *     const { socket, response } = upgradeWebSocket(c);
 *     socket.onmessage = (e) => socket.send(e.data);
 *     return response;
 *   });
 */
export function upgradeWebSocket(
  from: Request | Context,
  options?: UpgradeWebSocketOptions,
): { socket: WebSocket; response: Response } {
  const request = from instanceof Context ? from.request : from;
  return (Tandem as any).upgradeWebSocket(request, options);
}
