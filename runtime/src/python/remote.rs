//! TypeScript and JavaScript modules required from Python
//! (`tandem.js.require`), and the JS functions Python holds from them.
//!
//! The modules run on the process's module host isolate
//! ([`crate::module_host`]: the one call upward from the Python layer, which
//! Python calling TypeScript needs). A [`RemoteJsFunction`] names a function there
//! by id, so any Python thread may hold and call it: the call travels to
//! the host and the caller waits with the GIL released. Python code that
//! the host's own JavaScript is running (a callback) calls it directly.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;

use deno_core::v8;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::bridge::Bridge;
use super::js_function::call_in_scope;
use crate::module_host as js_host;

/// What Python asks of the module host.
pub(crate) enum Job {
    /// Evaluate the module at this `file:` URL; answer with its exports.
    Require { url: String },
    /// Call a function of the host's [`FunctionTable`].
    Call { function: u32, args: Py<PyTuple> },
}

/// The host isolate's JS functions that Python holds, by id. Lives in the
/// host's [`Bridge`]; other isolates have none.
#[derive(Default)]
pub(crate) struct FunctionTable {
    functions: RefCell<HashMap<u32, v8::Global<v8::Function>>>,
    next: Cell<u32>,
}

impl FunctionTable {
    /// Keeps `function` and returns the Python callable that names it.
    pub(crate) fn wrap<'py>(
        &self,
        py: Python<'py>,
        scope: &mut v8::PinScope<'_, '_>,
        function: v8::Local<'_, v8::Function>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = self.next.get().wrapping_add(1).max(1);
        self.next.set(id);
        self.functions.borrow_mut().insert(id, v8::Global::new(scope, function));
        let name = function_name(scope, function);
        Ok(Bound::new(py, RemoteJsFunction { id, name })?.into_any())
    }

    pub(crate) fn get<'s>(&self, scope: &mut v8::PinScope<'s, '_>, id: u32) -> Option<v8::Local<'s, v8::Function>> {
        self.functions.borrow().get(&id).map(|f| v8::Local::new(scope, f))
    }

    pub(crate) fn release(&self, id: u32) {
        self.functions.borrow_mut().remove(&id);
    }
}

fn function_name(scope: &mut v8::PinScope<'_, '_>, function: v8::Local<'_, v8::Function>) -> String {
    let Some(key) = v8::String::new(scope, "name") else { return String::new() };
    function
        .get(scope, key.into())
        .filter(|n| n.is_string())
        .map(|n| n.to_rust_string_lossy(scope))
        .unwrap_or_default()
}

/// A function of a module required from Python. Callable from any thread;
/// arguments and the result convert by the table in `docs/values.md`, a
/// returned Promise is awaited, and a thrown error becomes `tandem.JSError`.
#[pyclass(frozen, module = "tandem", name = "RemoteJsFunction")]
pub(crate) struct RemoteJsFunction {
    pub(crate) id: u32,
    name: String,
}

#[pymethods]
impl RemoteJsFunction {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        if kwargs.is_some_and(|k| !k.is_empty()) {
            return Err(PyTypeError::new_err(format!(
                "{} takes positional arguments only (JavaScript has no keyword arguments); \
                 pass a dict as one argument instead",
                self.describe()
            )));
        }
        if js_host::on_host_thread() {
            let id = self.id;
            return call_in_scope(py, args, |scope| {
                let bridge = Bridge::from_isolate(scope);
                bridge.remote.get().and_then(|table| table.get(scope, id))
            });
        }
        js_host::request(py, Job::Call { function: self.id, args: args.clone().unbind() })
    }

    fn __repr__(&self) -> String {
        format!("<{}>", self.describe())
    }
}

impl RemoteJsFunction {
    fn describe(&self) -> String {
        if self.name.is_empty() {
            "JavaScript function".into()
        } else {
            format!("JavaScript function {}", self.name)
        }
    }
}

impl Drop for RemoteJsFunction {
    fn drop(&mut self) {
        js_host::release(self.id);
    }
}

/// `tandem.js.require`'s native half: evaluates the module at `path` (an
/// absolute path the helper resolved) on the JS host and returns its
/// exports as a dict.
#[pyfunction]
pub(crate) fn _js_require(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    if js_host::on_host_thread() {
        return Err(PyRuntimeError::new_err(format!(
            "cannot require {} from Python code that a module required from Python is running: \
             the module host is busy with that call; require it at the top of the Python module \
             that runs first (outside any JavaScript call)",
            path.display()
        )));
    }
    let url = deno_core::url::Url::from_file_path(&path)
        .map_err(|()| PyRuntimeError::new_err(format!("cannot require {}: not an absolute path", path.display())))?;
    js_host::request(py, Job::Require { url: url.to_string() })
}

/// Adds the classes and the native function to the `tandem` helper module.
pub(crate) fn register(module: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    module.add_class::<RemoteJsFunction>()?;
    module.add_function(wrap_pyfunction!(_js_require, module)?)?;
    Ok(())
}
