//! Attribute access on a proxied Python object: get, set, delete, has,
//! `dir()`, and its `str()`/`repr()` text.

use deno_core::{op2, v8};
use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;

use super::{to_js, with_handle, with_python};
use crate::python::bridge::PendingError;
use crate::python::convert::ToPy;

/// `getattr(obj, name)`; a missing attribute reads as `undefined`, as a
/// missing property does in JavaScript.
#[op2(reentrant)]
pub(super) fn op_py_getattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, obj| match obj.getattr(name) {
        Err(e) if e.is_instance_of::<PyAttributeError>(py) => v8::undefined(scope).into(),
        result => to_js(scope, bridge, result, || format!("attribute '{name}'")),
    })
}

#[op2(reentrant)]
pub(super) fn op_py_setattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
    value: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, obj| {
        let value = match ToPy::new(py, bridge).convert(scope, value) {
            Ok(v) => v,
            Err(e) => {
                return bridge.fail(scope, PendingError::Conversion(e.describe(&format!("value for '{name}'"))))
            }
        };
        match obj.setattr(name, value) {
            Ok(()) => v8::undefined(scope).into(),
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

#[op2(reentrant)]
pub(super) fn op_py_delattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |_py, scope, bridge, obj| match obj.delattr(name) {
        Ok(()) => v8::undefined(scope).into(),
        Err(e) => bridge.fail(scope, PendingError::Python(e)),
    })
}

/// `hasattr(obj, name)`; false for a released handle, as `in` on a
/// missing object would be.
#[op2(fast, reentrant)]
pub(super) fn op_py_hasattr(scope: &mut v8::PinScope<'_, '_>, #[smi] id: u32, #[string] name: &str) -> bool {
    with_python(scope, |py, _scope, bridge| {
        bridge
            .handles
            .get(py, id)
            .is_some_and(|obj| obj.hasattr(name).unwrap_or(false))
    })
}

/// Public attribute names (`dir()` without `_`-prefixed ones).
#[op2(reentrant)]
pub(super) fn op_py_dir<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |_py, scope, bridge, obj| {
        let names = obj.dir().map(|names| {
            names
                .iter()
                .filter(|n| !n.to_string().starts_with('_'))
                .collect::<Vec<_>>()
        });
        match names {
            Ok(names) => {
                let array = v8::Array::new(scope, names.len() as i32);
                for (i, n) in names.iter().enumerate() {
                    let s = v8::String::new(scope, &n.to_string()).unwrap_or_else(|| v8::String::empty(scope));
                    array.set_index(scope, i as u32, s.into());
                }
                array.into()
            }
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

#[op2(reentrant)]
pub(super) fn op_py_str<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    text_op(scope, id, |obj| Ok(obj.str()?.to_string()))
}

#[op2(reentrant)]
pub(super) fn op_py_repr<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    text_op(scope, id, |obj| Ok(obj.repr()?.to_string()))
}

fn text_op<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    id: u32,
    f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<String>,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |_py, scope, bridge, obj| match f(&obj) {
        Ok(s) => v8::String::new(scope, &s).map(Into::into).unwrap_or_else(|| v8::undefined(scope).into()),
        Err(e) => bridge.fail(scope, PendingError::Python(e)),
    })
}
