//! [`RequestQueue`]: the requests waiting for, or being handled by, one
//! isolate. hyper's connection tasks push requests into it and await a
//! [`Reply`]; the isolate's `tandem_http` ops pull request ids out of it,
//! read each request's parts by id and answer through it. Both sides run
//! on the isolate's thread, so the queue is a `RefCell`, not a lock.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use tokio::sync::{mpsc, oneshot};

use super::body::Body;
use super::request_body::Streamed;

/// The body of a request as the isolate sees it.
pub(crate) enum RequestBody {
    None,
    /// Read whole by the server before dispatch (small bodies with a
    /// Content-Length), so a slow client never holds the isolate.
    Buffered(Bytes),
    /// Read on demand by `op_http_read`, under the body limit.
    Streaming(Streamed),
}

/// What the server gets back for a request.
pub(crate) struct Reply {
    pub(crate) response: http::Response<Body>,
    /// The route pattern the router matched, for metrics labels.
    pub(crate) route: Option<String>,
}

/// A request between arrival and the end of its response.
pub(crate) struct InFlight {
    pub(crate) parts: Parts,
    pub(crate) body: Option<RequestBody>,
    pub(crate) remote: SocketAddr,
    pub(crate) reply: Option<oneshot::Sender<Reply>>,
    pub(crate) route: Option<String>,
    /// Headers set on the response before the handler built it (by
    /// middleware, with `op_http_set_header`); they replace any of the same
    /// name the handler's response has.
    pub(crate) response_headers: Vec<(HeaderName, HeaderValue)>,
    /// The sending half of a streamed response body.
    pub(crate) stream: Option<mpsc::Sender<Bytes>>,
}

impl InFlight {
    pub(crate) fn new(parts: Parts, body: RequestBody, remote: SocketAddr, reply: oneshot::Sender<Reply>) -> Self {
        InFlight {
            parts,
            body: Some(body),
            remote,
            reply: Some(reply),
            route: None,
            response_headers: Vec::new(),
            stream: None,
        }
    }

    /// Hands the response head to the server; false if the server is gone
    /// or the head was sent already.
    pub(crate) fn reply(&mut self, mut response: http::Response<Body>) -> bool {
        let Some(reply) = self.reply.take() else { return false };
        for (name, value) in self.response_headers.drain(..) {
            response.headers_mut().insert(name, value);
        }
        reply.send(Reply { response, route: self.route.take() }).is_ok()
    }
}

/// Why a request id names no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request is closed: the client disconnected or the handler timed out")]
pub(crate) struct Closed;

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

    /// Whether the request still waits for its reply (head not sent).
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

    /// The next waiting request's id, skipping requests aborted before the
    /// isolate got to them.
    pub(crate) fn pop_ready(&self) -> Option<u32> {
        let mut state = self.state.borrow_mut();
        while let Some(id) = state.ready.pop_front() {
            if state.live.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// The next request's id, waiting for one; 0 once the queue is closed.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<u32> {
        if let Some(id) = self.pop_ready() {
            return Poll::Ready(id);
        }
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Poll::Ready(0);
        }
        state.next_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The next aborted request's id, waiting for one; 0 once closed.
    pub(crate) fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<u32> {
        let mut state = self.state.borrow_mut();
        if let Some(id) = state.aborted.pop_front() {
            return Poll::Ready(id);
        }
        if state.closed {
            return Poll::Ready(0);
        }
        state.abort_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Runs `f` on live request `id`.
    pub(crate) fn with<T>(&self, id: u32, f: impl FnOnce(&mut InFlight) -> T) -> Result<T, Closed> {
        let mut state = self.state.borrow_mut();
        let request = state.live.get_mut(&id).ok_or(Closed)?;
        Ok(f(request))
    }

    /// Forgets request `id` (its response is complete), returning it.
    pub(crate) fn remove(&self, id: u32) -> Option<InFlight> {
        self.state.borrow_mut().live.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    fn request(queue: &RequestQueue) -> (u32, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let parts = http::Request::new(()).into_parts().0;
        (queue.push(InFlight::new(parts, RequestBody::None, ([127, 0, 0, 1], 1).into(), tx)), rx)
    }

    #[test]
    fn ids_come_out_in_order_and_are_never_zero() {
        let queue = RequestQueue::default();
        queue.state.borrow_mut().next_id = u32::MAX;
        let (a, _ra) = request(&queue);
        let (b, _rb) = request(&queue);
        assert_eq!((a, b), (1, 2), "the id after u32::MAX wraps past 0");
        assert_eq!(queue.pop_ready(), Some(1));
        assert_eq!(queue.pop_ready(), Some(2));
        assert_eq!(queue.pop_ready(), None);
    }

    #[test]
    fn an_aborted_request_is_skipped_closed_and_reported() {
        let queue = RequestQueue::default();
        let (a, _ra) = request(&queue);
        let (b, _rb) = request(&queue);
        queue.abort(a);
        assert!(!queue.is_pending(a));
        assert_eq!(queue.with(a, |_| ()), Err(Closed));
        assert_eq!(queue.pop_ready(), Some(b), "the aborted request is skipped");
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(queue.poll_aborted(&mut cx), Poll::Ready(a));
        assert_eq!(queue.poll_aborted(&mut cx), Poll::Pending);
    }

    #[test]
    fn a_reply_carries_the_route_and_the_headers_set_ahead() {
        let queue = RequestQueue::default();
        let (id, mut rx) = request(&queue);
        queue
            .with(id, |r| {
                r.route = Some("/users/:id".into());
                r.response_headers.push((HeaderName::from_static("x-id"), HeaderValue::from_static("7")));
            })
            .unwrap();
        assert!(queue.is_pending(id));
        let mut response = http::Response::new(Body::empty());
        response.headers_mut().insert("x-id", HeaderValue::from_static("handler's"));
        assert!(queue.with(id, |r| r.reply(response)).unwrap());
        assert!(!queue.is_pending(id), "the head went out");
        assert!(!queue.with(id, |r| r.reply(http::Response::new(Body::empty()))).unwrap(), "only one head");
        let reply = rx.try_recv().unwrap();
        assert_eq!(reply.route.as_deref(), Some("/users/:id"));
        assert_eq!(reply.response.headers()["x-id"], "7", "middleware's header replaces the handler's");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn closing_ends_the_waits_with_zero() {
        let queue = RequestQueue::default();
        queue.close();
        assert_eq!(poll_fn(|cx| queue.poll_next(cx)).await, 0);
        assert_eq!(poll_fn(|cx| queue.poll_aborted(cx)).await, 0);
    }
}
