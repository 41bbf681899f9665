//! What `tandem.ModelRegistry` (the helper package) reports to the
//! process's Prometheus metrics: the functions it calls after each model
//! call, each call of a version's model function (its batch size) and
//! each shadow comparison.

use pyo3::prelude::*;

use crate::metrics::Metrics;

/// `tandem._observe_model(model, version, seconds, ok, label)`.
#[pyfunction]
#[pyo3(signature = (model, version, seconds, ok, label=None))]
fn _observe_model(model: &str, version: &str, seconds: f64, ok: bool, label: Option<&str>) {
    Metrics::get().model_called(model, version, seconds, ok, label);
}

/// `tandem._observe_model_batch(model, version, size)`.
#[pyfunction]
fn _observe_model_batch(model: &str, version: &str, size: usize) {
    Metrics::get().model_batch(model, version, size);
}

/// `tandem._observe_shadow(model, primary, candidate, outcome)`.
#[pyfunction]
fn _observe_shadow(model: &str, primary: &str, candidate: &str, outcome: &str) {
    Metrics::get().shadow_compared(model, primary, candidate, outcome);
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(_observe_model, module)?)?;
    module.add_function(wrap_pyfunction!(_observe_model_batch, module)?)?;
    module.add_function(wrap_pyfunction!(_observe_shadow, module)?)?;
    Ok(())
}
