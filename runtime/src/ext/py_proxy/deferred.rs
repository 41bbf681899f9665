//! Calls that settle later, as Promises: awaiting a coroutine (or a
//! `concurrent.futures.Future`) and calling a `@tandem.batch` function.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use deno_core::{op2, v8, CancelFuture, CancelHandle, OpState, ResourceId};
use pyo3::prelude::*;

use super::call::time_limit;
use super::{to_js, with_python};
use crate::python::batch::Outcome;
use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::{is_future, ToPy};
use crate::python::detached::Detached;

/// The result of a coroutine, converted when the op resolves; `undefined`
/// when the await was cancelled (the JS glue then throws the signal's
/// reason).
pub(super) enum Awaited {
    Settled(PyResult<Py<PyAny>>),
    Cancelled,
}

impl<'a> deno_core::convert::ToV8<'a> for Awaited {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        Ok(match self {
            Awaited::Settled(result) => with_python(scope, |py, scope, bridge| {
                to_js(scope, bridge, result.map(|v| v.into_bound(py)), || "the awaited result".into())
            }),
            Awaited::Cancelled => v8::undefined(scope).into(),
        })
    }
}

/// The cancel handle behind `rid` (-1: none; 0 is a resource id like any
/// other), from the JS glue's `cancellable()`: closed when the current
/// AbortSignal aborts.
fn cancel_handle(state: &Rc<RefCell<OpState>>, rid: i32) -> Option<Rc<CancelHandle>> {
    let rid = ResourceId::try_from(rid).ok()?;
    state.borrow().resource_table.get::<CancelHandle>(rid).ok()
}

/// Runs the coroutine behind handle `id` on the runtime's asyncio loop (or
/// waits for the `concurrent.futures.Future` behind it) and resolves with
/// its result (or the error sentinel). A coroutine runs under `limit`
/// (seconds, as for `op_py_call`: -1 for the runtime's default). Closing
/// the `cancel` handle cancels it: asyncio's CancelledError is raised in
/// the coroutine (a future is cancelled if it has not started).
#[op2]
pub(super) async fn op_py_await(
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    limit: f64,
    #[smi] cancel: i32,
) -> Awaited {
    let bridge = Bridge::from_state(&state);
    // deno_core polls an async op once within the JS call, so this runs
    // before the glue can close the handle (it does so only once the op has
    // started, for a signal already aborted): a closed handle is seen at
    // the `or_cancel` below, never missed here.
    let cancel = cancel_handle(&state, cancel);
    let limit = time_limit(&bridge, limit);
    let (tx, rx) = tokio::sync::oneshot::channel::<PyResult<Py<PyAny>>>();
    let submitted = Python::attach(|py| -> PyResult<Py<PyAny>> {
        let coro = bridge
            .handles
            .take(id)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("coroutine already awaited"))?;
        let awaitable = coro.bind(py);
        let tx = std::sync::Mutex::new(Some(tx));
        let on_done = pyo3::types::PyCFunction::new_closure(py, None, None, move |args, _kwargs| -> PyResult<()> {
            let future = args.get_item(0)?;
            let result = future.call_method0("result").map(Bound::unbind);
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(result);
            }
            Ok(())
        })?;
        if is_future(py, awaitable)? {
            // Settled by another thread (a batcher, an executor): no event
            // loop needed, the callback fires where the result is set.
            awaitable.call_method1("add_done_callback", (on_done,))?;
            Ok(awaitable.clone().unbind())
        } else {
            let seconds = limit.map(|l| l.as_secs_f64());
            let running = py.import("tandem")?.call_method1("_submit", (awaitable, on_done, seconds))?;
            Ok(running.unbind())
        }
    });
    drop(bridge);
    let running = match submitted {
        Ok(running) => running,
        Err(e) => return Awaited::Settled(Err(e)),
    };
    let settled = match cancel {
        Some(cancel) => rx.or_cancel(cancel).await,
        None => Ok(rx.await),
    };
    match settled {
        Ok(Ok(result)) => Awaited::Settled(result),
        Ok(Err(_)) => Awaited::Settled(Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the asyncio loop dropped the coroutine",
        ))),
        Err(_cancelled) => {
            // The future of `run_coroutine_threadsafe` passes the
            // cancellation on to the task on the loop's thread.
            Python::attach(|py| {
                if let Err(e) = running.bind(py).call_method0("cancel") {
                    e.write_unraisable(py, None);
                }
            });
            Awaited::Cancelled
        }
    }
}

/// What a batched call settles with: the result, the Python exception for
/// this input, or why the input could not be converted.
/// `None`: the call was cancelled (it becomes `undefined`, as for
/// [`Awaited::Cancelled`]).
pub(super) struct Batched(Option<Result<Outcome, String>>);

impl<'a> deno_core::convert::ToV8<'a> for Batched {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let bridge = Bridge::from_isolate(scope);
        Ok(match self.0 {
            None => v8::undefined(scope).into(),
            Some(Ok(Ok(value))) => match value.into_js(scope, &bridge) {
                Ok(value) => value,
                Err(e) => bridge.fail(scope, PendingError::Conversion(e.describe("the result of a batched call"))),
            },
            Some(Ok(Err(err))) => bridge.fail(scope, PendingError::Python(err)),
            Some(Err(message)) => bridge.fail(scope, PendingError::Conversion(message)),
        })
    }
}

/// Queues `value` for the `@tandem.batch` function behind `batcher` and
/// resolves with its own result. Plain data is queued without the GIL, so
/// this thread goes on serving requests while the batch runs; other values
/// are converted to Python first, as for any call. Closing the `cancel`
/// handle stops the wait, and the batching thread leaves the input out if
/// its batch has not started.
#[op2(reentrant)]
pub(super) fn op_py_batch_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] batcher: u32,
    value: v8::Local<'s, v8::Value>,
    #[smi] cancel: i32,
) -> impl Future<Output = Batched> {
    let cancel = cancel_handle(&deno_core::JsRuntime::op_state_from(scope), cancel);
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
        let rx = match queued {
            Ok(rx) => rx,
            Err(message) => return Batched(Some(Err(message))),
        };
        let settled = match cancel {
            // Dropping `rx` on cancellation closes the channel, which is
            // how the batching thread knows (batch.rs's `Reply::wanted`).
            Some(cancel) => rx.or_cancel(cancel).await,
            None => Ok(rx.await),
        };
        match settled {
            Ok(outcome) => Batched(Some(outcome.map_err(|_| "the batching thread dropped the call".to_string()))),
            Err(_cancelled) => Batched(None),
        }
    }
}
