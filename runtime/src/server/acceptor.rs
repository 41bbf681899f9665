//! The listening socket and the acceptor thread: accepts connections,
//! hands each to the least busy worker, and turns SIGINT/SIGTERM into a
//! graceful shutdown that ends by the shutdown timeout plus one second (a
//! second signal exits at once).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{watch, Notify};

use super::connection::Slot;
use super::{Signalled, Stopper};
use crate::error::Error;

/// How long after the shutdown timeout the process exits, whatever its
/// workers are doing.
const LAST_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the acceptor waits at the connection limit before asking the
/// workers to close idle connections again.
const SHED_AGAIN: std::time::Duration = std::time::Duration::from_millis(50);

/// Binds a listening socket as the server does (a 4096-deep accept queue,
/// non-blocking). `reuse_port` lets several server processes bind the
/// port (the kernel spreads connections between them).
pub fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if address.is_ipv6() {
        socket.set_only_v6(false).ok();
    }
    socket.bind(&address.into())?;
    // The kernel caps this at net.core.somaxconn (4096 on current Linux).
    // A deep queue holds a burst of new connections instead of dropping
    // their handshakes, which clients retry only after a second or more.
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Makes the listening socket for an address: see `ServerOptions::binder`.
#[derive(Clone)]
pub struct Binder(Arc<dyn Fn(SocketAddr) -> std::io::Result<std::net::TcpListener> + Send + Sync>);

impl Binder {
    pub fn new(bind: impl Fn(SocketAddr) -> std::io::Result<std::net::TcpListener> + Send + Sync + 'static) -> Self {
        Binder(Arc::new(bind))
    }

    pub(crate) fn bind(&self, address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
        (self.0)(address)
    }
}

impl std::fmt::Debug for Binder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Binder(..)")
    }
}

/// What the acceptor needs to end a shutdown: the signal to the workers,
/// the time they get, and how to cut short what their threads run.
pub(crate) struct Ending {
    /// Set on the first signal: the workers stop accepting.
    pub(crate) shutdown: watch::Sender<Signalled>,
    pub(crate) timeout: std::time::Duration,
    pub(crate) stoppers: Vec<Stopper>,
}

/// The connection limit: how many may be open at once in the process, and
/// where the workers say that one closed.
pub(crate) struct Limit {
    pub(crate) max: usize,
    pub(crate) closed: Arc<Notify>,
}

/// Starts the acceptor thread.
pub(crate) fn start(listener: std::net::TcpListener, slots: Vec<Slot>, limit: Limit, ending: Ending) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("tandem-acceptor".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: cannot start the acceptor: {e}");
                    std::process::exit(1);
                }
            };
            runtime.block_on(accept_until_signal(listener, slots, limit, ending));
        })
        .map_err(|source| Error::Spawn { what: "the acceptor thread", source })?;
    Ok(())
}

async fn accept_until_signal(listener: std::net::TcpListener, slots: Vec<Slot>, limit: Limit, ending: Ending) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        eprintln!("error: cannot install signal handlers");
        std::process::exit(1);
    };
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot use the listening socket: {e}");
            std::process::exit(1);
        }
    };
    loop {
        if open(&slots) >= limit.max {
            // At the limit: accept nothing until a connection closes (the
            // kernel queues new ones meanwhile, it refuses none), and ask
            // the workers to close their longest-idle ones, so that idle
            // and slow clients cannot keep new ones out.
            for slot in &slots {
                slot.shed.notify_one();
            }
            tokio::select! {
                () = limit.closed.notified() => continue,
                // Nothing closed (every connection busy): ask again.
                () = tokio::time::sleep(SHED_AGAIN) => continue,
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
            }
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => hand_over(stream, &slots),
                // Out of file descriptors and the like: back off a little
                // rather than spin.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    // Stop accepting: the socket closes, new connections are refused.
    drop(listener);
    let signalled = std::time::Instant::now();
    let _ = ending.shutdown.send(Some(signalled));
    let second_signal = async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    tokio::pin!(second_signal);
    tokio::select! {
        () = &mut second_signal => exit_at_once(),
        () = tokio::time::sleep_until((signalled + ending.timeout).into()) => {}
    }
    // The workers answer what is left 503 now; a worker whose thread is
    // held by a runaway handler needs it cut short first.
    for stop in &ending.stoppers {
        stop();
    }
    tokio::select! {
        () = &mut second_signal => exit_at_once(),
        () = tokio::time::sleep(LAST_GRACE) => {
            eprintln!(
                "error: in-flight work outlasted --shutdown-timeout ({} s) and could not be stopped: exiting",
                ending.timeout.as_secs_f64()
            );
            std::process::exit(0);
        }
    }
}

fn exit_at_once() -> ! {
    eprintln!("second signal: exiting without waiting for in-flight requests");
    std::process::exit(130);
}

/// Connections open in the process.
fn open(slots: &[Slot]) -> usize {
    slots.iter().map(|slot| slot.open.load(Ordering::Relaxed)).sum()
}

/// Gives a connection to the worker with the fewest open ones. It travels
/// as a std stream: the worker registers it with its own reactor, so its
/// readiness events wake the worker directly instead of going through this
/// thread's epoll and a cross-thread wake-up per event.
fn hand_over(stream: tokio::net::TcpStream, slots: &[Slot]) {
    let _ = stream.set_nodelay(true);
    let Ok(stream) = stream.into_std() else { return };
    let Some(slot) = slots.iter().min_by_key(|slot| slot.open.load(Ordering::Relaxed)) else { return };
    slot.open.fetch_add(1, Ordering::Relaxed);
    if slot.connections.send(stream).is_err() {
        slot.open.fetch_sub(1, Ordering::Relaxed);
    }
}
