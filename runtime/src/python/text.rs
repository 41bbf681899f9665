//! Strings between the engines. A JavaScript string is UTF-16 and may hold
//! a lone surrogate; a Python `str` is code points and may hold one too
//! (as `'\ud800'`). UTF-8, the fast path in both directions, cannot, so a
//! string with a lone surrogate crosses as UTF-16 instead and comes back
//! exactly as it went on V8. The QuickJS engine's adapter reads and writes
//! every string as UTF-8 beneath these calls, so there the surrogate is
//! already U+FFFD when this code sees it (docs/values.md).

use deno_core::v8;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::convert::{string_to_js, ConvertError};

/// A JavaScript string as a Python `str`; `intern` for dict keys.
pub(crate) fn js_to_py<'py>(
    py: Python<'py>,
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    intern: bool,
) -> Bound<'py, PyString> {
    let text = value.to_rust_string_lossy(scope);
    // The lossy conversion writes U+FFFD for a lone surrogate, so only a
    // string holding U+FFFD is read again, as UTF-16.
    if text.contains('\u{FFFD}') {
        if let Some(exact) = with_lone_surrogates(py, scope, value) {
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
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
) -> Option<Bound<'py, PyString>> {
    let string = v8::Local::<v8::String>::try_from(value).ok()?;
    let mut units = vec![0u16; string.length()];
    string.write_v2(scope, 0, &mut units, v8::WriteFlags::empty());
    if char::decode_utf16(units.iter().copied()).all(|c| c.is_ok()) {
        return None; // a real U+FFFD
    }
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
    let decoded = PyBytes::new(py, &bytes).call_method1("decode", ("utf-16-le", "surrogatepass")).ok()?;
    decoded.cast_into::<PyString>().ok()
}

/// A Python `str` as a JavaScript string.
pub(crate) fn py_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    s: &Bound<'_, PyString>,
) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    match s.to_cow() {
        Ok(text) => string_to_js(scope, &text),
        // Only a lone surrogate makes a str unencodable as UTF-8.
        Err(_) => {
            let bytes = s.call_method1("encode", ("utf-16-le", "surrogatepass"))?;
            let bytes = bytes.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes();
            let units: Vec<u16> = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            v8::String::new_from_two_byte(scope, &units, v8::NewStringType::Normal)
                .map(Into::into)
                .ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))
        }
    }
}
