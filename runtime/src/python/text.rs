//! Strings between the engines. A JavaScript string is UTF-16 and may hold
//! a lone surrogate; a Python `str` is code points and may hold one too
//! (as `'\ud800'`). UTF-8, the fast path in both directions, cannot, so a
//! string with a lone surrogate crosses as its UTF-16 code units instead,
//! read and written by two small JS helpers (`unitsOf`/`fromUnits` in
//! ext/py_proxy/01_py_proxy.js). The helpers, not the engine's native
//! string API, because the QuickJS engine's adapter reads and writes every
//! native string as UTF-8 beneath that API and would lose the surrogate.

use deno_core::v8;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::bridge::Bridge;
use super::convert::{string_to_js, ConvertError};

/// A JavaScript string as a Python `str`; `intern` for dict keys.
pub(crate) fn js_to_py<'py>(
    py: Python<'py>,
    bridge: &Bridge,
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    intern: bool,
) -> Bound<'py, PyString> {
    let text = value.to_rust_string_lossy(scope);
    // The lossy conversion writes U+FFFD for a lone surrogate, so only a
    // string holding U+FFFD is read again, as UTF-16.
    if text.contains('\u{FFFD}') {
        if let Some(exact) = with_lone_surrogates(py, bridge, scope, value) {
            return exact;
        }
    }
    if intern {
        PyString::intern(py, &text)
    } else {
        PyString::new(py, &text)
    }
}

/// The string as Python code points, if it holds a lone surrogate.
fn with_lone_surrogates<'py>(
    py: Python<'py>,
    bridge: &Bridge,
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
) -> Option<Bound<'py, PyString>> {
    let units_of = bridge.units_of.borrow().as_ref().map(|f| v8::Local::new(scope, f))?;
    let recv = v8::undefined(scope).into();
    let units = units_of.call(scope, recv, &[value])?;
    let units = v8::Local::<v8::ArrayBufferView>::try_from(units).ok()?;
    let mut bytes = vec![0u8; units.byte_length()];
    units.copy_contents(&mut bytes);
    let code_units = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
    if char::decode_utf16(code_units).all(|c| c.is_ok()) {
        return None; // a real U+FFFD
    }
    let decoded = PyBytes::new(py, &bytes).call_method1("decode", ("utf-16-le", "surrogatepass")).ok()?;
    decoded.cast_into::<PyString>().ok()
}

/// A Python `str` as a JavaScript string.
pub(crate) fn py_to_js<'s>(
    bridge: &Bridge,
    scope: &mut v8::PinScope<'s, '_>,
    s: &Bound<'_, PyString>,
) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    match s.to_cow() {
        Ok(text) => string_to_js(scope, &text),
        // Only a lone surrogate makes a str unencodable as UTF-8.
        Err(_) => {
            let bytes = s.call_method1("encode", ("utf-16-le", "surrogatepass"))?;
            let bytes = bytes.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec();
            let len = bytes.len() / 2;
            let from_units = bridge
                .from_units
                .borrow()
                .as_ref()
                .map(|f| v8::Local::new(scope, f))
                .ok_or_else(|| ConvertError::new("the Python bridge is not initialised"))?;
            let store = v8::ArrayBuffer::new_backing_store_from_vec(bytes).make_shared();
            let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
            let units = v8::Uint16Array::new(scope, buffer, 0, len)
                .ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))?;
            let recv = v8::undefined(scope).into();
            from_units
                .call(scope, recv, &[units.into()])
                .ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))
        }
    }
}
