//! Strings between the engines, exact and in one pass. A JavaScript string
//! is Latin-1 bytes or UTF-16 units and may hold a lone surrogate; a Python
//! `str` is code points (stored 1, 2 or 4 bytes wide) and may hold one too,
//! as `'\ud800'`. Each side's storage is read in place: no UTF-8 in between,
//! which could not carry a lone surrogate and would cost a transcoding each
//! way.

use std::os::raw::c_char;

use deno_core::v8;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::convert::ConvertError;

/// A JavaScript string as a Python `str`.
pub(crate) fn js_to_py<'py>(
    py: Python<'py>,
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
) -> PyResult<Bound<'py, PyString>> {
    let string = value.cast::<v8::String>();
    let view = v8::ValueView::new(scope, string);
    // SAFETY: the pointers and lengths come from slices that live as long
    // as `view`, and CPython copies the characters into the new object.
    let raw = unsafe {
        match view.data() {
            // Latin-1 bytes are exactly the code points U+0000..U+00FF.
            v8::ValueViewData::OneByte(bytes) => ffi::PyUnicode_FromKindAndData(
                ffi::PyUnicode_1BYTE_KIND as _,
                bytes.as_ptr().cast(),
                bytes.len() as ffi::Py_ssize_t,
            ),
            // "surrogatepass" keeps a lone surrogate as the code point it is.
            v8::ValueViewData::TwoByte(units) => {
                let mut little_endian: i32 = -1;
                ffi::PyUnicode_DecodeUTF16(
                    units.as_ptr().cast::<c_char>(),
                    (units.len() * 2) as ffi::Py_ssize_t,
                    c"surrogatepass".as_ptr(),
                    &mut little_endian,
                )
            }
        }
    };
    // SAFETY: `raw` is a new reference to a str, or null with a Python
    // error set.
    unsafe { Bound::from_owned_ptr_or_err(py, raw).map(|s| s.cast_into_unchecked()) }
}

/// A Python `str` as a JavaScript string.
#[cfg(not(Py_3_14))]
pub(crate) fn py_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    s: &Bound<'_, PyString>,
) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    let ptr = s.as_ptr();
    // SAFETY: `s` is a live str (we hold the GIL); since Python 3.12 every
    // str is in the canonical compact form these macros read, and 3.11
    // makes it canonical with PyUnicode_READY, called first. `data` holds
    // `len` characters of `kind` bytes each.
    let string = unsafe {
        #[cfg(not(Py_3_12))]
        if ffi::PyUnicode_READY(ptr) != 0 {
            return Err(PyErr::fetch(s.py()).into());
        }
        let len = ffi::PyUnicode_GET_LENGTH(ptr) as usize;
        let data = ffi::PyUnicode_DATA(ptr);
        match ffi::PyUnicode_KIND(ptr) {
            ffi::PyUnicode_1BYTE_KIND => {
                let bytes = std::slice::from_raw_parts(data as *const u8, len);
                v8::String::new_from_one_byte(scope, bytes, v8::NewStringType::Normal)
            }
            // Code points below U+10000 are their own UTF-16 unit, lone
            // surrogates included.
            ffi::PyUnicode_2BYTE_KIND => {
                let units = std::slice::from_raw_parts(data as *const u16, len);
                v8::String::new_from_two_byte(scope, units, v8::NewStringType::Normal)
            }
            _ => {
                let points = std::slice::from_raw_parts(data as *const u32, len);
                v8::String::new_from_two_byte(scope, &utf16_units(points), v8::NewStringType::Normal)
            }
        }
    };
    string.map(Into::into).ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))
}

/// A Python `str` as a JavaScript string, through its UTF-16 encoding
/// (pyo3 does not expose the str layout for Python 3.14).
#[cfg(Py_3_14)]
pub(crate) fn py_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    s: &Bound<'_, PyString>,
) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    let string = match s.to_str() {
        Ok(text) => v8::String::new(scope, text),
        Err(_) => {
            let bytes = s.call_method1("encode", ("utf-16-le", "surrogatepass"))?;
            let bytes = bytes.cast::<pyo3::types::PyBytes>().map_err(PyErr::from)?.as_bytes();
            let units: Vec<u16> = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            v8::String::new_from_two_byte(scope, &units, v8::NewStringType::Normal)
        }
    };
    string.map(Into::into).ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))
}

/// UTF-16 units of code points: astral ones become surrogate pairs; a lone
/// surrogate stays one unit.
#[cfg(not(Py_3_14))]
fn utf16_units(points: &[u32]) -> Vec<u16> {
    let mut units = Vec::with_capacity(points.len() + points.len() / 2);
    for &point in points {
        if point >= 0x1_0000 {
            let offset = point - 0x1_0000;
            units.push(0xD800 | (offset >> 10) as u16);
            units.push(0xDC00 | (offset & 0x3FF) as u16);
        } else {
            units.push(point as u16);
        }
    }
    units
}

#[cfg(test)]
#[cfg(not(Py_3_14))]
mod tests {
    use super::utf16_units;

    #[test]
    fn astral_code_points_become_pairs_and_lone_surrogates_stay() {
        assert_eq!(utf16_units(&[0x61, 0x1F600, 0xD800]), vec![0x61, 0xD83D, 0xDE00, 0xD800]);
    }
}
