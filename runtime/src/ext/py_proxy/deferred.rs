//! Calls that settle later, as Promises: awaiting a coroutine (or a
//! `concurrent.futures.Future`) and calling a `@tandem.batch` function.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use deno_core::{op2, v8, OpState};
use pyo3::prelude::*;

use super::{to_js, with_python};
use crate::python::batch::Outcome;
use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::{is_future, ToPy};
use crate::python::detached::Detached;

/// The result of a coroutine, converted when the op resolves.
pub(super) struct Awaited(PyResult<Py<PyAny>>);

impl<'a> deno_core::convert::ToV8<'a> for Awaited {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        Ok(with_python(scope, |py, scope, bridge| {
            to_js(scope, bridge, self.0.map(|v| v.into_bound(py)), || "the awaited result".into())
        }))
    }
}

/// Runs the coroutine behind handle `id` on the runtime's asyncio loop (or
/// waits for the `concurrent.futures.Future` behind it) and resolves with
/// its result (or the error sentinel).
#[op2]
pub(super) async fn op_py_await(state: Rc<RefCell<OpState>>, #[smi] id: u32) -> Awaited {
    let bridge = Bridge::from_state(&state);
    let (tx, rx) = tokio::sync::oneshot::channel::<PyResult<Py<PyAny>>>();
    let submitted = Python::attach(|py| -> PyResult<()> {
        let coro = bridge
            .handles
            .take(id)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("coroutine already awaited"))?;
        let tx = std::sync::Mutex::new(Some(tx));
        let on_done = pyo3::types::PyCFunction::new_closure(py, None, None, move |args, _kwargs| -> PyResult<()> {
            let future = args.get_item(0)?;
            let result = future.call_method0("result").map(Bound::unbind);
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(result);
            }
            Ok(())
        })?;
        let awaitable = coro.bind(py);
        if is_future(py, awaitable)? {
            // Settled by another thread (a batcher, an executor): no event
            // loop needed, the callback fires where the result is set.
            awaitable.call_method1("add_done_callback", (on_done,))?;
        } else {
            py.import("tandem")?.call_method1("_submit", (awaitable, on_done))?;
        }
        Ok(())
    });
    if let Err(e) = submitted {
        return Awaited(Err(e));
    }
    drop(bridge);
    match rx.await {
        Ok(result) => Awaited(result),
        Err(_) => Awaited(Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the asyncio loop dropped the coroutine",
        ))),
    }
}

/// What a batched call settles with: the result, the Python exception for
/// this input, or why the input could not be converted.
pub(super) struct Batched(Result<Outcome, String>);

impl<'a> deno_core::convert::ToV8<'a> for Batched {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let bridge = Bridge::from_isolate(scope);
        Ok(match self.0 {
            Ok(Ok(value)) => match value.into_js(scope, &bridge) {
                Ok(value) => value,
                Err(e) => bridge.fail(scope, PendingError::Conversion(e.describe("the result of a batched call"))),
            },
            Ok(Err(err)) => bridge.fail(scope, PendingError::Python(err)),
            Err(message) => bridge.fail(scope, PendingError::Conversion(message)),
        })
    }
}

/// Queues `value` for the `@tandem.batch` function behind `batcher` and
/// resolves with its own result. Plain data is queued without the GIL, so
/// this thread goes on serving requests while the batch runs; other values
/// are converted to Python first, as for any call.
#[op2(reentrant)]
pub(super) fn op_py_batch_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] batcher: u32,
    value: v8::Local<'s, v8::Value>,
) -> impl Future<Output = Batched> {
    let queue = Bridge::from_isolate(scope).batchers.borrow().get(batcher as usize).cloned();
    let queued = queue.ok_or_else(|| format!("no batched function has index {batcher}")).and_then(|queue| {
        let input = match Detached::from_js(scope, value) {
            Some(input) => input,
            None => with_python(scope, |py, scope, bridge| {
                ToPy::new(py, bridge)
                    .convert(scope, value)
                    .map(|obj| Detached::Py(obj.unbind()))
                    .map_err(|e| e.describe(&format!("argument 0 of {}()", queue.name())))
            })?,
        };
        Ok(queue.call(input))
    });
    async move {
        match queued {
            Ok(rx) => Batched(rx.await.map_err(|_| "the batching thread dropped the call".to_string())),
            Err(message) => Batched(Err(message)),
        }
    }
}
