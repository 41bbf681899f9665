//! JavaScript functions as Python callables, and the record of which JS
//! scope Python may call back into.
//!
//! A JS function reaches Python as a `tandem.JsFunction`. Calling it needs a
//! live V8/QuickJS scope on the isolate's own thread, which exists exactly
//! while that thread is inside a bridge op that is running Python. The op
//! publishes its scope in a thread-local for that span ([`enter`]).

use std::cell::Cell;
use std::ffi::c_void;

use deno_core::v8;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::bridge::Bridge;
use super::convert::{type_error, ToJs, ToPy};

thread_local! {
    /// The scope of the innermost bridge op running Python on this thread.
    static CURRENT_SCOPE: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// Restores the previous scope when a bridge op's Python call ends.
pub(crate) struct ScopeGuard {
    previous: *mut c_void,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        CURRENT_SCOPE.with(|c| c.set(self.previous));
    }
}

/// Publishes `scope` for Python callbacks until the guard drops.
pub(crate) fn enter(scope: &mut v8::PinScope<'_, '_>) -> ScopeGuard {
    let ptr = scope as *mut v8::PinScope<'_, '_> as *mut c_void;
    ScopeGuard { previous: CURRENT_SCOPE.with(|c| c.replace(ptr)) }
}

/// Lets a closure that touches only engine values run while the GIL is
/// released. PyO3 asks for `Send` because it cannot tell engine values from
/// Python references; `detach` runs the closure on this same thread.
struct AssertUngil<F>(F);
// SAFETY: see above; the closure never leaves the current thread and holds
// no Python references.
unsafe impl<F> Send for AssertUngil<F> {}

/// A JavaScript function held by Python.
#[pyclass(unsendable, module = "tandem", name = "JsFunction")]
pub(crate) struct JsFunction {
    function: v8::Global<v8::Function>,
}

/// The original JS value of an error thrown in a callback, kept on the
/// Python exception so it can be rethrown unchanged in JavaScript.
#[pyclass(unsendable, module = "tandem", name = "_JsValue")]
pub(crate) struct JsValueRef {
    pub(crate) value: v8::Global<v8::Value>,
}

impl JsFunction {
    pub(crate) fn wrap<'py>(
        py: Python<'py>,
        scope: &mut v8::PinScope<'_, '_>,
        function: v8::Local<'_, v8::Function>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let function = v8::Global::new(scope, function);
        Ok(Bound::new(py, JsFunction { function })?.into_any())
    }

    pub(crate) fn local<'s>(&self, scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Function> {
        v8::Local::new(scope, &self.function)
    }
}

#[pymethods]
impl JsFunction {
    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        call_in_scope(py, args, |scope| Some(v8::Local::new(scope, &self.function)))
    }

    fn __repr__(&self) -> &'static str {
        "<JavaScript function>"
    }
}

/// Calls a JS function on this thread, inside the scope of the bridge op
/// that is running Python here (see [`enter`]); `function` finds it in
/// that scope (`None`: it is gone). A returned Promise cannot be awaited
/// here, because the op's caller is waiting for Python to return.
pub(crate) fn call_in_scope(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    function: impl for<'s, 'i> FnOnce(&mut v8::PinScope<'s, 'i>) -> Option<v8::Local<'s, v8::Function>>,
) -> PyResult<Py<PyAny>> {
    let ptr = CURRENT_SCOPE.with(|c| c.get());
    if ptr.is_null() {
        return Err(PyRuntimeError::new_err(
            "a JavaScript function can only be called while JavaScript is calling into \
             Python on the same thread (not from another thread or after the call returned)",
        ));
    }
    // SAFETY: `ptr` was published by `enter` from a bridge op that is
    // still on this thread's stack (the guard clears it before the op
    // returns), so the scope is alive; the op does not touch it while
    // Python runs, so this is the only active use.
    let outer = unsafe { &mut *(ptr as *mut v8::PinScope<'static, 'static>) };
    v8::scope!(let scope, outer);
    let bridge = Bridge::from_isolate(scope);
    let Some(function) = function(scope) else {
        return Err(PyRuntimeError::new_err("this JavaScript function was already released"));
    };
    let function = v8::Local::new(scope, function);
    let mut to_js = ToJs::new(&bridge);
    let mut js_args = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let value = to_js
            .convert(scope, &arg)
            .map_err(|e| type_error(&e, &format!("argument {i} of a JavaScript function")))?;
        js_args.push(value);
    }
    v8::tc_scope!(let tc, scope);
    let undefined = v8::undefined(tc).into();
    let call = AssertUngil(|| function.call(tc, undefined, &js_args));
    let result = py
        .detach(move || {
            let call = call;
            AssertUngil((call.0)())
        })
        .0;
    match result {
        Some(value) if value.is_promise() => Err(PyRuntimeError::new_err(
            "this JavaScript function returned a Promise, which Python cannot wait for while \
             JavaScript is waiting for Python on the same thread; make the function synchronous \
             or call it from outside (a request thread, another module)",
        )),
        Some(value) => Ok(ToPy::new(py, &bridge)
            .convert(tc, value)
            .map_err(|e| type_error(&e, "the JavaScript function's return value"))?
            .unbind()),
        None => Err(js_exception_to_py(py, tc)),
    }
}

/// Turns the exception caught by `tc` into a `tandem.JSError`.
fn js_exception_to_py(py: Python<'_>, tc: &mut v8::PinnedRef<'_, v8::TryCatch<v8::HandleScope>>) -> PyErr {
    let Some(exception) = tc.exception() else {
        return PyRuntimeError::new_err("JavaScript execution was terminated");
    };
    js_error_to_py(py, tc, exception, true)
}

/// A thrown JS value as a `tandem.JSError`. With `keep_value`, the error
/// also carries the JS value, so it is rethrown unchanged if it travels
/// back into JavaScript on this thread; an error bound for another thread
/// must not hold engine values.
pub(crate) fn js_error_to_py(
    py: Python<'_>,
    scope: &mut v8::PinScope<'_, '_>,
    exception: v8::Local<'_, v8::Value>,
    keep_value: bool,
) -> PyErr {
    let (name, message, stack) = describe_js_error(scope, exception);
    let value = keep_value.then(|| v8::Global::new(scope, exception));
    let build = || -> PyResult<PyErr> {
        let class = py.import("tandem")?.getattr("JSError")?;
        let err = class.call1((message, stack, name))?;
        if let Some(value) = value {
            err.setattr("_tandem_js_value", Bound::new(py, JsValueRef { value })?)?;
        }
        Ok(PyErr::from_value(err))
    };
    build().unwrap_or_else(|e| e)
}

/// Name, message and stack of a thrown JS value (`String(value)` for
/// values that are not Error objects).
fn describe_js_error(
    scope: &mut v8::PinScope<'_, '_>,
    exception: v8::Local<'_, v8::Value>,
) -> (String, String, Option<String>) {
    let read = |scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<'_, v8::Object>, key: &str| {
        let key = v8::String::new(scope, key)?;
        let value = obj.get(scope, key.into())?;
        (!value.is_null_or_undefined()).then(|| value.to_rust_string_lossy(scope))
    };
    if exception.is_native_error() || exception.is_object() {
        let obj = exception.cast::<v8::Object>();
        let message = read(scope, obj, "message");
        if let Some(message) = message {
            let name = read(scope, obj, "name").unwrap_or_else(|| "Error".into());
            let stack = read(scope, obj, "stack");
            return (name, message, stack);
        }
    }
    ("Error".into(), exception.to_rust_string_lossy(scope), None)
}

/// Adds `JsFunction` to the `tandem` helper module for `isinstance` checks.
pub(crate) fn register(py: Python<'_>) -> PyResult<()> {
    let module = py.import("tandem")?;
    module.add_class::<JsFunction>()?;
    Ok(())
}
