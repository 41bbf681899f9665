//! The interrupt timer: one process-wide thread that runs small jobs at
//! given times, each of which interrupts a Python thread
//! (crate::python::interrupt). Time limits on calls and stopping a WSGI
//! job both go through it, so neither needs a thread per call.
//!
//! A job usually waits for the GIL, so jobs run one after another on this
//! thread, never on a server thread (which must not wait on Python).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

/// Work the timer runs when its time comes.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Names a scheduled job, to cancel it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Key {
    at: Instant,
    /// Tells apart jobs scheduled for the same instant.
    seq: u64,
}

struct Timer {
    state: Mutex<State>,
    /// Signalled when a job is scheduled ahead of all others.
    earlier: Condvar,
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<Key, Job>,
    seq: u64,
    /// When the thread wakes next by itself; `None` while it waits for a
    /// job with none scheduled.
    wakes_at: Option<Instant>,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer { state: Mutex::default(), earlier: Condvar::new() }));
        // Without the thread no limit would fire; a process that cannot
        // start one thread cannot serve either.
        std::thread::Builder::new()
            .name("tandem-interrupts".into())
            .spawn(move || timer.run())
            .expect("cannot start the tandem-interrupts thread");
        timer
    })
}

/// Runs `job` on the timer thread at `at` (at once if that has passed).
pub(crate) fn schedule(at: Instant, job: Job) -> Key {
    timer().schedule(at, job)
}

/// Drops a job that has not run yet; false if it ran (or is running).
pub(crate) fn cancel(key: Key) -> bool {
    timer().lock().jobs.remove(&key).is_some()
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A job runs outside the lock, so a panic in one cannot poison it
        // half-way through an update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn schedule(&self, at: Instant, job: Job) -> Key {
        let mut state = self.lock();
        state.seq += 1;
        let key = Key { at, seq: state.seq };
        state.jobs.insert(key, job);
        // Wake the thread only when it would sleep past the new job. Calls
        // one after another under the same limit then cost no wake-up: each
        // new deadline is later than the one the thread already waits for
        // (whose job was cancelled), and when it wakes for that one it
        // finds the next.
        if state.wakes_at.is_none_or(|wakes| at < wakes) {
            self.earlier.notify_one();
        }
        key
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            match state.jobs.first_key_value().map(|(key, _)| key.at) {
                None => {
                    state.wakes_at = None;
                    state = self.earlier.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Some(at) if at > now => {
                    state.wakes_at = Some(at);
                    state = self.earlier.wait_timeout(state, at - now).unwrap_or_else(|e| e.into_inner()).0;
                }
                Some(_) => {
                    let Some((_, job)) = state.jobs.pop_first() else { continue };
                    // Awake: it looks at the jobs again after this one.
                    state.wakes_at = Some(now);
                    drop(state);
                    job();
                    state = self.lock();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn jobs_run_in_time_order_and_a_cancelled_one_never_runs() {
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let send = |label: &'static str| {
            let tx = tx.clone();
            Box::new(move || tx.send(label).unwrap()) as Job
        };
        schedule(start + Duration::from_millis(60), send("late"));
        let dropped = schedule(start + Duration::from_millis(40), send("cancelled"));
        schedule(start + Duration::from_millis(20), send("early"));
        assert!(cancel(dropped));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "early");
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "late");
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "the cancelled job ran");
    }
}
