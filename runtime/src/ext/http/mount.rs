//! Python apps mounted under a path of a TypeScript router: WSGI
//! (`wsgi(app, { prefix })` in `tandem:http`) and ASGI (`asgi(app, ...)`).
//!
//! The request goes to the app as it came from the server: its head is
//! copied out of the in-flight request and its body handed over untouched
//! (a streamed body stays streamed). A WSGI app runs on the process's WSGI
//! thread pool, an ASGI app on its asyncio loop. The answer comes back to
//! JavaScript as status, headers and either the whole body or a token to
//! read it by, so the router's middleware sees a normal Response.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use deno_core::{op2, v8, ByteString, CancelFuture, CancelHandle, JsBuffer, OpState, ResourceId, ToJsBuffer};
use http::request::Parts;
use http_body_util::BodyExt;
use pyo3::prelude::*;
use serde::{Deserialize, Serialize};

use super::{queue_of, HttpError};
use crate::exchange::answer::Deadline;
use crate::exchange::body::Body;
use crate::exchange::queue::RequestBody;
use crate::exchange::request_body::BodyLimit;
use crate::python::bridge::Bridge;
use crate::python::convert::ToPy;
use crate::wsgi::input::{self, Source};
use crate::wsgi::{App, ServerFacts};

/// What mounted apps need from the server: the size of the WSGI thread
/// pool, and the address they report as SERVER_NAME/SERVER_PORT. The
/// server puts it in each isolate's state once it has bound its socket.
#[derive(Clone)]
pub(crate) struct MountSettings {
    pub(crate) threads: usize,
    pub(crate) facts: ServerFacts,
}

impl Default for MountSettings {
    /// For a runtime that mounts an app without serving (its requests come
    /// from JavaScript): localhost:80, as for any app called before a server.
    fn default() -> Self {
        let facts = ServerFacts { host: "localhost".into(), port: 80, multiprocess: false };
        MountSettings { threads: crate::wsgi::DEFAULT_THREADS, facts }
    }
}

/// A mounted app of either kind.
#[derive(Clone)]
enum Mounted {
    Wsgi(Arc<App>),
    Asgi(Arc<crate::asgi::App>),
}

/// This isolate's mounted apps (by the index JS holds) and the response
/// bodies JS is reading.
#[derive(Default)]
struct Mounts {
    /// Each app with its prefix (SCRIPT_NAME, or the ASGI root_path).
    apps: Vec<(Mounted, Arc<str>)>,
    bodies: HashMap<u32, Body>,
    next_body: u32,
}

fn mounts(state: &mut OpState) -> &mut Mounts {
    if !state.has::<Mounts>() {
        state.put(Mounts::default());
    }
    state.borrow_mut::<Mounts>()
}

/// Prepares `app` (a Python WSGI callable) to serve under `prefix` and
/// returns the index JS calls it by. tandem:http mounts an app on its first
/// request, so the server's settings are in place by then.
#[op2(fast)]
#[smi]
pub(super) fn op_http_wsgi_mount(
    scope: &mut v8::PinScope<'_, '_>,
    app: v8::Local<'_, v8::Value>,
    #[string] prefix: String,
) -> Result<u32, HttpError> {
    let hint = "wsgi(app): app must be a Python WSGI application (e.g. `import { app } from \"./app.py\"` for a \
                Flask app named app)";
    mount(scope, app, prefix, "wsgi(app)", hint, |py, callable, settings| {
        let app = App::new(py, callable, &settings.facts, settings.threads).map_err(|e| e.to_string())?;
        Ok(Mounted::Wsgi(Arc::new(app)))
    })
}

/// Prepares `app` (a Python ASGI 3 callable) to serve under `prefix`, runs
/// its lifespan startup, and returns the index JS calls it by.
#[op2(fast)]
#[smi]
pub(super) fn op_http_asgi_mount(
    scope: &mut v8::PinScope<'_, '_>,
    app: v8::Local<'_, v8::Value>,
    #[string] prefix: String,
) -> Result<u32, HttpError> {
    let hint = "asgi(app): app must be a Python ASGI application (e.g. `import { app } from \"./api.py\"` for a \
                FastAPI app named app)";
    mount(scope, app, prefix, "asgi(app)", hint, |py, callable, settings| {
        let app = crate::asgi::App::new(py, callable, settings.facts.clone()).map_err(|e| e.to_string())?;
        // Its startup runs now, on the first request to it: blocking this
        // isolate until the app is ready, as a server's start would.
        py.detach(|| app.startup(std::time::Duration::from_secs(60))).map_err(|e| e.to_string())?;
        Ok(Mounted::Asgi(Arc::new(app)))
    })
}

/// Checks `app` is a Python callable, makes it a [`Mounted`] app with
/// `make`, and adds it under `prefix`; returns the index JS calls it by.
fn mount(
    scope: &mut v8::PinScope<'_, '_>,
    app: v8::Local<'_, v8::Value>,
    prefix: String,
    what: &str,
    hint: &str,
    make: impl FnOnce(Python<'_>, Py<PyAny>, &MountSettings) -> Result<Mounted, String>,
) -> Result<u32, HttpError> {
    let (callable, settings) = python_app(scope, app, what, hint)?;
    let mounted = Python::attach(|py| make(py, callable, &settings)).map_err(HttpError::MountUsage)?;
    let state = deno_core::JsRuntime::op_state_from(scope);
    Ok(add_mount(&state, mounted, prefix))
}

/// The Python callable JS passed as `app`, and the server's settings.
fn python_app(
    scope: &mut v8::PinScope<'_, '_>,
    app: v8::Local<'_, v8::Value>,
    what: &str,
    hint: &str,
) -> Result<(Py<PyAny>, MountSettings), HttpError> {
    let bridge = Bridge::from_isolate(scope);
    let state = deno_core::JsRuntime::op_state_from(scope);
    let settings = state.borrow().try_borrow::<MountSettings>().cloned().unwrap_or_default();
    let callable = Python::attach(|py| {
        let object = ToPy::new(py, &bridge).convert(scope, app).map_err(|e| HttpError::MountUsage(e.describe(what)))?;
        if !object.is_callable() {
            return Err(HttpError::MountUsage(hint.into()));
        }
        Ok(object.unbind())
    })?;
    Ok((callable, settings))
}

fn add_mount(state: &RefCell<OpState>, app: Mounted, prefix: String) -> u32 {
    let mut state = state.borrow_mut();
    let mounts = mounts(&mut state);
    mounts.apps.push((app, Arc::from(prefix)));
    (mounts.apps.len() - 1) as u32
}

/// The head of a request that did not come from this server
/// (`[method, url, headers]`).
#[derive(Deserialize)]
pub(super) struct Head(String, String, Vec<(ByteString, ByteString)>);

/// A WSGI app's response: the body whole, or a token for
/// `op_http_mount_read` (0 when whole).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Answer {
    status: u16,
    headers: Vec<(ByteString, ByteString)>,
    body: Option<ToJsBuffer>,
    stream: u32,
}

/// Runs the mounted app `app` for request `id` of this server, or for the
/// request described by `head` when there is one; `body`, when given, is
/// the request's body (JS held it already).
#[op2]
#[serde]
pub(super) async fn op_http_mount_call(
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[smi] app: u32,
    #[serde] head: Option<Head>,
    #[buffer] body: Option<JsBuffer>,
    #[smi] cancel: ResourceId,
) -> Result<Answer, HttpError> {
    let cancel = state.borrow().resource_table.get::<CancelHandle>(cancel).ok();
    let mounted = mounts(&mut state.borrow_mut()).apps.get(app as usize).cloned();
    let (app, prefix) =
        mounted.ok_or_else(|| HttpError::Wsgi(format!("no Python app is mounted with index {app}")))?;
    // A body JS passes (one it already held) replaces the server's.
    let given = body.map(|b| Bytes::from(b.to_vec()));
    let (parts, body, remote, limit) = match head {
        None => {
            let (parts, body, remote, limit) = take_request(&state.borrow(), id)?;
            (parts, given.map(Source::Whole).unwrap_or(body), remote, limit)
        }
        Some(head) => (parts_of(head)?, given.map(Source::Whole).unwrap_or(Source::None), SocketAddr::from(([0, 0, 0, 0], 0)), BodyLimit::none()),
    };
    // Cancelled, the call's future drops, and with it the app's work: a
    // WSGI job is stopped (crate::wsgi::Submitted), an ASGI task cancelled.
    let reply = async {
        match app {
            Mounted::Wsgi(app) => {
                let request = crate::wsgi::Request { parts, body, remote, script_name: prefix, limit };
                app.submit(request).response().await.map_err(|_| HttpError::Wsgi("the WSGI call ended without a response".into()))
            }
            Mounted::Asgi(app) => {
                // The script server's own deadline and the abort signal
                // bound this call; the ASGI one only needs to be later.
                let deadline = Deadline::after(std::time::Duration::from_secs(365 * 24 * 3600));
                Ok(app.respond(parts, body, remote, &prefix, deadline, u64::from(id)).await)
            }
        }
    };
    let response = match cancel {
        Some(cancel) => reply
            .or_cancel(cancel)
            .await
            .map_err(|_| HttpError::Wsgi("the request was aborted before the Python app answered".into()))?,
        None => reply.await,
    }?;
    let (head, body) = response.into_parts();
    let headers = head
        .headers
        .iter()
        .map(|(name, value)| (ByteString::from(name.as_str()), ByteString::from(value.as_bytes())))
        .collect();
    let (body, stream) = match body {
        Body::Full(bytes) => (Some(ToJsBuffer::from(bytes.map(Vec::from).unwrap_or_default())), 0),
        streamed => {
            let mut state = state.borrow_mut();
            let mounts = mounts(&mut state);
            mounts.next_body = mounts.next_body.wrapping_add(1).max(1);
            mounts.bodies.insert(mounts.next_body, streamed);
            (None, mounts.next_body)
        }
    };
    Ok(Answer { status: head.status.as_u16(), headers, body, stream })
}

/// In-flight request `id` of this server, for a mounted app; the body is
/// handed over as it is (streamed when the server streams it).
fn take_request(state: &OpState, id: u32) -> Result<(Parts, Source, SocketAddr, BodyLimit), HttpError> {
    let (parts, body, remote) = queue_of(state)?.with(id, |r| (r.parts.clone(), r.body.take(), r.remote))?;
    let (body, limit) = match body {
        None | Some(RequestBody::None) => (Source::None, BodyLimit::none()),
        Some(RequestBody::Buffered(bytes)) => (Source::Whole(bytes), BodyLimit::none()),
        Some(RequestBody::Streaming(streamed)) if streamed.untouched() => {
            let limit = streamed.limit().clone();
            (input::stream(streamed), limit)
        }
        Some(RequestBody::Streaming(_)) => {
            return Err(HttpError::Wsgi(
                "the request body was partly read before reaching the Python app; \
                 a mounted app needs the whole body (do not read it in middleware)"
                    .into(),
            ))
        }
    };
    Ok((parts, body, remote, limit))
}

fn parts_of(Head(method, url, headers): Head) -> Result<Parts, HttpError> {
    let bad = |e: http::Error| HttpError::MountUsage(format!("wsgi(): cannot pass this request on: {e}"));
    let url = deno_core::url::Url::parse(&url)
        .map_err(|e| HttpError::MountUsage(format!("wsgi(): bad request URL {url:?}: {e}")))?;
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut builder = http::Request::builder().method(method.as_str()).uri(target);
    for (name, value) in headers {
        builder = builder.header(name.as_slice(), value.as_slice());
    }
    Ok(builder.body(()).map_err(bad)?.into_parts().0)
}

/// The next chunk of a streamed WSGI response body; null at its end.
#[op2]
#[serde]
pub(super) async fn op_http_mount_read(
    state: Rc<RefCell<OpState>>,
    #[smi] token: u32,
) -> Result<Option<ToJsBuffer>, HttpError> {
    let Some(mut body) = mounts(&mut state.borrow_mut()).bodies.remove(&token) else {
        return Ok(None);
    };
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(HttpError::Wsgi(format!("the WSGI app failed while sending its body: {e}"))),
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else { continue };
                mounts(&mut state.borrow_mut()).bodies.insert(token, body);
                return Ok(Some(ToJsBuffer::from(Vec::from(data))));
            }
        }
    }
}

/// JS stopped reading a streamed body (the client went away): dropping it
/// makes the app's iterable close.
#[op2(fast)]
pub(super) fn op_http_mount_cancel(state: &mut OpState, #[smi] token: u32) {
    mounts(state).bodies.remove(&token);
}
