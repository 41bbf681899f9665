//! The HTTP server behind `tandem run server.ts`: hyper 1.x on tokio, one
//! JS isolate per worker thread, optional worker processes.
//!
//! How a request travels: the acceptor thread ([`acceptor`]) takes
//! connections and hands each to the worker thread with the fewest open
//! connections; the worker serves it with hyper ([`worker`]), queueing each
//! request for its isolate (`ext::http`) and awaiting the reply with the
//! configured limits. Python calls from any worker share the process's one
//! interpreter; `--processes` ([`supervisor`]) runs several processes on
//! one port with SO_REUSEPORT to use more cores for Python.

pub(crate) mod acceptor;
pub(crate) mod body;
pub(crate) mod metrics;
pub mod supervisor;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pyo3::Python;

use crate::error::Error;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::wsgi::environ::ServerFacts;
use crate::wsgi::App;
use worker::Dispatch;

/// Environment variable that makes a server process bind with
/// SO_REUSEPORT; the supervisor sets it for the processes it starts.
pub const REUSE_PORT_ENV: &str = "TANDEM_REUSE_PORT";

/// How to serve: address, workers and limits.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port; `None` takes the script's `serve({port})`, then `$PORT`, then 3000.
    pub port: Option<u16>,
    /// Interface; `None` takes the script's `serve({hostname})`, then 127.0.0.1.
    pub host: Option<String>,
    /// Isolate threads in this process.
    pub workers: usize,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: u64,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a handler has to produce a response head (503 after it).
    pub handler_timeout: Duration,
    /// Time in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_timeout: Duration,
    /// Path answered with Prometheus metrics by the server itself (`None`: off).
    pub metrics_path: Option<String>,
    /// Path answered `{"status":"ok"}` by the server itself (`None`: off).
    pub health_path: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            port: None,
            host: None,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            handler_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            metrics_path: Some("/metrics".into()),
            health_path: Some("/health".into()),
        }
    }
}

/// The port when neither the command line nor the script names one.
pub const DEFAULT_PORT: u16 = 3000;

/// The port of `tandem run --wsgi` when neither the command line nor
/// `$PORT` names one (Flask's).
pub const DEFAULT_WSGI_PORT: u16 = 5000;

/// Where to listen: the command line's choice, then the script's
/// `serve()` options, then `$PORT` and `default_port`.
fn listen_address(
    options: &ServerOptions,
    request: &crate::ext::http::ServeRequest,
    default_port: u16,
) -> Result<SocketAddr, Error> {
    let port = match options.port.or(request.port) {
        Some(port) => port,
        None => match std::env::var("PORT") {
            Ok(value) => value.parse().map_err(|_| {
                Error::Server(format!("$PORT is {value:?}, not a port number: set it to 0-65535 or pass --port"))
            })?,
            Err(_) => default_port,
        },
    };
    let host = options.host.clone().or_else(|| request.hostname.clone()).unwrap_or_else(|| "127.0.0.1".into());
    let ip = if host == "localhost" { "127.0.0.1".to_string() } else { host.trim_matches(['[', ']']).to_string() };
    let ip = ip
        .parse()
        .map_err(|_| Error::Server(format!("--host {host:?} is not an IP address (use e.g. 127.0.0.1, 0.0.0.0 or ::)")))?;
    Ok(SocketAddr::new(ip, port))
}

/// Runs `main` as a program. If it serves HTTP (a default export with
/// `fetch`, or a `serve()` call), starts the server with `options.workers`
/// isolates, each built from `make_options()` and loading `main`, and
/// returns after a graceful shutdown; otherwise runs its event loop to the
/// end.
pub fn run_program<F>(main: &Path, make_options: F, options: ServerOptions) -> Result<(), Error>
where
    F: Fn() -> RuntimeOptions + Send + Sync + 'static,
{
    let mut runtime = Runtime::new(make_options())?;
    let module = runtime.load_module(main)?;
    let Some(request) = runtime.take_serve_request(&module)? else {
        return runtime.run_event_loop();
    };
    let (listener, address) = listen(&options, &request, DEFAULT_PORT)?;

    let config = Arc::new(options);
    let make_options = Arc::new(make_options);
    let mut slots = Vec::new();
    let mut threads = Vec::new();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for index in 1..config.workers.max(1) {
        let (slot, handle) = worker::spawn(
            index,
            main.to_path_buf(),
            make_options.clone(),
            config.clone(),
            shutdown_rx.clone(),
            ready_tx.clone(),
        )?;
        slots.push(slot);
        threads.push(handle);
    }
    drop(ready_tx);
    for result in ready_rx {
        result?;
    }
    let (slot0, connections0) = worker::Slot::new();
    slots.insert(0, slot0);
    acceptor::start(listener, slots, shutdown_tx)?;
    announce(address);
    worker::serve(&mut runtime, connections0, shutdown_rx, config)?;
    join(threads)
}

/// Serves the WSGI app named by `spec` (`app.py`, `app.py:name` or
/// `package.module:name`) until SIGINT/SIGTERM: `tandem run --wsgi`.
/// `python_path` goes on `sys.path` first; `threads` Python threads run
/// the app (see [`crate::wsgi`]).
pub fn run_wsgi(spec: &str, python_path: &[PathBuf], threads: usize, options: ServerOptions) -> Result<(), Error> {
    crate::python::initialize()?;
    crate::wsgi::configure_threads(threads);
    let callable = Python::attach(|py| {
        for dir in python_path.iter().rev() {
            crate::python::add_sys_path(py, dir).map_err(Error::python_setup)?;
        }
        crate::wsgi::load(py, spec)
    })?;
    let (listener, address) = listen(&options, &Default::default(), DEFAULT_WSGI_PORT)?;
    let facts = server_facts();
    let app = Arc::new(Python::attach(|py| App::new(py, callable, &facts))?);
    let config = Arc::new(options);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut slots = Vec::new();
    let mut threads = Vec::new();
    let dispatch =
        |app: &Arc<App>, config: &Arc<ServerOptions>| WsgiRoot { app: app.clone(), config: config.clone(), root: Arc::from("") };
    for index in 1..config.workers.max(1) {
        let root = dispatch(&app, &config);
        let (slot, handle) = worker::spawn_plain(index, move || root, config.clone(), shutdown_rx.clone())?;
        slots.push(slot);
        threads.push(handle);
    }
    let (slot0, connections0) = worker::Slot::new();
    slots.insert(0, slot0);
    acceptor::start(listener, slots, shutdown_tx)?;
    announce(address);
    worker::serve_plain(dispatch(&app, &config), connections0, shutdown_rx, config.clone())?;
    join(threads)
}

/// A WSGI app served at the root of the server.
struct WsgiRoot {
    app: Arc<App>,
    config: Arc<ServerOptions>,
    /// SCRIPT_NAME: empty at the root.
    root: Arc<str>,
}

impl Dispatch for WsgiRoot {
    async fn dispatch(
        &self,
        request: http::Request<hyper::body::Incoming>,
        remote: SocketAddr,
    ) -> (Option<String>, http::Response<body::Body>) {
        let config = &self.config;
        let response =
            self.app.serve(request, remote, self.root.clone(), config.max_body_bytes, config.handler_timeout).await;
        (None, response)
    }
}

/// Binds the listening socket (with SO_REUSEPORT under the supervisor).
fn listen(
    options: &ServerOptions,
    request: &crate::ext::http::ServeRequest,
    default_port: u16,
) -> Result<(std::net::TcpListener, SocketAddr), Error> {
    let address = listen_address(options, request, default_port)?;
    let reuse_port = std::env::var_os(REUSE_PORT_ENV).is_some();
    let listener = acceptor::bind(address, reuse_port)
        .map_err(|e| Error::Server(format!("cannot listen on {address}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::Server(e.to_string()))?;
    let _ = LISTENING.set(address);
    Ok((listener, address))
}

/// The address this process's server listens on, once it does.
static LISTENING: OnceLock<SocketAddr> = OnceLock::new();

/// What WSGI apps report as SERVER_NAME/PORT: the bound address, or
/// localhost:80 for an app called before (or without) a server.
pub(crate) fn server_facts() -> ServerFacts {
    let address = LISTENING.get();
    ServerFacts {
        host: address.map_or_else(|| "localhost".into(), |a| a.ip().to_string()),
        port: address.map_or(80, SocketAddr::port),
        multiprocess: std::env::var_os(REUSE_PORT_ENV).is_some(),
    }
}

/// Prints the line tests and scripts wait for.
fn announce(address: SocketAddr) {
    use std::io::Write;
    println!("Listening on http://{}/", display_address(address));
    let _ = std::io::stdout().flush();
}

fn join(threads: Vec<std::thread::JoinHandle<Result<(), Error>>>) -> Result<(), Error> {
    for thread in threads {
        match thread.join() {
            Ok(result) => result?,
            Err(_) => return Err(Error::Server("a worker thread panicked".into())),
        }
    }
    Ok(())
}

fn display_address(address: SocketAddr) -> String {
    match address {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        SocketAddr::V4(v4) => v4.to_string(),
    }
}
