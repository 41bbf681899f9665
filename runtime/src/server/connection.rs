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
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, watch};

use super::ServerOptions;
use crate::exchange::answer::json_response;
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

/// Serves each connection handed over until shutdown, then lets in-flight
/// requests finish (up to the shutdown timeout).
pub(crate) async fn accept<D: Dispatch>(
    mut connections: Connections,
    mut shutdown: watch::Receiver<bool>,
    dispatch: Rc<D>,
    config: Arc<ServerOptions>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    loop {
        let stream = tokio::select! {
            stream = connections.receiver.recv() => stream,
            _ = shutdown.wait_for(|stop| *stop) => None,
        };
        let Some(stream) = stream else { break };
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            connections.open.fetch_sub(1, Ordering::Relaxed);
            continue;
        };
        let remote = stream.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let dispatch = dispatch.clone();
        let config = config.clone();
        let service =
            hyper::service::service_fn(move |request| handle(request, dispatch.clone(), config.clone(), remote));
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
    let _ = tokio::time::timeout(config.shutdown_timeout, graceful.shutdown()).await;
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
    let (route, response) = dispatch.dispatch(request, remote).await;
    Metrics::get().request_finished(
        route.as_deref().unwrap_or(NO_ROUTE),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(response)
}

