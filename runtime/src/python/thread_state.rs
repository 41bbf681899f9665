//! Keeps one Python thread state per JS worker thread for its whole life.
//!
//! `Python::attach` on a thread without a thread state creates one and
//! destroys it at the end of every call, which roughly doubles the cost of a
//! TS→Python call. Holding a state (with the GIL released) for as long as the
//! runtime lives makes every later attach reuse it.

use pyo3::ffi;

/// While alive, this thread owns a Python thread state but not the GIL.
pub(crate) struct ThreadStateGuard {
    state: Option<(ffi::PyGILState_STATE, *mut ffi::PyThreadState)>,
}

impl ThreadStateGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: the interpreter is initialised (callers run
        // `python::initialize` first). If this thread already holds the GIL
        // (a Rust program embedding us from inside Python), we leave its state
        // alone, since PyO3 is tracking it. Otherwise Ensure creates (or
        // reuses) this thread's state and SaveThread releases the GIL while
        // keeping the state; Drop undoes both on the same thread, because the
        // guard is `!Send` (it holds a raw pointer).
        unsafe {
            if ffi::PyGILState_Check() == 1 {
                return Self { state: None };
            }
            let gil = ffi::PyGILState_Ensure();
            let tstate = ffi::PyEval_SaveThread();
            Self { state: Some((gil, tstate)) }
        }
    }
}

impl Drop for ThreadStateGuard {
    fn drop(&mut self) {
        if let Some((gil, tstate)) = self.state.take() {
            // SAFETY: reverses `new` on the thread that ran it (see above).
            unsafe {
                ffi::PyEval_RestoreThread(tstate);
                ffi::PyGILState_Release(gil);
            }
        }
    }
}
