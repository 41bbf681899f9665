//! [`Takeover`]: how a connection upgraded out of HTTP (a WebSocket) stays
//! one of the server's connections.
//!
//! Once hyper has sent a 101 it hands the socket over and its connection
//! task ends; without more, the server would stop counting the connection,
//! let it outlive a graceful shutdown, and shed it as idle. So the server
//! puts a `Takeover` in each upgrade request's extensions; the code that
//! takes the socket over takes a [`Lease`] from it and holds it for the
//! socket's life. The connection's task keeps the connection counted (and
//! busy) until the lease drops, and asks its holder to close at shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// The server's half, one per upgrade request (cloned into its extensions).
#[derive(Clone, Default)]
pub(crate) struct Takeover(Arc<Shared>);

#[derive(Default)]
struct Shared {
    taken: AtomicBool,
    /// Set when the server sent the 101 that hands the socket over.
    switched: AtomicBool,
    released: AtomicBool,
    /// Told when the lease drops (one waiter: the connection's task).
    release: Notify,
    closing: AtomicBool,
    /// Told when the server asks the holder to close (shutdown).
    close: Notify,
}

/// The holder's half: held for as long as the socket is in use.
pub(crate) struct Lease(Arc<Shared>);

impl Takeover {
    /// The lease, for the first who asks.
    pub(crate) fn take(&self) -> Option<Lease> {
        let first = !self.0.taken.swap(true, Ordering::AcqRel);
        first.then(|| Lease(self.0.clone()))
    }

    /// Records that the response switched protocols.
    pub(crate) fn switched(&self) {
        self.0.switched.store(true, Ordering::Release);
    }

    /// Whether the socket was handed over to a holder still holding it.
    pub(crate) fn is_held(&self) -> bool {
        let shared = &self.0;
        shared.switched.load(Ordering::Acquire)
            && shared.taken.load(Ordering::Acquire)
            && !shared.released.load(Ordering::Acquire)
    }

    /// Resolves once the lease has dropped.
    pub(crate) async fn released(&self) {
        while !self.0.released.load(Ordering::Acquire) {
            self.0.release.notified().await;
        }
    }

    /// Asks the holder to close the socket.
    pub(crate) fn close(&self) {
        self.0.closing.store(true, Ordering::Release);
        self.0.close.notify_waiters();
    }
}

impl Lease {
    /// Resolves once the server asks for the socket to be closed.
    pub(crate) async fn closing(&self) {
        loop {
            let asked = self.0.close.notified();
            if self.0.closing.load(Ordering::Acquire) {
                return;
            }
            asked.await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.released.store(true, Ordering::Release);
        // notify_one keeps a permit for a waiter that is not waiting yet.
        self.0.release.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lease_per_takeover_held_until_dropped_once_switched() {
        let takeover = Takeover::default();
        let lease = takeover.take().expect("the first take gets the lease");
        assert!(takeover.take().is_none(), "a second lease");
        assert!(!takeover.is_held(), "held before the 101");
        takeover.switched();
        assert!(takeover.is_held());
        drop(lease);
        assert!(!takeover.is_held());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_holder_hears_a_close_asked_before_it_listens() {
        let takeover = Takeover::default();
        let lease = takeover.take().unwrap();
        takeover.close();
        tokio::time::timeout(std::time::Duration::from_secs(1), lease.closing()).await.expect("close not heard");
        drop(lease);
        tokio::time::timeout(std::time::Duration::from_secs(1), takeover.released()).await.expect("release not heard");
    }
}
