//! The threads that run Python for WSGI requests.
//!
//! The HTTP side never waits on Python: it queues a job and awaits a reply
//! channel. Each pool thread keeps one Python thread state for its whole
//! life and, after a job, takes the next queued one before letting go of the
//! GIL, so a busy server runs requests back to back instead of handing the
//! GIL to another thread between every two of them. While a request's
//! Python code waits (I/O, `time.sleep`, a slow client's body), the GIL is
//! free and the other threads run theirs.

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
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("tandem-python-{index}"))
                .spawn(move || run(queue))
                .map_err(|e| Error::Server(format!("cannot start a Python thread: {e}")))?;
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

fn run(queue: Receiver<Job>) {
    let _state = ThreadStateGuard::new();
    // Blocks without the GIL; the guard above keeps this thread's state.
    while let Ok(first) = queue.recv() {
        Python::attach(|py| {
            let mut job = first;
            loop {
                job(py);
                match queue.try_recv() {
                    Ok(next) => job = next,
                    Err(_) => break,
                }
            }
        });
    }
}
