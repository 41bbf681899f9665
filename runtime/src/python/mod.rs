//! The embedded CPython interpreter: start-up, `sys.path`, the `tandem`
//! helper package, and importing the Python modules TypeScript asks for.
//!
//! One interpreter serves the whole process; every JS isolate thread shares
//! it and takes the GIL only while Python code runs.

pub(crate) mod batch;
pub(crate) mod bridge;
pub(crate) mod convert;
pub(crate) mod detached;
pub(crate) mod handles;
pub(crate) mod js_function;
pub(crate) mod remote;
pub(crate) mod thread_state;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};

use crate::error::Error;

/// Sources of the `tandem` helper package, embedded so the binary is
/// self-contained (see `python/tandem/` at the repository root).
const HELPER_INIT: &str = include_str!("../../../python/tandem/__init__.py");

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
    let module = PyModule::from_code(
        py,
        &std::ffi::CString::new(HELPER_INIT).expect("helper source has no NUL"),
        c"<tandem>/tandem/__init__.py",
        c"tandem",
    )?;
    module.add_class::<batch::Batcher>()?;
    remote::register(&module)?;
    py.import("sys")?.getattr("modules")?.set_item("tandem", module)?;
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

/// Imports the Python file at `path` once per process.
///
/// The file's folder goes on `sys.path` so it can import its siblings, and
/// the module is imported under its plain name, so `import ml_service` from
/// another Python file yields the very same module object. If that name is
/// already taken by another file, the module is loaded under a name derived
/// from its path instead.
pub(crate) fn import_file<'py>(py: Python<'py>, path: &Path) -> PyResult<Bound<'py, PyModule>> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    add_sys_path(py, dir)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let importlib = py.import("importlib")?;
    let sys_modules = py.import("sys")?.getattr("modules")?;
    if let Ok(existing) = sys_modules.get_item(&stem) {
        if module_file_is(&existing, path)? {
            return Ok(existing.cast_into::<PyModule>()?);
        }
        return import_by_location(py, path);
    }
    let module = importlib.call_method1("import_module", (&stem,))?;
    if module_file_is(&module, path)? {
        Ok(module.cast_into::<PyModule>()?)
    } else {
        import_by_location(py, path)
    }
}

fn module_file_is(module: &Bound<'_, PyAny>, path: &Path) -> PyResult<bool> {
    let Ok(file) = module.getattr("__file__") else {
        return Ok(false);
    };
    if file.is_none() {
        return Ok(false);
    }
    let file: PathBuf = file.extract::<String>()?.into();
    Ok(same_file(&file, path))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Loads a file whose plain module name is taken, under a unique name.
fn import_by_location<'py>(py: Python<'py>, path: &Path) -> PyResult<Bound<'py, PyModule>> {
    let name = format!(
        "_tandem_file_{}",
        path.to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    );
    let sys_modules = py.import("sys")?.getattr("modules")?;
    if let Ok(existing) = sys_modules.get_item(&name) {
        return Ok(existing.cast_into::<PyModule>()?);
    }
    let util = py.import("importlib.util")?;
    let spec = util.call_method1("spec_from_file_location", (&name, path.to_string_lossy().as_ref()))?;
    let module = util.call_method1("module_from_spec", (&spec,))?;
    sys_modules.set_item(&name, &module)?;
    if let Err(e) = spec.getattr("loader")?.call_method1("exec_module", (&module,)) {
        sys_modules.del_item(&name)?;
        return Err(e);
    }
    Ok(module.cast_into::<PyModule>()?)
}

/// Imports an installed module by dotted name (`python:sklearn.linear_model`).
pub(crate) fn import_package<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyModule>> {
    py.import("importlib")?
        .call_method1("import_module", (name,))?
        .cast_into::<PyModule>()
        .map_err(Into::into)
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

/// The `(name, value)` pairs an ES import of `module` exports.
pub(crate) fn module_exports<'py>(
    module: &Bound<'py, PyModule>,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let helper = module.py().import("tandem")?;
    helper.call_method1("_exports", (module,))?.extract()
}
