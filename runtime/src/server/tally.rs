//! A process's request counts, kept where another process can read them:
//! the `--processes` supervisor of the binary maps one [`Tally`] per server
//! process in shared memory, to see when a process is ready, when it has
//! served its `--max-requests`, and what was in flight when it died.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts a server updates as it serves. All-zero bytes are a valid
/// `Tally` (a fresh shared page is one), and every field is an atomic, so
/// processes may share one by mapping the same memory.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Tally {
    ready: AtomicU64,
    open_connections: AtomicU64,
    in_flight: AtomicU64,
    answered: AtomicU64,
}

impl Tally {
    /// Whether the server accepts connections (every worker loaded).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) != 0
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// App requests being handled now (the server's own health and
    /// metrics paths are not counted).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// App requests answered since the server started.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(1, Ordering::Release);
    }

    pub(crate) fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.answered.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_in_flight_until_it_ends_then_as_answered() {
        let tally = Tally::default();
        tally.request_started();
        assert_eq!((tally.in_flight(), tally.answered()), (1, 0));
        tally.request_ended();
        assert_eq!((tally.in_flight(), tally.answered()), (0, 1));
        assert!(!tally.is_ready());
        tally.set_ready();
        assert!(tally.is_ready());
    }
}
