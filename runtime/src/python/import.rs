//! Importing the Python modules a program names: files (`./model.py`,
//! imported once per process under their plain name) and installed
//! modules (`python:sklearn.cluster`), and the names an ES import of one
//! exports.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::add_sys_path;

/// Imports the Python module for `specifier` (`file:` path or `python:` name).
pub(crate) fn import_specifier<'py>(
    py: Python<'py>,
    specifier: &str,
) -> PyResult<Bound<'py, PyModule>> {
    if let Some(name) = specifier.strip_prefix("python:") {
        return import_package(py, name);
    }
    let path = deno_core::url::Url::parse(specifier)
        .ok()
        .and_then(|s| s.to_file_path().ok())
        .unwrap_or_else(|| PathBuf::from(specifier));
    import_file(py, &path)
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
    // Always through import_module, even when `stem` is in sys.modules
    // already: another thread may be executing that module (with the GIL
    // given up), and import_module waits for it to finish where a plain
    // sys.modules lookup would hand out a module without its names yet.
    let module = py.import("importlib")?.call_method1("import_module", (&stem,))?;
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
    py.import("tandem")?
        .call_method1("_import_file_as", (&name, path.to_string_lossy().as_ref()))?
        .cast_into::<PyModule>()
        .map_err(Into::into)
}

/// Imports an installed module by dotted name (`python:sklearn.linear_model`).
pub(crate) fn import_package<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyModule>> {
    py.import("importlib")?
        .call_method1("import_module", (name,))?
        .cast_into::<PyModule>()
        .map_err(Into::into)
}

/// Re-executes the project modules (those under `root`) loaded from
/// `paths`, then the project modules that import them, and returns the
/// names reloaded (`tandem run --watch`; runtime/pylib/tandem/_reload.py).
pub(crate) fn reload_files(py: Python<'_>, paths: &[PathBuf], root: &Path) -> PyResult<Vec<String>> {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    py.import("tandem._reload")?
        .call_method1("reload_files", (paths, root.to_string_lossy().as_ref()))?
        .extract()
}

/// The `(name, value)` pairs an ES import of `module` exports.
pub(crate) fn module_exports<'py>(
    module: &Bound<'py, PyModule>,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let helper = module.py().import("tandem")?;
    helper.call_method1("_exports", (module,))?.extract()
}

/// Imports the app callable named by `spec`: `app.py` (its `app`),
/// `app.py:name`, or `package.module:name` (importable from `sys.path`).
/// `kind` ("WSGI", "ASGI") and `flag` ("--wsgi") name it in errors.
pub(crate) fn load_app(py: Python<'_>, spec: &str, kind: &str, flag: &str) -> Result<Py<PyAny>, String> {
    let (target, name) = match spec.rsplit_once(':') {
        Some((target, name)) if !name.is_empty() && !name.contains('/') => (target, name),
        _ => (spec, "app"),
    };
    let fail = |err: &PyErr| {
        format!("cannot import the {kind} module '{target}':\n{}", super::format_traceback(py, err).trim_end())
    };
    let module = if target.ends_with(".py") || Path::new(target).is_file() {
        let path = std::path::absolute(target).map_err(|e| format!("bad path {target:?}: {e}"))?;
        if !path.is_file() {
            return Err(format!("{kind} module not found: '{target}' (check the path)"));
        }
        import_file(py, &path).map_err(|e| fail(&e))?
    } else {
        import_package(py, target).map_err(|e| fail(&e))?
    };
    let mut object = module.into_any();
    for part in name.split('.') {
        object = object
            .getattr(part)
            .map_err(|_| format!("the {kind} module '{target}' has no '{name}' (name the callable: {flag} {target}:NAME)"))?;
    }
    Ok(object.unbind())
}
