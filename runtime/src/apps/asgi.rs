//! Serving a Python ASGI app at the root of the server (`tandem run
//! --asgi app.py`): worker threads run hyper only; the app runs on the
//! process's asyncio loop (crate::asgi). Lifespan startup runs before the
//! server accepts, shutdown after it has drained.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use pyo3::Python;

use super::server_facts;
use crate::asgi::App;
use crate::error::Error;
use crate::exchange::answer::Deadline;
use crate::exchange::body::Body;
use crate::exchange::request_body::{self, BodyLimit};
use crate::server::{self, Dispatch, Listener, Requested, ServerOptions, Worker};
use crate::wsgi::input::Source;

/// The port of `tandem run --asgi` when neither the command line nor
/// `$PORT` names one (uvicorn's).
const DEFAULT_ASGI_PORT: u16 = 8000;

/// Serves the ASGI app named by `spec` (`app.py`, `app.py:name` or
/// `package.module:name`) until SIGINT/SIGTERM. `python_path` goes on
/// `sys.path` first.
pub fn run_asgi(spec: &str, python_path: &[PathBuf], options: ServerOptions) -> Result<(), Error> {
    crate::python::initialize()?;
    let listener = Listener::bind(&options, &Requested::default(), DEFAULT_ASGI_PORT)?;
    let facts = server_facts(listener.address(), &options);
    let app = Python::attach(|py| {
        for dir in python_path.iter().rev() {
            crate::python::add_sys_path(py, dir).map_err(Error::python_setup)?;
        }
        App::load(py, spec, facts)
    })?;
    app.startup(options.handler_timeout)?;
    let app = Arc::new(app);
    let options = Arc::new(options);
    let root = AsgiRoot { app: app.clone(), options: options.clone(), requests: Arc::default() };
    let make = {
        let root = root.clone();
        move |_index: usize| Ok(root.clone())
    };
    let served = server::serve(listener, root, make, options.clone());
    app.shutdown(options.shutdown_timeout);
    served
}

/// The app at the root: every worker thread's worker and dispatch.
#[derive(Clone)]
struct AsgiRoot {
    app: Arc<App>,
    options: Arc<ServerOptions>,
    /// Requests dispatched so far, by every worker: the ids of log lines
    /// and the server's own error answers.
    requests: Arc<AtomicU64>,
}

impl Worker for AsgiRoot {
    type Dispatch = AsgiRoot;

    fn dispatch(&self) -> AsgiRoot {
        self.clone()
    }

    fn run(self, connections: impl std::future::Future<Output = ()>) -> Result<(), Error> {
        super::run_connections(connections)
    }
}

impl Dispatch for AsgiRoot {
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>) {
        let (parts, incoming) = request.into_parts();
        let limit = BodyLimit::new(self.options.max_body_bytes);
        let arrival = match request_body::receive(&parts.headers, incoming, &limit).await {
            Ok(arrival) => arrival,
            Err(response) => return (None, response),
        };
        let id = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let deadline = Deadline::after(self.options.handler_timeout);
        (None, self.app.respond(parts, Source::from_arrival(arrival), remote, "", deadline, id).await)
    }
}
