//! Passing the listening socket between the supervisor and its server
//! processes, over a Unix socket pair per process (SCM_RIGHTS).
//!
//! All processes accept from one socket, and so from one accept queue:
//! the supervisor keeps a descriptor of it, so a process that stops
//! accepting (to retire, or because it died) leaves the connections
//! waiting in the queue to the others instead of having them reset, as
//! separate SO_REUSEPORT sockets would. The socket is bound by the first
//! process, where the app says where to listen (its `serve({port})`
//! counts); that process sends it up, and the supervisor sends it to the
//! others and to every replacement.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use tandem::Binder;

/// A socket pair: the supervisor's end and the server process's end (which
/// it inherits, see `--control-fd`). Both close on exec unless cleared.
pub(super) fn pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?)
}

/// Sends `listener` over `socket`; it waits there until the peer reads it.
pub(crate) fn send(socket: BorrowedFd, listener: BorrowedFd) -> std::io::Result<()> {
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(b"L")], &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)?;
    Ok(())
}

/// Waits for a listening socket on `socket`.
pub(crate) fn receive(socket: BorrowedFd) -> std::io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us
                // (SCM_RIGHTS); nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let what = if message.bytes == 0 { "closed its end" } else { "sent no socket" };
    Err(std::io::Error::other(format!("the supervisor {what} instead of passing the listening socket")))
}

/// In a server process: the binder that binds and sends the socket up
/// (`binds`, the first process) or waits for the supervisor's.
pub(crate) fn binder(control: RawFd, binds: bool) -> Binder {
    // SAFETY: the supervisor put this process's end of its socket pair at
    // this number (--control-fd is its flag, not a user's); nothing else
    // owns it.
    let control = Arc::new(unsafe { OwnedFd::from_raw_fd(control) });
    Binder::new(move |address| {
        let control = std::os::fd::AsFd::as_fd(&*control);
        if binds {
            let listener = tandem::listen(address, false)?;
            send(control, std::os::fd::AsFd::as_fd(&listener))?;
            return Ok(listener);
        }
        let listener = std::net::TcpListener::from(receive(control)?);
        let shared = listener.local_addr()?;
        if address.port() != 0 && shared.port() != address.port() {
            return Err(std::io::Error::other(format!(
                "this process would listen on {address}, but the first one listens on {shared}: \
                 under --processes every process must resolve the same port"
            )));
        }
        Ok(listener)
    })
}
