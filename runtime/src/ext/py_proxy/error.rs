//! `op_py_take_error`: the error a failed op left pending, as the plain
//! object the glue turns into a `PythonError` (or the original JS value of
//! a callback's error, rethrown). A Python exception brings its data: its
//! public instance attributes, its `args` and the names of its classes
//! (most derived first), so TypeScript can read `err.code` and match
//! subclasses.

use deno_core::{op2, v8};
use pyo3::prelude::*;

use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::{string_to_js, ToJs};
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
            let info = Python::attach(|py| describe_python_error(py, &err, &bridge, scope));
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
            set(scope, "attributes", info.attributes);
            set(scope, "args", info.args);
            set(scope, "mro", info.mro);
            set(scope, "frames", info.frames);
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
    /// `{name: value}` of the exception's public instance attributes.
    attributes: v8::Local<'s, v8::Value>,
    /// `exception.args` as an Array.
    args: v8::Local<'s, v8::Value>,
    /// The exception's classes, most derived first, `object` left out:
    /// builtins by name (`ValueError`), others as `module.QualName`.
    mro: v8::Local<'s, v8::Value>,
    /// The traceback's frames, outermost first, as `{name, file, line}`:
    /// the glue splices them into the JS stack (01_py_proxy.js).
    frames: v8::Local<'s, v8::Value>,
}

fn describe_python_error<'s>(
    py: Python<'_>,
    err: &PyErr,
    bridge: &Bridge,
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
    let attributes = attributes_to_js(value, bridge, scope);
    let args = value
        .getattr("args")
        .ok()
        .map(|args| value_to_js(&args, bridge, scope))
        .unwrap_or_else(|| v8::Array::new(scope, 0).into());
    let mro = mro_to_js(value, scope);
    let frames = frames_to_js(py, err, scope);
    PythonErrorInfo { type_name, message, traceback, js_value, attributes, args, mro, frames }
}

/// `vars(exception)` without private names, each value converted as a
/// call's result is; one that cannot be is its `repr()`, so a detail that
/// does not convert never hides the exception itself.
fn attributes_to_js<'s>(
    value: &Bound<'_, PyAny>,
    bridge: &Bridge,
    scope: &mut v8::PinScope<'s, '_>,
) -> v8::Local<'s, v8::Value> {
    let out = v8::Object::new(scope);
    let Ok(vars) = value.getattr("__dict__").and_then(|d| d.cast_into::<pyo3::types::PyDict>().map_err(Into::into)) else {
        return out.into();
    };
    for (key, item) in vars.iter() {
        let Ok(key) = key.extract::<String>() else { continue };
        if key.starts_with('_') {
            continue;
        }
        let js = value_to_js(&item, bridge, scope);
        if let Ok(key) = string_to_js(scope, &key) {
            out.set(scope, key, js);
        }
    }
    out.into()
}

fn value_to_js<'s>(value: &Bound<'_, PyAny>, bridge: &Bridge, scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    match ToJs::new(bridge).convert(scope, value) {
        Ok(js) => js,
        Err(_) => {
            let repr = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<unrepresentable>".into());
            string_to_js(scope, &repr).unwrap_or_else(|_| v8::undefined(scope).into())
        }
    }
}

fn frames_to_js<'s>(py: Python<'_>, err: &PyErr, scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    let frames: Vec<(String, String, u32)> = err
        .traceback(py)
        .and_then(|tb| {
            let summary = py.import("traceback").ok()?.call_method1("extract_tb", (tb,)).ok()?;
            summary
                .try_iter()
                .ok()?
                .flatten()
                .map(|f| Some((f.getattr("name").ok()?.extract().ok()?, f.getattr("filename").ok()?.extract().ok()?, f.getattr("lineno").ok()?.extract().unwrap_or(0))))
                .collect()
        })
        .unwrap_or_default();
    let mut items = Vec::with_capacity(frames.len());
    for (name, file, line) in frames {
        let frame = v8::Object::new(scope);
        for (key, value) in [("name", string_to_js(scope, &name)), ("file", string_to_js(scope, &file))] {
            if let (Ok(key), Ok(value)) = (string_to_js(scope, key), value) {
                frame.set(scope, key, value);
            }
        }
        if let Ok(key) = string_to_js(scope, "line") {
            let line = v8::Integer::new_from_unsigned(scope, line);
            frame.set(scope, key, line.into());
        }
        items.push(frame.into());
    }
    v8::Array::new_with_elements(scope, &items).into()
}

fn mro_to_js<'s>(value: &Bound<'_, PyAny>, scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    let mut names = Vec::new();
    for class in value.get_type().mro().iter() {
        let qualname = class.getattr("__qualname__").and_then(|n| n.extract::<String>()).unwrap_or_default();
        let module = class.getattr("__module__").and_then(|m| m.extract::<String>()).unwrap_or_default();
        if qualname == "object" && module == "builtins" {
            continue;
        }
        names.push(if module == "builtins" || module.is_empty() { qualname } else { format!("{module}.{qualname}") });
    }
    let items: Vec<v8::Local<'s, v8::Value>> =
        names.iter().filter_map(|n| string_to_js(scope, n).ok()).collect();
    v8::Array::new_with_elements(scope, &items).into()
}
