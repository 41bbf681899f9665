//! `op_py_take_error`: the error a failed op left pending, as the plain
//! object the glue turns into a `PythonError` (or the original JS value of
//! a callback's error, rethrown).

use deno_core::{op2, v8};
use pyo3::prelude::*;

use crate::python::bridge::{Bridge, PendingError};
use crate::python::js_function::JsValueRef;

/// The pending error as `{ kind, type, message, traceback, jsValue }`.
#[op2(reentrant)]
pub(super) fn op_py_take_error<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    let bridge = Bridge::from_isolate(scope);
    let pending = bridge.pending_error.borrow_mut().take();
    let out = v8::Object::new(scope);
    let set = |scope: &mut v8::PinScope<'s, '_>, key: &str, value: v8::Local<'s, v8::Value>| {
        if let Some(key) = v8::String::new(scope, key) {
            out.set(scope, key.into(), value);
        }
    };
    let string = |scope: &mut v8::PinScope<'s, '_>, s: &str| -> v8::Local<'s, v8::Value> {
        v8::String::new(scope, s).map(Into::into).unwrap_or_else(|| v8::undefined(scope).into())
    };
    match pending {
        None => {
            let v = string(scope, "internal");
            set(scope, "kind", v);
            let m = string(scope, "no error was pending");
            set(scope, "message", m);
        }
        Some(PendingError::Conversion(message)) => {
            let v = string(scope, "conversion");
            set(scope, "kind", v);
            let m = string(scope, &message);
            set(scope, "message", m);
        }
        Some(PendingError::Denied(message)) => {
            let v = string(scope, "denied");
            set(scope, "kind", v);
            let m = string(scope, &message);
            set(scope, "message", m);
        }
        Some(PendingError::Python(err)) => {
            let info = Python::attach(|py| describe_python_error(py, &err, scope));
            let v = string(scope, "python");
            set(scope, "kind", v);
            let t = string(scope, &info.type_name);
            set(scope, "type", t);
            let m = string(scope, &info.message);
            set(scope, "message", m);
            let tb = string(scope, &info.traceback);
            set(scope, "traceback", tb);
            if let Some(js) = info.js_value {
                set(scope, "jsValue", js);
            }
        }
    }
    out.into()
}

struct PythonErrorInfo<'s> {
    type_name: String,
    message: String,
    traceback: String,
    /// The JS value a TypeScript callback threw, carried through Python.
    js_value: Option<v8::Local<'s, v8::Value>>,
}

fn describe_python_error<'s>(
    py: Python<'_>,
    err: &PyErr,
    scope: &mut v8::PinScope<'s, '_>,
) -> PythonErrorInfo<'s> {
    let value = err.value(py);
    let type_name = value
        .get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let message = value.str().map(|s| s.to_string()).unwrap_or_default();
    let traceback = crate::python::format_traceback(py, err);
    let js_value = value
        .getattr("_tandem_js_value")
        .ok()
        .and_then(|v| v.extract::<PyRef<'_, JsValueRef>>().ok().map(|r| v8::Local::new(scope, &r.value)));
    PythonErrorInfo { type_name, message, traceback, js_value }
}
