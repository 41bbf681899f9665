//! When JavaScript lets go of a Python object: the FinalizationRegistry's
//! release op, and the live-handle count `tandem:python` reports.

use std::rc::Rc;

use deno_core::{op2, OpState};
use pyo3::prelude::*;

use crate::python::bridge::Bridge;

/// Called by the FinalizationRegistry when a proxy is collected.
#[op2(fast)]
pub(super) fn op_py_release(state: &OpState, #[smi] id: u32) {
    let bridge = state.borrow::<Rc<Bridge>>().clone();
    Python::attach(|py| drop_handle(py, &bridge, id));
}

#[op2(fast)]
#[smi]
pub(super) fn op_py_live_handles(state: &OpState) -> u32 {
    state.borrow::<Rc<Bridge>>().handles.live() as u32
}

/// Forgets handle `id` and its call metrics. Takes the `Python` token to
/// prove the GIL is held: dropping a `Py` then decrefs at once instead of
/// queueing the decref for later.
pub(super) fn drop_handle(_py: Python<'_>, bridge: &Bridge, id: u32) {
    bridge.call_metrics.borrow_mut().remove(&id);
    drop(bridge.handles.take(id));
}
