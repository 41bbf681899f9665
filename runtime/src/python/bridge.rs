//! Per-isolate state of the TypeScript↔Python bridge.
//!
//! Stored in the `OpState` as an `Rc<Bridge>`; ops clone the `Rc` out and
//! drop the `OpState` borrow before running Python, because Python may call
//! back into JavaScript, which may run other ops.

use std::cell::RefCell;
use std::rc::Rc;

use deno_core::{v8, JsRuntime, OpState};
use pyo3::prelude::*;

use super::handles::Handles;

/// What went wrong in the last bridge call, picked up by the JS glue
/// through `op_py_take_error` after an op returned the error sentinel.
pub(crate) enum PendingError {
    Python(PyErr),
    /// A value that could not cross the boundary (becomes a JS TypeError).
    Conversion(String),
    /// An import the permissions refuse (becomes a JS `NotCapable` error).
    Denied(String),
}

/// How the JS side should wrap a Python object handle; numbered as
/// `WRAP_*` in ext/py_proxy/01_py_proxy.js, which builds the proxies.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum WrapKind {
    /// A plain object: a Proxy with attribute access and iteration.
    Object = 0,
    /// A function or method: a plain JS function (the fastest to call).
    Function = 1,
    /// A class or other callable: a callable, constructible Proxy.
    Callable = 2,
    /// A coroutine: becomes a Promise of its result.
    Awaitable = 3,
    /// A `@tandem.batch` function: calls are queued to its batcher
    /// without the GIL.
    Batched = 4,
}

#[derive(Default)]
pub(crate) struct Bridge {
    pub(crate) handles: Handles,
    /// `(id, kind) => proxy`, installed by the JS glue at start-up.
    pub(crate) wrap: RefCell<Option<v8::Global<v8::Function>>>,
    /// The unique value an op returns to say "an error is pending".
    pub(crate) error_sentinel: RefCell<Option<v8::Global<v8::Value>>>,
    /// The key under which proxies expose their handle id.
    pub(crate) handle_key: RefCell<Option<v8::Global<v8::Symbol>>>,
    pub(crate) pending_error: RefCell<Option<PendingError>>,
    /// Batching queues of the `@tandem.batch` functions JS holds, by the
    /// index their JS functions carry.
    pub(crate) batchers: RefCell<Vec<std::sync::Arc<super::batch::Queue>>>,
    /// Metrics of the callables JS has called, by handle id.
    pub(crate) call_metrics: RefCell<std::collections::HashMap<u32, Rc<crate::metrics::CallMetrics>>>,
    /// Set on the JS host isolate only: there, JS functions reach Python as
    /// `RemoteJsFunction`s, callable from any thread and at any time.
    pub(crate) remote: std::cell::OnceCell<super::remote::FunctionTable>,
    /// The isolate's thread, as a deadline on another thread interrupts it.
    pub(crate) thread: super::interrupt::PythonThread,
    /// The time limit of a call from JS that sets none of its own
    /// (`RuntimeOptions::python_call_timeout`); `None`: no limit.
    pub(crate) call_timeout: std::cell::Cell<Option<std::time::Duration>>,
    /// What the isolate's TypeScript may import (`python.import`).
    pub(crate) permissions: RefCell<Rc<crate::permissions::Permissions>>,
}

impl Bridge {
    /// The index under which JS reaches `queue` (the same queue always gets
    /// the same index, so re-importing a module does not grow the table).
    pub(crate) fn batcher_index(&self, queue: std::sync::Arc<super::batch::Queue>) -> u32 {
        let mut batchers = self.batchers.borrow_mut();
        if let Some(i) = batchers.iter().position(|q| std::sync::Arc::ptr_eq(q, &queue)) {
            return i as u32;
        }
        batchers.push(queue);
        (batchers.len() - 1) as u32
    }

    pub(crate) fn from_state(state: &Rc<RefCell<OpState>>) -> Rc<Bridge> {
        state.borrow().borrow::<Rc<Bridge>>().clone()
    }

    pub(crate) fn from_isolate(isolate: &v8::Isolate) -> Rc<Bridge> {
        Self::from_state(&JsRuntime::op_state_from(isolate))
    }

    /// Records `err` and returns the sentinel for the op to hand back.
    pub(crate) fn fail<'s>(
        &self,
        scope: &mut v8::PinScope<'s, '_>,
        err: PendingError,
    ) -> v8::Local<'s, v8::Value> {
        *self.pending_error.borrow_mut() = Some(err);
        let sentinel = self.error_sentinel.borrow();
        match sentinel.as_ref() {
            Some(s) => v8::Local::new(scope, s),
            None => v8::undefined(scope).into(),
        }
    }
}
