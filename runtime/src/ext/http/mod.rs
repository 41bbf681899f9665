//! The `tandem_http` extension: the ops through which a worker's isolate
//! takes requests from the HTTP server and gives back responses.
//!
//! The server and these ops share one [`RequestQueue`] per isolate thread
//! (crate::exchange::queue). JavaScript pulls request ids out of it (a
//! synchronous op while requests are waiting, an async one when it is
//! empty), reads the request's parts by id ([`request`]) and answers with
//! one of the respond ops ([`respond`]). [`rate_limit`] and [`wsgi`] (apps
//! mounted in a router) complete the family.

mod error;
mod rate_limit;
mod request;
mod respond;
mod mount;

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;

use deno_core::{ascii_str_include, op2, v8, ExtensionFileSource, JsRuntime, OpState};
use serde::Deserialize;

use crate::exchange::queue::RequestQueue;
pub(crate) use error::HttpError;
pub(crate) use mount::MountSettings;
use rate_limit::op_http_rate_limit;
use request::*;
use respond::*;
use mount::*;

/// Options a script passed to `serve()`; the command line fills the gaps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServeRequest {
    pub(crate) port: Option<u16>,
    pub(crate) hostname: Option<String>,
    /// Whether the app has a readiness check (`ready` in the options).
    #[serde(default)]
    pub(crate) ready: bool,
}

deno_core::extension!(
    tandem_http,
    deps = [tandem_web, tandem_py_proxy],
    ops = [
        op_http_serve,
        op_http_next_ready,
        op_http_next,
        op_http_next_aborted,
        op_http_next_probe,
        op_http_probe_answer,
        op_http_method,
        op_http_method_code,
        op_http_url,
        op_http_headers,
        op_http_header,
        op_http_remote_addr,
        op_http_body_kind,
        op_http_body_take,
        op_http_read,
        op_http_set_route,
        op_http_set_header,
        op_http_respond_text,
        op_http_respond_text_headers,
        op_http_respond,
        op_http_respond_stream,
        op_http_write,
        op_http_close,
        op_http_rate_limit,
        op_http_wsgi_mount,
        op_http_asgi_mount,
        op_http_mount_call,
        op_http_mount_read,
        op_http_mount_cancel,
    ],
);

static JS: [ExtensionFileSource; 1] =
    [ExtensionFileSource::new("ext:tandem_http/01_http.js", ascii_str_include!("01_http.js"))];

pub(crate) fn extension() -> deno_core::Extension {
    super::with_embedded_esm(tandem_http::init(), &JS)
}

/// A function of the `tandem.http` object that 01_http.js puts on
/// globalThis (under `Symbol.for("tandem.http")`).
pub(crate) fn glue_function<'s>(scope: &mut v8::PinScope<'s, '_>, name: &str) -> Option<v8::Local<'s, v8::Function>> {
    let global = scope.get_current_context().global(scope);
    let key = v8::String::new(scope, "tandem.http")?;
    let symbol = v8::Symbol::for_key(scope, key);
    let http = global.get(scope, symbol.into()).filter(|v| v.is_object())?.cast::<v8::Object>();
    let name = v8::String::new(scope, name)?;
    http.get(scope, name.into()).filter(|f| f.is_function()).map(|f| f.cast::<v8::Function>())
}

/// After runaway JavaScript on this isolate was terminated (by the
/// server's watchdog, crate::apps::watchdog): makes the isolate usable
/// again and restarts whichever half of the serve loop (taking requests,
/// aborting them) the termination unwound. Other requests' pending work
/// (promises, timers, ops) is untouched and carries on.
pub(crate) fn resume_serving(js: &mut JsRuntime) -> Result<(), crate::error::Error> {
    js.v8_isolate().cancel_terminate_execution();
    deno_core::scope!(scope, js);
    let resume = glue_function(scope, "resume")
        .ok_or_else(|| crate::error::Error::Internal("the HTTP extension is not loaded".into()))?;
    v8::tc_scope!(let tc, scope);
    let undefined = v8::undefined(tc).into();
    if resume.call(tc, undefined, &[]).is_none() {
        let why = tc.exception().map(|e| e.to_rust_string_lossy(tc)).unwrap_or_else(|| "terminated again".into());
        return Err(crate::error::Error::Internal(format!("cannot resume serving after a runaway handler: {why}")));
    }
    Ok(())
}

/// The queue of this isolate's thread, created by the first `serve()`.
pub(crate) fn queue(state: &OpState) -> Option<Rc<RequestQueue>> {
    state.try_borrow::<Rc<RequestQueue>>().cloned()
}

/// The queue, for an op that needs one.
fn queue_of(state: &OpState) -> Result<Rc<RequestQueue>, HttpError> {
    queue(state).ok_or(HttpError::NotServing)
}

#[op2]
fn op_http_serve(state: &mut OpState, #[serde] options: ServeRequest) -> Result<(), HttpError> {
    if state.has::<ServeRequest>() {
        return Err(HttpError::AlreadyServing);
    }
    let queue = RequestQueue::default();
    queue.set_checks_readiness(options.ready);
    state.put(options);
    state.put(Rc::new(queue));
    Ok(())
}

/// The next waiting request's id, or 0 when none waits.
#[op2(fast)]
fn op_http_next_ready(state: &OpState) -> u32 {
    queue(state).and_then(|q| q.pop_ready()).unwrap_or(0)
}

/// Waits for the next request's id; 0 once the server shuts down.
#[op2]
async fn op_http_next(state: Rc<RefCell<OpState>>) -> Result<u32, HttpError> {
    let queue = queue_of(&state.borrow())?;
    Ok(poll_fn(|cx| queue.poll_next(cx)).await)
}

/// Waits for the id of a request the server gave up on; 0 at shutdown.
#[op2]
async fn op_http_next_aborted(state: Rc<RefCell<OpState>>) -> Result<u32, HttpError> {
    let queue = queue_of(&state.borrow())?;
    Ok(poll_fn(|cx| queue.poll_aborted(cx)).await)
}

/// Waits for the id of a readiness probe for the app's `ready()` check;
/// 0 at shutdown.
#[op2]
async fn op_http_next_probe(state: Rc<RefCell<OpState>>) -> Result<u32, HttpError> {
    let queue = queue_of(&state.borrow())?;
    Ok(poll_fn(|cx| queue.poll_probe(cx)).await)
}

/// The app's answer to probe `id`: ready, or not and why.
#[op2(fast)]
fn op_http_probe_answer(state: &OpState, #[smi] id: u32, ready: bool, #[string] reason: &str) {
    if let Some(queue) = queue(state) {
        queue.answer_probe(id, if ready { Ok(()) } else { Err(reason.to_string()) });
    }
}
