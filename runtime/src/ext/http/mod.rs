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
mod wsgi;

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;

use deno_core::{ascii_str_include, op2, ExtensionFileSource, OpState};
use serde::Deserialize;

use crate::exchange::queue::RequestQueue;
pub(crate) use error::HttpError;
pub(crate) use wsgi::MountSettings;
use rate_limit::op_http_rate_limit;
use request::*;
use respond::*;
use wsgi::*;

/// Options a script passed to `serve()`; the command line fills the gaps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServeRequest {
    pub(crate) port: Option<u16>,
    pub(crate) hostname: Option<String>,
}

deno_core::extension!(
    tandem_http,
    deps = [tandem_web],
    ops = [
        op_http_serve,
        op_http_next_ready,
        op_http_next,
        op_http_next_aborted,
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
        op_http_wsgi_call,
        op_http_wsgi_read,
        op_http_wsgi_cancel,
    ],
);

static JS: [ExtensionFileSource; 1] =
    [ExtensionFileSource::new("ext:tandem_http/01_http.js", ascii_str_include!("01_http.js"))];

pub(crate) fn extension() -> deno_core::Extension {
    super::with_embedded_esm(tandem_http::init(), &JS)
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
    state.put(options);
    state.put(Rc::new(RequestQueue::default()));
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
