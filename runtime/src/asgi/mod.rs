//! Serving Python ASGI 3 applications (FastAPI, Starlette):
//! `tandem run --asgi app.py`.
//!
//! hyper runs on the server's worker threads; the app runs on the
//! process's one asyncio loop (runtime/pylib/tandem/_asgi.py). For each
//! request the worker builds the HTTP scope, hands the app a [`Sink`] for
//! what it sends, feeds the request body to its `receive` as chunks arrive,
//! and awaits the response head under the handler deadline; the body then
//! flows from the sink's channel to hyper, a full channel holding the app
//! back (a slow client slows the app, not memory).

use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::exchange::answer::{self, Deadline};
use crate::exchange::body::Body;
use crate::wsgi::input::Source;
use crate::wsgi::ServerFacts;

/// Chunks of a response body held between the app and the client.
const BODY_CHUNKS_IN_FLIGHT: usize = 16;

/// An ASGI app ready to serve, with its lifespan state.
pub(crate) struct App {
    callable: Py<PyAny>,
    start: Py<PyAny>,
    lifespan: Py<PyAny>,
    facts: ServerFacts,
}

/// The status and headers of `http.response.start`.
struct Head {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Where an app's `send` puts the response: the head once, then body
/// chunks. Made by the server for one request; Python holds it.
#[pyclass(module = "tandem", name = "AsgiSink")]
pub(crate) struct Sink {
    head: Mutex<Option<oneshot::Sender<Result<Head, String>>>>,
    body: Mutex<Option<mpsc::Sender<Result<Bytes, std::io::Error>>>>,
}

#[pymethods]
impl Sink {
    /// `http.response.start`: refuses a status or header hyper could not
    /// send (so a header with a line break cannot split the response).
    fn start(&self, status: u16, headers: &Bound<'_, PyAny>) -> PyResult<()> {
        let status = StatusCode::from_u16(status)
            .map_err(|_| PyValueError::new_err(format!("ASGI: {status} is not an HTTP status (100-999)")))?;
        let mut parsed = Vec::new();
        for pair in headers.try_iter()? {
            let pair = pair?;
            let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract().map_err(|_| {
                PyValueError::new_err("ASGI: each response header must be a [name, value] pair of bytes")
            })?;
            let name = header_bytes(&name)?;
            let value = header_bytes(&value)?;
            let name = HeaderName::from_bytes(&name).map_err(|_| {
                PyValueError::new_err(format!("ASGI: {:?} is not a valid header name", String::from_utf8_lossy(&name)))
            })?;
            let value = HeaderValue::from_bytes(&value).map_err(|_| {
                PyValueError::new_err(format!(
                    "ASGI: the value of header {name} is not valid (control characters or a line break): {:?}",
                    String::from_utf8_lossy(&value)
                ))
            })?;
            parsed.push((name, value));
        }
        let sender = self.head.lock().expect("sink lock").take();
        if let Some(sender) = sender {
            let _ = sender.send(Ok(Head { status, headers: parsed }));
        }
        Ok(())
    }

    /// `http.response.body`: 0 sent, 1 the channel is full (try again),
    /// 2 the client is gone.
    fn body(&self, chunk: &[u8], more: bool) -> u8 {
        let mut guard = self.body.lock().expect("sink lock");
        let Some(sender) = guard.as_ref() else { return 2 };
        if !chunk.is_empty() {
            match sender.try_send(Ok(Bytes::copy_from_slice(chunk))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => return 1,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    guard.take();
                    return 2;
                }
            }
        }
        if !more {
            guard.take();
        }
        0
    }

    /// The app failed: before its head, the request gets a 500 and
    /// `message` is logged; after it, the connection is cut (the client
    /// must not take a truncated body for a whole one).
    fn fail(&self, message: String) {
        if let Some(sender) = self.head.lock().expect("sink lock").take() {
            let _ = sender.send(Err(message));
            return;
        }
        match self.body.lock().expect("sink lock").take() {
            Some(sender) => {
                eprintln!("error: the ASGI app failed while sending a response body:\n{}", message.trim_end());
                let _ = sender.try_send(Err(std::io::Error::other("the ASGI app failed")));
            }
            // Starlette answers 500 itself, then raises again.
            None => eprintln!("error: the ASGI app raised after its response was sent:\n{}", message.trim_end()),
        }
    }
}

fn header_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    // Starlette sends bytes; a str is accepted as Latin-1, as servers do.
    let text: String = value
        .extract()
        .map_err(|_| PyValueError::new_err("ASGI: header names and values must be bytes"))?;
    Ok(text.chars().map(|c| c as u32).map(|c| u8::try_from(c).unwrap_or(b'?')).collect())
}

impl App {
    /// Loads the app named by `spec` (its lifespan not started yet).
    pub(crate) fn load(py: Python<'_>, spec: &str, facts: ServerFacts) -> Result<App, Error> {
        let callable = crate::python::load_app(py, spec, "ASGI", "--asgi").map_err(Error::AsgiApp)?;
        App::new(py, callable, facts)
    }

    /// `callable`, an ASGI 3 app (its lifespan not started yet).
    pub(crate) fn new(py: Python<'_>, callable: Py<PyAny>, facts: ServerFacts) -> Result<App, Error> {
        let module = py.import("tandem._asgi").map_err(Error::python_setup)?;
        let start = module.getattr("start").map_err(Error::python_setup)?.unbind();
        let lifespan = module
            .getattr("Lifespan")
            .and_then(|class| class.call1((callable.bind(py),)))
            .map_err(Error::python_setup)?
            .unbind();
        Ok(App { callable, start, lifespan, facts })
    }

    /// The lifespan protocol's startup (blocks until the app is ready);
    /// an app that does not speak it is reported and served anyway.
    pub(crate) fn startup(&self, timeout: std::time::Duration) -> Result<(), Error> {
        let outcome = Python::attach(|py| {
            self.lifespan.call_method1(py, "startup", (timeout.as_secs_f64(),))?.extract::<String>(py)
        });
        match outcome {
            Ok(state) if state == "unsupported" => {
                eprintln!("tandem --asgi: the app does not run the ASGI lifespan protocol; serving without it");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(err) => Err(Error::AsgiApp(Python::attach(|py| {
                format!("the ASGI app did not start:\n{}", crate::python::format_traceback(py, &err).trim_end())
            }))),
        }
    }

    /// The lifespan protocol's shutdown, after the server has drained.
    pub(crate) fn shutdown(&self, timeout: std::time::Duration) {
        let outcome = Python::attach(|py| self.lifespan.call_method1(py, "shutdown", (timeout.as_secs_f64(),)).map(drop));
        if let Err(err) = outcome {
            let text = Python::attach(|py| crate::python::format_traceback(py, &err));
            eprintln!("error: the ASGI app's shutdown failed:\n{}", text.trim_end());
        }
    }

    /// Answers one request: the scope with `root_path` (a mount's prefix,
    /// "" at the root; `path` keeps it, as Starlette expects), the body fed as it arrives, the head awaited until
    /// `deadline`, and the body streamed from the app.
    pub(crate) async fn respond(
        &self,
        parts: http::request::Parts,
        body: Source,
        remote: SocketAddr,
        root_path: &str,
        deadline: Deadline,
        id: u64,
    ) -> Response<Body> {
        let (head_tx, head_rx) = oneshot::channel();
        let (body_tx, body_rx) = mpsc::channel(BODY_CHUNKS_IN_FLIGHT);
        let sink = Sink { head: Mutex::new(Some(head_tx)), body: Mutex::new(Some(body_tx)) };
        let started = Python::attach(|py| -> PyResult<(Py<PyAny>, Py<PyAny>)> {
            let scope = self.scope(py, &parts, remote, root_path)?;
            let sink = Py::new(py, sink)?;
            let whole = match &body {
                Source::None => Some(PyBytes::new(py, b"")),
                Source::Whole(bytes) => Some(PyBytes::new(py, bytes)),
                Source::Chunks(_) => None,
            };
            self.start.call1(py, (&self.callable, scope, sink, whole))?.extract(py)
        });
        let (exchange, future) = match started {
            Ok(started) => started,
            Err(err) => return failed(id, Python::attach(|py| crate::python::format_traceback(py, &err))),
        };
        let cancel_on_drop = CancelOnDrop(Some(future));
        feed_body(exchange, body);
        match answer::within(deadline, head_rx, id).await {
            Ok(Ok(head)) => {
                cancel_on_drop.disarm();
                let mut response = Response::new(Body::fallible(body_rx));
                *response.status_mut() = head.status;
                let headers = response.headers_mut();
                for (name, value) in head.headers {
                    headers.append(name, value);
                }
                response
            }
            Ok(Err(message)) => failed(id, message),
            // Past the deadline the app's task is cancelled (CancelOnDrop).
            Err(response) => response,
        }
    }

    fn scope<'py>(
        &self,
        py: Python<'py>,
        parts: &http::request::Parts,
        remote: SocketAddr,
        root_path: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let scope = PyDict::new(py);
        scope.set_item("type", "http")?;
        let asgi = PyDict::new(py);
        asgi.set_item("version", "3.0")?;
        asgi.set_item("spec_version", "2.3")?;
        scope.set_item("asgi", asgi)?;
        let version = match parts.version {
            http::Version::HTTP_10 => "1.0",
            http::Version::HTTP_2 => "2",
            _ => "1.1",
        };
        scope.set_item("http_version", version)?;
        scope.set_item("method", parts.method.as_str())?;
        scope.set_item("scheme", "http")?;
        let raw_path = parts.uri.path();
        // `path` is the whole path, the mount's prefix included, and
        // `root_path` the prefix: Starlette routes on the difference.
        let path = percent_encoding::percent_decode(raw_path.as_bytes()).decode_utf8_lossy();
        scope.set_item("path", path.as_ref())?;
        scope.set_item("raw_path", PyBytes::new(py, raw_path.as_bytes()))?;
        scope.set_item("query_string", PyBytes::new(py, parts.uri.query().unwrap_or("").as_bytes()))?;
        scope.set_item("root_path", root_path)?;
        let headers = PyList::empty(py);
        for (name, value) in &parts.headers {
            headers.append(PyTuple::new(py, [PyBytes::new(py, name.as_str().as_bytes()), PyBytes::new(py, value.as_bytes())])?)?;
        }
        scope.set_item("headers", headers)?;
        scope.set_item("client", (remote.ip().to_string(), remote.port()))?;
        scope.set_item("server", (self.facts.host.as_str(), self.facts.port))?;
        // Each request gets a shallow copy of what lifespan startup stored.
        let state = self.lifespan.getattr(py, "state")?;
        scope.set_item("state", state.call_method0(py, "copy")?)?;
        Ok(scope)
    }
}

/// Cancels an app's task (CancelledError in it, its `finally` blocks run)
/// unless its head arrived first: past the deadline, or when the request
/// is dropped (a mounted app's request aborted).
struct CancelOnDrop(Option<Py<PyAny>>);

impl CancelOnDrop {
    fn disarm(mut self) {
        if let Some(future) = self.0.take() {
            Python::attach(|_| drop(future));
        }
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(future) = self.0.take() {
            Python::attach(|py| {
                let _ = future.call_method0(py, "cancel");
            });
        }
    }
}

/// A 500 for a request whose app failed before its head; the traceback
/// goes to the log, not to the client.
fn failed(id: u64, message: String) -> Response<Body> {
    eprintln!("error: request {id} failed: {}", message.trim_end());
    answer::request_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", id)
}

/// Hands a streamed request body to the app's `receive`, chunk by chunk
/// as it arrives, on a task of the worker's event loop.
fn feed_body(exchange: Py<PyAny>, body: Source) {
    match body {
        // `start` was given these already.
        Source::None | Source::Whole(_) => {}
        Source::Chunks(mut chunks) => {
            tokio::task::spawn_local(async move {
                loop {
                    match chunks.recv().await {
                        Some(Ok(chunk)) => feed(&exchange, Some((chunk, true))),
                        None => break feed(&exchange, Some((Bytes::new(), false))),
                        // Over the limit or cut short: the app sees the
                        // client gone (http.disconnect).
                        Some(Err(_)) => break feed(&exchange, None),
                    }
                }
            });
        }
    }
}

/// `exchange.feed(chunk, more)` (or `disconnect()` for `None`) on the loop.
fn feed(exchange: &Py<PyAny>, chunk: Option<(Bytes, bool)>) {
    Python::attach(|py| {
        let exchange = exchange.bind(py);
        let result = exchange.getattr("loop").and_then(|event_loop| match &chunk {
            Some((bytes, more)) => event_loop
                .call_method1("call_soon_threadsafe", (exchange.getattr("feed")?, PyBytes::new(py, bytes), *more))
                .map(drop),
            None => event_loop.call_method1("call_soon_threadsafe", (exchange.getattr("disconnect")?,)).map(drop),
        });
        if let Err(err) = result {
            eprintln!("error: cannot pass a request body to the ASGI app: {err}");
        }
    });
}
