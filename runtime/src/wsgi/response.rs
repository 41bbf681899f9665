//! One WSGI call: `start_response`, the `write()` callable, iterating the
//! app's result and closing it, turned into the server's response.
//!
//! PEP 3333 lets an app change its status and headers (`start_response`
//! with `exc_info`) until the first non-empty body chunk, so the head goes
//! out with that chunk. Bodies the app gave as a list, or announced with a
//! Content-Length of at most [`COLLECT_UP_TO`], are sent in one piece; any
//! other body is streamed chunk by chunk (chunked encoding when the app set
//! no Content-Length), the pool thread waiting without the GIL while the
//! client is slow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

use super::input::{Input, Source};
use super::App;
use crate::exchange::answer::error_response;
use crate::exchange::body::Body;
use crate::exchange::request_body::BodyLimit;

/// Announced bodies up to this size are gathered and sent whole.
const COLLECT_UP_TO: u64 = 1 << 20;

/// Chunks of a streamed body waiting for the client.
const STREAM_BUFFER: usize = 16;

/// A request on its way to a pool thread.
pub(crate) struct Call {
    pub(crate) parts: Parts,
    pub(crate) body: Source,
    pub(crate) remote: SocketAddr,
    /// The mount prefix ("" at the root).
    pub(crate) script_name: Arc<str>,
    /// The request's body limit: once exceeded, the client gets 413.
    pub(crate) limit: BodyLimit,
    pub(crate) reply: oneshot::Sender<Response<Body>>,
}

/// Runs `app` for `call` on a pool thread and sends its response.
pub(crate) fn run(py: Python<'_>, app: &App, call: Call) {
    let Call { parts, body, remote, script_name, limit, reply } = call;
    let start = match Bound::new(py, StartResponse::new(reply)) {
        Ok(start) => start,
        Err(e) => return log_error(py, &parts, &e),
    };
    let outcome = call_app(py, app, &start, &parts, body, remote, &script_name);
    let start = start.borrow();
    if limit.exceeded() {
        start.refuse(limit.refusal());
    } else if let Err(e) = outcome {
        log_error(py, &parts, &e);
        start.fail(py);
    } else {
        start.finish();
    }
}

fn call_app(
    py: Python<'_>,
    app: &App,
    start: &Bound<'_, StartResponse>,
    parts: &Parts,
    body: Source,
    remote: SocketAddr,
    script_name: &str,
) -> PyResult<()> {
    let environ = app.template.build(py, parts, remote, script_name, Input::new(body))?;
    let result = app.callable.bind(py).call1((environ, start))?;
    let drained = drain(py, start, &result);
    // PEP 3333: close() is called however the iteration ended.
    let closed = match result.getattr(pyo3::intern!(py, "close")) {
        Ok(close) => close.call0().map(drop),
        Err(_) => Ok(()),
    };
    drained.and(closed)
}

/// Sends the body chunks of the app's iterable.
fn drain(py: Python<'_>, start: &Bound<'_, StartResponse>, result: &Bound<'_, PyAny>) -> PyResult<()> {
    let start = start.borrow();
    if result.is_exact_instance_of::<PyList>() || result.is_exact_instance_of::<PyTuple>() {
        start.state().whole = true;
    }
    for item in result.try_iter()? {
        let item = item?;
        let chunk = item.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "the WSGI application's iterable yielded {}, not bytes (encode text first, e.g. body.encode('utf-8'))",
                type_name(&item)
            ))
        })?;
        if !start.emit(py, chunk.as_bytes(), false)? {
            break; // the client went away
        }
    }
    Ok(())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
}

fn log_error(py: Python<'_>, parts: &Parts, err: &PyErr) {
    eprintln!(
        "error: the WSGI application failed on {} {}:\n{}",
        parts.method,
        parts.uri,
        crate::python::format_traceback(py, err).trim_end()
    );
}

/// The status line and headers the app gave.
struct Head {
    status: StatusCode,
    /// Sent instead of the standard reason phrase when it differs.
    reason: Option<Bytes>,
    headers: HeaderMap,
    content_length: Option<u64>,
}

impl Head {
    /// The response with this head; the headers move into it (a head that
    /// went out is not sent again).
    fn response(&mut self, body: Body) -> Response<Body> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = std::mem::take(&mut self.headers);
        if let Some(reason) = self.reason.take() {
            if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason) {
                response.extensions_mut().insert(reason);
            }
        }
        response
    }
}

/// Where the response is.
enum Output {
    /// Nothing sent yet.
    Waiting(oneshot::Sender<Response<Body>>),
    /// The head went out; body chunks follow on this channel.
    Streaming(mpsc::Sender<Result<Bytes, std::io::Error>>),
    /// Finished, or the client went away.
    Done,
}

struct State {
    head: Option<Head>,
    output: Output,
    /// Chunks held back to be sent whole.
    collected: Vec<Bytes>,
    /// The app returned a list or tuple: its body is all here already.
    whole: bool,
}

/// The `start_response` callable.
#[pyclass(module = "tandem", name = "StartResponse")]
pub(crate) struct StartResponse {
    state: Mutex<State>,
}

/// The `write()` callable `start_response` returns (PEP 3333's imperative
/// output, for apps written before iterables).
#[pyclass(module = "tandem", name = "WsgiWrite")]
pub(crate) struct Write {
    start: Py<StartResponse>,
}

impl StartResponse {
    fn new(reply: oneshot::Sender<Response<Body>>) -> Self {
        StartResponse {
            state: Mutex::new(State { head: None, output: Output::Waiting(reply), collected: Vec::new(), whole: false }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `chunk` on; `stream` forces the head out now (`write()`).
    /// False once the client is gone.
    fn emit(&self, py: Python<'_>, chunk: &[u8], stream: bool) -> PyResult<bool> {
        let mut guard = self.state();
        // A plain reference, so that the fields borrow apart.
        let state = &mut *guard;
        let Some(head) = state.head.as_mut() else {
            return Err(PyRuntimeError::new_err(
                "the WSGI application sent body data before calling start_response(status, headers)",
            ));
        };
        if chunk.is_empty() && !stream {
            return Ok(!matches!(state.output, Output::Done));
        }
        let collect = state.whole || head.content_length.is_some_and(|n| n <= COLLECT_UP_TO);
        let sender = match &state.output {
            Output::Done => return Ok(false),
            Output::Waiting(_) if collect && !stream => {
                state.collected.push(Bytes::copy_from_slice(chunk));
                return Ok(true);
            }
            Output::Waiting(_) => {
                let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
                let response = head.response(Body::fallible(receiver));
                let Output::Waiting(reply) = std::mem::replace(&mut state.output, Output::Streaming(sender.clone()))
                else {
                    unreachable!()
                };
                if reply.send(response).is_err() {
                    state.output = Output::Done;
                    return Ok(false);
                }
                let mut chunks = std::mem::take(&mut state.collected);
                chunks.push(Bytes::copy_from_slice(chunk));
                drop(guard);
                return Ok(send(py, &sender, chunks) || self.gone());
            }
            Output::Streaming(sender) => sender.clone(),
        };
        drop(guard);
        Ok(send(py, &sender, vec![Bytes::copy_from_slice(chunk)]) || self.gone())
    }

    /// Records that the client went away; returns false.
    fn gone(&self) -> bool {
        self.state().output = Output::Done;
        false
    }

    /// Ends the response after the app's iterable ran out.
    fn finish(&self) {
        let mut state = self.state();
        match std::mem::replace(&mut state.output, Output::Done) {
            Output::Waiting(reply) => {
                let collected = std::mem::take(&mut state.collected);
                let response = match state.head.as_mut() {
                    Some(head) => head.response(Body::full(concat(collected))),
                    None => {
                        eprintln!("error: the WSGI application returned without calling start_response(status, headers)");
                        internal_error()
                    }
                };
                let _ = reply.send(response);
            }
            // Dropping the sender ends the body.
            Output::Streaming(_) | Output::Done => {}
        }
    }

    /// Ends the response after the app failed (already logged): a 500 if
    /// nothing was sent, else a broken-off body.
    fn fail(&self, py: Python<'_>) {
        let output = std::mem::replace(&mut self.state().output, Output::Done);
        match output {
            Output::Waiting(reply) => {
                let _ = reply.send(internal_error());
            }
            Output::Streaming(sender) => {
                let error = std::io::Error::other("the WSGI application failed while sending its body");
                py.detach(|| {
                    let _ = sender.blocking_send(Err(error));
                });
            }
            Output::Done => {}
        }
    }

    /// Sends `response` instead of the app's, if nothing went out yet.
    fn refuse(&self, response: Response<Body>) {
        if let Output::Waiting(reply) = std::mem::replace(&mut self.state().output, Output::Done) {
            let _ = reply.send(response);
        }
    }
}

fn internal_error() -> Response<Body> {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal server error (the traceback is in the server's log)")
}

fn concat(mut chunks: Vec<Bytes>) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    chunks.concat().into()
}

/// Sends chunks to the client's connection, waiting without the GIL while
/// its buffer is full. False if the client is gone.
fn send(py: Python<'_>, sender: &mpsc::Sender<Result<Bytes, std::io::Error>>, chunks: Vec<Bytes>) -> bool {
    py.detach(|| chunks.into_iter().all(|chunk| sender.blocking_send(Ok(chunk)).is_ok()))
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        slf: &Bound<'_, Self>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        let this = slf.borrow();
        let mut state = this.state();
        let committed = !state.collected.is_empty() || !matches!(state.output, Output::Waiting(_));
        match exc_info.filter(|e| !e.is_none()) {
            // PEP 3333: too late to change the head; re-raise the app's error.
            Some(exc_info) if committed => {
                let value = exc_info.get_item(1)?;
                let value = value.call_method1("with_traceback", (exc_info.get_item(2)?,))?;
                return Err(PyErr::from_value(value));
            }
            Some(_) => {}
            None if state.head.is_some() => {
                return Err(PyRuntimeError::new_err(
                    "start_response() was already called for this request; a second call must pass exc_info (PEP 3333)",
                ))
            }
            None => {}
        }
        state.head = Some(parse_head(status, headers)?);
        Ok(Write { start: slf.clone().unbind() })
    }
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let chunk = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("write() takes bytes, not {} (encode text first)", type_name(data)))
        })?;
        if self.start.bind(py).borrow().emit(py, chunk.as_bytes(), true)? {
            Ok(())
        } else {
            Err(PyOSError::new_err("the client closed the connection"))
        }
    }
}

/// Hop-by-hop headers belong to the server's framing of the connection
/// (PEP 3333 forbids apps to send them); they are left out.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(name.as_str(), "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "te" | "trailer")
}

fn parse_head(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Head> {
    let status = status.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("start_response(): the status must be a str such as '200 OK', not {}", type_name(status)))
    })?;
    let status = status.to_cow()?;
    let (code, reason) = status.split_once(' ').unwrap_or((&status, ""));
    let code = (code.len() == 3)
        .then(|| StatusCode::from_bytes(code.as_bytes()).ok())
        .flatten()
        .ok_or_else(|| PyValueError::new_err(format!("start_response(): status {status:?} is not a three-digit code and a reason, e.g. '200 OK'")))?;
    let reason = match code.canonical_reason() == Some(reason) {
        true => None,
        false => Some(Bytes::from(latin1_bytes(reason, "the status")?)),
    };
    let mut map = HeaderMap::with_capacity(headers.len().unwrap_or(8));
    let mut content_length = None;
    for item in headers.try_iter().map_err(|_| {
        PyTypeError::new_err("start_response(): headers must be a list of (name, value) tuples")
    })? {
        let item = item?;
        let (name, value): (Bound<'_, PyString>, Bound<'_, PyString>) = item.extract().map_err(|_| {
            PyTypeError::new_err(format!("start_response(): each header must be a (str, str) tuple, not {item}"))
        })?;
        let name_text = name.to_cow()?;
        let header = HeaderName::from_bytes(name_text.as_bytes())
            .map_err(|_| PyValueError::new_err(format!("start_response(): {name_text:?} is not a valid header name")))?;
        let value_text = value.to_cow()?;
        let bytes = latin1_bytes(&value_text, &format!("header {name_text:?}"))?;
        let value = HeaderValue::from_bytes(&bytes).map_err(|_| {
            PyValueError::new_err(format!("start_response(): the value of header {name_text:?} has a control character (such as a newline)"))
        })?;
        if header == http::header::CONTENT_LENGTH {
            content_length = Some(value_text.trim().parse::<u64>().map_err(|_| {
                PyValueError::new_err(format!("start_response(): Content-Length {value_text:?} is not a number of bytes"))
            })?);
        }
        if !is_hop_by_hop(&header) {
            map.append(header, value);
        }
    }
    Ok(Head { status: code, reason, headers: map, content_length })
}

/// PEP 3333 header and status text is Latin-1.
fn latin1_bytes(text: &str, what: &str) -> PyResult<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(c as u32).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| PyValueError::new_err(format!("start_response(): {what} has characters outside Latin-1 ({text:?}); percent- or RFC 8187-encode them")))
}
