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

/// The answer to a readiness probe: ready, or why not.
pub(crate) type Readiness = Result<(), String>;

#[derive(Default)]
struct QueueState {
    next_id: u32,
    ready: VecDeque<u32>,
    live: HashMap<u32, InFlight>,
    aborted: VecDeque<u32>,
    /// Readiness probes for the app's own check, not yet taken by the
    /// isolate, and the replies of those not yet answered.
    probes: VecDeque<u32>,
    probe_replies: HashMap<u32, oneshot::Sender<Readiness>>,
    next_waker: Option<Waker>,
    abort_waker: Option<Waker>,
    probe_waker: Option<Waker>,
    closed: bool,
}

impl QueueState {
    /// The next id for a request or probe: never 0 (0 means "none").
    fn new_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }
}

/// Requests waiting for, or being handled by, one isolate.
#[derive(Default)]
pub(crate) struct RequestQueue {
    state: RefCell<QueueState>,
    /// Whether the app has a readiness check of its own (`ready` in
    /// `serve()`'s options): without one, a probe is answered without it.
    checks_readiness: std::cell::Cell<bool>,
}

impl RequestQueue {
    pub(crate) fn set_checks_readiness(&self, checks: bool) {
        self.checks_readiness.set(checks);
    }

    pub(crate) fn checks_readiness(&self) -> bool {
        self.checks_readiness.get()
    }

    /// Queues a readiness probe for the app's check; returns its id.
    pub(crate) fn push_probe(&self, reply: oneshot::Sender<Readiness>) -> u32 {
        let mut state = self.state.borrow_mut();
        let id = state.new_id();
        state.probe_replies.insert(id, reply);
        state.probes.push_back(id);
        if let Some(waker) = state.probe_waker.take() {
            waker.wake();
        }
        id
    }

    /// The next probe's id, waiting for one; 0 once the queue is closed.
    /// Probes the server stopped waiting for are skipped.
    pub(crate) fn poll_probe(&self, cx: &mut Context<'_>) -> Poll<u32> {
        let mut state = self.state.borrow_mut();
        while let Some(id) = state.probes.pop_front() {
            if state.probe_replies.contains_key(&id) {
                return Poll::Ready(id);
            }
        }
        if state.closed {
            return Poll::Ready(0);
        }
        state.probe_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The app's answer to probe `id` (ignored once the server gave up).
    pub(crate) fn answer_probe(&self, id: u32, readiness: Readiness) {
        if let Some(reply) = self.state.borrow_mut().probe_replies.remove(&id) {
            let _ = reply.send(readiness);
        }
    }

    /// The server no longer waits for probe `id`.
    pub(crate) fn forget_probe(&self, id: u32) {
        self.state.borrow_mut().probe_replies.remove(&id);
    }

    /// Queues a request for the isolate and returns its id (never 0).
    pub(crate) fn push(&self, request: InFlight) -> u32 {
        let mut state = self.state.borrow_mut();
        let id = state.new_id();
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

    /// Whether no request waits or is being answered (a reload's old
    /// isolate may then go).
    pub(crate) fn is_idle(&self) -> bool {
        let state = self.state.borrow();
        state.live.is_empty() && state.probe_replies.is_empty()
    }

    /// No more requests will come: the isolate's serve loop ends.
    pub(crate) fn close(&self) {
        let mut state = self.state.borrow_mut();
        state.closed = true;
        let wakers = [state.next_waker.take(), state.abort_waker.take(), state.probe_waker.take()];
        for waker in wakers.into_iter().flatten() {
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

    #[test]
    fn probes_are_answered_by_id_and_forgotten_ones_skipped() {
        let queue = RequestQueue::default();
        let (tx_a, _rx_a) = oneshot::channel();
        let (tx_b, mut rx_b) = oneshot::channel();
        let a = queue.push_probe(tx_a);
        let b = queue.push_probe(tx_b);
        queue.forget_probe(a);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(queue.poll_probe(&mut cx), Poll::Ready(b), "the forgotten probe is skipped");
        assert_eq!(queue.poll_probe(&mut cx), Poll::Pending);
        queue.answer_probe(b, Err("models loading".into()));
        assert_eq!(rx_b.try_recv().unwrap(), Err("models loading".to_string()));
        queue.answer_probe(b, Ok(())); // answered already: ignored
        queue.close();
        assert_eq!(queue.poll_probe(&mut cx), Poll::Ready(0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn closing_ends_the_waits_with_zero() {
        let queue = RequestQueue::default();
        queue.close();
        assert_eq!(poll_fn(|cx| queue.poll_next(cx)).await, 0);
        assert_eq!(poll_fn(|cx| queue.poll_aborted(cx)).await, 0);
    }
}
