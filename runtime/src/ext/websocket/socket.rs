//! [`ServerSocket`]: one WebSocket the server accepted, as a resource of
//! its isolate. fastwebsockets parses and writes the frames; this module
//! owns what the server promises on top: whole messages under a size
//! limit (1009 beyond it), pings answered, an idle client pinged then
//! closed, a close handshake that does not wait forever, and a close
//! frame when the server shuts down.
//!
//! The socket is split: one reader (`op_websocket_next`, one call at a time) and
//! one writer task that sends the frames queued for it in order, whether
//! JavaScript sent them or the reader did (pongs, close echoes). Sending
//! therefore never waits, and `bufferedAmount` is what the queue holds.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use fastwebsockets::{after_handshake_split, Frame, OpCode, Payload, Role, WebSocketError, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::exchange::takeover::Lease;

type Io = TokioIo<Upgraded>;

/// How long the server waits for the client's answer to its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// After a protocol error the server reads (and drops) what the client
/// still sends until the line is quiet this long, so that closing the TCP
/// connection does not reset it before the client read the close frame.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// Per-socket limits, from `upgradeWebSocket`'s options.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Largest message taken, in bytes (its fragments together).
    pub(crate) max_message: usize,
    /// Silence after which the client is pinged, and then closed if it
    /// stays silent as long again; `None` never.
    pub(crate) idle: Option<Duration>,
}

/// What `next` gives JavaScript.
pub(crate) enum Event {
    Text(String),
    Binary(Vec<u8>),
    Closed(Closing),
}

/// How the socket ended: the WebSocket close event's fields.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Closing {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) was_clean: bool,
}

impl Closing {
    fn abnormal(reason: impl Into<String>) -> Self {
        Closing { code: 1006, reason: reason.into(), was_clean: false }
    }
}

/// A frame for the writer task.
struct Outgoing {
    opcode: OpCode,
    payload: Vec<u8>,
}

/// What the reader and the writer task share.
struct Shared {
    /// Bytes of messages queued and not yet written.
    buffered: Cell<usize>,
    /// Set once a close frame was queued: nothing may follow it.
    close_sent: Cell<bool>,
    /// Holds the connection counted by the server until both halves end.
    lease: Lease,
}

/// The read half as fastwebsockets reads it, kept reachable so that after a
/// protocol error the rest can be drained raw.
struct Incoming(Rc<RefCell<ReadHalf<Io>>>);

impl AsyncRead for Incoming {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        // Only one read is ever under way (see ServerSocket::reader).
        let mut half = self.0.borrow_mut();
        Pin::new(&mut *half).poll_read(cx, buf)
    }
}

struct Reader {
    frames: WebSocketRead<Incoming>,
    raw: Rc<RefCell<ReadHalf<Io>>>,
    /// A fragmented message being put together: its kind and bytes so far.
    partial: Option<(OpCode, Vec<u8>)>,
}

pub(crate) struct ServerSocket {
    /// Taken by the one `next` under way.
    reader: RefCell<Option<Reader>>,
    out: mpsc::UnboundedSender<Outgoing>,
    shared: Rc<Shared>,
    limits: Limits,
    /// Last time anything came from the client.
    heard: Cell<Instant>,
    /// When the server's close frame went out, if it did.
    closed_at: Cell<Option<Instant>>,
    /// The close frame the server sent (reported if the client never answers).
    sent_close: RefCell<Option<Closing>>,
    ended: RefCell<Option<Closing>>,
    /// The last event `op_websocket_next` returned, until JavaScript takes it.
    pub(crate) received: RefCell<Option<Event>>,
    /// The watchdog's watch on the listeners of the last message
    /// (crate::exchange::watch), until the next is asked for.
    pub(crate) dispatching: RefCell<Option<Box<dyn std::any::Any>>>,
}

impl deno_core::Resource for ServerSocket {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        "serverWebSocket".into()
    }
}

/// Why reading frames stopped.
enum Stop {
    Error(WebSocketError),
    /// The client did not answer the server's close frame in time.
    NoAnswer,
}

impl ServerSocket {
    /// Wraps a connection that has switched to the WebSocket protocol.
    pub(crate) fn new(upgraded: Upgraded, lease: Lease, limits: Limits) -> Self {
        let (read, write) = tokio::io::split(TokioIo::new(upgraded));
        let raw = Rc::new(RefCell::new(read));
        let (mut frames, writer) = after_handshake_split(Incoming(raw.clone()), write, Role::Server);
        frames.set_auto_pong(true);
        frames.set_auto_close(true);
        // fastwebsockets refuses a frame of this size or more.
        frames.set_max_message_size(limits.max_message.saturating_add(1));
        let (out, queued) = mpsc::unbounded_channel();
        let shared = Rc::new(Shared { buffered: Cell::new(0), close_sent: Cell::new(false), lease });
        deno_core::unsync::spawn(write_queued(writer, queued, shared.clone()));
        ServerSocket {
            reader: RefCell::new(Some(Reader { frames, raw, partial: None })),
            out,
            shared,
            limits,
            heard: Cell::new(Instant::now()),
            closed_at: Cell::new(None),
            sent_close: RefCell::new(None),
            ended: RefCell::new(None),
            received: RefCell::new(None),
            dispatching: RefCell::new(None),
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        self.shared.buffered.get()
    }

    /// Queues a message; after the close frame, drops it (as the WebSocket
    /// API does once the socket is closing).
    pub(crate) fn send(&self, opcode: OpCode, payload: Vec<u8>) {
        if self.shared.close_sent.get() {
            return;
        }
        self.shared.buffered.set(self.shared.buffered.get() + payload.len());
        let _ = self.out.send(Outgoing { opcode, payload });
    }

    /// Starts the closing handshake: sends a close frame (once).
    pub(crate) fn close(&self, code: u16, reason: &str) {
        if self.shared.close_sent.replace(true) {
            return;
        }
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let _ = self.out.send(Outgoing { opcode: OpCode::Close, payload });
        self.closed_at.set(Some(Instant::now()));
        *self.sent_close.borrow_mut() = Some(Closing { code, reason: reason.into(), was_clean: false });
    }

    /// The next message, or how the socket ended (then again on each call).
    pub(crate) async fn next(&self) -> Event {
        if let Some(closing) = self.ended.borrow().clone() {
            return Event::Closed(closing);
        }
        let Some(mut reader) = self.reader.borrow_mut().take() else {
            return Event::Closed(Closing::abnormal("the socket is being read already"));
        };
        let event = self.next_event(&mut reader).await;
        if let Event::Closed(closing) = &event {
            *self.ended.borrow_mut() = Some(closing.clone());
            if !self.shared.close_sent.get() {
                // Dropped, the queue sender would also end the writer; this
                // tells it that nothing more comes.
                self.shared.close_sent.set(true);
            }
        }
        *self.reader.borrow_mut() = Some(reader);
        event
    }

    async fn next_event(&self, reader: &mut Reader) -> Event {
        loop {
            let frame = match self.read_frame(&mut reader.frames).await {
                Ok(frame) => frame,
                Err(Stop::NoAnswer) => {
                    let sent = self.sent_close.borrow().clone();
                    return Event::Closed(sent.unwrap_or_else(|| Closing::abnormal("")));
                }
                Err(Stop::Error(error)) => return self.failed(error, reader).await,
            };
            self.heard.set(Instant::now());
            let (fin, opcode, payload) = frame;
            let whole = match opcode {
                OpCode::Text | OpCode::Binary if reader.partial.is_some() => {
                    return self.failed(WebSocketError::InvalidFragment, reader).await;
                }
                OpCode::Text | OpCode::Binary if fin => (opcode, payload),
                OpCode::Text | OpCode::Binary => {
                    reader.partial = Some((opcode, payload));
                    continue;
                }
                OpCode::Continuation => {
                    let Some((kind, mut bytes)) = reader.partial.take() else {
                        return self.failed(WebSocketError::InvalidContinuationFrame, reader).await;
                    };
                    if bytes.len() + payload.len() > self.limits.max_message {
                        return self.failed(WebSocketError::FrameTooLarge, reader).await;
                    }
                    bytes.extend_from_slice(&payload);
                    if !fin {
                        reader.partial = Some((kind, bytes));
                        continue;
                    }
                    (kind, bytes)
                }
                OpCode::Close => return Event::Closed(self.closed_by_client(&payload)),
                // Pongs only show the client is there; pings were answered.
                OpCode::Pong | OpCode::Ping => continue,
            };
            return match whole {
                (OpCode::Text, bytes) => match String::from_utf8(bytes) {
                    Ok(text) => Event::Text(text),
                    Err(_) => self.failed(WebSocketError::InvalidUTF8, reader).await,
                },
                (_, bytes) => Event::Binary(bytes),
            };
        }
    }

    /// One frame, as (fin, opcode, payload); meanwhile pings an idle
    /// client, closes one that stays silent, sends the close frame when
    /// the server shuts down, and gives up on a close frame not answered.
    async fn read_frame(&self, frames: &mut WebSocketRead<Incoming>) -> Result<(bool, OpCode, Vec<u8>), Stop> {
        let out = self.out.clone();
        let shared = self.shared.clone();
        // What fastwebsockets must send as it reads (pongs, the close
        // echo) joins the queue, behind the messages already in it.
        let mut obligated = move |frame: Frame<'_>| {
            let echo_close = frame.opcode == OpCode::Close;
            if !shared.close_sent.get() {
                shared.close_sent.set(echo_close);
                let _ = out.send(Outgoing { opcode: frame.opcode, payload: frame.payload.to_vec() });
            }
            std::future::ready(Ok::<(), std::io::Error>(()))
        };
        let read = frames.read_frame(&mut obligated);
        tokio::pin!(read);
        let mut pinged: Option<Instant> = None;
        loop {
            let wait = self.wait(pinged);
            tokio::select! {
                frame = &mut read => {
                    let frame = frame.map_err(Stop::Error)?;
                    return Ok((frame.fin, frame.opcode, frame.payload.to_vec()));
                }
                () = self.shared.lease.closing(), if !self.shared.close_sent.get() => {
                    self.close(1001, "server shutting down");
                }
                () = wait => {
                    if self.closed_at.get().is_some() {
                        return Err(Stop::NoAnswer);
                    }
                    if pinged.is_some() {
                        self.close(1001, "idle timeout");
                    } else {
                        let _ = self.out.send(Outgoing { opcode: OpCode::Ping, payload: Vec::new() });
                        pinged = Some(Instant::now());
                    }
                }
            }
        }
    }

    /// Resolves when the reader must act: the close answer is overdue, or
    /// the client has been silent for the idle limit (since the ping, once
    /// pinged).
    async fn wait(&self, pinged: Option<Instant>) {
        let due = match (self.closed_at.get(), self.limits.idle) {
            (Some(at), _) => at + CLOSE_WAIT,
            (None, Some(idle)) => pinged.unwrap_or(self.heard.get()) + idle,
            (None, None) => return std::future::pending().await,
        };
        tokio::time::sleep_until(due).await
    }

    /// The client closed: its close frame has been echoed (by
    /// fastwebsockets), unless it answers ours.
    fn closed_by_client(&self, payload: &[u8]) -> Closing {
        match payload {
            [high, low, reason @ ..] => Closing {
                code: u16::from_be_bytes([*high, *low]),
                reason: String::from_utf8_lossy(reason).into_owned(),
                was_clean: true,
            },
            _ => Closing { code: 1005, reason: String::new(), was_clean: true },
        }
    }

    /// A read failed: closes with the code for what went wrong (1009 for a
    /// message over the limit) and drains what the client still sends.
    async fn failed(&self, error: WebSocketError, reader: &mut Reader) -> Event {
        let (code, reason) = match &error {
            WebSocketError::FrameTooLarge => {
                (1009, format!("message too big: the limit is {} bytes", self.limits.max_message))
            }
            WebSocketError::InvalidUTF8 => (1007, "invalid UTF-8 in a text message".to_string()),
            WebSocketError::IoError(_) | WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed => {
                return Event::Closed(Closing::abnormal(""));
            }
            other => (1002, format!("protocol error: {other}")),
        };
        self.close(code, &reason);
        drain(&reader.raw).await;
        Event::Closed(Closing { code, reason, was_clean: false })
    }
}

/// Reads and drops what arrives until the line is quiet (or closed), at
/// most `CLOSE_WAIT`.
async fn drain(raw: &RefCell<ReadHalf<Io>>) {
    let until = Instant::now() + CLOSE_WAIT;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut half = raw.borrow_mut();
    while Instant::now() < until {
        match tokio::time::timeout(DRAIN_QUIET, half.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}

/// The writer task: sends queued frames in order until a close frame went
/// out, the socket is gone, or a write fails.
async fn write_queued(
    mut writer: WebSocketWrite<WriteHalf<Io>>,
    mut queued: mpsc::UnboundedReceiver<Outgoing>,
    shared: Rc<Shared>,
) {
    while let Some(Outgoing { opcode, payload }) = queued.recv().await {
        let size = if matches!(opcode, OpCode::Text | OpCode::Binary) { payload.len() } else { 0 };
        let frame = Frame::new(true, opcode, None, Payload::Owned(payload));
        let written = writer.write_frame(frame).await;
        shared.buffered.set(shared.buffered.get().saturating_sub(size));
        if written.is_err() || opcode == OpCode::Close {
            return;
        }
    }
}
