//! Serving Python WSGI applications (PEP 3333): `tandem run --wsgi app.py`,
//! and WSGI apps mounted under a path of a TypeScript router.
//!
//! The HTTP side (hyper, on the server's worker threads) never runs Python:
//! it reads small bodies, queues a [`response::Call`] for the process's
//! [`pool`] of Python threads and awaits the response head. A pool thread
//! builds the environ ([`environ`]), calls the app, and sends the body back
//! as the app produces it ([`response`]); large request bodies reach the app
//! as a stream ([`input`]).

pub(crate) mod environ;
pub(crate) mod input;
pub(crate) mod pool;
pub(crate) mod response;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::server::body::Body;
use crate::server::worker::{error_response, receive_body, Arrival};
use environ::{ServerFacts, Template};
use input::Source;
use pool::Pool;

/// Python threads in the pool when nothing else is configured.
pub const DEFAULT_THREADS: usize = 8;

static POOL: OnceLock<Pool> = OnceLock::new();
static THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_THREADS);

/// Sets the size of the process's WSGI thread pool, which starts when the
/// first app is set up; later calls change nothing.
pub fn configure_threads(threads: usize) {
    THREADS.store(threads.max(1), Ordering::Relaxed);
}

fn pool() -> Result<&'static Pool, Error> {
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let pool = Pool::new(THREADS.load(Ordering::Relaxed))?;
    // Two apps set up at once: one pool wins, the other's threads end.
    let _ = POOL.set(pool);
    POOL.get().ok_or_else(|| Error::Internal("the WSGI thread pool did not start".into()))
}

/// A WSGI callable ready to serve.
pub(crate) struct App {
    callable: Py<PyAny>,
    template: Template,
    pool: &'static Pool,
}

impl App {
    pub(crate) fn new(py: Python<'_>, callable: Py<PyAny>, facts: &ServerFacts) -> Result<App, Error> {
        if !callable.bind(py).is_callable() {
            return Err(Error::Server(format!(
                "the WSGI application must be callable as app(environ, start_response), but it is {}",
                callable.bind(py).repr().map_or_else(|_| "?".into(), |r| r.to_string())
            )));
        }
        let template = Template::new(py, facts).map_err(|e| Error::Server(format!("cannot set up WSGI: {e}")))?;
        Ok(App { callable, template, pool: pool()? })
    }

    /// Queues the request for a pool thread; the receiver gets the response
    /// once its head is known.
    pub(crate) fn submit(
        self: &Arc<Self>,
        parts: http::request::Parts,
        body: Source,
        remote: SocketAddr,
        script_name: Arc<str>,
        too_large: Arc<AtomicBool>,
        limit: u64,
    ) -> oneshot::Receiver<Response<Body>> {
        let (reply, receiver) = oneshot::channel();
        let call = response::Call { parts, body, remote, script_name, too_large, limit, reply };
        let app = self.clone();
        self.pool.submit(Box::new(move |py| response::run(py, &app, call)));
        receiver
    }

    /// Serves one request from hyper: reads a small body whole, streams a
    /// large one, and waits for the response head up to `timeout`.
    pub(crate) async fn serve(
        self: &Arc<Self>,
        request: Request<Incoming>,
        remote: SocketAddr,
        script_name: Arc<str>,
        limit: u64,
        timeout: std::time::Duration,
    ) -> Response<Body> {
        let (parts, incoming) = request.into_parts();
        let too_large = Arc::new(AtomicBool::new(false));
        let body = match receive_body(&parts.headers, incoming, limit).await {
            Ok(Arrival::Empty) => Source::None,
            Ok(Arrival::Whole(bytes)) => Source::Whole(bytes),
            Ok(Arrival::Stream(incoming)) => input::stream(incoming, limit, too_large.clone()),
            Err(response) => return response,
        };
        let receiver = self.submit(parts, body, remote, script_name, too_large, limit);
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "the WSGI call ended without a response"),
            Err(_) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the WSGI application did not answer within {} s (see --handler-timeout)", timeout.as_secs_f64()),
            ),
        }
    }
}

/// Imports the WSGI callable named by `spec`: `app.py` (its `app`),
/// `app.py:name`, or `package.module:name` (importable from `sys.path`).
pub(crate) fn load(py: Python<'_>, spec: &str) -> Result<Py<PyAny>, Error> {
    let (target, name) = match spec.rsplit_once(':') {
        Some((target, name)) if !name.is_empty() && !name.contains('/') => (target, name),
        _ => (spec, "app"),
    };
    let fail = |what: String, err: &PyErr| {
        Error::Server(format!("{what}:\n{}", crate::python::format_traceback(py, err).trim_end()))
    };
    let module = if target.ends_with(".py") || Path::new(target).is_file() {
        let path = std::path::absolute(target).map_err(|e| Error::Server(format!("bad path {target:?}: {e}")))?;
        if !path.is_file() {
            return Err(Error::Server(format!("WSGI module not found: '{target}' (check the path)")));
        }
        crate::python::import_file(py, &path).map_err(|e| fail(format!("cannot import the WSGI module '{target}'"), &e))?
    } else {
        crate::python::import_package(py, target).map_err(|e| fail(format!("cannot import the WSGI module '{target}'"), &e))?
    };
    let mut object = module.into_any();
    for part in name.split('.') {
        object = object.getattr(part).map_err(|_| {
            Error::Server(format!(
                "the WSGI module '{target}' has no '{name}' (name the callable: --wsgi {target}:NAME)"
            ))
        })?;
    }
    Ok(object.unbind())
}
