//! The embedded helper package's compiled code, kept on disk between runs.
//!
//! Compiling `tandem/__init__.py` from source was a tenth of a
//! `tandem run` start (docs/benchmarks.md, cold start). The first start
//! writes the code object with `marshal` under the cache root
//! (`crate::cache`); later starts read it back. The file name carries a
//! hash of the source and of the interpreter's version, so an upgrade of
//! either compiles afresh; an unreadable or unwritable cache only costs
//! the compile.

use std::ffi::CStr;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyModule};

/// Runs `source` as module `name` (registered in `sys.modules` first, as
/// an import does), from cached code when an earlier run left it.
pub(crate) fn module_from_source<'py>(
    py: Python<'py>,
    source: &str,
    file: &CStr,
    name: &CStr,
) -> PyResult<Bound<'py, PyModule>> {
    module_cached_at(py, source, file, name, cache_path(source, name))
}

/// [`module_from_source`] with its code cached at `path` (none: compiled).
fn module_cached_at<'py>(
    py: Python<'py>,
    source: &str,
    file: &CStr,
    name: &CStr,
    path: Option<PathBuf>,
) -> PyResult<Bound<'py, PyModule>> {
    let code = compiled(py, source, file, path)?;
    let module = PyModule::new(py, &name.to_string_lossy())?;
    module.setattr("__file__", file.to_string_lossy())?;
    py.import("sys")?.getattr("modules")?.set_item(module.name()?, &module)?;
    py.import("builtins")?.getattr("exec")?.call1((code, module.dict()))?;
    Ok(module)
}

/// The code object of `source`: read from the cache, else compiled and
/// stored there for the next run.
fn compiled<'py>(py: Python<'py>, source: &str, file: &CStr, path: Option<PathBuf>) -> PyResult<Bound<'py, PyAny>> {
    let marshal = py.import("marshal")?;
    if let Some(bytes) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        // A truncated or foreign file is not an error: compile instead.
        if let Ok(code) = marshal.call_method1("loads", (PyBytes::new(py, &bytes),)) {
            return Ok(code);
        }
    }
    let code = py
        .import("builtins")?
        .getattr("compile")?
        .call1((source, file.to_string_lossy(), "exec"))?;
    if let Some(path) = path {
        let bytes = marshal.call_method1("dumps", (&code,))?;
        store(&path, bytes.cast::<PyBytes>()?.as_bytes());
    }
    Ok(code)
}

fn cache_path(source: &str, name: &CStr) -> Option<PathBuf> {
    if std::env::var_os("TANDEM_NO_CODE_CACHE").is_some() {
        return None;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut hasher);
    Python::version_str().hash(&mut hasher);
    let file = format!("{}-{:016x}.marshal", name.to_string_lossy(), hasher.finish());
    Some(crate::cache::cache_root().join("python").join(file))
}

/// Writes `bytes` whole or not at all: another process starting at the
/// same moment reads either nothing or the complete file.
fn store(path: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let staging = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&staging, bytes).is_ok() && std::fs::rename(&staging, path).is_err() {
        let _ = std::fs::remove_file(&staging);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x_of(module: &Bound<'_, PyModule>) -> i64 {
        module.getattr("x").unwrap().extract().unwrap()
    }

    #[test]
    fn cached_code_is_run_and_a_corrupt_file_is_compiled_over() {
        let dir = std::env::temp_dir().join(format!("tandem-code-cache-{}", std::process::id()));
        let path = dir.join("a.marshal");
        Python::initialize();
        Python::attach(|py| {
            let load = |source: &str| module_cached_at(py, source, c"<t>/a.py", c"_code_cache_a", Some(path.clone())).unwrap();
            assert_eq!(x_of(&load("x = 1 + 1\n")), 2);
            assert!(path.is_file(), "the compiled code is stored");
            // The cached code, not the source, runs now: the file is keyed
            // by the source's hash, so only a test can tell them apart.
            let module = load("x = 'not run'\n");
            assert_eq!(x_of(&module), 2);
            assert_eq!(module.getattr("__file__").unwrap().extract::<String>().unwrap(), "<t>/a.py");
            std::fs::write(&path, b"not marshal").unwrap();
            assert_eq!(x_of(&load("x = 3\n")), 3, "a corrupt file is compiled over");
            assert_eq!(x_of(&load("x = 'not run'\n")), 3, "and stored again");
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_cache_file_changes_with_the_source() {
        assert_ne!(cache_path("x = 1", c"m"), cache_path("x = 2", c"m"));
        assert_eq!(cache_path("x = 1", c"m"), cache_path("x = 1", c"m"));
    }
}
