//! One worker thread: an isolate that loaded the main module, serving the
//! connections the acceptor hands it with hyper on the thread's own
//! current-thread tokio runtime, so handlers stay `!Send`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, oneshot, watch};

use super::body::Body;
use super::metrics::Metrics;
use super::ServerOptions;
use crate::error::Error;
use crate::ext::http::{InFlight, RequestBody, RequestQueue};
use crate::runtime::{Runtime, RuntimeOptions};

/// Bodies up to this size, with a Content-Length, are read whole before
/// the isolate sees the request: a slow upload then holds a cheap hyper
/// task, not the isolate, and the handler gets its body without a stream.
const BUFFER_BODY_UP_TO: u64 = 64 * 1024;

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

type Ready = std::sync::mpsc::Sender<Result<(), Error>>;

/// Starts worker `index` on its own thread: it builds an isolate, loads
/// `main`, reports on `ready`, then serves until shutdown.
pub(crate) fn spawn<F>(
    index: usize,
    main: PathBuf,
    make_options: Arc<F>,
    config: Arc<ServerOptions>,
    shutdown: watch::Receiver<bool>,
    ready: Ready,
) -> Result<(Slot, std::thread::JoinHandle<Result<(), Error>>), Error>
where
    F: Fn() -> RuntimeOptions + Send + Sync + 'static,
{
    let (slot, connections) = Slot::new();
    let handle = std::thread::Builder::new()
        .name(format!("tandem-worker-{index}"))
        .spawn(move || {
            let started = (|| {
                let mut runtime = Runtime::new(make_options())?;
                let module = runtime.load_module(&main)?;
                match runtime.take_serve_request(&module)? {
                    Some(_) => Ok(runtime),
                    None => Err(Error::Server(format!(
                        "worker {index}: loading {} again did not serve (serve() must run at module load)",
                        main.display()
                    ))),
                }
            })();
            let mut runtime = match started {
                Ok(runtime) => {
                    let _ = ready.send(Ok(()));
                    runtime
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return Ok(());
                }
            };
            drop(ready);
            serve(&mut runtime, connections, shutdown, config)
        })
        .map_err(|e| Error::Server(format!("cannot start a worker thread: {e}")))?;
    Ok((slot, handle))
}

/// Serves connections on this thread until shutdown: hyper tasks and the
/// isolate's event loop run side by side on one current-thread runtime.
pub(crate) fn serve(
    runtime: &mut Runtime,
    connections: Connections,
    shutdown: watch::Receiver<bool>,
    config: Arc<ServerOptions>,
) -> Result<(), Error> {
    let queue = runtime.http_queue().ok_or_else(|| Error::Server("serve() was not called".into()))?;
    let (js, tokio) = runtime.parts();
    let local = tokio::task::LocalSet::new();
    tokio.block_on(local.run_until(async move {
        let isolate = Rc::new(Isolate { queue: queue.clone(), config: config.clone() });
        let connections = accept(connections, shutdown, isolate, config);
        tokio::select! {
            result = js.run_event_loop(Default::default()) => match result {
                Ok(()) => Err(Error::Server("the isolate's serve loop ended while the server was running".into())),
                Err(e) => Err(Error::from(e)),
            },
            () = connections => {
                queue.close();
                Ok(())
            }
        }
    }))
}

/// Where a worker sends the requests the server does not answer itself
/// (everything but the health and metrics paths).
pub(crate) trait Dispatch: 'static {
    /// The response, and the route pattern that matched (for metrics).
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>);
}

/// Starts worker `index` on its own thread without an isolate: it serves
/// the connections handed to it with the [`Dispatch`] that `make` builds
/// there (a WSGI app's, for `tandem run --wsgi`).
pub(crate) fn spawn_plain<D, F>(
    index: usize,
    make: F,
    config: Arc<ServerOptions>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Slot, std::thread::JoinHandle<Result<(), Error>>), Error>
where
    D: Dispatch,
    F: FnOnce() -> D + Send + 'static,
{
    let (slot, connections) = Slot::new();
    let handle = std::thread::Builder::new()
        .name(format!("tandem-worker-{index}"))
        .spawn(move || serve_plain(make(), connections, shutdown, config))
        .map_err(|e| Error::Server(format!("cannot start a worker thread: {e}")))?;
    Ok((slot, handle))
}

/// Serves connections with `dispatch` on this thread until shutdown.
pub(crate) fn serve_plain<D: Dispatch>(
    dispatch: D,
    connections: Connections,
    shutdown: watch::Receiver<bool>,
    config: Arc<ServerOptions>,
) -> Result<(), Error> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Server(format!("cannot start a worker's event loop: {e}")))?;
    let local = tokio::task::LocalSet::new();
    tokio.block_on(local.run_until(accept(connections, shutdown, Rc::new(dispatch), config)));
    Ok(())
}

/// Serves each connection handed over until shutdown, then lets in-flight
/// requests finish (up to the shutdown timeout).
async fn accept<D: Dispatch>(
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

/// The isolate of a JS worker, as the server's [`Dispatch`].
struct Isolate {
    queue: Rc<RequestQueue>,
    config: Arc<ServerOptions>,
}

impl Dispatch for Isolate {
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>) {
        to_isolate(request, self, remote).await
    }
}

/// Forgets a request the client abandoned (the service future is dropped
/// when the connection closes) and keeps the in-flight gauge right.
struct InFlightGuard<'a> {
    queue: &'a RequestQueue,
    id: u32,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.queue.is_pending(self.id) {
            self.queue.abort(self.id);
        }
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

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"error": message}` with `status`: how the server itself answers what
/// it refuses.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, serde_json::json!({ "error": message }).to_string())
}

/// The 413 answer to a body over `limit` bytes.
pub(crate) fn body_too_large(limit: u64) -> Response<Body> {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than the server's limit of {limit} bytes (see --max-body-size)"),
    )
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// How a request's body reaches its handler.
pub(crate) enum Arrival {
    Empty,
    /// Read whole (a Content-Length up to [`BUFFER_BODY_UP_TO`]), so a slow
    /// client holds a cheap hyper task, not the handler.
    Whole(bytes::Bytes),
    /// Read by the handler as it goes, counting against the limit.
    Stream(Incoming),
}

/// Refuses a body announced as larger than `limit`, reads a small one
/// whole, and leaves any other to be streamed.
pub(crate) async fn receive_body(headers: &http::HeaderMap, incoming: Incoming, limit: u64) -> Result<Arrival, Response<Body>> {
    let length = content_length(headers);
    if length.is_some_and(|n| n > limit) {
        return Err(body_too_large(limit));
    }
    let chunked = headers.contains_key(http::header::TRANSFER_ENCODING);
    match length {
        Some(0) => Ok(Arrival::Empty),
        None if !chunked => Ok(Arrival::Empty),
        Some(n) if n <= BUFFER_BODY_UP_TO => match incoming.collect().await {
            Ok(collected) => Ok(Arrival::Whole(collected.to_bytes())),
            Err(e) => Err(error_response(StatusCode::BAD_REQUEST, &format!("reading the request body failed: {e}"))),
        },
        _ => Ok(Arrival::Stream(incoming)),
    }
}

/// Hands the request to the isolate and awaits its reply, enforcing the
/// body limit and the handler timeout.
async fn to_isolate(request: Request<Incoming>, context: &Isolate, remote: SocketAddr) -> (Option<String>, Response<Body>) {
    let config = &context.config;
    let limit = config.max_body_bytes;
    let (parts, incoming) = request.into_parts();
    let too_large = || body_too_large(limit);
    let body = match receive_body(&parts.headers, incoming, limit).await {
        Ok(Arrival::Empty) => RequestBody::None,
        Ok(Arrival::Whole(bytes)) => RequestBody::Buffered(bytes),
        Ok(Arrival::Stream(body)) => RequestBody::Streaming { body, read: 0, limit },
        Err(response) => return (None, response),
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    let id = context.queue.push(InFlight {
        parts,
        body: Some(body),
        remote,
        reply: Some(reply_tx),
        route: None,
        body_too_large: false,
        response_headers: Vec::new(),
        stream: None,
    });
    let _guard = InFlightGuard { queue: &context.queue, id };
    match tokio::time::timeout(config.handler_timeout, reply_rx).await {
        Ok(Ok(reply)) if reply.body_too_large => (reply.route, too_large()),
        Ok(Ok(reply)) => (reply.route, reply.response),
        Ok(Err(_)) => (None, error_response(StatusCode::INTERNAL_SERVER_ERROR, "the request was dropped without a response")),
        Err(_) => {
            context.queue.abort(id);
            let seconds = config.handler_timeout.as_secs_f64();
            (
                None,
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("the handler did not answer within {seconds} s (see --handler-timeout)"),
                ),
            )
        }
    }
}
