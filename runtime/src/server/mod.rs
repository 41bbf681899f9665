//! The HTTP server core: hyper 1.x on tokio, an acceptor thread and
//! worker threads, graceful shutdown. It knows nothing of JavaScript or
//! Python: each kind of app (crate::apps) hands [`serve`] a [`Worker`] for
//! every worker thread, and the worker's [`Dispatch`] answers requests.
//!
//! How a request travels: the acceptor thread ([`acceptor`]) takes
//! connections and hands each to the worker thread with the fewest open
//! ones; that thread serves it with hyper ([`connection`]), answers the
//! health and metrics paths itself, and passes every other request to the
//! app's dispatch.

pub(crate) mod acceptor;
pub(crate) mod connection;
mod live;
mod tally;

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::Error;
use connection::{Connections, Slot};
pub use acceptor::{listen, Binder};
pub(crate) use connection::Dispatch;
pub use tally::Tally;

/// How to serve: address, workers and limits.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port; `None` takes the script's `serve({port})`, then `$PORT`, then
    /// the app kind's default (3000, or 5000 for WSGI).
    pub port: Option<u16>,
    /// Interface; `None` takes the script's `serve({hostname})`, then 127.0.0.1.
    pub host: Option<String>,
    /// Worker threads in this process (each with its own isolate when the
    /// app is a script).
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
    /// Readiness path (`None`: off): 200 `{"status":"ready"}` when the
    /// app's own check (`ready` in `serve()`'s options) passes or it has
    /// none, 503 with the reason when it fails and from the shutdown
    /// signal on.
    pub ready_path: Option<String>,
    /// Python threads that run WSGI requests (for `--wsgi`, and for apps a
    /// script mounts with `wsgi()`).
    pub wsgi_threads: usize,
    /// Bind with SO_REUSEPORT, so that several server processes share the
    /// port (the kernel spreads connections between them).
    pub reuse_port: bool,
    /// Most connections open at once in this process. At the limit, new
    /// ones wait in the kernel's accept queue while the workers close the
    /// connections idle the longest (an idle keep-alive connection also
    /// closes by itself after `header_timeout`).
    pub max_connections: usize,
    /// Where to count this process's connections and requests, for
    /// another process to read (the binary's supervisor maps it in shared
    /// memory); the server also marks it ready once it accepts.
    pub tally: Option<&'static Tally>,
    /// Makes the listening socket for the address the options and the app
    /// resolve to, instead of binding it here (`None`: [`listen`]). The
    /// binary's supervisor uses it to share one socket between processes.
    pub binder: Option<Binder>,
    /// Reload the app when a source file (.ts, .js, .json, .py...) under
    /// this folder changes (`tandem run --watch`): new requests go to the
    /// new code, requests in flight finish on the old, and Python modules
    /// that did not change stay loaded. `None`: no watching. Script apps
    /// only.
    pub watch: Option<std::path::PathBuf>,
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
            ready_path: Some("/ready".into()),
            wsgi_threads: crate::wsgi::DEFAULT_THREADS,
            reuse_port: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            tally: None,
            binder: None,
            watch: None,
        }
    }
}

/// `ServerOptions::max_connections` unless set: what a process may hold
/// under the usual limit of open files once raised (Linux's hard limit is
/// often 2^20, Docker's 1,048,576; the soft one 1024).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// When SIGINT/SIGTERM came (`None` while serving): what the acceptor tells
/// the workers, who drain until that time plus the shutdown timeout.
pub(crate) type Signalled = Option<std::time::Instant>;

/// Cuts short what a worker's thread is running, from another thread: how
/// a shutdown ends on time when a runaway handler holds a worker's thread.
pub(crate) type Stopper = Arc<dyn Fn() + Send + Sync>;

/// What a kind of app runs on one worker thread. It is made on that
/// thread and stays there, so it may hold `!Send` state (an isolate).
pub(crate) trait Worker: 'static {
    type Dispatch: Dispatch;

    /// The dispatch this worker's connections send their requests to.
    fn dispatch(&self) -> Self::Dispatch;

    /// How to cut short what this worker's thread runs, if the thread can
    /// be held by app code that never yields (a script's handlers).
    fn stopper(&self) -> Option<Stopper> {
        None
    }

    /// Runs `connections` (the server's loop over this worker's
    /// connections, which ends after shutdown) to its end, beside whatever
    /// else the worker must drive, such as its isolate's event loop.
    fn run(self, connections: impl Future<Output = ()>) -> Result<(), Error>;
}

/// A bound listening socket.
pub(crate) struct Listener {
    socket: std::net::TcpListener,
    address: SocketAddr,
}

/// Where the app itself asked to listen (a script's `serve()` options).
#[derive(Debug, Default, Clone)]
pub(crate) struct Requested {
    pub(crate) port: Option<u16>,
    pub(crate) host: Option<String>,
}

impl Listener {
    /// Binds where the options say, then where the app asked, then `$PORT`
    /// and `default_port` on 127.0.0.1.
    pub(crate) fn bind(options: &ServerOptions, requested: &Requested, default_port: u16) -> Result<Listener, Error> {
        let address = listen_address(options, requested, default_port)?;
        let socket = match &options.binder {
            Some(binder) => binder.bind(address),
            None => listen(address, options.reuse_port),
        };
        let socket = socket.map_err(|source| Error::Bind { addr: address, source })?;
        // A socket made elsewhere may be blocking; tokio needs it not to be.
        socket.set_nonblocking(true)?;
        let address = socket.local_addr()?;
        Ok(Listener { socket, address })
    }

    /// The bound address (with the port the system chose for port 0).
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }
}

fn listen_address(options: &ServerOptions, requested: &Requested, default_port: u16) -> Result<SocketAddr, Error> {
    let port = match options.port.or(requested.port) {
        Some(port) => port,
        None => match std::env::var("PORT") {
            Ok(value) => value.parse().map_err(|_| {
                Error::Config(format!("$PORT is {value:?}, not a port number: set it to 0-65535 or pass --port"))
            })?,
            Err(_) => default_port,
        },
    };
    let host = options.host.clone().or_else(|| requested.host.clone()).unwrap_or_else(|| "127.0.0.1".into());
    let ip = if host == "localhost" { "127.0.0.1".to_string() } else { host.trim_matches(['[', ']']).to_string() };
    let ip = ip
        .parse()
        .map_err(|_| Error::Config(format!("--host {host:?} is not an IP address (use e.g. 127.0.0.1, 0.0.0.0 or ::)")))?;
    Ok(SocketAddr::new(ip, port))
}

/// Serves on `listener` until SIGINT/SIGTERM and a graceful shutdown:
/// starts worker threads 1.. (each runs the worker `make(index)` builds
/// there), waits until every one is ready, starts the acceptor, announces
/// the address, and runs `first` as worker 0 on this thread.
pub(crate) fn serve<W, M>(listener: Listener, first: W, make: M, options: Arc<ServerOptions>) -> Result<(), Error>
where
    W: Worker,
    M: Fn(usize) -> Result<W, Error> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let (shutdown_tx, shutdown_rx) = watch::channel(None);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let closed = Arc::new(tokio::sync::Notify::new());
    let mut slots = Vec::new();
    let mut threads = Vec::new();
    for index in 1..options.workers.max(1) {
        let (slot, connections) = Slot::new(closed.clone());
        let (make, options, shutdown, ready) = (make.clone(), options.clone(), shutdown_rx.clone(), ready_tx.clone());
        let thread = std::thread::Builder::new()
            .name(format!("tandem-worker-{index}"))
            .spawn(move || {
                let worker = match make(index) {
                    Ok(worker) => worker,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return Ok(());
                    }
                };
                let _ = ready.send(Ok(worker.stopper()));
                drop(ready);
                run_worker(worker, connections, shutdown, options)
            })
            .map_err(|source| Error::Spawn { what: "a worker thread", source })?;
        slots.push(slot);
        threads.push(thread);
    }
    drop(ready_tx);
    let mut stoppers: Vec<Stopper> = first.stopper().into_iter().collect();
    for result in ready_rx {
        stoppers.extend(result?);
    }
    let (slot, connections) = Slot::new(closed.clone());
    slots.insert(0, slot);
    let address = listener.address;
    let ending = acceptor::Ending { shutdown: shutdown_tx, timeout: options.shutdown_timeout, stoppers };
    let limit = acceptor::Limit { max: options.max_connections.max(1), closed };
    acceptor::start(listener.socket, slots, limit, ending)?;
    announce(address);
    if let Some(tally) = options.tally {
        tally.set_ready();
    }
    run_worker(first, connections, shutdown_rx, options)?;
    join(threads)
}

fn run_worker<W: Worker>(
    worker: W,
    connections: Connections,
    shutdown: watch::Receiver<Signalled>,
    options: Arc<ServerOptions>,
) -> Result<(), Error> {
    let dispatch = Rc::new(worker.dispatch());
    worker.run(connection::accept(connections, shutdown, dispatch, options))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_over_the_script_and_localhost_is_loopback() {
        let options = ServerOptions { port: Some(8080), host: Some("localhost".into()), ..Default::default() };
        let requested = Requested { port: Some(9000), host: Some("0.0.0.0".into()) };
        assert_eq!(listen_address(&options, &requested, 3000).unwrap(), "127.0.0.1:8080".parse().unwrap());
        let script = listen_address(&ServerOptions::default(), &requested, 3000).unwrap();
        assert_eq!(script, "0.0.0.0:9000".parse().unwrap());
    }

    #[test]
    fn a_host_that_is_no_address_is_a_config_error_naming_it() {
        let options = ServerOptions { port: Some(1), host: Some("example.org".into()), ..Default::default() };
        let err = listen_address(&options, &Requested::default(), 3000).unwrap_err();
        assert!(matches!(&err, Error::Config(m) if m.contains("\"example.org\"")), "{err}");
    }
}
