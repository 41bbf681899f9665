//! Interrupting the Python code a thread runs, from another thread: how a
//! deadline stops `while True: pass` in a function TypeScript called.
//!
//! CPython checks for an "asynchronous exception" between bytecodes
//! (`PyThreadState_SetAsyncExc`), so the interrupted code sees an ordinary
//! exception, `tandem.TimeoutError` (a `TimeoutError`), and its `finally`
//! blocks and context managers run. C code that never returns to the eval
//! loop (a long numpy kernel, a blocking read) is not interrupted until it
//! does; that is CPython's limit, and the documented exception.

use std::os::raw::c_long;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::ffi;

use super::timer;
use crate::metrics::{Interrupted, Metrics};

/// A thread that calls into Python, as other threads see it. Cheap to
/// clone; every clone names the same thread.
#[derive(Clone)]
pub(crate) struct PythonThread {
    inner: Arc<Inner>,
}

struct Inner {
    /// CPython's id of the thread (`threading.get_ident()`).
    ident: u64,
    /// Calls into Python in progress on the thread. Changed only with the
    /// GIL held, so an interrupter holding the GIL reads a stable value.
    depth: AtomicU32,
    /// An interrupt was raised and may not have fired yet.
    pending: AtomicBool,
}

/// Marks a call into Python in progress on its thread; see
/// [`PythonThread::enter`].
pub(crate) struct InPython<'a, 'py> {
    thread: &'a PythonThread,
    /// Proof that the GIL is held while the guard lives (and when it drops).
    _py: Python<'py>,
}

impl PythonThread {
    /// The calling thread.
    pub(crate) fn current() -> Self {
        // SAFETY: PyThread_get_thread_ident only reads the OS thread id; it
        // needs neither the GIL nor an initialised interpreter.
        let ident = unsafe { ffi::PyThread_get_thread_ident() } as u64;
        PythonThread { inner: Arc::new(Inner { ident, depth: AtomicU32::new(0), pending: AtomicBool::new(false) }) }
    }

    /// Marks a call into Python on this (the calling) thread until the
    /// guard drops, which must happen with the GIL still held.
    pub(crate) fn enter<'a, 'py>(&'a self, py: Python<'py>) -> InPython<'a, 'py> {
        self.inner.depth.fetch_add(1, Ordering::SeqCst);
        InPython { thread: self, _py: py }
    }

    /// Raises `tandem.TimeoutError` in the thread if it is inside a call
    /// into Python; false if it is not (nothing is raised then). Called
    /// from another thread; waits for the GIL, which a thread running
    /// bytecode hands over every `sys.getswitchinterval()` (5 ms).
    pub(crate) fn interrupt(&self) -> bool {
        self.interrupt_if(|| true)
    }

    /// [`interrupt`](Self::interrupt), if `still()` holds once the GIL is
    /// held: a thread that runs one job after another (a WSGI pool thread)
    /// checks there that the job to interrupt is still the one it runs.
    pub(crate) fn interrupt_if(&self, still: impl FnOnce() -> bool) -> bool {
        if self.inner.depth.load(Ordering::SeqCst) == 0 {
            // Nothing to interrupt, and no need to wait for the GIL to know.
            return false;
        }
        Python::attach(|py| {
            if self.inner.depth.load(Ordering::SeqCst) == 0 || !still() {
                return false;
            }
            let Ok(timeout) = py.import("tandem").and_then(|m| m.getattr("TimeoutError")) else {
                return false;
            };
            self.inner.pending.store(true, Ordering::SeqCst);
            // SAFETY: we hold the GIL; the exception class is a live object
            // (CPython takes its own reference); the id is a thread that has
            // a thread state (it is inside a call into Python, checked
            // under this same GIL). The id is an unsigned long in C, which
            // pyo3 declares as a long: the cast keeps its bits.
            unsafe { ffi::PyThreadState_SetAsyncExc(self.inner.ident as c_long, timeout.as_ptr()) == 1 }
        })
    }
}

/// A time limit on one call into Python on the calling thread: past it,
/// the interrupt timer raises `tandem.TimeoutError` in the thread, unless
/// the call has ended by then.
pub(crate) struct Limit {
    key: timer::Key,
    slot: Arc<LimitSlot>,
}

struct LimitSlot {
    thread: PythonThread,
    /// Cleared, with the GIL held, when the call ends.
    active: AtomicBool,
    /// Set, with the GIL held, when the interrupt was raised.
    fired: AtomicBool,
}

impl Limit {
    /// Starts the clock on a call `thread` is about to make (it must be
    /// the calling thread, inside [`PythonThread::enter`]).
    pub(crate) fn start(thread: &PythonThread, after: Duration) -> Limit {
        let slot = Arc::new(LimitSlot { thread: thread.clone(), active: AtomicBool::new(true), fired: AtomicBool::new(false) });
        let job = slot.clone();
        let key = timer::schedule(
            Instant::now() + after,
            Box::new(move || {
                // The call ends with the GIL held, and this check runs with
                // it held too: a call that has ended is never interrupted.
                if job.thread.interrupt_if(|| job.active.load(Ordering::SeqCst) && !job.fired.swap(true, Ordering::SeqCst)) {
                    Metrics::get().interrupted(Interrupted::PythonCallLimit);
                }
            }),
        );
        Limit { key, slot }
    }

    /// Ends the limit as the call returns (the GIL held: `py`); true if the
    /// limit interrupted the call. An interrupt raised that has not fired
    /// yet is withdrawn, so it cannot land in the caller's own Python.
    pub(crate) fn end(self, _py: Python<'_>) -> bool {
        self.slot.active.store(false, Ordering::SeqCst);
        timer::cancel(self.key);
        let fired = self.slot.fired.load(Ordering::SeqCst);
        if fired {
            self.slot.thread.withdraw();
        }
        fired
    }
}

impl Default for PythonThread {
    /// The calling thread (a bridge is made on its isolate's thread).
    fn default() -> Self {
        Self::current()
    }
}

impl PythonThread {
    /// Withdraws an interrupt that has not fired. Only for the thread
    /// itself, with the GIL held (callers prove it with a `Python` token).
    fn withdraw(&self) {
        self.inner.pending.store(false, Ordering::SeqCst);
        // SAFETY: the caller holds the GIL and this is its own thread's id;
        // a null exception clears the pending one, if any.
        unsafe { ffi::PyThreadState_SetAsyncExc(self.inner.ident as c_long, std::ptr::null_mut()) };
    }
}

impl Drop for InPython<'_, '_> {
    fn drop(&mut self) {
        let inner = &self.thread.inner;
        if inner.depth.fetch_sub(1, Ordering::SeqCst) == 1 && inner.pending.load(Ordering::SeqCst) {
            // The interrupt came as the outermost call was returning and
            // has not fired: withdraw it, or it would fire in whatever
            // Python this thread runs next (another request's). The GIL
            // is held: the guard holds a `Python` token.
            self.thread.withdraw();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `code` in a new thread (inside a call marked with `enter`); it
    /// calls `ready.set()` once it is where the test interrupts it.
    fn run_python_thread(code: &'static str) -> (PythonThread, Py<PyAny>, std::thread::JoinHandle<String>) {
        crate::python::initialize().unwrap();
        let ready = Python::attach(|py| py.import("threading").unwrap().call_method0("Event").unwrap().unbind());
        let event = Python::attach(|py| ready.clone_ref(py));
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let thread = PythonThread::current();
            tx.send(thread.clone()).unwrap();
            Python::attach(|py| {
                let _in = thread.enter(py);
                let globals = pyo3::types::PyDict::new(py);
                globals.set_item("ready", event).unwrap();
                let code = std::ffi::CString::new(code).unwrap();
                match py.run(&code, Some(&globals), None) {
                    Ok(()) => globals.get_item("outcome").unwrap().map(|v| v.to_string()).unwrap_or_default(),
                    Err(e) => format!("raised {}", e.get_type(py).qualname().unwrap()),
                }
            })
        });
        (rx.recv().unwrap(), ready, handle)
    }

    #[test]
    fn a_busy_loop_gets_a_timeout_error_and_its_finally_runs() {
        let code = "import tandem\noutcome = 'not interrupted'\ntry:\n    ready.set()\n    while True: pass\nexcept TimeoutError as e:\n    outcome = f'{type(e).__module__}.{type(e).__name__}: {e}'\nfinally:\n    outcome += ' (finally ran)'\n";
        let (thread, ready, handle) = run_python_thread(code);
        let set = Python::attach(|py| ready.bind(py).call_method1("wait", (10.0,)).unwrap().extract::<bool>().unwrap());
        assert!(set, "the thread never reached its loop");
        assert!(thread.interrupt(), "the thread is inside a call");
        let outcome = handle.join().unwrap();
        assert!(outcome.starts_with("tandem.TimeoutError: "), "{outcome}");
        assert!(outcome.ends_with("(finally ran)"), "{outcome}");
    }

    #[test]
    fn a_thread_outside_python_is_not_interrupted_later() {
        crate::python::initialize().unwrap();
        let thread = PythonThread::current();
        assert!(!thread.interrupt(), "no call in progress: nothing raised");
        // An interrupt raised while a call is returning is withdrawn when
        // the outermost call ends.
        Python::attach(|py| {
            let guard = thread.enter(py);
            let other = thread.clone();
            let raised = py.detach(|| std::thread::spawn(move || other.interrupt()).join().unwrap());
            assert!(raised);
            drop(guard);
            let next = py.run(c"x = sum(range(1000))", None, None);
            assert!(next.is_ok(), "the withdrawn interrupt fired in the next call: {next:?}");
        });
    }

    #[test]
    fn a_limit_interrupts_only_the_call_that_outlives_it() {
        crate::python::initialize().unwrap();
        let thread = PythonThread::current();
        Python::attach(|py| {
            let _in = thread.enter(py);
            let quick = Limit::start(&thread, Duration::from_millis(50));
            py.run(c"x = sum(range(100))", None, None).unwrap();
            assert!(!quick.end(py), "a call that ended in time was interrupted");
            let slow = Limit::start(&thread, Duration::from_millis(50));
            let started = Instant::now();
            let outcome = py.run(c"while True: pass", None, None);
            let fired = slow.end(py);
            assert!(fired);
            let err = outcome.expect_err("the loop ran past its limit");
            assert_eq!(err.get_type(py).qualname().unwrap().to_string(), "TimeoutError");
            assert!(started.elapsed() < Duration::from_secs(5));
            // The first limit was cancelled: nothing lands later.
            py.detach(|| std::thread::sleep(Duration::from_millis(100)));
            assert!(py.run(c"y = sum(range(1000))", None, None).is_ok());
        });
    }
}
