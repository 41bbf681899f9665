// Puts the Web platform API from Deno's extension crates (deno_web,
// deno_fetch) on globalThis. Those crates only define lazily loaded
// `ext:` scripts; a runtime chooses which globals it exposes, as Deno's own
// bootstrap does. Properties are writable, configurable and non-enumerable,
// like the built-ins of a browser or Deno.

import { core, internals } from "ext:core/mod.js";

const load = (specifier) => core.loadExtScript(specifier);

// deno_fetch reads its OpenTelemetry hooks from deno_telemetry, which
// Tandem does not ship: give it hooks with tracing switched off.
const noop = () => {};
internals.__telemetry ??= {
  TRACING_ENABLED: false,
  PROPAGATORS: [],
  DID_NOT_ENTER: Symbol("did not enter"),
  builtinTracer: noop,
  ContextManager: { active: noop },
  enterSpan: noop,
  exitSpan: noop,
};
internals.__telemetryUtil ??= {
  updateSpanFromClientResponse: noop,
  updateSpanFromError: noop,
  updateSpanFromRequest: noop,
};

const url = load("ext:deno_web/00_url.js");
const urlPattern = load("ext:deno_web/01_urlpattern.js");
const domException = load("ext:deno_web/01_dom_exception.js");
const event = load("ext:deno_web/02_event.js");
const structuredClone = load("ext:deno_web/02_structured_clone.js");
const timers = load("ext:deno_web/02_timers.js");
const abortSignal = load("ext:deno_web/03_abort_signal.js");
const base64 = load("ext:deno_web/05_base64.js");
const streams = load("ext:deno_web/06_streams.js");
const encoding = load("ext:deno_web/08_text_encoding.js");
const file = load("ext:deno_web/09_file.js");
const fileReader = load("ext:deno_web/10_filereader.js");
const messagePort = load("ext:deno_web/13_message_port.js");
const compression = load("ext:deno_web/14_compression.js");
const performance = load("ext:deno_web/15_performance.js");
const headers = load("ext:deno_fetch/20_headers.js");
const formData = load("ext:deno_fetch/21_formdata.js");
const request = load("ext:deno_fetch/23_request.js");
const response = load("ext:deno_fetch/23_response.js");
const fetch = load("ext:deno_fetch/26_fetch.js");
// deno_websocket ships ES modules, not scripts; loaded when first used
// (most programs never connect out), which keeps it off the start-up path.
const websocket = core.createLazyLoader("ext:deno_websocket/01_websocket.js");

event.saveGlobalThisReference(globalThis);

// The error classes Rust code throws by name (deno_error's classes), as
// Deno's runtime registers them: an op error whose class has no builder
// reaches JavaScript as "not an object" instead of its message.
for (const name of [
  "AddrInUse", "AddrNotAvailable", "AlreadyExists", "BrokenPipe", "Busy", "ConnectionAborted",
  "ConnectionRefused", "ConnectionReset", "FilesystemLoop", "Http", "InvalidData", "IsADirectory",
  "NetworkUnreachable", "NotADirectory", "NotConnected", "NotFound", "NotSupported", "PermissionDenied",
  "TimedOut", "UnexpectedEof", "WouldBlock", "WriteZero",
]) {
  const errorClass = { [name]: class extends Error {} }[name];
  Object.defineProperty(errorClass.prototype, "name", { value: name, configurable: true, writable: true });
  core.registerErrorClass(name, errorClass);
}
for (const name of [
  "AbortError", "DataError", "IndexSizeError", "InvalidCharacterError", "InvalidStateError",
  "NetworkError", "NotSupportedError", "OperationError", "QuotaExceededError", "SyntaxError",
]) {
  core.registerErrorBuilder(`DOMException${name}`, (message) => new domException.DOMException(message, name));
}
performance.setTimeOrigin();

const globals = {
  URL: url.URL,
  URLSearchParams: url.URLSearchParams,
  URLPattern: urlPattern.URLPattern,
  DOMException: domException.DOMException,
  Event: event.Event,
  EventTarget: event.EventTarget,
  CustomEvent: event.CustomEvent,
  ErrorEvent: event.ErrorEvent,
  MessageEvent: event.MessageEvent,
  ProgressEvent: event.ProgressEvent,
  CloseEvent: event.CloseEvent,
  PromiseRejectionEvent: event.PromiseRejectionEvent,
  reportError: event.reportError,
  structuredClone: structuredClone.structuredClone,
  setTimeout: timers.setTimeout,
  setInterval: timers.setInterval,
  clearTimeout: timers.clearTimeout,
  clearInterval: timers.clearInterval,
  AbortController: abortSignal.AbortController,
  AbortSignal: abortSignal.AbortSignal,
  atob: base64.atob,
  btoa: base64.btoa,
  ReadableStream: streams.ReadableStream,
  ReadableStreamDefaultReader: streams.ReadableStreamDefaultReader,
  ReadableStreamBYOBReader: streams.ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest: streams.ReadableStreamBYOBRequest,
  ReadableByteStreamController: streams.ReadableByteStreamController,
  ReadableStreamDefaultController: streams.ReadableStreamDefaultController,
  TransformStream: streams.TransformStream,
  TransformStreamDefaultController: streams.TransformStreamDefaultController,
  WritableStream: streams.WritableStream,
  WritableStreamDefaultWriter: streams.WritableStreamDefaultWriter,
  WritableStreamDefaultController: streams.WritableStreamDefaultController,
  ByteLengthQueuingStrategy: streams.ByteLengthQueuingStrategy,
  CountQueuingStrategy: streams.CountQueuingStrategy,
  TextEncoder: encoding.TextEncoder,
  TextDecoder: encoding.TextDecoder,
  TextEncoderStream: encoding.TextEncoderStream,
  TextDecoderStream: encoding.TextDecoderStream,
  Blob: file.Blob,
  File: file.File,
  FileReader: fileReader.FileReader,
  MessageChannel: messagePort.MessageChannel,
  MessagePort: messagePort.MessagePort,
  CompressionStream: compression.CompressionStream,
  DecompressionStream: compression.DecompressionStream,
  Performance: performance.Performance,
  PerformanceEntry: performance.PerformanceEntry,
  PerformanceMark: performance.PerformanceMark,
  PerformanceMeasure: performance.PerformanceMeasure,
  performance: performance.performance,
  Headers: headers.Headers,
  FormData: formData.FormData,
  Request: request.Request,
  Response: response.Response,
  fetch: fetch.fetch,
};

for (const name of Object.keys(globals)) {
  Object.defineProperty(globalThis, name, {
    value: globals[name],
    enumerable: false,
    writable: true,
    configurable: true,
  });
}

// WebSocket becomes a plain property like the others on first use.
Object.defineProperty(globalThis, "WebSocket", {
  get() {
    const value = websocket().WebSocket;
    Object.defineProperty(globalThis, "WebSocket", { value, enumerable: false, writable: true, configurable: true });
    return value;
  },
  set(value) {
    Object.defineProperty(globalThis, "WebSocket", { value, enumerable: false, writable: true, configurable: true });
  },
  enumerable: false,
  configurable: true,
});
