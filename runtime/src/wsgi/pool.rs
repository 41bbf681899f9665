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
use crate::python::thread_state::ThreadStateGuard;

/// Work for a pool thread: runs with the GIL held.
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// A fixed set of Python threads fed from one queue.
pub(crate) struct Pool {
    jobs: Sender<Job>,
}

impl Pool {
    /// Starts `threads` threads named `tandem-python-N`.
    pub(crate) fn new(threads: usize) -> Result<Pool, Error> {
        crate::python::initialize()?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
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

    /// Queues `job`; it runs on the first free thread.
    pub(crate) fn submit(&self, job: Job) {
        // The threads hold the receiving end for the life of the process,
        // so sending cannot fail.
        let _ = self.jobs.send(job);
    }
}

/// What the pool threads share.
struct Shared {
    queue: Receiver<Job>,
    /// Held from taking a job until holding the GIL.
    line: Mutex<()>,
    /// Threads that hold a job but not yet the GIL (0 or 1).
    waiting: AtomicUsize,
}

fn run(shared: &Shared) {
    let _state = ThreadStateGuard::new();
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
                job(py);
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

/// The next job (polled for a while before sleeping: a request that
/// arrives meanwhile starts without a wake-up); None once the pool is gone.
fn next(queue: &Receiver<Job>) -> Option<Job> {
    crate::spin::recv(queue).ok()
}
