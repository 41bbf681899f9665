//! numpy arrays and typed arrays over one memory.
//!
//! A numpy array crossing to JavaScript becomes a typed array over the
//! array's own buffer, without a copy, with `shape` and `dtype` properties
//! (any number of dimensions crosses flat, in C order). The engine holds the
//! array's buffer (a `Py_buffer`) until its last typed array is collected.
//! A typed array whose memory came from Python crosses back as an ndarray
//! over that same memory. A typed array made in JavaScript crosses to Python
//! with one copy: its memory belongs to the engine's garbage collector,
//! which Python code on other threads could not keep alive.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{LazyLock, Mutex};

use deno_core::v8;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use super::convert::ConvertError;

/// The typed array a numeric dtype crosses as (little-endian, as every
/// platform Tandem runs on).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedKind {
    F64,
    F32,
    I32,
    U32,
    I16,
    U16,
    I8,
    U8,
    I64,
    U64,
}

impl TypedKind {
    /// From numpy's `dtype.str` (`"<f4"`; `"|"` is "byte order not applicable").
    fn of_dtype(dtype: &str) -> Option<Self> {
        Some(match dtype {
            "<f8" => Self::F64,
            "<f4" => Self::F32,
            "<i4" => Self::I32,
            "<u4" => Self::U32,
            "<i2" => Self::I16,
            "<u2" => Self::U16,
            "|i1" => Self::I8,
            "|u1" => Self::U8,
            "<i8" => Self::I64,
            "<u8" => Self::U64,
            _ => return None,
        })
    }

    /// The kind of a JS typed array; a Uint8ClampedArray is uint8.
    fn of_value(value: v8::Local<'_, v8::Value>) -> Option<Self> {
        Some(if value.is_float64_array() {
            Self::F64
        } else if value.is_float32_array() {
            Self::F32
        } else if value.is_int32_array() {
            Self::I32
        } else if value.is_uint32_array() {
            Self::U32
        } else if value.is_int16_array() {
            Self::I16
        } else if value.is_uint16_array() {
            Self::U16
        } else if value.is_int8_array() {
            Self::I8
        } else if value.is_uint8_array() || value.is_uint8_clamped_array() {
            Self::U8
        } else if value.is_big_int64_array() {
            Self::I64
        } else if value.is_big_uint64_array() {
            Self::U64
        } else {
            return None;
        })
    }

    /// numpy's name for the dtype, also the `dtype` property in JS.
    fn name(self) -> &'static str {
        match self {
            Self::F64 => "float64",
            Self::F32 => "float32",
            Self::I32 => "int32",
            Self::U32 => "uint32",
            Self::I16 => "int16",
            Self::U16 => "uint16",
            Self::I8 => "int8",
            Self::U8 => "uint8",
            Self::I64 => "int64",
            Self::U64 => "uint64",
        }
    }

    fn item_size(self) -> usize {
        match self {
            Self::F64 | Self::I64 | Self::U64 => 8,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::I16 | Self::U16 => 2,
            Self::I8 | Self::U8 => 1,
        }
    }

    fn create<'s>(
        self,
        scope: &mut v8::PinScope<'s, '_>,
        buffer: v8::Local<'s, v8::ArrayBuffer>,
        len: usize,
    ) -> Option<v8::Local<'s, v8::Object>> {
        Some(match self {
            Self::F64 => v8::Float64Array::new(scope, buffer, 0, len)?.into(),
            Self::F32 => v8::Float32Array::new(scope, buffer, 0, len)?.into(),
            Self::I32 => v8::Int32Array::new(scope, buffer, 0, len)?.into(),
            Self::U32 => v8::Uint32Array::new(scope, buffer, 0, len)?.into(),
            Self::I16 => v8::Int16Array::new(scope, buffer, 0, len)?.into(),
            Self::U16 => v8::Uint16Array::new(scope, buffer, 0, len)?.into(),
            Self::I8 => v8::Int8Array::new(scope, buffer, 0, len)?.into(),
            Self::U8 => v8::Uint8Array::new(scope, buffer, 0, len)?.into(),
            Self::I64 => v8::BigInt64Array::new(scope, buffer, 0, len)?.into(),
            Self::U64 => v8::BigUint64Array::new(scope, buffer, 0, len)?.into(),
        })
    }
}

/// Python buffers the engine's ArrayBuffers point at, by (address, byte
/// length): the objects exporting them. An entry lives exactly as long as
/// its [`Lent`], so an address found here is a live Python object.
static LENT: LazyLock<Mutex<HashMap<(usize, usize), Vec<usize>>>> = LazyLock::new(Default::default);

/// A numpy array's buffer lent to an ArrayBuffer; the engine drops it (and
/// so releases the buffer) when the last ArrayBuffer over it is gone.
struct Lent {
    key: (usize, usize),
    exporter: usize,
    /// Releasing it (on drop, attaching to Python) lets numpy free or
    /// resize the memory; holding it keeps both from happening.
    _buffer: PyUntypedBuffer,
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut lent = LENT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(exporters) = lent.get_mut(&self.key) {
            if let Some(i) = exporters.iter().position(|&e| e == self.exporter) {
                exporters.swap_remove(i);
            }
            if exporters.is_empty() {
                lent.remove(&self.key);
            }
        }
    }
}

/// The engine's deleter of a lent buffer's backing store.
unsafe extern "C" fn release_lent(_data: *mut c_void, _len: usize, lent: *mut c_void) {
    // SAFETY: `lent` is the `Box<Lent>` leaked in `ndarray_to_js`, and the
    // engine calls the deleter once, when nothing refers to the store.
    drop(unsafe { Box::from_raw(lent.cast::<Lent>()) });
}

/// A numpy array as a typed array over the array's memory, with `shape`
/// and `dtype`. An array that is read-only or not C-contiguous (a slice
/// with steps, a transpose) is copied once first, into one that is. `None`
/// for dtypes no typed array holds (object, str, bool, float16, complex).
pub(crate) fn ndarray_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    array: &Bound<'_, PyAny>,
) -> Result<Option<v8::Local<'s, v8::Value>>, ConvertError> {
    let py = array.py();
    let dtype = array.getattr(intern!(py, "dtype"))?;
    let code: String = dtype.getattr(intern!(py, "str"))?.extract()?;
    let kind = match TypedKind::of_dtype(&code) {
        Some(kind) => kind,
        // A big-endian numeric dtype (">f4") crosses after one byte swap.
        None if code.starts_with('>') => match TypedKind::of_dtype(&code.replacen('>', "<", 1)) {
            Some(kind) => {
                let native = array.call_method1(intern!(py, "astype"), (kind.name(),))?;
                return ndarray_to_js(scope, &native);
            }
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let shape: Vec<usize> = array.getattr(intern!(py, "shape"))?.extract()?;
    // A 0-d array exports no shape; its one-element view has the same memory.
    let flat = if shape.is_empty() { array.call_method1(intern!(py, "reshape"), (1,))? } else { array.clone() };
    let (exporter, buffer) = lendable_buffer(&flat)?;
    let (data, byte_length) = (buffer.buf_ptr(), buffer.len_bytes());
    let key = (data as usize, byte_length);
    let exporter = exporter.as_ptr() as usize;
    LENT.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().push(exporter);
    let lent = Box::into_raw(Box::new(Lent { key, exporter, _buffer: buffer }));
    // SAFETY: the Py_buffer inside `lent` keeps `data` valid for
    // `byte_length` bytes, and numpy from resizing it, until the engine
    // calls `release_lent`, which is the only place it is released.
    let store = unsafe { v8::tandem::new_aliased_backing_store(data, byte_length, release_lent, lent.cast()) };
    let store = store.make_shared();
    let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
    let typed = kind
        .create(scope, buffer, byte_length / kind.item_size())
        .ok_or_else(|| ConvertError::new("could not create a typed array"))?;
    describe(scope, typed, &shape, kind)?;
    Ok(Some(typed.into()))
}

/// The array's buffer if the engine may share it (writable and C-contiguous),
/// else a C-ordered copy's; with the object that exports it.
fn lendable_buffer<'py>(array: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, PyUntypedBuffer)> {
    let buffer = PyUntypedBuffer::get(array)?;
    if !buffer.readonly() && buffer.is_c_contiguous() {
        return Ok((array.clone(), buffer));
    }
    drop(buffer);
    let copy = array.call_method1(intern!(array.py(), "copy"), ("C",))?;
    let buffer = PyUntypedBuffer::get(&copy)?;
    Ok((copy, buffer))
}

/// Defines `shape` and `dtype` on a typed array: read-only and not
/// enumerable, so `Object.keys` and JSON see only the elements.
fn describe<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    typed: v8::Local<'s, v8::Object>,
    shape: &[usize],
    kind: TypedKind,
) -> Result<(), ConvertError> {
    let dims: Vec<v8::Local<v8::Value>> = shape.iter().map(|&d| v8::Number::new(scope, d as f64).into()).collect();
    let dims = v8::Array::new_with_elements(scope, &dims);
    let dtype = v8::String::new(scope, kind.name()).ok_or_else(|| ConvertError::new("out of memory"))?;
    for (name, value) in [("shape", dims.into()), ("dtype", dtype.into())] {
        let key = v8::String::new(scope, name).ok_or_else(|| ConvertError::new("out of memory"))?;
        let attributes = v8::PropertyAttribute::READ_ONLY | v8::PropertyAttribute::DONT_ENUM;
        typed.define_own_property(scope, key.into(), value, attributes);
    }
    Ok(())
}

/// A typed array as Python sees it: a Uint8Array (without `shape`) or a
/// DataView is `bytes`; any other typed array is an ndarray of its dtype,
/// of the typed array's `shape` if it has one. Over the same memory when
/// that memory came from Python, else over one copy.
pub(crate) fn view_to_py<'py>(
    py: Python<'py>,
    scope: &mut v8::PinScope<'_, '_>,
    view: v8::Local<'_, v8::ArrayBufferView>,
) -> Result<Bound<'py, PyAny>, ConvertError> {
    let value: v8::Local<v8::Value> = view.into();
    let kind = if value.is_data_view() { None } else { TypedKind::of_value(value) };
    let Some(kind) = kind else {
        if value.is_data_view() || value.is_uint8_array() {
            return Ok(bytes_of(py, view)?);
        }
        return Err(ConvertError::new(format!(
            "a {} has no numpy equivalent; pass a Float32Array, Float64Array or another typed array numpy has a dtype for",
            view.get_constructor_name().to_rust_string_lossy(scope)
        )));
    };
    let shape = shape_of(scope, view.into())?;
    if shape.is_none() && value.is_uint8_array() {
        return Ok(bytes_of(py, view)?);
    }
    let numpy = py.import(intern!(py, "numpy")).map_err(|_| {
        ConvertError::new(format!(
            "a {} becomes a numpy array, but numpy is not installed (pip install numpy), or pass a plain Array",
            view.get_constructor_name().to_rust_string_lossy(scope)
        ))
    })?;
    let count = view.byte_length() / kind.item_size();
    let array = match lent_exporter(py, scope, view) {
        Some(exporter) => numpy.call_method1(
            intern!(py, "frombuffer"),
            (exporter, kind.name(), count, view.byte_offset()),
        )?,
        // frombuffer over a bytearray shares its memory and stays writable,
        // so the only copy is the one out of the engine.
        None => {
            let copy = PyByteArray::new_with(py, view.byte_length(), |bytes| {
                view.copy_contents(bytes);
                Ok(())
            })?;
            numpy.call_method1(intern!(py, "frombuffer"), (copy, kind.name()))?
        }
    };
    let Some(shape) = shape else { return Ok(array) };
    let elements: usize = shape.iter().product();
    if elements != count {
        return Err(ConvertError::new(format!(
            "its shape {shape:?} holds {elements} elements, but the typed array has {count}"
        )));
    }
    Ok(array.call_method1(intern!(py, "reshape"), (shape,))?)
}

/// The view's bytes, copied straight into a new `bytes`.
fn bytes_of<'py>(py: Python<'py>, view: v8::Local<'_, v8::ArrayBufferView>) -> PyResult<Bound<'py, PyAny>> {
    let bytes = PyBytes::new_with(py, view.byte_length(), |bytes| {
        view.copy_contents(bytes);
        Ok(())
    })?;
    Ok(bytes.into_any())
}

/// The object that lent `view`'s memory, if it came from Python.
fn lent_exporter<'py>(
    py: Python<'py>,
    scope: &mut v8::PinScope<'_, '_>,
    view: v8::Local<'_, v8::ArrayBufferView>,
) -> Option<Bound<'py, PyAny>> {
    let buffer = view.buffer(scope)?;
    let key = (buffer.data()?.as_ptr() as usize, buffer.byte_length());
    let lent = LENT.lock().unwrap_or_else(|e| e.into_inner());
    let exporter = *lent.get(&key)?.first()?;
    // SAFETY: an entry is removed before its Lent releases the buffer that
    // holds a reference to the exporter, and we hold the lock, so the
    // object is alive; we are attached to Python to take a reference.
    Some(unsafe { Bound::from_borrowed_ptr(py, exporter as *mut pyo3::ffi::PyObject) })
}

/// The `shape` own property of a typed array: absent, or an Array of
/// non-negative integers.
fn shape_of(
    scope: &mut v8::PinScope<'_, '_>,
    object: v8::Local<'_, v8::Object>,
) -> Result<Option<Vec<usize>>, ConvertError> {
    let key = v8::String::new(scope, "shape").ok_or_else(|| ConvertError::new("out of memory"))?;
    if !object.has_own_property(scope, key.into()).unwrap_or(false) {
        return Ok(None);
    }
    let bad = || ConvertError::new("a typed array's `shape` must be an Array of non-negative integers, like [2, 3]");
    let value = object.get(scope, key.into()).ok_or_else(bad)?;
    let dims = v8::Local::<v8::Array>::try_from(value).map_err(|_| bad())?;
    let mut shape = Vec::with_capacity(dims.length() as usize);
    for i in 0..dims.length() {
        let dim = dims.get_index(scope, i).and_then(|d| d.number_value(scope)).ok_or_else(bad)?;
        if dim < 0.0 || dim.fract() != 0.0 || !dim.is_finite() {
            return Err(bad());
        }
        shape.push(dim as usize);
    }
    Ok(Some(shape))
}
