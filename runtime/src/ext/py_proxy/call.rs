//! `op_py_call` and `op_py_call_short`: calling a Python callable with JS
//! arguments, timed into the per-function metrics.

use std::rc::Rc;
use std::time::Duration;

use deno_core::{op2, v8};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::{callable_name, convert_result, with_handle};
use crate::metrics::{CallMetrics, Metrics};
use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::{ToJs, ToPy};
use crate::python::interrupt::Limit;

/// `callable(*args, **kwargs)`; `args` is a JS Array, `kwargs` an object or
/// undefined. `limit` is the call's time limit in seconds: a positive
/// number, `Infinity` for none, or anything else (the glue passes -1) for
/// the runtime's default (`--python-call-timeout`).
#[op2(reentrant)]
pub(super) fn op_py_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    args: v8::Local<'s, v8::Array>,
    kwargs: v8::Local<'s, v8::Value>,
    limit: f64,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, callable| {
        let mut to_py = ToPy::new(py, bridge);
        let len = args.length();
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let arg = args.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
            match to_py.convert(scope, arg) {
                Ok(v) => items.push(v),
                Err(e) => return argument_error(scope, bridge, &callable, i, e),
            }
        }
        let kwargs = if kwargs.is_object() {
            match to_py.convert(scope, kwargs) {
                Ok(d) => d.cast_into::<PyDict>().ok(),
                Err(e) => {
                    let root = format!("keyword arguments of {}()", callable_name(&callable));
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
            }
        } else {
            None
        };
        invoke(scope, bridge, id, &callable, items, kwargs, limit)
    })
}

/// `callable()` (`count` 0) or `callable(arg)` (`count` 1), under the
/// runtime's default limit: the glue's path for the common call, which
/// skips building and reading an arguments Array.
#[op2(reentrant)]
pub(super) fn op_py_call_short<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    arg: v8::Local<'s, v8::Value>,
    #[smi] count: u32,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, callable| {
        let mut items = Vec::new();
        if count > 0 {
            match ToPy::new(py, bridge).convert(scope, arg) {
                Ok(v) => items.push(v),
                Err(e) => return argument_error(scope, bridge, &callable, 0, e),
            }
        }
        invoke(scope, bridge, id, &callable, items, None, -1.0)
    })
}

fn argument_error<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    bridge: &Bridge,
    callable: &Bound<'_, PyAny>,
    index: u32,
    e: crate::python::convert::ConvertError,
) -> v8::Local<'s, v8::Value> {
    let root = format!("argument {index} of {}()", callable_name(callable));
    bridge.fail(scope, PendingError::Conversion(e.describe(&root)))
}

/// Calls `callable` with converted arguments under its time limit, counts
/// it in the per-function metrics and converts the result.
fn invoke<'s, 'py>(
    scope: &mut v8::PinScope<'s, '_>,
    bridge: &Bridge,
    id: u32,
    callable: &Bound<'py, PyAny>,
    mut items: Vec<Bound<'py, PyAny>>,
    kwargs: Option<Bound<'py, PyDict>>,
    seconds: f64,
) -> v8::Local<'s, v8::Value> {
    let py = callable.py();
    let metrics = call_metrics(bridge, id, callable);
    let started = std::time::Instant::now();
    let limit = time_limit(bridge, seconds);
    let armed = limit.map(|after| Limit::start(&bridge.thread, after));
    // Without keyword arguments, zero or one argument take CPython's
    // vectorcall path, which needs no argument tuple.
    let mut result = match (items.len(), &kwargs) {
        (0, None) => callable.call0(),
        (1, None) => callable.call1((items.pop().expect("one argument"),)),
        _ => PyTuple::new(py, items).and_then(|args| callable.call(args, kwargs.as_ref())),
    };
    if let (Some(armed), Some(after)) = (armed, limit) {
        if armed.end(py) {
            result = result.map_err(|err| past_limit(py, err, &callable_name(callable), after));
        }
    }
    metrics.duration.observe(started.elapsed().as_secs_f64());
    metrics.calls.inc();
    if result.is_err() {
        metrics.errors.inc();
    }
    // A coroutine the call returns is awaited under the call's limit.
    let converter = ToJs::new(bridge).awaited_under(seconds);
    convert_result(scope, bridge, converter, result, || format!("return value of {}()", callable_name(callable)))
}

/// The limit a call runs under: its own (`withTimeout` in tandem:python),
/// or the runtime's default.
pub(super) fn time_limit(bridge: &Bridge, seconds: f64) -> Option<Duration> {
    if seconds == f64::INFINITY {
        None
    } else if seconds > 0.0 {
        Some(Duration::from_secs_f64(seconds))
    } else {
        bridge.call_timeout.get()
    }
}

/// The `tandem.TimeoutError` a limit raised, with a message that says
/// which call ran past which limit (the class's own message, all Python
/// itself can see, names no call) and the original traceback.
fn past_limit(py: Python<'_>, err: PyErr, name: &str, limit: Duration) -> PyErr {
    let Ok(class) = py.import("tandem").and_then(|m| m.getattr("TimeoutError")) else {
        return err;
    };
    if !err.matches(py, &class).unwrap_or(false) {
        // The interrupt was caught, and the call failed for another reason.
        return err;
    }
    let message = format!(
        "{name}() ran past its time limit of {} s and was interrupted (the limit is set by withTimeout() from tandem:python, or --python-call-timeout)",
        limit.as_secs_f64()
    );
    let Ok(exc) = class.call1((message,)) else { return err };
    if let Some(traceback) = err.traceback(py) {
        let _ = exc.setattr("__traceback__", traceback);
    }
    PyErr::from_value(exc)
}

/// The metrics of the function behind handle `id`, labelled
/// `module.qualname` and looked up once per handle (`lifetime.rs` forgets
/// them with the handle).
fn call_metrics(bridge: &Bridge, id: u32, callable: &Bound<'_, PyAny>) -> Rc<CallMetrics> {
    bridge
        .call_metrics
        .borrow_mut()
        .entry(id)
        .or_insert_with(|| {
            let module = callable.getattr("__module__").map(|m| m.to_string()).unwrap_or_default();
            let name = callable_name(callable);
            let label = if module.is_empty() || module == "None" { name } else { format!("{module}.{name}") };
            Rc::new(Metrics::get().python_function(&label))
        })
        .clone()
}
