//! `op_py_call`: calling a Python callable with JS arguments, timed into
//! the per-function metrics.

use std::rc::Rc;

use deno_core::{op2, v8};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::{callable_name, to_js, with_handle};
use crate::metrics::{CallMetrics, Metrics};
use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::ToPy;

/// `callable(*args, **kwargs)`; `args` is a JS Array, `kwargs` an object or
/// undefined.
#[op2(reentrant)]
pub(super) fn op_py_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    args: v8::Local<'s, v8::Array>,
    kwargs: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, callable| {
        let mut to_py = ToPy::new(py, bridge);
        let len = args.length();
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let arg = args.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
            match to_py.convert(scope, arg) {
                Ok(v) => items.push(v),
                Err(e) => {
                    let root = format!("argument {i} of {}()", callable_name(&callable));
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
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
        let args = match PyTuple::new(py, items) {
            Ok(t) => t,
            Err(e) => return bridge.fail(scope, PendingError::Python(e)),
        };
        let metrics = call_metrics(bridge, id, &callable);
        let started = std::time::Instant::now();
        let result = callable.call(args, kwargs.as_ref());
        metrics.duration.observe(started.elapsed().as_secs_f64());
        metrics.calls.inc();
        if result.is_err() {
            metrics.errors.inc();
        }
        to_js(scope, bridge, result, || format!("return value of {}()", callable_name(&callable)))
    })
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
