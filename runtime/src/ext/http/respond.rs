//! The ops that answer a request: the whole response at once (fast paths
//! for a string body), or a head followed by streamed chunks.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::{op2, ByteString, JsBuffer, OpState};
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::sync::mpsc;

use super::{queue, queue_of, HttpError};
use crate::exchange::body::Body;
use crate::exchange::queue::RequestQueue;

/// `op_http_respond_text`'s Content-Type kinds (`CONTENT_TYPE_*` in
/// 01_http.js); any other kind means "the content_type argument".
const CONTENT_TYPE_NONE: u32 = 0;
const CONTENT_TYPE_TEXT: u32 = 1;

/// Chunks of a streamed response in flight: enough to keep the pipe full;
/// more would only buffer what a slow client has not read.
const STREAM_BUFFER: usize = 8;

fn status_code(status: u32) -> Result<StatusCode, HttpError> {
    u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or(HttpError::Status(status))
}

/// A header value from a JS string holding a byte string, one char per
/// byte (as `Headers` keeps them).
fn byte_string_value(name: &HeaderName, value: &str) -> Result<HeaderValue, HttpError> {
    value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
        .ok_or_else(|| HttpError::HeaderValue { name: name.to_string(), value: value.to_string() })
}

fn header_name(name: &[u8]) -> Result<HeaderName, HttpError> {
    HeaderName::from_bytes(name).map_err(|_| HttpError::HeaderName(String::from_utf8_lossy(name).into_owned()))
}

/// Sends the reply of request `id` and forgets the request. Returns false
/// when the client is gone.
fn send(queue: &RequestQueue, id: u32, response: http::Response<Body>) -> bool {
    let Some(mut request) = queue.remove(id) else { return false };
    request.reply(response)
}

/// Sets a header of the response of request `id` ahead of the response
/// itself, so that middleware can add one (a request id, say) without
/// making the handler's Response build its Headers; false when the request
/// is closed.
#[op2(fast)]
pub(super) fn op_http_set_header(
    state: &OpState,
    #[smi] id: u32,
    #[string] name: &str,
    #[string] value: &str,
) -> Result<bool, HttpError> {
    let queue = queue_of(state)?;
    let name = header_name(name.as_bytes())?;
    let value = byte_string_value(&name, value)?;
    Ok(queue.with(id, |r| r.response_headers.push((name, value))).is_ok())
}

/// The common case: a string body and at most a Content-Type header, which
/// is `kind` (none, or the default text/plain) or else `content_type`.
/// Strings cost a conversion each, so the default travels as a number.
#[op2(fast)]
pub(super) fn op_http_respond_text(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[smi] kind: u32,
    #[string] content_type: &str,
    #[string] body: &str,
) -> Result<bool, HttpError> {
    let queue = queue_of(state)?;
    let mut response = text_response(status, body)?;
    let value = match kind {
        CONTENT_TYPE_NONE => None,
        CONTENT_TYPE_TEXT => Some(HeaderValue::from_static("text/plain;charset=UTF-8")),
        _ => Some(HeaderValue::from_str(content_type).map_err(|_| HttpError::ContentType(content_type.to_string()))?),
    };
    if let Some(value) = value {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    Ok(send(&queue, id, response))
}

fn text_response(status: u32, body: &str) -> Result<http::Response<Body>, HttpError> {
    let mut response = http::Response::new(Body::full(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status_code(status)?;
    Ok(response)
}

fn build_head(status: u32, headers: Vec<(ByteString, ByteString)>, body: Body) -> Result<http::Response<Body>, HttpError> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status_code(status)?;
    let map = response.headers_mut();
    map.reserve(headers.len());
    for (name, value) in headers {
        append_header(map, &name, &value)?;
    }
    Ok(response)
}

fn append_header(map: &mut http::HeaderMap, name: &[u8], value: &[u8]) -> Result<(), HttpError> {
    let name = header_name(name)?;
    let value = HeaderValue::from_bytes(value).map_err(|_| HttpError::HeaderValue {
        name: name.to_string(),
        value: String::from_utf8_lossy(value).into_owned(),
    })?;
    map.append(name, value);
    Ok(())
}

/// A string body with any headers, given as one string of names and values
/// separated by NUL ("name\0value\0name\0value"; no header can hold a NUL):
/// one string crosses far cheaper than an array of pairs. Values are byte
/// strings, one char per byte, as `Headers` keeps them.
#[op2(fast)]
pub(super) fn op_http_respond_text_headers(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[string] headers: &str,
    #[string] body: &str,
) -> Result<bool, HttpError> {
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
pub(super) fn op_http_respond(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[serde] headers: Vec<(ByteString, ByteString)>,
    #[buffer] body: Option<JsBuffer>,
) -> Result<bool, HttpError> {
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
pub(super) fn op_http_respond_stream(
    state: &OpState,
    #[smi] id: u32,
    #[smi] status: u32,
    #[serde] headers: Vec<(ByteString, ByteString)>,
) -> Result<bool, HttpError> {
    let queue = queue_of(state)?;
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let response = build_head(status, headers, Body::channel(rx))?;
    let sent = queue
        .with(id, |request| {
            request.stream = Some(tx);
            request.reply(response)
        })
        .unwrap_or(false);
    if !sent {
        queue.remove(id);
    }
    Ok(sent)
}

/// Writes one chunk of a streamed response; false once the client is gone.
#[op2]
pub(super) async fn op_http_write(
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[buffer] chunk: JsBuffer,
) -> Result<bool, HttpError> {
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
pub(super) fn op_http_close(state: &OpState, #[smi] id: u32) {
    if let Some(queue) = queue(state) {
        queue.remove(id);
    }
}
