// The isolate's side of the HTTP server: pull request ids from Rust, give
// the handler a Web-standard Request, send its Response back.
//
// Requests are objects of deno_fetch's Request class over a lazy inner
// request: the URL and headers are only copied out of Rust when the
// handler reads them. Responses built from a string (the common case)
// leave by one fast op; others by their header list and body, streamed
// when the body is a ReadableStream.

import { core } from "ext:core/mod.js";
import { withSignalOf } from "ext:tandem_py_proxy/01_py_proxy.js";
import {
  op_http_body_kind,
  op_http_body_take,
  op_http_close,
  op_http_header,
  op_http_headers,
  op_http_method,
  op_http_method_code,
  op_http_next,
  op_http_next_aborted,
  op_http_next_probe,
  op_http_next_ready,
  op_http_probe_answer,
  op_http_rate_limit,
  op_http_read,
  op_http_remote_addr,
  op_http_respond,
  op_http_respond_stream,
  op_http_respond_text,
  op_http_respond_text_headers,
  op_http_serve,
  op_http_set_header,
  op_http_set_route,
  op_http_url,
  op_http_mount_call,
  op_http_mount_cancel,
  op_http_wsgi_mount,
  op_http_asgi_mount,
  op_http_mount_read,
  op_http_write,
} from "ext:core/ops";

const { InnerBody } = core.loadExtScript("ext:deno_fetch/22_body.js");
const { abortRequest, fromInnerRequest } = core.loadExtScript(
  "ext:deno_fetch/23_request.js",
);
const responses = core.loadExtScript("ext:deno_fetch/23_response.js");
const { ReadableStream } = core.loadExtScript("ext:deno_web/06_streams.js");

const {
  Response,
  toInnerResponse,
  serveFastStatusKey,
  serveFastBodyKey,
  serveFastHeaderKindKey,
  serveFastContentTypeKey,
  serveFastConsumedKey,
  SERVE_FAST_HEADER_DEFAULT_TEXT,
  SERVE_FAST_HEADER_NONE,
} = responses;

// Requests being handled, by id, so that an abort from Rust (client gone,
// handler timeout) can reach their AbortSignal.
const inFlight = new Map();
let handler = null;
let onError = null;

// Body kinds as op_http_body_kind gives them (BODY_* in ext/http/request.rs).
const BODY_NONE = 0;
const BODY_BUFFERED = 1;

function requestBody(id) {
  switch (op_http_body_kind(id)) {
    case BODY_NONE:
      return null;
    case BODY_BUFFERED:
      return new InnerBody({ body: op_http_body_take(id), consumed: false });
    default:
      return new InnerBody(
        new ReadableStream({
          type: "bytes",
          async pull(controller) {
            const chunk = await op_http_read(id);
            if (chunk === null) {
              controller.close();
              controller.byobRequest?.respond(0);
            } else {
              controller.enqueue(chunk);
            }
          },
        }),
      );
  }
}

// op_http_respond_text's Content-Type kinds (see mod.rs).
// Content-Type kinds of op_http_respond_text (CONTENT_TYPE_* in ext/http/respond.rs).
const CONTENT_TYPE_NONE = 0;
const CONTENT_TYPE_TEXT = 1;
const CONTENT_TYPE_OTHER = 2;

// Methods by the code op_http_method_code gives (METHOD_CODES in
// ext/http/request.rs); 0 is "ask by name".
const METHODS = [null, "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

// deno_fetch's inner request, for a request held in Rust. deno_fetch's own
// newInnerRequest() builds an object literal with six accessor and method
// closures per call, which an interpreter pays for on every request; here
// they live once on the prototype. The fields and accessors are the ones
// deno_fetch reads and writes (23_request.js, 26_fetch.js).
class InnerRequest {
  constructor(id, method, body) {
    this.id = id;
    this.methodInner = method;
    this.headerListInner = null;
    this.body = body;
    this.redirectMode = "follow";
    this.redirectCount = 0;
    this.urlListInner = null;
    this.urlListProcessed = [];
    this.clientRid = null;
    this.blobUrlEntry = null;
  }
  get method() {
    return this.methodInner;
  }
  set method(value) {
    this.methodInner = value;
  }
  get headerList() {
    if (this.headerListInner === null) {
      try {
        this.headerListInner = op_http_headers(this.id);
      } catch {
        throw new TypeError("Cannot read headers: request closed");
      }
    }
    return this.headerListInner;
  }
  set headerList(value) {
    this.headerListInner = value;
  }
  get urlList() {
    if (this.urlListInner === null) {
      const id = this.id;
      this.urlListInner = [() => op_http_url(id)];
    }
    return this.urlListInner;
  }
  set urlList(value) {
    this.urlListInner = value;
  }
  url() {
    if (this.urlListProcessed[0] === undefined) {
      try {
        this.urlListProcessed[0] = this.urlListInner === null ? op_http_url(this.id) : this.urlListInner[0]();
      } catch {
        throw new TypeError("cannot read url: request closed");
      }
    }
    return this.urlListProcessed[0];
  }
  currentUrl() {
    const urlList = this.urlList;
    const index = urlList.length - 1;
    if (this.urlListProcessed[index] === undefined) {
      try {
        this.urlListProcessed[index] = urlList[index]();
      } catch {
        throw new TypeError("Cannot read url: request closed");
      }
    }
    return this.urlListProcessed[index];
  }
}

// The id of each Request this isolate handed to a handler (for setRoute).
const requestId = Symbol("tandem.requestId");

function makeRequest(id) {
  const method = METHODS[op_http_method_code(id)] ?? op_http_method(id);
  const body = method === "GET" || method === "HEAD" ? null : requestBody(id);
  const request = fromInnerRequest(new InnerRequest(id, method, body), "immutable");
  request[requestId] = id;
  return request;
}

// QuickJS keeps an object shape (hidden class) only while some object has
// it, so the intermediate shapes a constructor passes through die with
// each request's objects and are rebuilt, property by property, for the
// next one. One object kept at each step of the per-request constructions
// lets QuickJS find every step's shape again (measured: ~15% off
// `new Response(string)`).
const shapeWitnesses = [];
function keepShapes(sample) {
  const keys = Reflect.ownKeys(sample);
  const proto = Object.getPrototypeOf(sample);
  for (let n = 1; n <= keys.length; n++) {
    const witness = Object.create(proto);
    for (let i = 0; i < n; i++) {
      Object.defineProperty(witness, keys[i], { value: undefined, writable: true, enumerable: true, configurable: true });
    }
    shapeWitnesses.push(witness);
  }
}

function keepRequestShapes() {
  const inner = new InnerRequest(0, "GET", null);
  const request = fromInnerRequest(inner, "immutable");
  request[requestId] = 0;
  const response = new Response("");
  for (const sample of [inner, request, response, toInnerResponse(Response.json(null))]) {
    keepShapes(sample);
  }
}

// The handler's second argument; the address is read from Rust on demand.
class ServeInfo {
  #id;
  #remoteAddr = undefined;
  constructor(id) {
    this.#id = id;
  }
  get remoteAddr() {
    if (this.#remoteAddr === undefined) {
      const addr = op_http_remote_addr(this.#id);
      const colon = addr.lastIndexOf(":");
      this.#remoteAddr = {
        transport: "tcp",
        hostname: addr.slice(0, colon).replace(/^\[|\]$/g, ""),
        port: Number(addr.slice(colon + 1)),
      };
    }
    return this.#remoteAddr;
  }
}

function errorResponse(id, error) {
  const requestId = `${id}`;
  if (onError !== null) {
    try {
      const response = onError(error, requestId);
      if (response instanceof Response) return response;
    } catch (e) {
      error = e;
    }
  }
  console.error(`error: request ${requestId} failed:`, error);
  return Response.json({ error: "Internal Server Error", requestId }, { status: 500 });
}

// "name\0value\0name\0value" for op_http_respond_text_headers.
function flatHeaders(headerList) {
  let flat = "";
  for (let i = 0; i < headerList.length; i++) {
    if (i > 0) flat += "\0";
    flat += headerList[i][0] + "\0" + headerList[i][1];
  }
  return flat;
}

function headerPairs(headerList) {
  const pairs = new Array(headerList.length);
  for (let i = 0; i < headerList.length; i++) {
    pairs[i] = [headerList[i][0], headerList[i][1]];
  }
  return pairs;
}

async function streamBody(id, stream) {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const chunk = typeof value === "string" ? core.encode(value) : value;
      if (!(await op_http_write(id, chunk))) {
        await reader.cancel(new DOMException("the client disconnected", "AbortError"));
        return;
      }
    }
  } catch (error) {
    console.error(`error: streaming the response of request ${id} failed:`, error);
  } finally {
    op_http_close(id);
  }
}

function send(id, response) {
  if (!(response instanceof Response)) {
    response = errorResponse(
      id,
      new TypeError(
        `the handler must return a Response (or a Promise of one), got ${response === null ? "null" : typeof response}`,
      ),
    );
  }
  const status = response[serveFastStatusKey];
  if (status !== 0 && !response[serveFastConsumedKey]) {
    const body = response[serveFastBodyKey];
    if (typeof body === "string") {
      const kind = response[serveFastHeaderKindKey];
      if (kind === SERVE_FAST_HEADER_NONE) {
        op_http_respond_text(id, status, CONTENT_TYPE_NONE, "", body);
      } else if (kind === SERVE_FAST_HEADER_DEFAULT_TEXT) {
        op_http_respond_text(id, status, CONTENT_TYPE_TEXT, "", body);
      } else {
        op_http_respond_text(id, status, CONTENT_TYPE_OTHER, response[serveFastContentTypeKey], body);
      }
      return;
    }
  }
  const inner = toInnerResponse(response);
  const body = inner.body;
  if (body === null) {
    op_http_respond(id, inner.status, headerPairs(inner.headerList), null);
    return;
  }
  const content = body.streamOrStatic;
  if (content instanceof ReadableStream) {
    if (op_http_respond_stream(id, inner.status, headerPairs(inner.headerList))) {
      streamBody(id, content);
    } else {
      content.cancel().catch(() => {});
    }
    return;
  }
  content.consumed = true;
  if (typeof content.body === "string") {
    op_http_respond_text_headers(id, inner.status, flatHeaders(inner.headerList), content.body);
  } else {
    op_http_respond(id, inner.status, headerPairs(inner.headerList), content.body);
  }
}

function handle(id) {
  let request;
  try {
    request = makeRequest(id);
    inFlight.set(id, request);
    // Python awaits the handler starts are cancelled with its request.
    const result = withSignalOf(request, () => handler(request, new ServeInfo(id)));
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      result.then(
        (response) => finish(id, response),
        (error) => finish(id, errorResponse(id, error)),
      );
      return;
    }
    finish(id, result);
  } catch (error) {
    finish(id, errorResponse(id, error));
  }
}

function finish(id, response) {
  inFlight.delete(id);
  let sent = response;
  try {
    send(id, response);
  } catch (error) {
    sent = null;
    // The client went away, or the Response could not be sent (an invalid
    // header, say): answer 500 if the request is still open.
    try {
      send(id, errorResponse(id, error));
    } catch {
      // The request is closed; nothing left to answer.
    }
  }
  if (upgrades.size !== 0) settleUpgrade(id, sent);
}

// Requests promised to a WebSocket (ext/websocket/01_websocket.js), by
// id: told which Response was sent (null if none), to open the socket
// once its 101 is out or give the connection back.
const upgrades = new Map();

function settleUpgrade(id, sent) {
  const settle = upgrades.get(id);
  if (settle !== undefined) {
    upgrades.delete(id);
    settle(sent);
  }
}

// The server's id of a Request it handed to a handler; undefined for
// any other Request.
function requestIdOf(request) {
  return request?.[requestId];
}

// Whether each loop is inside a handler or an abort listener it called. If
// the server's watchdog terminates runaway code there, the termination
// unwinds the loop too, and resume() (called from Rust) starts it again.
let accepting = false;
let aborting = false;
let probing = false;

async function acceptLoop() {
  for (;;) {
    let id = op_http_next_ready();
    if (id === 0) id = await op_http_next();
    if (id === 0) return;
    accepting = true;
    handle(id);
    accepting = false;
  }
}

async function abortLoop() {
  for (;;) {
    const id = await op_http_next_aborted();
    if (id === 0) return;
    const request = inFlight.get(id);
    if (request !== undefined) {
      inFlight.delete(id);
      aborting = true;
      abortRequest(request);
      aborting = false;
    }
  }
}

// The app's readiness check (`ready` in serve()'s options), asked by the
// server for each probe of the readiness path (--ready-path).
let readyCheck = null;

async function probeLoop() {
  for (;;) {
    const id = await op_http_next_probe();
    if (id === 0) return;
    probing = true;
    checkReady(id);
    probing = false;
  }
}

function checkReady(id) {
  const answer = (ready, reason = "") => op_http_probe_answer(id, ready, reason);
  const judge = (value) => {
    if (value === true) answer(true);
    else answer(false, value === false ? "the app's ready() returned false" : `the app's ready() returned ${typeof value}, not a boolean`);
  };
  const failed = (error) => answer(false, `the app's ready() threw ${error?.name ?? "an error"}: ${error?.message ?? String(error)}`);
  try {
    const value = readyCheck();
    if (value !== null && typeof value === "object" && typeof value.then === "function") {
      value.then(judge, failed);
    } else {
      judge(value);
    }
  } catch (error) {
    failed(error);
  }
}

// What other extensions restart after a termination (ext/websocket).
const resumeHooks = [];
function onResume(hook) {
  resumeHooks.push(hook);
}

function resume() {
  for (const hook of resumeHooks) hook();
  if (probing) {
    probing = false;
    probeLoop();
  }
  if (accepting) {
    accepting = false;
    acceptLoop();
  }
  if (aborting) {
    aborting = false;
    abortLoop();
  }
}

/**
 * Serves `fetchHandler(request, info)` on this isolate. The server (port,
 * host, workers, limits) is set up by the command line; `options.port` and
 * `options.hostname` override its defaults.
 */
function serve(fetchHandler, options = {}) {
  if (typeof fetchHandler !== "function") {
    throw new TypeError(`serve() needs a handler function, got ${typeof fetchHandler}`);
  }
  if (options.ready !== undefined && typeof options.ready !== "function") {
    throw new TypeError(`serve()'s ready option must be a function returning a boolean (or a Promise of one), got ${typeof options.ready}`);
  }
  op_http_serve({
    port: options.port ?? null,
    hostname: options.hostname ?? null,
    ready: options.ready !== undefined,
  });
  handler = fetchHandler;
  keepRequestShapes();
  onError = typeof options.onError === "function" ? options.onError : null;
  acceptLoop();
  abortLoop();
  if (options.ready !== undefined) {
    readyCheck = options.ready;
    probeLoop();
  }
}

/**
 * Serves a module's default export when it is `{ fetch(req) }` or a
 * function named `fetch`. Returns whether it did.
 */
function serveModule(namespace) {
  const exported = namespace.default;
  if (exported === null || exported === undefined) return false;
  if (typeof exported === "function") {
    if (exported.name !== "fetch") return false;
    serve(exported, { ready: readyExport(namespace) });
    return true;
  }
  if (typeof exported === "object" && typeof exported.fetch === "function") {
    serve((request, info) => exported.fetch(request, info), {
      port: exported.port,
      hostname: exported.hostname,
      onError: exported.onError?.bind(exported),
      ready: exported.ready?.bind(exported) ?? readyExport(namespace),
    });
    return true;
  }
  return false;
}

// A module's `export function ready()`, its readiness check.
function readyExport(namespace) {
  return typeof namespace.ready === "function" ? namespace.ready : undefined;
}

/** Labels the request's metrics with the route pattern that matched. */
function setRoute(request, route) {
  const id = request?.[requestId];
  if (typeof id === "number") op_http_set_route(id, String(route));
}

// A header of a request the server made, read from Rust without building
// the request's Headers (`name` in lower case). Undefined for any other
// request, or once the request is closed: the caller then asks
// `request.headers`, which still has them if they were read before.
function header(request, name) {
  const id = request?.[requestId];
  if (typeof id !== "number") return undefined;
  try {
    return op_http_header(id, name);
  } catch {
    return undefined;
  }
}

// Sets a header of the response to a request the server made, before the
// handler has built that response (it replaces a header of the same name
// the response has). False for any other request, or once it is closed:
// the caller then sets the header on the Response itself.
function setResponseHeader(request, name, value) {
  const id = request?.[requestId];
  return typeof id === "number" && op_http_set_header(id, name, value);
}

// Statuses whose responses have no body (a Response refuses one).
const NULL_BODY_STATUS = [101, 103, 204, 205, 304];

/**
 * Hands `request` to the Python app mounted as `app` (an index from
 * op_http_wsgi_mount or op_http_asgi_mount) and builds a Response of its
 * answer. A request of
 * this server goes over as it came (its body unread, streamed if large);
 * any other Request is read here first.
 */
async function callMounted(app, request) {
  const id = request[requestId];
  let head = null;
  let body = null;
  if (typeof id !== "number") {
    head = [request.method, request.url, [...request.headers]];
    if (request.body !== null) body = new Uint8Array(await request.arrayBuffer());
  } else if (request.bodyUsed) {
    throw new TypeError(
      "the request body was already read before reaching the Python app; a mounted app needs the whole body",
    );
  } else if (op_http_body_kind(id) === BODY_NONE && request.body !== null) {
    // A small body the server read whole and the Request already holds.
    body = new Uint8Array(await request.arrayBuffer());
  }
  // The request aborted (its deadline passed, its client went away) stops
  // the app's Python: not started, or interrupted if it runs.
  const cancel = core.createCancelHandle();
  const stop = () => core.tryClose(cancel);
  request.signal?.addEventListener("abort", stop, { once: true });
  let answer;
  try {
    answer = await op_http_mount_call(typeof id === "number" ? id : 0, app, head, body, cancel);
  } finally {
    request.signal?.removeEventListener("abort", stop);
    core.tryClose(cancel);
  }
  let content = answer.body;
  if (answer.stream !== 0) {
    const token = answer.stream;
    content = new ReadableStream({
      type: "bytes",
      async pull(controller) {
        const chunk = await op_http_mount_read(token);
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        op_http_mount_cancel(token);
      },
    });
  }
  if (NULL_BODY_STATUS.includes(answer.status)) content = null;
  return new Response(content, { status: answer.status, headers: answer.headers });
}

globalThis[Symbol.for("tandem.http")] = {
  wsgiMount: op_http_wsgi_mount,
  asgiMount: op_http_asgi_mount,
  callMounted,
  serve,
  serveModule,
  resume,
  setRoute,
  header,
  setResponseHeader,
  inFlightRequests: () => inFlight.size,
  rateLimit: op_http_rate_limit,
};

export { onResume, requestIdOf, upgrades };
