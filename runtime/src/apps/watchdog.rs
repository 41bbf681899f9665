//! The watchdog of a script worker: stops runaway work that holds the
//! worker's thread past a request's deadline.
//!
//! A request's deadline (`--handler-timeout`) is a tokio timer on the
//! worker's own thread, so it cannot fire while that thread is stuck in
//! `while (true) {}` or in a Python call that never returns. The watchdog
//! is a second thread that knows every request's deadline and whether the
//! worker's event loop is in the middle of a turn (and since when). When a
//! deadline passes and the turn that is running began before it, that turn
//! is what keeps the deadline from firing: the watchdog terminates the
//! isolate's JavaScript and raises `tandem.TimeoutError` in the Python call
//! the thread is in, if any (crate::python::interrupt). The turn then ends,
//! the worker makes the isolate usable again and restarts what the
//! termination unwound of its serve loop ([`Watchdog::poll_event_loop`]),
//! and the overdue request's own timer answers it 503. Requests whose
//! handlers merely await something are answered by their timers alone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use deno_core::JsRuntime;

use crate::error::Error;
use crate::exchange::answer::Deadline;
use crate::metrics::{Interrupted, Metrics};
use crate::runtime::Interrupter;
use crate::server::Stopper;

/// How long past a deadline the watchdog waits before it interrupts the
/// turn that began before the deadline: an ordinary turn (microseconds to
/// a few milliseconds) ends within it, so only a stuck one is cut.
const GRACE: Duration = Duration::from_millis(10);

/// How often an overdue deadline is looked at again while the worker is
/// not stuck (its own timer is about to answer the request).
const RECHECK: Duration = Duration::from_millis(10);

/// One worker's watchdog; its thread stops when this is dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    worker: String,
}

/// A request's deadline, armed until this is dropped.
pub(crate) struct Armed {
    shared: Arc<Shared>,
    ticket: u64,
}

struct Shared {
    deadlines: Mutex<Deadlines>,
    wake: Condvar,
    /// What the turn timestamps count from.
    epoch: Instant,
    /// When the event loop's current turn began (µs since `epoch`, plus
    /// one), or 0 between turns.
    turn_began: AtomicU64,
    /// The watchdog interrupted a turn; the worker must make the isolate
    /// usable again once the turn is over.
    fired: AtomicBool,
    interrupter: Interrupter,
}

#[derive(Default)]
struct Deadlines {
    next_ticket: u64,
    /// Armed deadlines by ticket (tickets rise with arming time).
    armed: BTreeMap<u64, Instant>,
    /// The shortest time limit armed so far: no deadline armed from now on
    /// can pass sooner, so the watchdog never sleeps longer than this.
    shortest: Duration,
    /// The turn last interrupted, so that one turn is interrupted once.
    interrupted_turn: u64,
    /// Set by the server's stopper at the end of a shutdown: every request
    /// in flight is overdue from then on.
    all_due: Option<Instant>,
    stopped: bool,
}

impl Watchdog {
    /// Starts the watchdog thread of `worker` (a name for its messages),
    /// which interrupts through `interrupter`. `limit` is the time limit
    /// deadlines will usually be armed with (the handler timeout).
    pub(crate) fn start(worker: String, interrupter: Interrupter, limit: Duration) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            deadlines: Mutex::new(Deadlines { shortest: limit, ..Default::default() }),
            wake: Condvar::new(),
            epoch: Instant::now(),
            turn_began: AtomicU64::new(0),
            fired: AtomicBool::new(false),
            interrupter,
        });
        let watched = shared.clone();
        std::thread::Builder::new()
            .name(format!("tandem-watchdog-{worker}"))
            .spawn(move || watch(&watched))
            .map_err(|source| Error::Spawn { what: "a watchdog thread", source })?;
        Ok(Watchdog { shared, worker })
    }

    /// Arms `deadline` until the returned guard drops.
    pub(crate) fn arm(&self, deadline: Deadline) -> Armed {
        let (due, after) = (deadline.due, deadline.limit);
        let mut deadlines = self.shared.lock();
        deadlines.next_ticket += 1;
        let ticket = deadlines.next_ticket;
        // The watchdog sleeps until the earliest deadline, and never longer
        // than the shortest limit, so it needs waking only for a limit
        // shorter than every one before.
        deadlines.armed.insert(ticket, due);
        let shorter = after < deadlines.shortest;
        if shorter {
            deadlines.shortest = after;
        }
        drop(deadlines);
        if shorter {
            self.shared.wake.notify_one();
        }
        Armed { shared: self.shared.clone(), ticket }
    }

    /// The server's way to cut this worker short at the end of a shutdown
    /// (crate::server::Stopper): every request in flight becomes overdue.
    pub(crate) fn stopper(&self) -> Stopper {
        let shared = self.shared.clone();
        Arc::new(move || {
            shared.lock().all_due = Some(Instant::now());
            shared.wake.notify_one();
        })
    }

    /// Polls `js`'s event loop for one turn, marked as running for the
    /// watchdog, and recovers the isolate when the watchdog interrupted the
    /// turn: cancels the termination and restarts the serve loop's halves
    /// that it unwound (crate::ext::http::resume_serving).
    pub(crate) fn poll_event_loop(&self, js: &mut JsRuntime, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let began = self.shared.epoch.elapsed().as_micros() as u64 + 1;
        self.shared.turn_began.store(began, Ordering::SeqCst);
        let result = js.poll_event_loop(cx, Default::default());
        self.shared.turn_began.store(0, Ordering::SeqCst);
        if !self.shared.fired.swap(false, Ordering::SeqCst) {
            return result.map_err(Error::from);
        }
        // Whatever the turn returned, its error (if any) is the
        // termination's "execution terminated".
        eprintln!(
            "error: {}: code held the thread past a request's deadline (--handler-timeout, or the end of \
             --shutdown-timeout); its JavaScript was terminated and any Python call it was in got tandem.TimeoutError",
            self.worker
        );
        if let Err(e) = crate::ext::http::resume_serving(js) {
            return Poll::Ready(Err(e));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.shared.lock().armed.remove(&self.ticket);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Deadlines> {
        // A panic while holding this lock leaves plain data behind.
        self.deadlines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn instant(&self, turn: u64) -> Instant {
        self.epoch + Duration::from_micros(turn - 1)
    }

    /// Stops the turn that began at `turn`.
    fn interrupt(&self, turn: u64) {
        // Set before terminating, so that a turn the termination ends
        // always finds it.
        self.fired.store(true, Ordering::SeqCst);
        self.interrupter.terminate_js();
        if self.turn_began.load(Ordering::SeqCst) != turn {
            // The turn ended on its own before the termination reached any
            // of its JavaScript: take the termination back rather than let
            // it hit the next turn's.
            self.interrupter.cancel_js_termination();
            return;
        }
        Metrics::get().interrupted(Interrupted::JavaScript);
        // Python, if the thread is in a call, after JavaScript: this waits
        // for the GIL.
        if self.interrupter.interrupt_python() {
            Metrics::get().interrupted(Interrupted::Python);
        }
    }
}

/// The watchdog thread: sleeps until the earliest deadline and interrupts
/// the worker's turn if that turn is what keeps a deadline from firing.
fn watch(shared: &Shared) {
    let mut deadlines = shared.lock();
    loop {
        if deadlines.stopped {
            return;
        }
        // Deadlines count as passed once they are GRACE old.
        let now = Instant::now().checked_sub(GRACE).unwrap_or_else(Instant::now);
        let (overdue, next) = deadlines.around(now);
        if let Some(overdue) = overdue {
            let turn = shared.turn_began.load(Ordering::SeqCst);
            // A turn that began after every passed deadline did not keep
            // them from firing; their timers answer them once it ends.
            if turn != 0 && turn != deadlines.interrupted_turn && shared.instant(turn) <= overdue {
                deadlines.interrupted_turn = turn;
                drop(deadlines);
                shared.interrupt(turn);
                deadlines = shared.lock();
            }
        }
        let wait = match (overdue, next) {
            (Some(_), _) => RECHECK,
            (None, Some(next)) => (next - now).min(deadlines.shortest),
            (None, None) => deadlines.shortest,
        };
        deadlines = shared.wake.wait_timeout(deadlines, wait).map_or_else(|p| p.into_inner().0, |(guard, _)| guard);
    }
}

impl Deadlines {
    /// The latest armed deadline that has passed by `now`, and the
    /// earliest that has not.
    fn around(&self, now: Instant) -> (Option<Instant>, Option<Instant>) {
        let (mut overdue, mut next) = (None::<Instant>, None::<Instant>);
        // After the stopper, requests in flight are due from its time on.
        match self.all_due.filter(|_| !self.armed.is_empty()) {
            Some(at) if at <= now => overdue = Some(at),
            Some(at) => next = Some(at),
            None => {}
        }
        for &due in self.armed.values() {
            if due <= now {
                overdue = Some(overdue.map_or(due, |o| o.max(due)));
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        (overdue, next)
    }
}
