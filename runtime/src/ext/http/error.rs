//! [`HttpError`]: what the `tandem_http` ops throw, each with its JS class.

use crate::exchange::queue::Closed;
use crate::exchange::request_body::BodyError;

#[derive(Debug, thiserror::Error, deno_error::JsError)]
pub(crate) enum HttpError {
    /// The request id names a request the server no longer holds.
    #[class("Http")]
    #[error(transparent)]
    Closed(#[from] Closed),
    #[class(generic)]
    #[error("serve() has not been called in this isolate")]
    NotServing,
    #[class(generic)]
    #[error("serve() was already called: one server per program (route inside one handler instead)")]
    AlreadyServing,
    #[class(range)]
    #[error("{0}")]
    BodyTooLarge(BodyError),
    #[class("Http")]
    #[error("{0}")]
    BodyRead(BodyError),
    #[class(type)]
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    #[class(type)]
    #[error("invalid value for header {name}: {value:?}")]
    HeaderValue { name: String, value: String },
    #[class(type)]
    #[error("invalid Content-Type {0:?}")]
    ContentType(String),
    #[class(range)]
    #[error("invalid HTTP status {0}: use 100-999")]
    Status(u32),
    /// What a Python app mounted in the router (`wsgi()`, `asgi()`) could
    /// not do.
    #[class(type)]
    #[error("{0}")]
    MountUsage(String),
    #[class(generic)]
    #[error("{0}")]
    Wsgi(String),
}

impl From<BodyError> for HttpError {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge { .. } => HttpError::BodyTooLarge(err),
            BodyError::Read(_) => HttpError::BodyRead(err),
        }
    }
}
