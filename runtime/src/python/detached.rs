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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn eval<'py>(py: Python<'py>, code: &CStr) -> Bound<'py, PyAny> {
        py.eval(code, None, None).unwrap()
    }

    fn kind(value: &Detached) -> &'static str {
        match value {
            Detached::None => "none",
            Detached::Bool(_) => "bool",
            Detached::Int(_) => "int",
            Detached::Float(_) => "float",
            Detached::Str(_) => "str",
            Detached::Bytes(_) => "bytes",
            Detached::List(_) => "list",
            Detached::Dict(_) => "dict",
            Detached::Py(_) => "py",
        }
    }

    #[test]
    fn plain_data_is_copied_and_rebuilt_equal() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let value = eval(
                py,
                c"{'a': [1, 2.5, True, None, 'x\\u00e9'], 'b': {'c': b'\\x00\\xff'}, 'd': (1, 2), 'e': -2**63}",
            );
            let detached = Detached::from_py(&value);
            assert_eq!(kind(&detached), "dict");
            assert!(!detached.needs_python());
            let rebuilt = detached.into_py(py).unwrap();
            // The tuple comes back a list, as it reaches JS as an Array.
            let expected = eval(
                py,
                c"{'a': [1, 2.5, True, None, 'x\\u00e9'], 'b': {'c': b'\\x00\\xff'}, 'd': [1, 2], 'e': -2**63}",
            );
            assert!(rebuilt.eq(&expected).unwrap(), "{rebuilt}");
        });
    }

    #[test]
    fn bools_stay_bools_and_float_subclasses_are_floats() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            assert!(matches!(Detached::from_py(&eval(py, c"True")), Detached::Bool(true)));
            assert!(matches!(Detached::from_py(&eval(py, c"1")), Detached::Int(1)));
            let sub = eval(py, c"type('F', (float,), {})(0.5)");
            assert!(matches!(Detached::from_py(&sub), Detached::Float(f) if f == 0.5));
            // An int subclass may carry behaviour (IntEnum): kept as is.
            let enum_member = eval(py, c"__import__('enum').IntEnum('E', 'A').A");
            assert_eq!(kind(&Detached::from_py(&enum_member)), "py");
        });
    }

    #[test]
    fn values_without_a_plain_form_stay_python_objects_in_place() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            for code in [c"2**64", c"{1, 2}", c"{1: 'int key'}", c"object()", c"3j"] {
                let value = eval(py, code);
                let detached = Detached::from_py(&value);
                assert_eq!(kind(&detached), "py", "{value}");
                assert!(detached.into_py(py).unwrap().is(&value), "the same object comes back");
            }
            // Only the part without a plain form is held as an object.
            let mixed = Detached::from_py(&eval(py, c"[1, {2, 3}]"));
            let Detached::List(items) = &mixed else { panic!("not a list") };
            assert_eq!(items.iter().map(kind).collect::<Vec<_>>(), ["int", "py"]);
            assert!(mixed.needs_python());
        });
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_held_as_an_object() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let deep = eval(py, c"__import__('functools').reduce(lambda acc, _: [acc], range(100), 0)");
            let mut level = &Detached::from_py(&deep);
            let mut depth = 0;
            while let Detached::List(items) = level {
                level = &items[0];
                depth += 1;
            }
            assert_eq!(depth, MAX_DEPTH);
            assert_eq!(kind(level), "py");
        });
    }
}
