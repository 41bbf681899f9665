//! Values that cross threads without the GIL or a JS scope.
//!
//! A `@tandem.batch` call is queued by the JS thread and run by the batching
//! thread. If the JS thread had to take the GIL to queue it, it would wait
//! for the batch that is running (the model holds the GIL for milliseconds)
//! and could queue nothing meanwhile, so batches would stay small. Instead,
//! plain data (what JSON holds, plus bytes and big integers up to 64 bits)
//! is copied into a [`Detached`] tree on one thread and turned into Python or
//! JS objects on the other. Anything else travels as a Python object made
//! with the GIL by the ordinary converters, so every value still crosses by
//! the table in `docs/values.md`.

use deno_core::v8;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::bridge::Bridge;
use super::convert::{self, ConvertError, ToJs};

/// Plain data trees deeper than this travel as Python objects instead.
const MAX_DEPTH: usize = 64;

pub(crate) enum Detached {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Detached>),
    Dict(Vec<(String, Detached)>),
    /// A value with no plain form, converted with the GIL.
    Py(Py<PyAny>),
}

impl Detached {
    /// Copies a JS value if it is plain data; `None` if it needs Python's
    /// converter (functions, proxies, symbols, promises, numeric typed
    /// arrays, BigInts beyond 64 bits, cycles, deep nesting).
    pub(crate) fn from_js(scope: &mut v8::PinScope<'_, '_>, value: v8::Local<'_, v8::Value>) -> Option<Self> {
        Self::from_js_at(scope, value, 0)
    }

    fn from_js_at(scope: &mut v8::PinScope<'_, '_>, value: v8::Local<'_, v8::Value>, depth: usize) -> Option<Self> {
        if value.is_string() {
            return Some(Self::Str(value.to_rust_string_lossy(scope)));
        }
        if value.is_number() {
            // The same rule as the GIL path: integral numbers are ints.
            let n = value.number_value(scope).unwrap_or(f64::NAN);
            return Some(convert::exact_integer(n).map_or(Self::Float(n), Self::Int));
        }
        if value.is_boolean() {
            return Some(Self::Bool(value.is_true()));
        }
        if value.is_null_or_undefined() {
            return Some(Self::None);
        }
        if value.is_big_int() {
            let (n, lossless) = value.cast::<v8::BigInt>().i64_value();
            return lossless.then_some(Self::Int(n));
        }
        if value.is_uint8_array() || value.is_data_view() {
            let view = value.cast::<v8::ArrayBufferView>();
            let mut bytes = vec![0u8; view.byte_length()];
            view.copy_contents(&mut bytes);
            return Some(Self::Bytes(bytes));
        }
        if depth >= MAX_DEPTH
            || value.is_symbol()
            || value.is_array_buffer_view()
            || value.is_array_buffer()
            || value.is_promise()
            || value.is_function()
            || value.is_proxy()
            || !value.is_object()
        {
            return None;
        }
        if value.is_array() {
            let array = value.cast::<v8::Array>();
            let mut items = Vec::with_capacity(array.length() as usize);
            for i in 0..array.length() {
                let item = array.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
                items.push(Self::from_js_at(scope, item, depth + 1)?);
            }
            return Some(Self::List(items));
        }
        let object = value.cast::<v8::Object>();
        let keys = object.get_own_property_names(scope, v8::GetPropertyNamesArgs::default())?;
        let mut entries = Vec::with_capacity(keys.length() as usize);
        for i in 0..keys.length() {
            let key = keys.get_index(scope, i)?;
            let item = object.get(scope, key).unwrap_or_else(|| v8::undefined(scope).into());
            entries.push((key.to_rust_string_lossy(scope), Self::from_js_at(scope, item, depth + 1)?));
        }
        Some(Self::Dict(entries))
    }

    /// Copies a Python object's plain parts; the rest stays a Python object.
    pub(crate) fn from_py(obj: &Bound<'_, PyAny>) -> Self {
        Self::from_py_at(obj, 0)
    }

    fn from_py_at(obj: &Bound<'_, PyAny>, depth: usize) -> Self {
        let plain = || -> Option<Self> {
            if obj.is_none() {
                return Some(Self::None);
            }
            if let Ok(s) = obj.cast_exact::<PyString>() {
                return Some(Self::Str(s.to_cow().ok()?.into_owned()));
            }
            if let Ok(b) = obj.cast_exact::<PyBool>() {
                return Some(Self::Bool(b.is_true()));
            }
            if let Ok(i) = obj.cast_exact::<PyInt>() {
                return i.extract::<i64>().ok().map(Self::Int);
            }
            // Subclasses too: numpy.float64 is a float.
            if let Ok(f) = obj.cast::<PyFloat>() {
                return Some(Self::Float(f.value()));
            }
            if let Ok(b) = obj.cast_exact::<PyBytes>() {
                return Some(Self::Bytes(b.as_bytes().to_vec()));
            }
            if depth >= MAX_DEPTH {
                return None;
            }
            if let Ok(d) = obj.cast_exact::<PyDict>() {
                let mut entries = Vec::with_capacity(d.len());
                for (key, value) in d.iter() {
                    let key = key.cast_exact::<PyString>().ok()?.to_cow().ok()?.into_owned();
                    entries.push((key, Self::from_py_at(&value, depth + 1)));
                }
                return Some(Self::Dict(entries));
            }
            if let Ok(l) = obj.cast_exact::<PyList>() {
                return Some(Self::List(l.iter().map(|v| Self::from_py_at(&v, depth + 1)).collect()));
            }
            if let Ok(t) = obj.cast_exact::<PyTuple>() {
                return Some(Self::List(t.iter().map(|v| Self::from_py_at(&v, depth + 1)).collect()));
            }
            None
        };
        plain().unwrap_or_else(|| Self::Py(obj.clone().unbind()))
    }

    /// Builds the Python object (the batching thread, holding the GIL).
    pub(crate) fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(match self {
            Self::None => py.None().into_bound(py),
            Self::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            Self::Int(i) => PyInt::new(py, i).into_any(),
            Self::Float(f) => PyFloat::new(py, f).into_any(),
            Self::Str(s) => PyString::new(py, &s).into_any(),
            Self::Bytes(b) => PyBytes::new(py, &b).into_any(),
            Self::List(items) => {
                let list = PyList::empty(py);
                for item in items {
                    list.append(item.into_py(py)?)?;
                }
                list.into_any()
            }
            Self::Dict(entries) => {
                let dict = PyDict::new(py);
                for (key, value) in entries {
                    dict.set_item(PyString::intern(py, &key), value.into_py(py)?)?;
                }
                dict.into_any()
            }
            Self::Py(obj) => obj.into_bound(py),
        })
    }

    fn needs_python(&self) -> bool {
        match self {
            Self::Py(_) => true,
            Self::List(items) => items.iter().any(Self::needs_python),
            Self::Dict(entries) => entries.iter().any(|(_, v)| v.needs_python()),
            _ => false,
        }
    }

    /// Builds the JS value (the JS thread); takes the GIL only if part of
    /// the value is a Python object.
    pub(crate) fn into_js<'s>(
        self,
        scope: &mut v8::PinScope<'s, '_>,
        bridge: &Bridge,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        if self.needs_python() {
            let _published = super::js_function::enter(scope);
            return Python::attach(|py| self.to_js_with(scope, &mut |scope, obj| {
                ToJs::new(bridge).convert(scope, obj.bind(py))
            }));
        }
        self.to_js_with(scope, &mut |_, _| Err(ConvertError::new("unreachable: no Python object in a plain value")))
    }

    fn to_js_with<'s>(
        self,
        scope: &mut v8::PinScope<'s, '_>,
        py_to_js: &mut dyn FnMut(&mut v8::PinScope<'s, '_>, &Py<PyAny>) -> Result<v8::Local<'s, v8::Value>, ConvertError>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        Ok(match self {
            Self::None => v8::null(scope).into(),
            Self::Bool(b) => v8::Boolean::new(scope, b).into(),
            Self::Int(i) => convert::i64_to_js(scope, i),
            Self::Float(f) => v8::Number::new(scope, f).into(),
            Self::Str(s) => convert::string_to_js(scope, &s)?,
            Self::Bytes(b) => convert::bytes_to_js(scope, &b),
            Self::List(items) => {
                let array = v8::Array::new(scope, items.len() as i32);
                for (i, item) in items.into_iter().enumerate() {
                    let value = item.to_js_with(scope, py_to_js).map_err(|e| e.at(format!("[{i}]")))?;
                    array.set_index(scope, i as u32, value);
                }
                array.into()
            }
            Self::Dict(entries) => {
                let object = v8::Object::new(scope);
                for (key, value) in entries {
                    let value = value.to_js_with(scope, py_to_js).map_err(|e| e.at(convert::key_segment(&key)))?;
                    let key = convert::string_to_js(scope, &key)?;
                    object.set(scope, key, value);
                }
                object.into()
            }
            Self::Py(obj) => py_to_js(scope, &obj)?,
        })
    }
}
