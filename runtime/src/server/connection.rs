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
use tokio::sync::{mpsc, watch, Notify};

use super::live::Registry;
use super::{ServerOptions, Signalled, Tally};
use crate::exchange::answer::{error_response, json_response};
use crate::exchange::body::Body;
use crate::exchange::queue::Readiness;
use crate::exchange::takeover::Takeover;
use crate::metrics::Metrics;

/// Route label of requests no router claimed.
const NO_ROUTE: &str = "";

/// The acceptor's handle on a worker: where to send connections, and how
/// many the worker has open (to pick the least busy one, and to hold the
/// process to `--max-connections`).
pub(crate) struct Slot {
    pub(crate) connections: mpsc::UnboundedSender<std::net::TcpStream>,
    pub(crate) open: Arc<AtomicUsize>,
    /// Asks the worker to close some idle connections (at the limit).
    pub(crate) shed: Arc<Notify>,
}

/// The worker's end of its slot.
pub(crate) struct Connections {
    receiver: mpsc::UnboundedReceiver<std::net::TcpStream>,
    open: Arc<AtomicUsize>,
    /// Told when a connection closes (the acceptor waits on it at the
    /// connection limit); one for all workers.
    closed: Arc<Notify>,
    shed: Arc<Notify>,
}

impl Slot {
    pub(crate) fn new(closed: Arc<Notify>) -> (Slot, Connections) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let shed = Arc::new(Notify::new());
        let slot = Slot { connections: sender, open: open.clone(), shed: shed.clone() };
        (slot, Connections { receiver, open, closed, shed })
    }
}

impl Connections {
    fn close_one(open: &AtomicUsize, closed: &Notify) {
        open.fetch_sub(1, Ordering::Relaxed);
        closed.notify_one();
    }
}

/// Where a worker sends the requests the server does not answer itself
/// (everything but the health and metrics paths): what each kind of app
/// supplies (crate::apps).
pub(crate) trait Dispatch: 'static {
    /// The response, and the route pattern that matched (for metrics).
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>);

    /// Whether the app is ready for traffic, by its own check if it has
    /// one (asked for each probe of the readiness path). An app the server
    /// runs has loaded already, so without a check it is ready.
    async fn ready(&self) -> Readiness {
        Ok(())
    }
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
    let registry = Rc::new(Registry::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header timeout also closes idle keep-alive connections: hyper
    // starts it whenever a connection waits for a request head.
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    let draining = shutdown.clone();
    let worker = WorkerState { http, registry: registry.clone(), dispatch, config: config.clone(), cut_short, draining };
    loop {
        let stream = tokio::select! {
            stream = connections.receiver.recv() => stream,
            () = connections.shed.notified() => {
                registry.shed_idle();
                continue;
            }
            _ = shutdown.wait_for(Option::is_some) => None,
        };
        let Some(stream) = stream else { break };
        worker.serve(stream, &connections);
    }
    // Connections the acceptor handed over before the signal are clients
    // waiting for an answer like any other: serve them too.
    connections.receiver.close();
    while let Ok(stream) = connections.receiver.try_recv() {
        worker.serve(stream, &connections);
    }
    // The drain ends at a time fixed by the signal, not by when this thread
    // noticed it (a runaway handler may have held the thread meanwhile).
    let signalled = (*shutdown.borrow()).unwrap_or_else(std::time::Instant::now);
    let drain_ends = tokio::time::Instant::from_std(signalled + config.shutdown_timeout);
    registry.close_all();
    if tokio::time::timeout_at(drain_ends, registry.all_left()).await.is_err() {
        let _ = cut.send(true);
        let _ = tokio::time::timeout(FLUSH, registry.all_left()).await;
    }
}

/// How long after its acceptance a connection asked to close waits for its
/// first request: its client has likely sent it already (closing would
/// lose the request, not just a spare socket).
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// What a worker's connections share.
struct WorkerState<D> {
    http: hyper::server::conn::http1::Builder,
    registry: Rc<Registry>,
    dispatch: Rc<D>,
    config: Arc<ServerOptions>,
    cut_short: watch::Receiver<bool>,
    /// Set once SIGINT/SIGTERM came: the readiness path answers 503.
    draining: watch::Receiver<Signalled>,
}

impl<D: Dispatch> WorkerState<D> {
    /// Serves one connection on a task of its own until it closes.
    fn serve(&self, stream: std::net::TcpStream, connections: &Connections) {
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            Connections::close_one(&connections.open, &connections.closed);
            return;
        };
        let remote = stream.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (id, live) = self.registry.join();
        // Lent to an upgrade request (WebSocket) on this connection.
        let takeover = Takeover::default();
        let service = {
            let (dispatch, config, cut_short, live) =
                (self.dispatch.clone(), self.config.clone(), self.cut_short.clone(), live.clone());
            let (draining, takeover) = (self.draining.clone(), takeover.clone());
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                let busy = live.busy();
                let ends = Ends { cut_short: cut_short.clone(), draining: draining.clone() };
                let upgrade = request.headers().contains_key(http::header::UPGRADE).then(|| takeover.clone());
                if let Some(takeover) = &upgrade {
                    request.extensions_mut().insert(takeover.clone());
                }
                let answered = handle(request, dispatch.clone(), config.clone(), remote, ends);
                async move {
                    let response = answered.await;
                    if let (Some(takeover), Ok(response)) = (upgrade, &response) {
                        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                            takeover.switched();
                        }
                    }
                    drop(busy);
                    response
                }
            })
        };
        let connection = self.http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let (open, closed, registry) = (connections.open.clone(), connections.closed.clone(), self.registry.clone());
        let tally = self.config.tally;
        if let Some(tally) = tally {
            tally.connection_opened();
        }
        tokio::task::spawn_local(async move {
            tokio::pin!(connection);
            // Errors here are the client's (reset, malformed request,
            // header timeout); hyper has already answered what it could.
            tokio::select! {
                _ = connection.as_mut() => {}
                () = live.closing() => {
                    let ended = tokio::select! {
                        _ = connection.as_mut() => true,
                        () = live.first_request(FIRST_REQUEST_GRACE) => false,
                    };
                    if !ended {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            }
            if takeover.is_held() {
                held(&takeover, &live).await;
            }
            registry.leave(id);
            if let Some(tally) = tally {
                tally.connection_closed();
            }
            Connections::close_one(&open, &closed);
        });
    }
}

/// Keeps a connection taken over after a 101 (a WebSocket) open, counted
/// and busy (not shed as idle) until its holder lets it go; at shutdown,
/// asks the holder to close it.
async fn held(takeover: &Takeover, live: &Rc<super::live::Live>) {
    let _busy = live.busy();
    tokio::select! {
        () = takeover.released() => return,
        () = live.closing() => takeover.close(),
    }
    takeover.released().await
}

/// The readiness path's answer: 503 once draining (so a load balancer
/// stops sending new requests), else the app's own check.
async fn readiness<D: Dispatch>(dispatch: &D, draining: &watch::Receiver<Signalled>) -> Response<Body> {
    if draining.borrow().is_some() {
        let body = serde_json::json!({ "status": "draining", "reason": "the server is shutting down" });
        return json_response(StatusCode::SERVICE_UNAVAILABLE, body.to_string());
    }
    match dispatch.ready().await {
        Ok(()) => json_response(StatusCode::OK, r#"{"status":"ready"}"#.into()),
        Err(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "not ready", "reason": reason }).to_string(),
        ),
    }
}

struct GaugeGuard(Option<&'static Tally>);

impl GaugeGuard {
    fn new(tally: Option<&'static Tally>) -> Self {
        Metrics::get().request_started();
        if let Some(tally) = tally {
            tally.request_started();
        }
        GaugeGuard(tally)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        Metrics::get().request_ended();
        if let Some(tally) = self.0 {
            tally.request_ended();
        }
    }
}

/// How a request learns that the server is ending.
struct Ends {
    /// Set at the end of a drain: requests still running get a 503.
    cut_short: watch::Receiver<bool>,
    /// Set at the signal, when the drain starts.
    draining: watch::Receiver<Signalled>,
}

async fn handle<D: Dispatch>(
    request: Request<Incoming>,
    dispatch: Rc<D>,
    config: Arc<ServerOptions>,
    remote: SocketAddr,
    ends: Ends,
) -> Result<Response<Body>, Infallible> {
    let Ends { mut cut_short, draining } = ends;
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
        if config.ready_path.as_deref() == Some(path) {
            return Ok(readiness(&*dispatch, &draining).await);
        }
    }
    let _gauge = GaugeGuard::new(config.tally);
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

