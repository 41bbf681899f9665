// Server WebSockets: `upgradeWebSocket(request)` answers a request with
// 101 Switching Protocols and gives the handler a WHATWG WebSocket (the
// shape of Deno.upgradeWebSocket). The socket opens once the 101 is out;
// its messages come from op_websocket_next, one at a time, in order.
//
// An exception in one of the socket's listeners (or a rejected Promise one
// returns) closes that socket with 1011 and is logged: a bug in one
// conversation must not end the process or the other conversations.

import { core } from "ext:core/mod.js";
import { onResume, requestIdOf, upgrades } from "ext:tandem_http/01_http.js";
import {
  op_websocket_accept,
  op_websocket_accept_key,
  op_websocket_buffered,
  op_websocket_close,
  op_websocket_close_info,
  op_websocket_next,
  op_websocket_send_binary,
  op_websocket_send_text,
  op_websocket_take_binary,
  op_websocket_take_text,
  op_websocket_upgrade,
} from "ext:core/ops";

const { CloseEvent, ErrorEvent, Event, EventTarget, MessageEvent, defineEventHandler } = core.loadExtScript(
  "ext:deno_web/02_event.js",
);
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const { Blob } = core.loadExtScript("ext:deno_web/09_file.js");
const { fromInnerResponse, newInnerResponse } = core.loadExtScript("ext:deno_fetch/23_response.js");
// The module of the global WebSocket, which connects out (deno_websocket).
const clientWebSocket = core.createLazyLoader("ext:deno_websocket/01_websocket.js");

// op_websocket_next's kinds (KIND_* in ext/websocket/mod.rs).
const KIND_TEXT = 0;
const KIND_BINARY = 1;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// Defaults of upgradeWebSocket's options.
const DEFAULT_IDLE_TIMEOUT = 120; // seconds, as Deno's
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

const state = Symbol("state");
const rid = Symbol("rid");
const requestKey = Symbol("requestId");
const guards = Symbol("guards");
const pendingSends = Symbol("pendingSends");
const closeAsked = Symbol("closeAsked");
const binaryTypeKey = Symbol("binaryType");
const urlKey = Symbol("url");
const protocolKey = Symbol("protocol");

class WebSocket extends EventTarget {
  constructor(key, url, protocol, request) {
    if (key !== state) {
      throw new TypeError("server WebSockets come from upgradeWebSocket(request); use `new WebSocket(url)` to connect out");
    }
    super();
    this[state] = CONNECTING;
    this[rid] = null;
    this[requestKey] = request;
    this[guards] = new Map();
    this[pendingSends] = null;
    this[closeAsked] = null;
    this[binaryTypeKey] = "blob";
    this[urlKey] = url;
    this[protocolKey] = protocol;
  }

  get url() {
    return this[urlKey];
  }

  get protocol() {
    return this[protocolKey];
  }

  get extensions() {
    return "";
  }

  get readyState() {
    return this[state];
  }

  get bufferedAmount() {
    return this[rid] === null ? 0 : op_websocket_buffered(this[rid]);
  }

  get binaryType() {
    return this[binaryTypeKey];
  }

  set binaryType(value) {
    if (value === "blob" || value === "arraybuffer") this[binaryTypeKey] = value;
  }

  send(data) {
    if (this[state] === CONNECTING) {
      throw new DOMException("the WebSocket is not open yet: send once its open event fired", "InvalidStateError");
    }
    if (this[state] !== OPEN) return;
    // A Blob is read before it is sent; what is sent after it waits.
    if (this[pendingSends] !== null) {
      this[pendingSends].push(data);
      return;
    }
    sendNow(this, data);
  }

  close(code = undefined, reason = undefined) {
    if (code !== undefined) {
      code = Number(code);
      if (!(code === 1000 || (code >= 3000 && code <= 4999))) {
        throw new DOMException(`close code ${code} is not allowed: use 1000 or 3000-4999`, "InvalidAccessError");
      }
    }
    reason = reason === undefined ? "" : String(reason);
    if (core.encode(reason).byteLength > 123) {
      throw new DOMException("the close reason is longer than 123 bytes", "SyntaxError");
    }
    closeWith(this, code ?? 1000, reason);
  }

  addEventListener(type, listener, options) {
    if (listener === null || listener === undefined) return;
    super.addEventListener(type, guard(this, type, listener), options);
  }

  removeEventListener(type, listener, options) {
    const guarded = this[guards].get(listener)?.get(String(type));
    super.removeEventListener(type, guarded ?? listener, options);
  }
}

// Makes `socket instanceof WebSocket` hold for the global WebSocket too
// (and its constants inherited); every member is this class's own. Done at
// the first upgrade: the global's module is loaded on first use.
let linked = false;
function linkToGlobalClass() {
  if (linked) return;
  Object.setPrototypeOf(WebSocket.prototype, clientWebSocket().WebSocket.prototype);
  linked = true;
}
for (const name of ["open", "message", "error", "close"]) {
  defineEventHandler(WebSocket.prototype, name);
}

function closeWith(socket, code, reason) {
  if (socket[state] === CLOSING || socket[state] === CLOSED) return;
  if (socket[state] === CONNECTING) {
    // Closed as soon as it opens.
    socket[closeAsked] = [code, reason];
    return;
  }
  socket[state] = CLOSING;
  op_websocket_close(socket[rid], code, reason);
}

function sendNow(socket, data) {
  if (typeof data === "string") {
    op_websocket_send_text(socket[rid], data);
  } else if (data instanceof ArrayBuffer) {
    op_websocket_send_binary(socket[rid], new Uint8Array(data));
  } else if (ArrayBuffer.isView(data)) {
    op_websocket_send_binary(socket[rid], new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else if (data instanceof Blob) {
    socket[pendingSends] = [];
    data.arrayBuffer().then(
      (buffer) => {
        if (socket[state] === OPEN) op_websocket_send_binary(socket[rid], new Uint8Array(buffer));
        sendWaiting(socket);
      },
      (error) => failed(socket, error),
    );
  } else {
    op_websocket_send_text(socket[rid], String(data));
  }
}

function sendWaiting(socket) {
  const waiting = socket[pendingSends];
  socket[pendingSends] = null;
  while (waiting.length > 0 && socket[pendingSends] === null) {
    if (socket[state] === OPEN) sendNow(socket, waiting.shift());
    else waiting.length = 0;
  }
  if (socket[pendingSends] !== null) socket[pendingSends].push(...waiting);
}

// The listener as the EventTarget holds it: one that throws, or returns a
// Promise that rejects, closes its socket with 1011.
function guard(socket, type, listener) {
  type = String(type);
  let byType = socket[guards].get(listener);
  if (byType === undefined) {
    byType = new Map();
    socket[guards].set(listener, byType);
  }
  let guarded = byType.get(type);
  if (guarded === undefined) {
    guarded = function (event) {
      try {
        const result = typeof listener === "function" ? listener.call(this, event) : listener.handleEvent(event);
        if (result !== null && typeof result === "object" && typeof result.then === "function") {
          result.then(undefined, (error) => failed(socket, error));
        }
        return result;
      } catch (error) {
        failed(socket, error);
      }
    };
    byType.set(type, guarded);
  }
  return guarded;
}

function failed(socket, error) {
  console.error(`WebSocket of request ${socket[requestKey]}: a listener failed; closing with 1011:`, error);
  if (socket[state] === OPEN) {
    socket[state] = CLOSING;
    op_websocket_close(socket[rid], 1011, "internal error");
  }
}

function finished(socket, code, reason, wasClean) {
  socket[state] = CLOSED;
  if (!wasClean) socket.dispatchEvent(new ErrorEvent("error", { message: reason || `closed with ${code}` }));
  socket.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
}

// Sockets whose listeners are running: one left here after a listener
// was terminated (it ran past --handler-timeout), for recover().
const inDispatch = new Set();

function dispatchMessage(socket, data) {
  inDispatch.add(socket);
  socket.dispatchEvent(new MessageEvent("message", { data }));
  inDispatch.delete(socket);
}

// After the watchdog terminated a runaway listener (called by the serve
// loop's resume): closes its socket with 1011 and reads on to the close.
function recover() {
  for (const socket of inDispatch) {
    inDispatch.delete(socket);
    console.error(`WebSocket ${socket.url}: a listener held the thread past --handler-timeout; closing with 1011`);
    if (socket[state] === OPEN) {
      socket[state] = CLOSING;
      op_websocket_close(socket[rid], 1011, "handler timeout");
    }
    readLoop(socket);
  }
}
onResume(recover);

async function readLoop(socket) {
  const id = socket[rid];
  for (;;) {
    let kind;
    try {
      kind = await op_websocket_next(id);
    } catch {
      finished(socket, 1006, "", false);
      return;
    }
    if (kind === KIND_TEXT) {
      dispatchMessage(socket, op_websocket_take_text(id));
    } else if (kind === KIND_BINARY) {
      const bytes = op_websocket_take_binary(id);
      const data = socket[binaryTypeKey] === "arraybuffer"
        ? (bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer)
        : new Blob([bytes]);
      dispatchMessage(socket, data);
    } else {
      const { code, reason, wasClean } = op_websocket_close_info(id);
      core.tryClose(id);
      finished(socket, code, reason, wasClean);
      return;
    }
  }
}

async function open(socket, pending) {
  try {
    socket[rid] = await op_websocket_accept(pending);
  } catch (error) {
    finished(socket, 1006, String(error?.message ?? error), false);
    return;
  }
  socket[state] = OPEN;
  socket.dispatchEvent(new Event("open"));
  const asked = socket[closeAsked];
  if (asked !== null) closeWith(socket, asked[0], asked[1]);
  readLoop(socket);
}

function headerHas(request, name, token) {
  const value = request.headers.get(name);
  return value !== null && value.split(",").some((option) => option.trim().toLowerCase() === token);
}

/**
 * Answers `request` with a switch to the WebSocket protocol: return
 * `response` from the handler; `socket` opens once it has been sent.
 * Options: `protocol` (one the client offered), `idleTimeout` (seconds
 * of silence before the client is pinged, and as long again before it is
 * closed with 1001; 0 never; default 120), `maxMessageSize` (bytes; a
 * larger message closes the socket with 1009; default 16 MiB).
 */
function upgradeWebSocket(request, options = {}) {
  linkToGlobalClass();
  const id = requestIdOf(request);
  if (id === undefined) {
    throw new TypeError("upgradeWebSocket() needs the Request the server passed to the handler");
  }
  if (!headerHas(request, "upgrade", "websocket")) {
    throw new TypeError("Invalid Header: 'upgrade' header must contain 'websocket'");
  }
  if (!headerHas(request, "connection", "upgrade")) {
    throw new TypeError("Invalid Header: 'connection' header must contain 'Upgrade'");
  }
  const key = request.headers.get("sec-websocket-key");
  if (key === null) throw new TypeError("Invalid Header: 'sec-websocket-key' header must be set");
  const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!(typeof idleTimeout === "number" && idleTimeout >= 0)) {
    throw new TypeError(`upgradeWebSocket(): idleTimeout must be a number of seconds >= 0, got ${idleTimeout}`);
  }
  if (!(Number.isSafeInteger(maxMessageSize) && maxMessageSize > 0)) {
    throw new TypeError(`upgradeWebSocket(): maxMessageSize must be a whole number of bytes > 0, got ${maxMessageSize}`);
  }
  const inner = newInnerResponse(101);
  inner.headerList = [
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-accept", op_websocket_accept_key(key)],
  ];
  let protocol = "";
  if (options.protocol !== undefined) {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(options.protocol)) {
      throw new TypeError(`Protocol '${options.protocol}' not in the request's protocol list (non negotiable)`);
    }
    protocol = options.protocol;
    inner.headerList.push(["sec-websocket-protocol", protocol]);
  }
  const pending = op_websocket_upgrade(id, maxMessageSize, idleTimeout);
  const url = request.url.replace(/^http/, "ws");
  const socket = new WebSocket(state, url, protocol, id);
  // "response" headers: middleware may still add to them.
  const response = fromInnerResponse(inner, "response");
  upgrades.set(id, (sent) => {
    if (sent === response) {
      open(socket, pending);
    } else {
      core.tryClose(pending);
      finished(socket, 1006, "the handler answered with another response than the upgrade's", false);
    }
  });
  return { socket, response };
}

export { upgradeWebSocket, WebSocket };
