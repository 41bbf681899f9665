//! The `tandem_http` extension: the ops through which a worker's isolate
//! takes requests from the HTTP server and gives back responses.
//!
//! The server (crate::server) and the ops share one [`RequestQueue`] per
//! isolate thread. hyper's connection tasks push requests into it and
//! await a reply; JavaScript pulls request ids out of it (a synchronous op
//! while requests are waiting, an async op when it is empty), reads the
//! request's parts by id, and answers with one of the respond ops.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

use bytes::Bytes;
use deno_core::{ascii_str_include, op2, ByteString, ExtensionFileSource, JsBuffer, OpState, ToJsBuffer};
use deno_error::JsErrorBox;
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::server::body::Body;

mod wsgi;
use wsgi::{op_http_wsgi_call, op_http_wsgi_cancel, op_http_wsgi_mount, op_http_wsgi_read};

/// Options a script passed to `serve()`; the command line fills the gaps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServeRequest {
    pub(crate) port: Option<u16>,
    pub(crate) hostname: Option<String>,
}

/// The body of a request as the isolate sees it.
pub(crate) enum RequestBody {
    None,
    /// Read whole by the server before dispatch (small bodies with a
    /// Content-Length), so a slow client never holds the isolate.
    Buffered(Bytes),
    /// Read on demand by `op_http_read`, counting bytes against the limit.
    Streaming { body: Incoming, read: u64, limit: u64 },
}

/// What the server gets back for a request.
pub(crate) struct Reply {
    pub(crate) response: http::Response<Body>,
    /// The route pattern the router matched, for metrics labels.
    pub(crate) route: Option<String>,
    /// Set when the request body went over the size limit while the
    /// handler read it: the server answers 413 whatever the handler said.
    pub(crate) body_too_large: bool,
}

/// A request between arrival and the end of its response.
pub(crate) struct InFlight {
    pub(crate) parts: Parts,
    pub(crate) body: Option<RequestBody>,
    pub(crate) remote: SocketAddr,
    pub(crate) reply: Option<oneshot::Sender<Reply>>,
    pub(crate) route: Option<String>,
    pub(crate) body_too_large: bool,
    /// Headers set on the response before the handler built it (by
    /// middleware, with `op_http_set_header`); they replace any of the same
    /// name the handler's response has.
    pub(crate) response_headers: Vec<(HeaderName, HeaderValue)>,
    /// The sending half of a streamed response body.
    pub(crate) stream: Option<mpsc::Sender<Bytes>>,
}

#[derive(Default)]
struct QueueState {
    next_id: u32,
    ready: VecDeque<u32>,
    live: HashMap<u32, InFlight>,
    aborted: VecDeque<u32>,
    next_waker: Option<Waker>,
    abort_waker: Option<Waker>,
    closed: bool,
}

/// Requests waiting for, or being handled by, one isolate.
#[derive(Default)]
pub(crate) struct RequestQueue {
    state: RefCell<QueueState>,
}

impl RequestQueue {
    /// Queues a request for the isolate and returns its id (never 0).
    pub(crate) fn push(&self, request: InFlight) -> u32 {
        let mut state = self.state.borrow_mut();
        state.next_id = state.next_id.wrapping_add(1).max(1);
        let id = state.next_id;
        state.live.insert(id, request);
        state.ready.push_back(id);
        if let Some(waker) = state.next_waker.take() {
            waker.wake();
        }
        id
    }

    /// The server gave up on a request (client gone, handler timed out):
    /// forget it and let the isolate abort its `request.signal`.
    pub(crate) fn abort(&self, id: u32) {
        let mut state = self.state.borrow_mut();
        if state.live.remove(&id).is_some() {
            state.aborted.push_back(id);
            if let Some(waker) = state.abort_waker.take() {
                waker.wake();
            }
        }
    }

    /// Whether the request still waits for its reply (headers not sent).
    pub(crate) fn is_pending(&self, id: u32) -> bool {
        self.state.borrow().live.get(&id).is_some_and(|r| r.reply.is_some())
    }

    /// No more requests will come: the isolate's serve loop ends.
    pub(crate) fn close(&self) {
        let mut state = self.state.borrow_mut();
        state.closed = true;
        for waker in [state.next_waker.take(), state.abort_waker.take()].into_iter().flatten() {
            waker.wake();
        }
    }

    fn pop_ready(&self) -> Option<u32> {
        let mut state = self.state.borrow_mut();
        while let Some(id) = state.ready.pop_front() {
            // Skip requests aborted before the isolate got to them.
            if state.live.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    fn with<T>(&self, id: u32, f: impl FnOnce(&mut InFlight) -> T) -> Result<T, JsErrorBox> {
        let mut state = self.state.borrow_mut();
        let request = state.live.get_mut(&id).ok_or_else(closed_error)?;
        Ok(f(request))
    }

    fn remove(&self, id: u32) -> Option<InFlight> {
        self.state.borrow_mut().live.remove(&id)
    }
}

fn closed_error() -> JsErrorBox {
    JsErrorBox::new("Http", "the request is closed: the client disconnected or the handler timed out")
}

deno_core::extension!(
    tandem_http,
    deps = [tandem_web],
    ops = [
        op_http_serve,
        op_http_next_ready,
        op_http_next,
        op_http_next_aborted,
        op_http_method,
        op_http_method_code,
        op_http_url,
        op_http_headers,
        op_http_header,
        op_http_remote_addr,
        op_http_body_kind,
        op_http_body_take,
        op_http_read,
        op_http_set_route,
        op_http_set_header,
        op_http_respond_text,
        op_http_respond_text_headers,
        op_http_respond,
        op_http_respond_stream,
        op_http_write,
        op_http_close,
        op_http_rate_limit,
        op_http_wsgi_mount,
        op_http_wsgi_call,
        op_http_wsgi_read,
        op_http_wsgi_cancel,
    ],
);

static JS: [ExtensionFileSource; 1] =
    [ExtensionFileSource::new("ext:tandem_http/01_http.js", ascii_str_include!("01_http.js"))];

pub(crate) fn extension() -> deno_core::Extension {
    let mut ext = tandem_http::init();
    ext.esm_files = Cow::Borrowed(&JS);
    ext
}

/// The queue of this isolate's thread, created by the first `serve()`.
pub(crate) fn queue(state: &OpState) -> Option<Rc<RequestQueue>> {
    state.try_borrow::<Rc<RequestQueue>>().cloned()
}

fn queue_of(state: &OpState) -> Result<Rc<RequestQueue>, JsErrorBox> {
    queue(state).ok_or_else(|| JsErrorBox::generic("serve() has not been called in this isolate"))
}

#[op2]
fn op_http_serve(state: &mut OpState, #[serde] options: ServeRequest) -> Result<(), JsErrorBox> {
    if state.has::<ServeRequest>() {
        return Err(JsErrorBox::generic(
            "serve() was already called: one server per program (route inside one handler instead)",
        ));
    }
    state.put(options);
    state.put(Rc::new(RequestQueue::default()));
    Ok(())
}

/// The next waiting request's id, or 0 when none waits.
#[op2(fast)]
fn op_http_next_ready(state: &OpState) -> u32 {
    queue(state).and_then(|q| q.pop_ready()).unwrap_or(0)
}

/// Waits for the next request's id; 0 once the server shuts down.
#[op2]
async fn op_http_next(state: Rc<RefCell<OpState>>) -> Result<u32, JsErrorBox> {
    let queue = queue_of(&state.borrow())?;
    Ok(poll_fn(|cx| {
        if let Some(id) = queue.pop_ready() {
            return Poll::Ready(id);
        }
        let mut inner = queue.state.borrow_mut();
        if inner.closed {
            return Poll::Ready(0);
        }
        inner.next_waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await)
}

/// Waits for the id of a request the server gave up on; 0 at shutdown.
#[op2]
async fn op_http_next_aborted(state: Rc<RefCell<OpState>>) -> Result<u32, JsErrorBox> {
    let queue = queue_of(&state.borrow())?;
    Ok(poll_fn(|cx| {
        let mut inner = queue.state.borrow_mut();
        if let Some(id) = inner.aborted.pop_front() {
            return Poll::Ready(id);
        }
        if inner.closed {
            return Poll::Ready(0);
        }
        inner.abort_waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await)
}

/// The request's method as a small code (see METHODS in 01_http.js), so
/// that the common ones cost no string; 0 for others (ask op_http_method).
#[op2(fast)]
fn op_http_method_code(state: &OpState, #[smi] id: u32) -> Result<u32, JsErrorBox> {
    use http::Method;
    queue_of(state)?.with(id, |r| match r.parts.method {
        Method::GET => 1,
        Method::HEAD => 2,
        Method::POST => 3,
        Method::PUT => 4,
        Method::DELETE => 5,
        Method::PATCH => 6,
        Method::OPTIONS => 7,
        _ => 0,
    })
}

#[op2]
#[string]
fn op_http_method(state: &OpState, #[smi] id: u32) -> Result<String, JsErrorBox> {
    queue_of(state)?.with(id, |r| r.parts.method.as_str().to_string())
}

/// The request's absolute URL, built from the Host header as Deno does.
#[op2]
#[string]
fn op_http_url(state: &OpState, #[smi] id: u32) -> Result<String, JsErrorBox> {
    queue_of(state)?.with(id, |r| {
        let uri = &r.parts.uri;
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        if uri.scheme().is_some() {
            return uri.to_string();
        }
        let host = r
            .parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| r.remote.to_string());
        format!("http://{host}{path}")
    })
}

#[op2]
#[serde]
fn op_http_headers(state: &OpState, #[smi] id: u32) -> Result<Vec<(ByteString, ByteString)>, JsErrorBox> {
    queue_of(state)?.with(id, |r| {
        r.parts
            .headers
            .iter()
            .map(|(name, value)| (ByteString::from(name.as_str()), ByteString::from(value.as_bytes())))
            .collect()
    })
}

/// One request header, as `Headers.get` gives it (values of a repeated
/// header joined with ", ", bytes as Latin-1), without building the whole
/// header list in JS; `None` when absent.
#[op2]
#[string]
fn op_http_header(state: &OpState, #[smi] id: u32, #[string] name: &str) -> Result<Option<String>, JsErrorBox> {
    queue_of(state)?.with(id, |r| {
        let mut values = r.parts.headers.get_all(name).iter();
        let first = values.next()?;
        let mut joined: String = first.as_bytes().iter().map(|&b| b as char).collect();
        for value in values {
            joined.push_str(", ");
            joined.extend(value.as_bytes().iter().map(|&b| b as char));
        }
        Some(joined)
    })
}

#[op2]
#[string]
fn op_http_remote_addr(state: &OpState, #[smi] id: u32) -> Result<String, JsErrorBox> {
    queue_of(state)?.with(id, |r| r.remote.to_string())
}

/// 0: no body, 1: buffered (take it with op_http_body_take), 2: streamed.
#[op2(fast)]
fn op_http_body_kind(state: &OpState, #[smi] id: u32) -> Result<u32, JsErrorBox> {
    queue_of(state)?.with(id, |r| match &r.body {
        None | Some(RequestBody::None) => 0,
        Some(RequestBody::Buffered(_)) => 1,
        Some(RequestBody::Streaming { .. }) => 2,
    })
}

#[op2]
#[serde]
fn op_http_body_take(state: &OpState, #[smi] id: u32) -> Result<Option<ToJsBuffer>, JsErrorBox> {
    queue_of(state)?.with(id, |r| match r.body.take() {
        // Vec::from(Bytes) takes the buffer over without a copy when unshared.
        Some(RequestBody::Buffered(bytes)) => Some(ToJsBuffer::from(Vec::from(bytes))),
        other => {
            r.body = other;
            None
        }
    })
}

/// Reads the next chunk of a streamed request body; null at its end.
#[op2]
#[serde]
async fn op_http_read(state: Rc<RefCell<OpState>>, #[smi] id: u32) -> Result<Option<ToJsBuffer>, JsErrorBox> {
    let queue = queue_of(&state.borrow())?;
    let Some(RequestBody::Streaming { mut body, mut read, limit }) = queue.with(id, |r| r.body.take())? else {
        return Ok(None);
    };
    loop {
        let frame = match body.frame().await {
            None => return Ok(None),
            Some(frame) => frame.map_err(|e| JsErrorBox::new("Http", format!("reading the request body failed: {e}")))?,
        };
        let Ok(data) = frame.into_data() else { continue };
        read += data.len() as u64;
        if read > limit {
            let _ = queue.with(id, |r| r.body_too_large = true);
            return Err(JsErrorBox::range_error(format!(
                "the request body is larger than the server's limit of {limit} bytes"
            )));
        }
        // Put the body back for the next read (unless the request closed).
        let _ = queue.with(id, |r| r.body = Some(RequestBody::Streaming { body, read, limit }));
        return Ok(Some(ToJsBuffer::from(Vec::from(data))));
    }
}

#[op2(fast)]
fn op_http_set_route(state: &OpState, #[smi] id: u32, #[string] route: &str) {
    if let Some(queue) = queue(state) {
        let _ = queue.with(id, |r| r.route = Some(route.to_string()));
    }
}

/// Sets a header of the response of request `id` ahead of the response
/// itself, so that middleware can add one (a request id, say) without
/// making the handler's Response build its Headers; false when the request
/// is closed.
#[op2(fast)]
fn op_http_set_header(
    state: &OpState,
    #[smi] id: u32,
    #[string] name: &str,
    #[string] value: &str,
) -> Result<bool, JsErrorBox> {
    let queue = queue_of(state)?;
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| JsErrorBox::type_error(format!("invalid header name {name:?}")))?;
    // A header value is a byte string, one char per byte (as in `Headers`).
    let value = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
        .ok_or_else(|| JsErrorBox::type_error(format!("invalid value for header {name}: {value:?}")))?;
    Ok(queue.with(id, |r| r.response_headers.push((name, value))).is_ok())
}

fn status_code(status: u32) -> Result<StatusCode, JsErrorBox> {
    u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| JsErrorBox::range_error(format!("invalid HTTP status {status}: use 100-999")))
}

/// Sends the reply of request `id` and forgets the request. Returns false
/// when the client is gone.
fn send(queue: &RequestQueue, id: u32, response: http::Response<Body>) -> bool {
    let Some(mut request) = queue.remove(id) else { return false };
    reply(&mut request, response)
}

/// Hands the response head to the server; false if it is gone or was sent.
fn reply(request: &mut InFlight, mut response: http::Response<Body>) -> bool {
    let Some(reply) = request.reply.take() else { return false };
    for (name, value) in request.response_headers.drain(..) {
        response.headers_mut().insert(name, value);
    }
    reply
        .send(Reply { response, route: request.route.take(), body_too_large: request.body_too_large })
        .is_ok()
}

/// `op_http_respond_text`'s Content-Type kinds.
const CONTENT_TYPE_NONE: u32 = 0;
const CONTENT_TYPE_TEXT: u32 = 1;

/// The common case: a string body and at most a Content-Type header, which
/// is `kind` (none, or the default text/plain) or else `content_type`.
/// Strings cost a conversion each, so the default travels as a number.
#[op2(fast)]
fn op_http_respond_text(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[smi] kind: u32,
    #[string] content_type: &str,
    #[string] body: &str,
) -> Result<bool, JsErrorBox> {
    let queue = queue_of(state)?;
    let mut response = text_response(status, body)?;
    let value = match kind {
        CONTENT_TYPE_NONE => None,
        CONTENT_TYPE_TEXT => Some(HeaderValue::from_static("text/plain;charset=UTF-8")),
        _ => Some(
            HeaderValue::from_str(content_type)
                .map_err(|_| JsErrorBox::type_error(format!("invalid Content-Type {content_type:?}")))?,
        ),
    };
    if let Some(value) = value {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    Ok(send(&queue, id, response))
}

fn text_response(status: u32, body: &str) -> Result<http::Response<Body>, JsErrorBox> {
    let mut response = http::Response::new(Body::full(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status_code(status)?;
    Ok(response)
}

fn build_head(status: u32, headers: Vec<(ByteString, ByteString)>, body: Body) -> Result<http::Response<Body>, JsErrorBox> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status_code(status)?;
    let map = response.headers_mut();
    map.reserve(headers.len());
    for (name, value) in headers {
        append_header(map, &name, &value)?;
    }
    Ok(response)
}

fn append_header(map: &mut http::HeaderMap, name: &[u8], value: &[u8]) -> Result<(), JsErrorBox> {
    let name = HeaderName::from_bytes(name)
        .map_err(|_| JsErrorBox::type_error(format!("invalid header name {:?}", String::from_utf8_lossy(name))))?;
    let value =
        HeaderValue::from_bytes(value).map_err(|_| JsErrorBox::type_error(format!("invalid value for header {name}")))?;
    map.append(name, value);
    Ok(())
}

/// A string body with any headers, given as one string of names and values
/// separated by NUL ("name\0value\0name\0value"; no header can hold a NUL):
/// one string crosses far cheaper than an array of pairs. Values are byte
/// strings, one char per byte, as `Headers` keeps them.
#[op2(fast)]
fn op_http_respond_text_headers(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[string] headers: &str,
    #[string] body: &str,
) -> Result<bool, JsErrorBox> {
    let queue = queue_of(state)?;
    let mut response = text_response(status, body)?;
    let map = response.headers_mut();
    let mut parts = headers.split('\0');
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        if value.is_ascii() {
            append_header(map, name.as_bytes(), value.as_bytes())?;
        } else {
            // A char beyond one byte becomes NUL, which HeaderValue refuses.
            let bytes: Vec<u8> = value.chars().map(|c| u8::try_from(c).unwrap_or(0)).collect();
            append_header(map, name.as_bytes(), &bytes)?;
        }
    }
    Ok(send(&queue, id, response))
}

#[op2]
fn op_http_respond(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[serde] headers: Vec<(ByteString, ByteString)>,
    #[buffer] body: Option<JsBuffer>,
) -> Result<bool, JsErrorBox> {
    let queue = queue_of(state)?;
    let body = match body {
        Some(bytes) => Body::full(Bytes::copy_from_slice(&bytes)),
        None => Body::empty(),
    };
    let response = build_head(status, headers, body)?;
    Ok(send(&queue, id, response))
}

/// Sends the head of a streamed response; chunks follow with op_http_write.
#[op2]
fn op_http_respond_stream(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[serde] headers: Vec<(ByteString, ByteString)>,
) -> Result<bool, JsErrorBox> {
    let queue = queue_of(state)?;
    // A few chunks in flight keep the pipe full; more would only buffer
    // what a slow client has not read.
    let (tx, rx) = mpsc::channel(8);
    let response = build_head(status, headers, Body::channel(rx))?;
    let sent = {
        let mut inner = queue.state.borrow_mut();
        let Some(request) = inner.live.get_mut(&id) else { return Ok(false) };
        request.stream = Some(tx);
        reply(request, response)
    };
    if !sent {
        queue.remove(id);
    }
    Ok(sent)
}

/// Writes one chunk of a streamed response; false once the client is gone.
#[op2]
async fn op_http_write(state: Rc<RefCell<OpState>>, #[smi] id: u32, #[buffer] chunk: JsBuffer) -> Result<bool, JsErrorBox> {
    let queue = queue_of(&state.borrow())?;
    let Some(sender) = queue.with(id, |r| r.stream.clone()).ok().flatten() else { return Ok(false) };
    let ok = sender.send(Bytes::copy_from_slice(&chunk)).await.is_ok();
    if !ok {
        // The client went away mid-stream: abort the request's signal.
        queue.abort(id);
    }
    Ok(ok)
}

/// Ends a streamed response (dropping the sender ends the body).
#[op2(fast)]
fn op_http_close(state: &OpState, #[smi] id: u32) {
    if let Some(queue) = queue(state) {
        queue.remove(id);
    }
}

/// A token bucket of the rate limiter.
struct Bucket {
    tokens: f64,
    updated: std::time::Instant,
}

/// Takes one token from the bucket `key` (shared by every worker thread of
/// the process). Returns 0 when the request may go ahead, else the seconds
/// until a token is back.
#[op2(fast)]
fn op_http_rate_limit(#[string] key: &str, capacity: f64, refill_per_second: f64) -> f64 {
    use std::sync::{Mutex, OnceLock};
    static BUCKETS: OnceLock<Mutex<HashMap<String, Bucket>>> = OnceLock::new();
    let now = std::time::Instant::now();
    let mut buckets = BUCKETS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let refill = |bucket: &Bucket| {
        (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill_per_second).min(capacity)
    };
    if buckets.len() >= 100_000 {
        // Forget clients whose buckets are full again: they are as new.
        buckets.retain(|_, bucket| refill(bucket) < capacity);
    }
    let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: capacity, updated: now });
    bucket.tokens = refill(bucket);
    bucket.updated = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        0.0
    } else {
        (1.0 - bucket.tokens) / refill_per_second
    }
}
