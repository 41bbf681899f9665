//! A worker thread's connections: hyper serves each connection the
//! acceptor hands the worker on the thread's own current-thread tokio
//! runtime (so apps' handlers may be `!Send`), answers the health and
//! metrics paths itself, and passes every other request to the app's
//! [`Dispatch`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, watch};

use super::{ServerOptions, Signalled};
use crate::exchange::answer::{error_response, json_response};
use crate::exchange::body::Body;
use crate::metrics::Metrics;

/// Route label of requests no router claimed.
const NO_ROUTE: &str = "";

/// The acceptor's handle on a worker: where to send connections, and how
/// many the worker has open (to pick the least busy one).
pub(crate) struct Slot {
    pub(crate) connections: mpsc::UnboundedSender<std::net::TcpStream>,
    pub(crate) open: Arc<AtomicUsize>,
}

/// The worker's end of its slot.
pub(crate) struct Connections {
    receiver: mpsc::UnboundedReceiver<std::net::TcpStream>,
    open: Arc<AtomicUsize>,
}

impl Slot {
    pub(crate) fn new() -> (Slot, Connections) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        (Slot { connections: sender, open: open.clone() }, Connections { receiver, open })
    }
}

/// Where a worker sends the requests the server does not answer itself
/// (everything but the health and metrics paths): what each kind of app
/// supplies (crate::apps).
pub(crate) trait Dispatch: 'static {
    /// The response, and the route pattern that matched (for metrics).
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>);
}

/// How long responses cut short at the end of a shutdown get to reach
/// their clients before the worker stops.
const FLUSH: Duration = Duration::from_millis(500);

/// Serves each connection handed over until shutdown, then lets in-flight
/// requests finish (up to the shutdown timeout) and answers those still
/// unanswered 503.
pub(crate) async fn accept<D: Dispatch>(
    mut connections: Connections,
    mut shutdown: watch::Receiver<Signalled>,
    dispatch: Rc<D>,
    config: Arc<ServerOptions>,
) {
    let (cut, cut_short) = watch::channel(false);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    loop {
        let stream = tokio::select! {
            stream = connections.receiver.recv() => stream,
            _ = shutdown.wait_for(Option::is_some) => None,
        };
        let Some(stream) = stream else { break };
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            connections.open.fetch_sub(1, Ordering::Relaxed);
            continue;
        };
        let remote = stream.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let dispatch = dispatch.clone();
        let config = config.clone();
        let cut_short = cut_short.clone();
        let service = hyper::service::service_fn(move |request| {
            handle(request, dispatch.clone(), config.clone(), remote, cut_short.clone())
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let open = connections.open.clone();
        tokio::task::spawn_local(async move {
            // Errors here are the client's (reset, malformed request,
            // header timeout); hyper has already answered what it could.
            let _ = connection.await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(connections.receiver);
    // The drain ends at a time fixed by the signal, not by when this thread
    // noticed it (a runaway handler may have held the thread meanwhile).
    let signalled = (*shutdown.borrow()).unwrap_or_else(std::time::Instant::now);
    let drain_ends = tokio::time::Instant::from_std(signalled + config.shutdown_timeout);
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout_at(drain_ends, &mut drained).await.is_err() {
        let _ = cut.send(true);
        let _ = tokio::time::timeout(FLUSH, drained).await;
    }
}

struct GaugeGuard;

impl GaugeGuard {
    fn new() -> Self {
        Metrics::get().request_started();
        GaugeGuard
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        Metrics::get().request_ended();
    }
}

async fn handle<D: Dispatch>(
    request: Request<Incoming>,
    dispatch: Rc<D>,
    config: Arc<ServerOptions>,
    remote: SocketAddr,
    mut cut_short: watch::Receiver<bool>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    if request.method() == Method::GET || request.method() == Method::HEAD {
        let path = request.uri().path();
        if config.metrics_path.as_deref() == Some(path) {
            let mut response = Response::new(Body::full(Metrics::get().render()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return Ok(response);
        }
        if config.health_path.as_deref() == Some(path) {
            return Ok(json_response(StatusCode::OK, r#"{"status":"ok"}"#.into()));
        }
    }
    let _gauge = GaugeGuard::new();
    let method = request.method().clone();
    // At the end of a shutdown the dispatch is dropped (which aborts the
    // request in the app) and the client gets a 503 instead.
    let (route, response) = tokio::select! {
        answered = dispatch.dispatch(request, remote) => answered,
        Ok(_) = cut_short.wait_for(|cut| *cut) => (None, error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the server is shutting down and the request did not finish within {} s (see --shutdown-timeout)",
                config.shutdown_timeout.as_secs_f64()
            ),
        )),
    };
    Metrics::get().request_finished(
        route.as_deref().unwrap_or(NO_ROUTE),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(response)
}

