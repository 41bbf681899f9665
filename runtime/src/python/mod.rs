//! The embedded CPython interpreter: start-up, `sys.path` and the
//! `tandem` helper package; [`import`] imports the modules TypeScript asks
//! for, the other modules make up the value bridge.
//!
//! One interpreter serves the whole process; every JS isolate thread shares
//! it and takes the GIL only while Python code runs.

pub(crate) mod batch;
pub(crate) mod bridge;
pub(crate) mod code_cache;
pub(crate) mod convert;
pub(crate) mod declarations;
pub(crate) mod detached;
pub(crate) mod handles;
pub(crate) mod import;
pub(crate) mod interrupt;
pub(crate) mod js_function;
pub(crate) mod model_metrics;
pub(crate) mod ndarray;
pub(crate) mod remote;
pub(crate) mod text;
pub(crate) mod thread_state;
pub(crate) mod timer;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::PyList;

pub(crate) use import::{import_package, import_specifier, load_app, module_exports, reload_files};

use crate::error::Error;

/// Sources of the `tandem` helper package, embedded so the binary is
/// self-contained (see `runtime/pylib/tandem/`).
const HELPER_INIT: &str = include_str!("../../pylib/tandem/__init__.py");
const HELPER_RELOAD: &str = include_str!("../../pylib/tandem/_reload.py");
const HELPER_TYPES: &str = include_str!("../../pylib/tandem/_types.py");
const HELPER_ASGI: &str = include_str!("../../pylib/tandem/_asgi.py");

static INIT: OnceLock<Result<(), String>> = OnceLock::new();

/// Starts the interpreter once per process and installs the helper package.
///
/// Safe to call from any thread, any number of times.
pub fn initialize() -> Result<(), Error> {
    // The outcome of the first start is kept: a failed set-up is reported
    // to every later caller too, not only to the first.
    let outcome = INIT.get_or_init(|| {
        Python::initialize();
        Python::attach(|py| {
            add_virtualenv(py)?;
            install_helper(py)?;
            js_function::register(py)?;
            Ok::<_, PyErr>(())
        })
        .map_err(|e| e.to_string())
    });
    outcome.clone().map_err(Error::python_setup)
}

/// Honours an active virtualenv: the embedded interpreter does not pick up
/// `$VIRTUAL_ENV` by itself, so its site-packages are added explicitly.
fn add_virtualenv(py: Python<'_>) -> PyResult<()> {
    let Some(venv) = std::env::var_os("VIRTUAL_ENV") else {
        return Ok(());
    };
    let sys = py.import("sys")?;
    let version: (u8, u8) = sys.getattr("version_info")?.extract::<(u8, u8, u8, String, u8)>().map(|v| (v.0, v.1))?;
    let site_packages = PathBuf::from(venv)
        .join("lib")
        .join(format!("python{}.{}", version.0, version.1))
        .join("site-packages");
    if site_packages.is_dir() {
        py.import("site")?
            .call_method1("addsitedir", (site_packages.to_string_lossy().as_ref(),))?;
    }
    Ok(())
}

fn install_helper(py: Python<'_>) -> PyResult<()> {
    let module = code_cache::module_from_source(py, HELPER_INIT, c"<tandem>/tandem/__init__.py", c"tandem")?;
    module.add_class::<batch::Batcher>()?;
    remote::register(&module)?;
    model_metrics::register(&module)?;
    py.import("sys")?.getattr("modules")?.set_item("tandem", &module)?;
    // The submodules are compiled on first import (see __init__.py).
    let sources = module.getattr("_EmbeddedSubmodules")?.getattr("sources")?;
    sources.set_item("tandem._reload", HELPER_RELOAD)?;
    sources.set_item("tandem._types", HELPER_TYPES)?;
    sources.set_item("tandem._asgi", HELPER_ASGI)?;
    Ok(())
}


/// Puts `dir` first on `sys.path` (absolute), unless it is already there.
pub(crate) fn add_sys_path(py: Python<'_>, dir: &Path) -> PyResult<()> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_string_lossy();
    let path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    if !path.contains(dir.as_ref())? {
        path.insert(0, dir.as_ref())?;
    }
    Ok(())
}

/// `err` with its traceback, as Python prints it.
pub(crate) fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    py.import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (value.get_type(), value, err.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>())
        .map(|lines| lines.concat())
        .unwrap_or_else(|_| format!("{err}\n"))
}
