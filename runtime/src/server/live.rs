//! The connections one worker has open, as the worker sees them: which are
//! idle (no request being answered) and since when, so that at the
//! connection limit the worker can close those idle the longest, and at
//! shutdown close them all once their requests are answered.
//!
//! Closing is hyper's graceful close: an idle connection closes at once, a
//! busy one after the response it is writing, so no request is lost. A
//! connection that has not begun its first request is given a moment for
//! it first: its client connected to be answered.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::metrics::Metrics;

/// Share of a worker's idle connections closed each time the process is at
/// its connection limit (at least one): the longest idle go first, which
/// are the clients doing least, not the active ones between two requests.
const SHED_SHARE: usize = 10;

/// One open connection.
pub(crate) struct Live {
    /// In order of acceptance (ties of `idle_since` go to the older).
    id: u64,
    /// Requests on it being answered now.
    in_flight: Cell<u32>,
    /// When it last became idle (accepted, or its last request answered).
    idle_since: Cell<Instant>,
    /// Tells the connection's task to close it gracefully.
    close: Notify,
    accepted: Instant,
    /// Whether a request has begun on it.
    requested: Cell<bool>,
    /// Told when the first request begins.
    first: Notify,
}

impl Live {
    /// Resolves when the connection is asked to close.
    pub(crate) async fn closing(&self) {
        self.close.notified().await
    }

    /// Marks a request being answered until the guard drops.
    pub(crate) fn busy(self: &Rc<Self>) -> Busy {
        self.in_flight.set(self.in_flight.get() + 1);
        if !self.requested.replace(true) {
            self.first.notify_one();
        }
        Busy(self.clone())
    }

    /// Resolves once a request has begun on the connection, or when it
    /// has been open `grace` without one (at once for an older
    /// connection: that is an idle client, not one whose request is on its
    /// way).
    pub(crate) async fn first_request(&self, grace: Duration) {
        if self.requested.get() {
            return;
        }
        let left = grace.saturating_sub(self.accepted.elapsed());
        let _ = tokio::time::timeout(left, self.first.notified()).await;
    }
}

/// A request being answered on a connection; see [`Live::busy`].
pub(crate) struct Busy(Rc<Live>);

impl Drop for Busy {
    fn drop(&mut self) {
        let live = &self.0;
        live.in_flight.set(live.in_flight.get() - 1);
        if live.in_flight.get() == 0 {
            live.idle_since.set(Instant::now());
        }
    }
}

/// A worker's open connections.
#[derive(Default)]
pub(crate) struct Registry {
    open: RefCell<HashMap<u64, Rc<Live>>>,
    next: Cell<u64>,
    /// Told whenever a connection leaves; the drain waits on it.
    left: Notify,
}

impl Registry {
    /// Registers a connection just accepted; its id is for [`leave`](Self::leave).
    pub(crate) fn join(&self) -> (u64, Rc<Live>) {
        let id = self.next.get();
        self.next.set(id + 1);
        let live = Rc::new(Live {
            id,
            in_flight: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            close: Notify::new(),
            accepted: Instant::now(),
            requested: Cell::new(false),
            first: Notify::new(),
        });
        self.open.borrow_mut().insert(id, live.clone());
        Metrics::get().connection_opened();
        (id, live)
    }

    pub(crate) fn leave(&self, id: u64) {
        self.open.borrow_mut().remove(&id);
        Metrics::get().connection_closed();
        self.left.notify_waiters();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open.borrow().is_empty()
    }

    /// Asks every connection to close (shutdown).
    pub(crate) fn close_all(&self) {
        for live in self.open.borrow().values() {
            // notify_one keeps the request for a task not waiting yet.
            live.close.notify_one();
        }
    }

    /// Closes the longest-idle share of the idle connections; returns how
    /// many were asked to close.
    pub(crate) fn shed_idle(&self) -> usize {
        let open = self.open.borrow();
        let mut idle: Vec<&Rc<Live>> = open.values().filter(|live| live.in_flight.get() == 0).collect();
        idle.sort_by_key(|live| (live.idle_since.get(), live.id));
        let count = if idle.is_empty() { 0 } else { (idle.len() / SHED_SHARE).max(1) };
        for live in &idle[..count] {
            live.close.notify_one();
        }
        Metrics::get().connections_shed(count);
        count
    }

    /// Resolves once every connection has left.
    pub(crate) async fn all_left(&self) {
        loop {
            let left = self.left.notified();
            if self.is_empty() {
                return;
            }
            left.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shedding_closes_the_longest_idle_and_spares_busy_connections() {
        let registry = Registry::default();
        let lives: Vec<_> = (0..20).map(|_| registry.join().1).collect();
        let _busy = lives[0].busy();
        // lives[1] answered a request just now: idle, but the most recently.
        drop(lives[1].busy());
        assert_eq!(registry.shed_idle(), 1, "a tenth of 19 idle, at least one");
        let asked = |live: &Rc<Live>| {
            let notified = live.close.notified();
            tokio::pin!(notified);
            // A stored permit makes the first poll ready.
            notified.as_mut().enable()
        };
        assert!(asked(&lives[2]), "the longest idle was not asked to close");
        assert!(!asked(&lives[0]), "a busy connection was asked to close");
        assert!(!asked(&lives[1]), "the most recently idle was asked to close");
    }
}
