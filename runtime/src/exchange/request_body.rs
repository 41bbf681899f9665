//! How a request's body reaches whoever answers the request: refused at
//! once when its Content-Length is over the limit, read whole when small,
//! otherwise streamed through [`http_body_util::Limited`], which fails the
//! read that goes past the limit. This is the only place the body limit is
//! enforced, for TypeScript handlers and WSGI apps alike.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::answer::error_response;
use super::body::Body;

/// Bodies up to this size, with a Content-Length, are read whole before
/// the app sees the request: a slow upload then holds a cheap hyper task,
/// not an isolate or a Python thread, and the app gets its body at once.
pub(crate) const BUFFER_BODY_UP_TO: u64 = 64 * 1024;

/// The body limit of one request, and whether a streamed body went over
/// it. Whatever the app answers after that, the client gets 413.
#[derive(Clone, Debug)]
pub(crate) struct BodyLimit {
    bytes: u64,
    exceeded: Arc<AtomicBool>,
}

impl BodyLimit {
    pub(crate) fn new(bytes: u64) -> Self {
        BodyLimit { bytes, exceeded: Arc::default() }
    }

    /// No limit: for a body the server has already read.
    pub(crate) fn none() -> Self {
        BodyLimit::new(u64::MAX)
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    /// The 413 the client gets for a body over the limit.
    pub(crate) fn refusal(&self) -> http::Response<Body> {
        let message = BodyError::TooLarge { limit: self.bytes }.to_string();
        error_response(http::StatusCode::PAYLOAD_TOO_LARGE, &message)
    }
}

/// Why a streamed body could not be read further.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body is larger than the server's limit of {limit} bytes (see --max-body-size)")]
    TooLarge { limit: u64 },
    #[error("reading the request body failed: {0}")]
    Read(String),
}

/// A request body read chunk by chunk as it arrives.
pub(crate) struct Streamed {
    body: Limited<Incoming>,
    limit: BodyLimit,
    started: bool,
}

impl Streamed {
    fn new(incoming: Incoming, limit: BodyLimit) -> Self {
        let bytes = usize::try_from(limit.bytes).unwrap_or(usize::MAX);
        Streamed { body: Limited::new(incoming, bytes), limit, started: false }
    }

    /// The next chunk; `None` at the end. Going over the limit marks the
    /// request's [`BodyLimit`] as exceeded.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let Some(frame) = self.body.frame().await else { return Ok(None) };
            match frame {
                Ok(frame) => {
                    // Trailers carry no data: skip them.
                    if let Ok(data) = frame.into_data() {
                        self.started = true;
                        return Ok(Some(data));
                    }
                }
                Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                    self.limit.exceeded.store(true, Ordering::Relaxed);
                    return Err(BodyError::TooLarge { limit: self.limit.bytes });
                }
                Err(e) => return Err(BodyError::Read(e.to_string())),
            }
        }
    }

    /// Whether no chunk has been read yet.
    pub(crate) fn untouched(&self) -> bool {
        !self.started
    }

    pub(crate) fn limit(&self) -> &BodyLimit {
        &self.limit
    }
}

/// How a request's body reaches the app.
pub(crate) enum Arrival {
    Empty,
    /// Read whole (a Content-Length up to [`BUFFER_BODY_UP_TO`]).
    Whole(Bytes),
    /// Read by the app as it goes, under the limit.
    Stream(Streamed),
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Refuses a body announced as larger than `limit` (413), reads a small
/// one whole, and leaves any other to be streamed under `limit`.
pub(crate) async fn receive(
    headers: &http::HeaderMap,
    incoming: Incoming,
    limit: &BodyLimit,
) -> Result<Arrival, http::Response<Body>> {
    let length = content_length(headers);
    if length.is_some_and(|n| n > limit.bytes) {
        return Err(limit.refusal());
    }
    let chunked = headers.contains_key(http::header::TRANSFER_ENCODING);
    match length {
        Some(0) => Ok(Arrival::Empty),
        None if !chunked => Ok(Arrival::Empty),
        Some(n) if n <= BUFFER_BODY_UP_TO => match incoming.collect().await {
            Ok(collected) => Ok(Arrival::Whole(collected.to_bytes())),
            Err(e) => Err(error_response(
                http::StatusCode::BAD_REQUEST,
                &BodyError::Read(e.to_string()).to_string(),
            )),
        },
        _ => Ok(Arrival::Stream(Streamed::new(incoming, limit.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_starts_unexceeded_and_refuses_with_413() {
        let limit = BodyLimit::new(10);
        assert!(!limit.exceeded());
        let refusal = limit.refusal();
        assert_eq!(refusal.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn the_too_large_message_names_the_limit_and_the_flag() {
        let message = BodyError::TooLarge { limit: 1024 }.to_string();
        assert!(message.contains("1024 bytes") && message.contains("--max-body-size"), "{message}");
    }
}
