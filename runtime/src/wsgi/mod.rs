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
use std::sync::{Arc, OnceLock};

use http::Response;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::exchange::body::Body;
use crate::exchange::request_body::{Arrival, BodyLimit};
pub(crate) use environ::ServerFacts;
use environ::Template;
use input::Source;
use pool::Pool;

/// Python threads in the pool when nothing else is configured.
pub(crate) const DEFAULT_THREADS: usize = 8;

static POOL: OnceLock<Pool> = OnceLock::new();

/// The process's pool, started with `threads` threads by the first app
/// that is set up (one pool serves every app; a later size is ignored).
fn pool(threads: usize) -> Result<&'static Pool, Error> {
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let pool = Pool::new(threads)?;
    // Two apps set up at once: one pool wins, the other's threads end.
    let _ = POOL.set(pool);
    POOL.get().ok_or_else(|| Error::Internal("the WSGI thread pool did not start".into()))
}

impl Source {
    /// The body as the pool thread reads it.
    pub(crate) fn from_arrival(arrival: Arrival) -> Source {
        match arrival {
            Arrival::Empty => Source::None,
            Arrival::Whole(bytes) => Source::Whole(bytes),
            Arrival::Stream(streamed) => input::stream(streamed),
        }
    }
}

/// A WSGI callable ready to serve.
pub(crate) struct App {
    callable: Py<PyAny>,
    template: Template,
    pool: &'static Pool,
}

/// One request for an [`App`].
pub(crate) struct Request {
    pub(crate) parts: http::request::Parts,
    pub(crate) body: Source,
    pub(crate) remote: SocketAddr,
    /// SCRIPT_NAME: the mount prefix, "" at the root.
    pub(crate) script_name: Arc<str>,
    pub(crate) limit: BodyLimit,
}

impl App {
    /// `callable`, to be run on the process's pool of Python threads
    /// (started here with `threads` threads if it is not running yet).
    pub(crate) fn new(py: Python<'_>, callable: Py<PyAny>, facts: &ServerFacts, threads: usize) -> Result<App, Error> {
        if !callable.bind(py).is_callable() {
            return Err(Error::WsgiApp(format!(
                "the WSGI application must be callable as app(environ, start_response), but it is {}",
                callable.bind(py).repr().map_or_else(|_| "?".into(), |r| r.to_string())
            )));
        }
        let template = Template::new(py, facts).map_err(|e| Error::WsgiApp(format!("cannot set up WSGI: {e}")))?;
        Ok(App { callable, template, pool: pool(threads)? })
    }

    /// Queues the request for a pool thread.
    pub(crate) fn submit(self: &Arc<Self>, request: Request) -> Submitted {
        let (reply, receiver) = oneshot::channel();
        let Request { parts, body, remote, script_name, limit } = request;
        let call = response::Call { parts, body, remote, script_name, limit, reply };
        let app = self.clone();
        let ticket = self.pool.submit(Box::new(move |py| response::run(py, &app, call)));
        Submitted { reply: receiver, ticket: Some(ticket) }
    }
}

/// A request queued for the pool, until its response head comes back.
/// Dropped before that (the deadline passed, the client went away), it
/// stops the request's Python: skipped if it has not started, interrupted
/// if it runs.
pub(crate) struct Submitted {
    reply: oneshot::Receiver<Response<Body>>,
    ticket: Option<Arc<pool::Ticket>>,
}

impl Submitted {
    /// The response, once its head is known (its body may still stream).
    pub(crate) async fn response(mut self) -> Result<Response<Body>, oneshot::error::RecvError> {
        let response = (&mut self.reply).await;
        self.ticket = None;
        response
    }
}

impl Drop for Submitted {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            ticket.stop();
        }
    }
}

/// Imports the WSGI callable named by `spec` (see [`crate::python::load_app`]).
pub(crate) fn load(py: Python<'_>, spec: &str) -> Result<Py<PyAny>, Error> {
    crate::python::load_app(py, spec, "WSGI", "--wsgi").map_err(Error::WsgiApp)
}
