//! How a request's body reaches whoever answers the request: refused at
//! once when its Content-Length is over the limit, read whole when small,
//! otherwise streamed through [`http_body_util::Limited`], which fails the
//! read that goes past the limit. This is the only place the body limit is
//! enforced, for TypeScript handlers and WSGI apps alike.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::answer::error_response;
use super::body::Body;

/// Bodies up to this size, with a Content-Length, are read whole before
/// the app sees the request: a slow upload then holds a cheap hyper task,
/// not an isolate or a Python thread, and the app gets its body at once.
pub(crate) const BUFFER_BODY_UP_TO: u64 = 64 * 1024;

/// The body limit of one request, and whether reading a streamed body
/// failed: over the limit (the client gets 413) or malformed, e.g. broken
/// chunked framing or a body cut short (400). Whatever the app answers
/// after that, the client gets this refusal: the app only saw a read fail.
#[derive(Clone, Debug)]
pub(crate) struct BodyLimit {
    bytes: u64,
    failure: Arc<OnceLock<BodyError>>,
}

impl BodyLimit {
    pub(crate) fn new(bytes: u64) -> Self {
        BodyLimit { bytes, failure: Arc::default() }
    }

    /// No limit: for a body the server has already read.
    pub(crate) fn none() -> Self {
        BodyLimit::new(u64::MAX)
    }

    /// Whether reading the body failed.
    pub(crate) fn failed(&self) -> bool {
        self.failure.get().is_some()
    }

    fn fail(&self, error: BodyError) -> BodyError {
        self.failure.get_or_init(|| error).clone()
    }

    /// The answer for a body that could not be read: 413 over the limit
    /// (also for one announced as too large), 400 when malformed.
    pub(crate) fn refusal(&self) -> http::Response<Body> {
        match self.failure.get() {
            Some(error @ BodyError::Read(_)) => error_response(http::StatusCode::BAD_REQUEST, &error.to_string()),
            _ => {
                let message = BodyError::TooLarge { limit: self.bytes }.to_string();
                error_response(http::StatusCode::PAYLOAD_TOO_LARGE, &message)
            }
        }
    }
}

/// Why a streamed body could not be read further.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body is larger than the server's limit of {limit} bytes (see --max-body-size)")]
    TooLarge { limit: u64 },
    #[error("the request body could not be read: it is malformed or was cut short ({0})")]
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

    /// The next chunk; `None` at the end. A failed read (over the limit,
    /// malformed) is recorded in the request's [`BodyLimit`].
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
                    return Err(self.limit.fail(BodyError::TooLarge { limit: self.limit.bytes }));
                }
                // hyper's own errors here are the client's: broken chunked
                // framing, or the connection ending before the body did.
                Err(e) => return Err(self.limit.fail(BodyError::Read(e.to_string()))),
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

/// The first transfer coding of `headers` other than `chunked`: hyper
/// decodes chunked framing and passes any other coding's bytes through as
/// if they were the body, which the app would take for plain content.
fn unsupported_coding(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| String::from_utf8_lossy(value.as_bytes()).split(',').map(|c| c.trim().to_string()).collect::<Vec<_>>())
        .find(|coding| !coding.eq_ignore_ascii_case("chunked"))
}

/// Refuses a transfer coding other than chunked (501, as RFC 9112 asks)
/// and a body announced as larger than `limit` (413), reads a small one
/// whole, and leaves any other to be streamed under `limit`.
pub(crate) async fn receive(
    headers: &http::HeaderMap,
    incoming: Incoming,
    limit: &BodyLimit,
) -> Result<Arrival, http::Response<Body>> {
    if let Some(coding) = unsupported_coding(headers) {
        let message = format!(
            "the request's Transfer-Encoding {coding:?} is not supported: send the body as it is, with Content-Length or Transfer-Encoding: chunked"
        );
        return Err(error_response(http::StatusCode::NOT_IMPLEMENTED, &message));
    }
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
        assert!(!limit.failed());
        let refusal = limit.refusal();
        assert_eq!(refusal.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn only_the_chunked_transfer_coding_is_accepted() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(unsupported_coding(&headers), None);
        headers.insert(http::header::TRANSFER_ENCODING, http::HeaderValue::from_static("Chunked"));
        assert_eq!(unsupported_coding(&headers), None);
        headers.insert(http::header::TRANSFER_ENCODING, http::HeaderValue::from_static("gzip, chunked"));
        assert_eq!(unsupported_coding(&headers).as_deref(), Some("gzip"));
    }

    #[test]
    fn a_malformed_body_is_refused_with_400_and_says_why() {
        let limit = BodyLimit::new(1024);
        limit.fail(BodyError::Read("invalid chunk size line".into()));
        assert!(limit.failed());
        assert_eq!(limit.refusal().status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_too_large_message_names_the_limit_and_the_flag() {
        let message = BodyError::TooLarge { limit: 1024 }.to_string();
        assert!(message.contains("1024 bytes") && message.contains("--max-body-size"), "{message}");
    }
}
