//! Serving a Python WSGI app at the root of the server (`tandem run
//! --wsgi app.py`): worker threads run hyper only, and their dispatch
//! queues each request for the process's pool of Python threads
//! (crate::wsgi).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use pyo3::Python;

use super::{server_facts, DEFAULT_WSGI_PORT};
use crate::error::Error;
use crate::exchange::answer::{self, Deadline};
use crate::exchange::body::Body;
use crate::exchange::request_body::{self, BodyLimit};
use crate::server::{self, Dispatch, Listener, Requested, ServerOptions, Worker};
use crate::wsgi::input::Source;
use crate::wsgi::App;

/// Serves the WSGI app named by `spec` (`app.py`, `app.py:name` or
/// `package.module:name`) until SIGINT/SIGTERM. `python_path` goes on
/// `sys.path` first; `options.wsgi_threads` Python threads run the app.
pub fn run_wsgi(spec: &str, python_path: &[PathBuf], options: ServerOptions) -> Result<(), Error> {
    crate::python::initialize()?;
    let callable = Python::attach(|py| {
        for dir in python_path.iter().rev() {
            crate::python::add_sys_path(py, dir).map_err(Error::python_setup)?;
        }
        crate::wsgi::load(py, spec)
    })?;
    let listener = Listener::bind(&options, &Requested::default(), DEFAULT_WSGI_PORT)?;
    let facts = server_facts(listener.address(), &options);
    let app = Arc::new(Python::attach(|py| App::new(py, callable, &facts, options.wsgi_threads))?);
    let options = Arc::new(options);
    let root = WsgiRoot { app, options: options.clone(), script_name: Arc::from(""), requests: Arc::default() };
    let make = {
        let root = root.clone();
        move |_index: usize| Ok(root.clone())
    };
    server::serve(listener, root, make, options)
}

/// The app at the root: every worker thread's worker and dispatch.
#[derive(Clone)]
struct WsgiRoot {
    app: Arc<App>,
    options: Arc<ServerOptions>,
    /// SCRIPT_NAME: empty at the root.
    script_name: Arc<str>,
    /// Requests dispatched so far, by every worker: the ids the server's
    /// own error answers name.
    requests: Arc<AtomicU64>,
}

impl Worker for WsgiRoot {
    type Dispatch = WsgiRoot;

    fn dispatch(&self) -> WsgiRoot {
        self.clone()
    }

    fn run(self, connections: impl std::future::Future<Output = ()>) -> Result<(), Error> {
        super::run_connections(connections)
    }
}

impl Dispatch for WsgiRoot {
    /// Queues the request for a Python thread and awaits the response
    /// head, under the body limit and the handler deadline.
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>) {
        let (parts, incoming) = request.into_parts();
        let limit = BodyLimit::new(self.options.max_body_bytes);
        let body = match request_body::receive(&parts.headers, incoming, &limit).await {
            Ok(arrival) => Source::from_arrival(arrival),
            Err(response) => return (None, response),
        };
        let request = crate::wsgi::Request { parts, body, remote, script_name: self.script_name.clone(), limit };
        let replied = self.app.submit(request).response();
        let id = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        match answer::within(Deadline::after(self.options.handler_timeout), replied, id).await {
            Ok(response) | Err(response) => (None, response),
        }
    }
}
