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
    if limit.failed() {
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
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        // A line break here would end the status line: refused like one in
        // a header value, rather than sent as the canonical reason.
        return Err(PyValueError::new_err(format!(
            "start_response(): status {status:?} has a control character (such as a newline)"
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn parse(py: Python<'_>, status: &str, headers: &[(&str, &str)]) -> PyResult<Head> {
        let headers = PyList::new(py, headers.iter().map(|(n, v)| (n.to_string(), v.to_string())))?;
        parse_head(PyString::new(py, status).as_any(), headers.as_any())
    }

    fn error(result: PyResult<Head>) -> String {
        match result {
            Ok(head) => panic!("accepted, status {}", head.status),
            Err(e) => e.to_string(),
        }
    }

    fn body_bytes(body: Body) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(body.collect()).unwrap().to_bytes()
    }

    /// A `StartResponse` whose response arrives on the returned receiver.
    fn new_start(py: Python<'_>) -> (Bound<'_, StartResponse>, oneshot::Receiver<Response<Body>>) {
        let (tx, rx) = oneshot::channel();
        (Bound::new(py, StartResponse::new(tx)).unwrap(), rx)
    }

    #[test]
    fn the_reason_phrase_is_kept_only_when_it_is_not_the_standard_one() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let head = parse(py, "404 Not Found", &[]).unwrap();
            assert_eq!((head.status, head.reason), (StatusCode::NOT_FOUND, None));
            let head = parse(py, "200 Fine Thanks", &[]).unwrap();
            assert_eq!(head.reason.as_deref(), Some(&b"Fine Thanks"[..]));
            let head = parse(py, "204", &[]).unwrap();
            assert_eq!(head.status, StatusCode::NO_CONTENT);
        });
    }

    #[test]
    fn a_bad_status_names_the_expected_form() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            for status in ["OK", "20 OK", "2000 OK", "abc OK", "099 Low"] {
                let message = error(parse(py, status, &[]));
                assert!(message.starts_with("ValueError") && message.contains("three-digit code"), "{status}: {message}");
            }
            let not_text = parse_head(7i64.into_pyobject(py).unwrap().as_any(), PyList::empty(py).as_any());
            assert!(error(not_text).contains("the status must be a str such as '200 OK', not int"));
            let split = error(parse(py, "200 OK\r\nSet-Cookie: x=1", &[]));
            assert!(split.contains("has a control character"), "{split}");
        });
    }

    #[test]
    fn headers_keep_their_order_and_repeats_and_lose_hop_by_hop_ones() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let head = parse(
                py,
                "200 OK",
                &[
                    ("Set-Cookie", "a=1"),
                    ("Connection", "close"),
                    ("Content-Length", " 12 "),
                    ("Set-Cookie", "b=2"),
                    ("Transfer-Encoding", "chunked"),
                    ("X-Name", "caf\u{e9}"),
                ],
            )
            .unwrap();
            let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
            assert_eq!(cookies, ["a=1", "b=2"]);
            assert!(head.headers.get("connection").is_none() && head.headers.get("transfer-encoding").is_none());
            assert_eq!(head.content_length, Some(12));
            // Latin-1 text goes out as its single bytes.
            assert_eq!(head.headers["x-name"].as_bytes(), b"caf\xe9");
        });
    }

    #[test]
    fn bad_headers_say_which_header_and_why() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let cases: [(&str, &str, &str); 4] = [
                ("Bad Name", "x", "\"Bad Name\" is not a valid header name"),
                ("X-Split", "a\nb", "the value of header \"X-Split\" has a control character"),
                ("X-Price", "5\u{20ac}", "header \"X-Price\" has characters outside Latin-1"),
                ("Content-Length", "ten", "Content-Length \"ten\" is not a number of bytes"),
            ];
            for (name, value, expected) in cases {
                let message = error(parse(py, "200 OK", &[(name, value)]));
                assert!(message.contains(expected), "{name}: {message}");
            }
            let not_pairs = PyList::new(py, ["Content-Type: text/plain"]).unwrap();
            let message = error(parse_head(PyString::new(py, "200 OK").as_any(), not_pairs.as_any()));
            assert!(message.contains("each header must be a (str, str) tuple"), "{message}");
        });
    }

    #[test]
    fn a_short_announced_body_goes_out_whole_with_its_head() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let (start, mut rx) = new_start(py);
            start.call1(("201 Created", vec![("Content-Length", "11")])).unwrap();
            let sr = start.borrow();
            assert!(sr.emit(py, b"hello ", false).unwrap());
            assert!(sr.emit(py, b"world", false).unwrap());
            assert!(rx.try_recv().is_err(), "nothing goes out before the app's iterable ends");
            sr.finish();
            let response = rx.try_recv().unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            assert!(matches!(response.body(), Body::Full(_)));
            assert_eq!(body_bytes(response.into_body()), "hello world");
        });
    }

    #[test]
    fn an_unannounced_body_streams_from_its_first_chunk() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let (start, mut rx) = new_start(py);
            start.call1(("200 OK", Vec::<(String, String)>::new())).unwrap();
            let sr = start.borrow();
            assert!(sr.emit(py, b"", false).unwrap(), "an empty chunk commits nothing");
            assert!(rx.try_recv().is_err());
            assert!(sr.emit(py, b"one ", false).unwrap());
            let response = rx.try_recv().expect("the head went out with the first chunk");
            assert!(matches!(response.body(), Body::Fallible(_)));
            assert!(sr.emit(py, b"two", false).unwrap());
            sr.finish();
            assert_eq!(body_bytes(response.into_body()), "one two");
        });
    }

    #[test]
    fn start_response_is_checked_as_pep_3333_says() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let (start, mut rx) = new_start(py);
            let early = start.borrow().emit(py, b"x", false).unwrap_err().to_string();
            assert!(early.contains("before calling start_response"), "{early}");
            start.call1(("200 OK", Vec::<(String, String)>::new())).unwrap();
            let again = start.call1(("500 Oops", Vec::<(String, String)>::new())).unwrap_err().to_string();
            assert!(again.contains("a second call must pass exc_info"), "{again}");

            // With exc_info, before anything went out: the new head wins.
            let locals = pyo3::types::PyDict::new(py);
            py.run(c"try:\n    raise KeyError('boom')\nexcept KeyError:\n    import sys\n    info = sys.exc_info()", None, Some(&locals))
                .unwrap();
            let info = locals.get_item("info").unwrap().unwrap();
            start.call1(("503 Service Unavailable", Vec::<(String, String)>::new(), &info)).unwrap();
            assert!(start.borrow().emit(py, b"late", true).unwrap());
            assert_eq!(rx.try_recv().unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);

            // After the head went out: the app's own error is raised again.
            let err = start.call1(("500 Oops", Vec::<(String, String)>::new(), &info)).unwrap_err();
            assert!(err.is_instance_of::<pyo3::exceptions::PyKeyError>(py), "{err}");
        });
    }

    #[test]
    fn a_failure_before_the_head_is_a_500_and_a_refusal_replaces_the_response() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let (start, mut rx) = new_start(py);
            start.borrow().fail(py);
            assert_eq!(rx.try_recv().unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);

            let (start, mut rx) = new_start(py);
            start.call1(("200 OK", vec![("Content-Length", "2")])).unwrap();
            start.borrow().emit(py, b"ok", false).unwrap();
            start.borrow().refuse(error_response(StatusCode::PAYLOAD_TOO_LARGE, "too large"));
            start.borrow().finish();
            assert_eq!(rx.try_recv().unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
        });
    }
}
