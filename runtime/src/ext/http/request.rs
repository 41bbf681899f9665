//! The ops that read a request: method, URL, headers, peer, body.

use std::cell::RefCell;
use std::rc::Rc;

use deno_core::{op2, ByteString, OpState, ToJsBuffer};
use http::Method;

use super::{queue, queue_of, HttpError};
use crate::exchange::queue::RequestBody;

/// Method codes, so that the common methods cost no string; 0 means "ask
/// op_http_method". `METHODS` in 01_http.js lists them in this order.
const METHOD_CODES: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS];

/// `op_http_body_kind`'s answers (`BODY_*` in 01_http.js).
const BODY_NONE: u32 = 0;
const BODY_BUFFERED: u32 = 1;
const BODY_STREAMED: u32 = 2;

/// The request's method as a code (see [`METHOD_CODES`]).
#[op2(fast)]
pub(super) fn op_http_method_code(state: &OpState, #[smi] id: u32) -> Result<u32, HttpError> {
    let code = queue_of(state)?.with(id, |r| METHOD_CODES.iter().position(|m| *m == r.parts.method))?;
    Ok(code.map_or(0, |i| i as u32 + 1))
}

#[op2]
#[string]
pub(super) fn op_http_method(state: &OpState, #[smi] id: u32) -> Result<String, HttpError> {
    Ok(queue_of(state)?.with(id, |r| r.parts.method.as_str().to_string())?)
}

/// The request's absolute URL, built from the Host header as Deno does.
#[op2]
#[string]
pub(super) fn op_http_url(state: &OpState, #[smi] id: u32) -> Result<String, HttpError> {
    Ok(queue_of(state)?.with(id, |r| {
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
    })?)
}

#[op2]
#[serde]
pub(super) fn op_http_headers(state: &OpState, #[smi] id: u32) -> Result<Vec<(ByteString, ByteString)>, HttpError> {
    Ok(queue_of(state)?.with(id, |r| {
        r.parts
            .headers
            .iter()
            .map(|(name, value)| (ByteString::from(name.as_str()), ByteString::from(value.as_bytes())))
            .collect()
    })?)
}

/// One request header, as `Headers.get` gives it (values of a repeated
/// header joined with ", ", bytes as Latin-1), without building the whole
/// header list in JS; `None` when absent.
#[op2]
#[string]
pub(super) fn op_http_header(state: &OpState, #[smi] id: u32, #[string] name: &str) -> Result<Option<String>, HttpError> {
    Ok(queue_of(state)?.with(id, |r| {
        let mut values = r.parts.headers.get_all(name).iter();
        let first = values.next()?;
        let mut joined: String = first.as_bytes().iter().map(|&b| b as char).collect();
        for value in values {
            joined.push_str(", ");
            joined.extend(value.as_bytes().iter().map(|&b| b as char));
        }
        Some(joined)
    })?)
}

#[op2]
#[string]
pub(super) fn op_http_remote_addr(state: &OpState, #[smi] id: u32) -> Result<String, HttpError> {
    Ok(queue_of(state)?.with(id, |r| r.remote.to_string())?)
}

/// How the body is to be read: none, buffered (take it with
/// op_http_body_take) or streamed (op_http_read).
#[op2(fast)]
pub(super) fn op_http_body_kind(state: &OpState, #[smi] id: u32) -> Result<u32, HttpError> {
    Ok(queue_of(state)?.with(id, |r| match &r.body {
        None | Some(RequestBody::None) => BODY_NONE,
        Some(RequestBody::Buffered(_)) => BODY_BUFFERED,
        Some(RequestBody::Streaming(_)) => BODY_STREAMED,
    })?)
}

#[op2]
#[serde]
pub(super) fn op_http_body_take(state: &OpState, #[smi] id: u32) -> Result<Option<ToJsBuffer>, HttpError> {
    Ok(queue_of(state)?.with(id, |r| match r.body.take() {
        // Vec::from(Bytes) takes the buffer over without a copy when unshared.
        Some(RequestBody::Buffered(bytes)) => Some(ToJsBuffer::from(Vec::from(bytes))),
        other => {
            r.body = other;
            None
        }
    })?)
}

/// Reads the next chunk of a streamed request body; null at its end. Past
/// the body limit it throws a RangeError, and the client gets 413 whatever
/// the handler answers.
#[op2]
#[serde]
pub(super) async fn op_http_read(state: Rc<RefCell<OpState>>, #[smi] id: u32) -> Result<Option<ToJsBuffer>, HttpError> {
    let queue = queue_of(&state.borrow())?;
    let Some(RequestBody::Streaming(mut body)) = queue.with(id, |r| r.body.take())? else {
        return Ok(None);
    };
    let chunk = body.next_chunk().await?;
    if chunk.is_some() {
        // Put the body back for the next read (unless the request closed).
        let _ = queue.with(id, |r| r.body = Some(RequestBody::Streaming(body)));
    }
    Ok(chunk.map(|data| ToJsBuffer::from(Vec::from(data))))
}

#[op2(fast)]
pub(super) fn op_http_set_route(state: &OpState, #[smi] id: u32, #[string] route: &str) {
    if let Some(queue) = queue(state) {
        let _ = queue.with(id, |r| r.route = Some(route.to_string()));
    }
}
