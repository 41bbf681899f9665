//! The threads that run Python for WSGI requests.
//!
//! The HTTP side never waits on Python: it queues a job and awaits a reply
//! channel. Each pool thread keeps one Python thread state for its whole
//! life and, after a job, takes the next queued one before letting go of the
//! GIL, so a busy server runs requests back to back instead of handing the
//! GIL to another thread between every two of them. While a request's
//! Python code waits (I/O, `time.sleep`, a slow client's body), the GIL is
//! free and the other threads run theirs.
//!
//! At most one thread at a time holds a job without the GIL (the one
//! holding [`Shared::line`] from taking a job until it has the GIL). With
//! more, every thread took a request and they all fought for the GIL,
//! CPython handing it over in no particular order: with 8 threads at 64
//! connections the p99 was 75 ms and throughput a third lower than with
//! one thread. With the line, CPU-bound requests meet at most one rival
//! for the GIL, while a request that sleeps or waits on I/O (GIL released)
//! still lets the next thread take the next request at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use pyo3::Python;

use crate::error::Error;
use crate::python::interrupt::PythonThread;
use crate::metrics::{Interrupted, Metrics};
use crate::python::timer;
use crate::python::thread_state::ThreadStateGuard;

/// Work for a pool thread: runs with the GIL held.
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// A job and what its submitter holds of it.
type Queued = (Job, Arc<Ticket>);

/// A fixed set of Python threads fed from one queue.
pub(crate) struct Pool {
    jobs: Sender<Queued>,
}

/// A submitted job as its submitter can stop it: a job stopped while queued
/// never starts; one stopped while it runs gets `tandem.TimeoutError`
/// raised in its thread (crate::python::interrupt), so its `finally`
/// blocks run and the thread is free for the next request.
pub(crate) struct Ticket {
    phase: Mutex<Phase>,
}

enum Phase {
    Queued,
    Running(PythonThread),
    Over,
}

impl Ticket {
    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job starts on `thread`; false if it was stopped while queued.
    fn start(&self, thread: &PythonThread) -> bool {
        let mut phase = self.lock();
        if !matches!(*phase, Phase::Queued) {
            return false;
        }
        *phase = Phase::Running(thread.clone());
        true
    }

    fn finish(&self) {
        *self.lock() = Phase::Over;
    }

    /// Stops the job (see [`Ticket`]).
    pub(crate) fn stop(self: &Arc<Self>) {
        let thread = {
            let mut phase = self.lock();
            match &*phase {
                Phase::Queued => {
                    *phase = Phase::Over;
                    return;
                }
                Phase::Running(thread) => thread.clone(),
                Phase::Over => return,
            }
        };
        // Raising needs the GIL, which the job's thread may hold for a
        // while: the interrupt timer waits for it, not the server's thread.
        let ticket = self.clone();
        timer::schedule(
            std::time::Instant::now(),
            Box::new(move || {
                // Under the GIL the job cannot finish meanwhile: jobs start
                // and finish with the GIL held.
                if thread.interrupt_if(|| matches!(*ticket.lock(), Phase::Running(_))) {
                    Metrics::get().interrupted(Interrupted::Wsgi);
                }
            }),
        );
    }
}

impl Pool {
    /// Starts `threads` threads named `tandem-python-N`.
    pub(crate) fn new(threads: usize) -> Result<Pool, Error> {
        crate::python::initialize()?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Queued>();
        let shared = Arc::new(Shared { queue, line: Mutex::new(()), waiting: AtomicUsize::new(0) });
        for index in 0..threads.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("tandem-python-{index}"))
                .spawn(move || run(&shared))
                .map_err(|source| Error::Spawn { what: "a WSGI Python thread", source })?;
        }
        Ok(Pool { jobs })
    }

    /// Queues `job`; it runs on the first free thread unless stopped first.
    pub(crate) fn submit(&self, job: Job) -> Arc<Ticket> {
        let ticket = Arc::new(Ticket { phase: Mutex::new(Phase::Queued) });
        // The threads hold the receiving end for the life of the process,
        // so sending cannot fail.
        let _ = self.jobs.send((job, ticket.clone()));
        ticket
    }
}

/// What the pool threads share.
struct Shared {
    queue: Receiver<Queued>,
    /// Held from taking a job until holding the GIL.
    line: Mutex<()>,
    /// Threads that hold a job but not yet the GIL (0 or 1).
    waiting: AtomicUsize,
}

fn run(shared: &Shared) {
    let _state = ThreadStateGuard::new();
    let thread = PythonThread::current();
    loop {
        let line = shared.line.lock().unwrap_or_else(|e| e.into_inner());
        // Waits without the GIL; the guard above keeps this thread's state.
        let Some(first) = next(&shared.queue) else { return };
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Python::attach(|py| {
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            drop(line);
            let mut job = first;
            loop {
                run_one(py, &thread, job);
                // Keep the GIL for the next request, unless a thread
                // already holds one and waits for the GIL.
                if shared.waiting.load(Ordering::SeqCst) > 0 {
                    break;
                }
                match shared.queue.try_recv() {
                    Ok(next) => job = next,
                    Err(_) => break,
                }
            }
        });
    }
}

/// Runs a job unless it was stopped while queued, marked as a call into
/// Python that its ticket can interrupt.
fn run_one(py: Python<'_>, thread: &PythonThread, (job, ticket): Queued) {
    if !ticket.start(thread) {
        return;
    }
    let in_python = thread.enter(py);
    job(py);
    // Still holding the GIL: an interrupt that has not fired by now is
    // withdrawn as `in_python` drops.
    ticket.finish();
    drop(in_python);
}

/// The next job (polled for a while before sleeping: a request that
/// arrives meanwhile starts without a wake-up); None once the pool is gone.
fn next(queue: &Receiver<Queued>) -> Option<Queued> {
    crate::spin::recv(queue).ok()
}
