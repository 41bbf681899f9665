//! [`Body`]: the body of a response the server sends, either whole or
//! streamed chunk by chunk (from the isolate, or from a WSGI app).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// A response body: whole bytes (Content-Length) or a channel of chunks
/// (chunked transfer encoding unless the head has a Content-Length).
pub(crate) enum Body {
    Full(Option<Bytes>),
    /// Fed by `op_http_write`.
    Channel(mpsc::Receiver<Bytes>),
    /// Fed by a WSGI app's iterable. An `Err` means the app failed after its
    /// head went out: hyper then closes the connection instead of ending the
    /// body cleanly, so the client cannot take a truncated body for a whole one.
    Fallible(Fallible),
}

/// The channel of [`Body::Fallible`], and an error held back one poll.
pub(crate) struct Fallible {
    receiver: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    failed: Option<std::io::Error>,
}

impl Body {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        Body::Full(Some(bytes.into()))
    }

    pub(crate) fn empty() -> Self {
        Body::Full(None)
    }

    pub(crate) fn channel(receiver: mpsc::Receiver<Bytes>) -> Self {
        Body::Channel(receiver)
    }

    pub(crate) fn fallible(receiver: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Self {
        Body::Fallible(Fallible { receiver, failed: None })
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Body::Channel(receiver) => receiver.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
            Body::Fallible(body) => {
                if let Some(error) = body.failed.take() {
                    return Poll::Ready(Some(Err(error)));
                }
                match body.receiver.poll_recv(cx) {
                    // hyper drops the connection on an error without
                    // writing what it has buffered; answering Pending once
                    // (and asking to be polled again) makes it flush the
                    // chunks the app did send first.
                    Poll::Ready(Some(Err(error))) => {
                        body.failed = Some(error);
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    other => other.map(|chunk| chunk.map(|r| r.map(Frame::data))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Channel(_) | Body::Fallible(_) => SizeHint::default(),
        }
    }
}
