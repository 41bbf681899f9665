//! The `tandem_websocket` extension: WebSockets on the HTTP server.
//! `upgradeWebSocket(request)` (01_websocket.js) answers a request with a
//! 101 and gives the handler a WHATWG `WebSocket`; these ops take the
//! request's connection over once hyper has sent the 101 and move
//! messages between that socket ([`socket::ServerSocket`]) and JavaScript.
//!
//! The server lends each upgrade request a
//! [`Takeover`](crate::exchange::takeover::Takeover); the socket holds its
//! lease, so the connection stays counted until the socket closes, and the
//! server's shutdown reaches the socket as a close frame (1001).

mod socket;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use base64::Engine;
use deno_core::{ascii_str_include, op2, ExtensionFileSource, OpState, ResourceId, ToJsBuffer};
use fastwebsockets::OpCode;
use hyper::upgrade::OnUpgrade;
use sha1::{Digest, Sha1};

use crate::exchange::takeover::{Lease, Takeover};
use crate::exchange::watch::SharedTurnWatch;
use socket::{Closing, Event, Limits, ServerSocket};

/// `op_websocket_next`'s kinds (`KIND_*` in 01_websocket.js).
const KIND_TEXT: u32 = 0;
const KIND_BINARY: u32 = 1;
const KIND_CLOSED: u32 = 2;

#[derive(Debug, thiserror::Error, deno_error::JsError)]
pub(crate) enum WsError {
    #[class(type)]
    #[error("cannot upgrade to a WebSocket: {0}")]
    Upgrade(&'static str),
    #[class("BadResource")]
    #[error("the WebSocket is closed")]
    Closed,
    #[class("Http")]
    #[error("the connection was not handed over after the 101 response: {0}")]
    Handover(String),
}

deno_core::extension!(
    tandem_websocket,
    deps = [tandem_http],
    ops = [
        op_websocket_upgrade,
        op_websocket_accept_key,
        op_websocket_accept,
        op_websocket_next,
        op_websocket_take_text,
        op_websocket_take_binary,
        op_websocket_close_info,
        op_websocket_send_text,
        op_websocket_send_binary,
        op_websocket_close,
        op_websocket_buffered,
    ],
);

static JS: [ExtensionFileSource; 1] =
    [ExtensionFileSource::new("ext:tandem_websocket/01_websocket.js", ascii_str_include!("01_websocket.js"))];

pub(crate) fn extension() -> deno_core::Extension {
    super::with_embedded_esm(tandem_websocket::init(), &JS)
}

/// Asks every open server WebSocket of the isolate to close with `code`
/// (a reload retires the isolate).
pub(crate) fn close_all(state: &OpState, code: u16, reason: &str) {
    for (rid, _) in state.resource_table.names() {
        if let Ok(socket) = state.resource_table.get::<ServerSocket>(rid) {
            socket.close(code, reason);
        }
    }
}

/// How many server WebSockets of the isolate are open or being opened.
pub(crate) fn open_sockets(state: &OpState) -> usize {
    let names = state.resource_table.names();
    names.filter(|(_, name)| name == "serverWebSocket" || name == "pendingWebSocket").count()
}

/// A request whose connection is promised to a WebSocket, until its 101
/// has gone out.
struct PendingUpgrade {
    upgrade: RefCell<Option<(OnUpgrade, Lease)>>,
    limits: Limits,
}

impl deno_core::Resource for PendingUpgrade {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        "pendingWebSocket".into()
    }
}

/// Claims request `id`'s connection for a WebSocket, before its 101 is
/// sent. `max_message` is in bytes, `idle_seconds` 0 for never.
#[op2(fast)]
#[smi]
fn op_websocket_upgrade(
    state: &mut OpState,
    #[smi] id: u32,
    max_message: f64,
    idle_seconds: f64,
) -> Result<ResourceId, WsError> {
    let queue = crate::ext::http::queue(state).ok_or(WsError::Upgrade("the program is not serving HTTP"))?;
    let taken = queue
        .with(id, |request| {
            let extensions = &mut request.parts.extensions;
            (extensions.remove::<OnUpgrade>(), extensions.get::<Takeover>().and_then(Takeover::take))
        })
        .map_err(|_| WsError::Upgrade("the request is closed (answered, timed out, or its client left)"))?;
    let (Some(upgrade), Some(lease)) = taken else {
        return Err(WsError::Upgrade("this request cannot switch protocols (upgraded already, or not HTTP/1.1)"));
    };
    let idle = (idle_seconds > 0.0).then(|| Duration::from_secs_f64(idle_seconds));
    let limits = Limits { max_message: max_message as usize, idle };
    Ok(state.resource_table.add(PendingUpgrade { upgrade: RefCell::new(Some((upgrade, lease))), limits }))
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 4.2.2).
#[op2]
#[string]
fn op_websocket_accept_key(#[string] key: &str) -> String {
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let digest = Sha1::new().chain_update(key.as_bytes()).chain_update(GUID).finalize();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Once the 101 of pending upgrade `rid` is out: the socket's resource id.
#[op2]
#[smi]
async fn op_websocket_accept(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> Result<ResourceId, WsError> {
    let pending = state.borrow_mut().resource_table.take::<PendingUpgrade>(rid).map_err(|_| WsError::Closed)?;
    let (upgrade, lease) = pending.upgrade.borrow_mut().take().ok_or(WsError::Closed)?;
    let upgraded = upgrade.await.map_err(|e| WsError::Handover(e.to_string()))?;
    let socket = ServerSocket::new(upgraded, lease, pending.limits);
    Ok(state.borrow_mut().resource_table.add(socket))
}

fn socket(state: &OpState, rid: ResourceId) -> Result<Rc<ServerSocket>, WsError> {
    state.resource_table.get::<ServerSocket>(rid).map_err(|_| WsError::Closed)
}

/// Waits for the next message (then taken by `op_websocket_take_*`) or the end
/// (`op_websocket_close_info`); returns its kind.
#[op2]
async fn op_websocket_next(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> Result<u32, WsError> {
    let socket = socket(&state.borrow(), rid)?;
    // Asking for the next message means the listeners of the last are done.
    socket.dispatching.borrow_mut().take();
    let event = socket.next().await;
    let kind = match &event {
        Event::Text(_) => KIND_TEXT,
        Event::Binary(_) => KIND_BINARY,
        Event::Closed(_) => KIND_CLOSED,
    };
    if kind != KIND_CLOSED {
        // The listeners run when this op resolves: a runaway one is cut at
        // the handler timeout, as a request's handler would be.
        let watch = state.borrow().try_borrow::<SharedTurnWatch>().cloned();
        *socket.dispatching.borrow_mut() = watch.map(|w| w.watch());
    }
    *socket.received.borrow_mut() = Some(event);
    Ok(kind)
}

#[op2]
#[string]
fn op_websocket_take_text(state: &OpState, #[smi] rid: ResourceId) -> Result<String, WsError> {
    match socket(state, rid)?.received.borrow_mut().take() {
        Some(Event::Text(text)) => Ok(text),
        _ => Ok(String::new()),
    }
}

#[op2]
#[serde]
fn op_websocket_take_binary(state: &OpState, #[smi] rid: ResourceId) -> Result<ToJsBuffer, WsError> {
    match socket(state, rid)?.received.borrow_mut().take() {
        Some(Event::Binary(bytes)) => Ok(bytes.into()),
        _ => Ok(Vec::new().into()),
    }
}

#[op2]
#[serde]
fn op_websocket_close_info(state: &OpState, #[smi] rid: ResourceId) -> Result<Closing, WsError> {
    match socket(state, rid)?.received.borrow().as_ref() {
        Some(Event::Closed(closing)) => Ok(closing.clone()),
        _ => Err(WsError::Closed),
    }
}

#[op2(fast)]
fn op_websocket_send_text(state: &OpState, #[smi] rid: ResourceId, #[string] text: String) -> Result<(), WsError> {
    socket(state, rid)?.send(OpCode::Text, text.into_bytes());
    Ok(())
}

#[op2]
fn op_websocket_send_binary(state: &OpState, #[smi] rid: ResourceId, #[anybuffer] data: &[u8]) -> Result<(), WsError> {
    socket(state, rid)?.send(OpCode::Binary, data.to_vec());
    Ok(())
}

#[op2(fast)]
fn op_websocket_close(state: &OpState, #[smi] rid: ResourceId, #[smi] code: u32, #[string] reason: &str) -> Result<(), WsError> {
    socket(state, rid)?.close(code as u16, reason);
    Ok(())
}

#[op2(fast)]
#[number]
fn op_websocket_buffered(state: &OpState, #[smi] rid: ResourceId) -> u64 {
    socket(state, rid).map(|s| s.buffered() as u64).unwrap_or(0)
}
