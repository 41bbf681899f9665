//! Converts values between the JS engine and Python, by the table in
//! `docs/values.md`, walking engine values and building Python objects
//! directly (no serde tree in between: this is the hot path of every call).
//!
//! Anything that has no by-value form crosses as a handle: Python objects
//! become JS proxies, JS functions become `JsFunction` callables.

use deno_core::v8;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFunction, PyInt, PyList, PyString,
    PyTuple, PyType,
};
use pyo3::sync::PyOnceLock;

use super::bridge::{Bridge, WrapKind};
use super::js_function::JsFunction;
use super::ndarray;
use super::remote::RemoteJsFunction;
use super::text;

/// Containers nested deeper than this are refused rather than overflowing
/// the stack.
const MAX_DEPTH: usize = 512;
/// JS → Python: a value nested deeper than this is converted again with
/// cycle detection. Below it only the depth is counted, since keeping the
/// path of objects costs more than the rest of a small value's conversion.
const CHECKED_DEPTH: usize = 64;
/// Integers beyond ±2^53 are not exact as JS numbers and become BigInt.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A value that could not be converted, with where in the value it sat.
#[derive(Debug)]
pub(crate) struct ConvertError {
    message: String,
    /// Path segments, innermost first (they are pushed while unwinding).
    path: Vec<String>,
    /// Raised past [`CHECKED_DEPTH`] by the unchecked pass: convert again,
    /// checking for cycles.
    check_again: bool,
}

impl ConvertError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), path: Vec::new(), check_again: false }
    }

    pub(crate) fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    /// `"<root>.a[3]: message"`. A deep path keeps its first and last two
    /// steps: `"<root>[0][0]…[0][0] (512 levels): message"`.
    pub(crate) fn describe(&self, root: &str) -> String {
        /// Paths longer than this are shortened.
        const LONGEST: usize = 8;
        let steps: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
        let where_ = if steps.len() <= LONGEST {
            format!("{root}{}", steps.concat())
        } else {
            let (head, tail) = (&steps[..2], &steps[steps.len() - 2..]);
            format!("{root}{}…{} ({} levels)", head.concat(), tail.concat(), steps.len())
        };
        format!("{where_}: {}", self.message)
    }
}

impl From<PyErr> for ConvertError {
    fn from(err: PyErr) -> Self {
        ConvertError::new(format!("Python error during conversion: {err}"))
    }
}

pub(crate) fn key_segment(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

// ---------------------------------------------------------------------------
// JavaScript → Python
// ---------------------------------------------------------------------------

/// Walks a JS value into Python objects.
pub(crate) struct ToPy<'a, 'py> {
    py: Python<'py>,
    bridge: &'a Bridge,
    /// How many containers deep the walk is.
    depth: usize,
    /// Objects on the current path, to turn cycles into an error; kept only
    /// when a value is converted again past [`CHECKED_DEPTH`].
    path: Option<Vec<v8::Global<v8::Object>>>,
}

impl<'a, 'py> ToPy<'a, 'py> {
    pub(crate) fn new(py: Python<'py>, bridge: &'a Bridge) -> Self {
        Self { py, bridge, depth: 0, path: None }
    }

    /// Converts one value (an argument, a keyword-arguments object).
    pub(crate) fn convert(
        &mut self,
        scope: &mut v8::PinScope<'_, '_>,
        value: v8::Local<'_, v8::Value>,
    ) -> Result<Bound<'py, PyAny>, ConvertError> {
        match self.value(scope, value) {
            Err(e) if e.check_again => {
                self.depth = 0;
                self.path = Some(Vec::new());
                let result = self.value(scope, value);
                self.path = None;
                result
            }
            result => result,
        }
    }

    fn value(
        &mut self,
        scope: &mut v8::PinScope<'_, '_>,
        value: v8::Local<'_, v8::Value>,
    ) -> Result<Bound<'py, PyAny>, ConvertError> {
        let py = self.py;
        if value.is_string() {
            return Ok(text::js_to_py(py, scope, value)?.into_any());
        }
        if value.is_number() {
            return Ok(number_to_py(py, value.number_value(scope).unwrap_or(f64::NAN)));
        }
        if value.is_boolean() {
            return Ok(PyBool::new(py, value.is_true()).to_owned().into_any());
        }
        if value.is_null_or_undefined() {
            return Ok(py.None().into_bound(py));
        }
        if value.is_big_int() {
            let big = value.cast::<v8::BigInt>();
            return Ok(bigint_to_py(py, big)?);
        }
        if value.is_symbol() {
            return Err(ConvertError::new(
                "a Symbol has no Python equivalent; pass a string instead",
            ));
        }
        if value.is_array_buffer_view() {
            return ndarray::view_to_py(py, scope, value.cast::<v8::ArrayBufferView>());
        }
        if value.is_array_buffer() {
            let buffer = value.cast::<v8::ArrayBuffer>();
            return Ok(PyBytes::new(py, array_buffer_bytes(&buffer)).into_any());
        }
        if value.is_promise() {
            return Err(ConvertError::new(
                "a Promise nested inside a value cannot be passed to Python; await it first",
            ));
        }
        if value.is_function() || value.is_proxy() {
            if let Some(obj) = self.handle_of(scope, value.cast::<v8::Object>()) {
                return Ok(obj);
            }
            if value.is_function() {
                let function = value.cast::<v8::Function>();
                if let Some(table) = self.bridge.remote.get() {
                    return Ok(table.wrap(py, scope, function)?);
                }
                return Ok(JsFunction::wrap(py, scope, function)?);
            }
        }
        if value.is_array() {
            return self.guarded(scope, value.cast::<v8::Object>(), |this, scope, obj| {
                this.array_to_py(scope, obj.cast::<v8::Array>())
            });
        }
        if value.is_object() {
            return self.guarded(scope, value.cast::<v8::Object>(), |this, scope, obj| {
                this.object_to_py(scope, obj)
            });
        }
        Err(ConvertError::new("this JavaScript value has no Python equivalent"))
    }

    /// The Python object behind a proxy we made, if `obj` is one.
    fn handle_of(
        &self,
        scope: &mut v8::PinScope<'_, '_>,
        obj: v8::Local<'_, v8::Object>,
    ) -> Option<Bound<'py, PyAny>> {
        let key = self.bridge.handle_key.borrow();
        let key = v8::Local::new(scope, key.as_ref()?);
        let id = obj.get(scope, key.into())?;
        if !id.is_number() {
            return None;
        }
        let id = id.uint32_value(scope)?;
        self.bridge.handles.get(self.py, id)
    }

    /// Runs `f` one level deeper, with `obj` on the cycle-detection path
    /// when there is one.
    fn guarded(
        &mut self,
        scope: &mut v8::PinScope<'_, '_>,
        obj: v8::Local<'_, v8::Object>,
        f: impl FnOnce(&mut Self, &mut v8::PinScope<'_, '_>, v8::Local<'_, v8::Object>) -> Result<Bound<'py, PyAny>, ConvertError>,
    ) -> Result<Bound<'py, PyAny>, ConvertError> {
        match &mut self.path {
            None if self.depth >= CHECKED_DEPTH => {
                return Err(ConvertError { check_again: true, ..ConvertError::new("nested deeply") });
            }
            None => {}
            Some(path) => {
                for seen in path.iter() {
                    let seen = v8::Local::new(scope, seen);
                    if seen.strict_equals(obj.into()) {
                        return Err(ConvertError::new(
                            "the value contains a cycle (an object that contains itself); Python needs a tree",
                        ));
                    }
                }
                if path.len() >= MAX_DEPTH {
                    return Err(ConvertError::new(format!("the value is nested deeper than {MAX_DEPTH} levels")));
                }
                path.push(v8::Global::new(scope, obj));
            }
        }
        self.depth += 1;
        let result = f(self, scope, obj);
        self.depth -= 1;
        if let Some(path) = &mut self.path {
            path.pop();
        }
        result
    }

    fn array_to_py(
        &mut self,
        scope: &mut v8::PinScope<'_, '_>,
        array: v8::Local<'_, v8::Array>,
    ) -> Result<Bound<'py, PyAny>, ConvertError> {
        let len = array.length();
        let list = PyList::empty(self.py);
        for i in 0..len {
            let item = array.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
            let item = self.value(scope, item).map_err(|e| e.at(format!("[{i}]")))?;
            list.append(item)?;
        }
        Ok(list.into_any())
    }

    fn object_to_py(
        &mut self,
        scope: &mut v8::PinScope<'_, '_>,
        obj: v8::Local<'_, v8::Object>,
    ) -> Result<Bound<'py, PyAny>, ConvertError> {
        let dict = PyDict::new(self.py);
        let Some(keys) = obj.get_own_property_names(scope, v8::GetPropertyNamesArgs::default()) else {
            return Ok(dict.into_any());
        };
        for i in 0..keys.length() {
            let Some(key) = keys.get_index(scope, i) else { continue };
            // Index keys may come as numbers.
            let key_str = if key.is_string() { key } else { key.to_string(scope).map_or(key, Into::into) };
            let key_py = text::js_to_py(self.py, scope, key_str)?;
            let value = obj.get(scope, key).unwrap_or_else(|| v8::undefined(scope).into());
            let value = self
                .value(scope, value)
                .map_err(|e| e.at(key_segment(&key.to_rust_string_lossy(scope))))?;
            dict.set_item(key_py, value)?;
        }
        Ok(dict.into_any())
    }
}

fn number_to_py(py: Python<'_>, n: f64) -> Bound<'_, PyAny> {
    match exact_integer(n) {
        Some(i) => PyInt::new(py, i).into_any(),
        None => PyFloat::new(py, n).into_any(),
    }
}

/// A JS number that crosses as a Python int: integral and exact (|n| <= 2^53),
/// and not -0, which only a float keeps.
pub(crate) fn exact_integer(n: f64) -> Option<i64> {
    let negative_zero = n == 0.0 && n.is_sign_negative();
    (n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER && !negative_zero).then_some(n as i64)
}

fn bigint_to_py<'py>(py: Python<'py>, big: v8::Local<'_, v8::BigInt>) -> Result<Bound<'py, PyAny>, ConvertError> {
    let (small, lossless) = big.i64_value();
    if lossless {
        return Ok(PyInt::new(py, small).into_any());
    }
    let mut words = vec![0u64; big.word_count()];
    let (negative, words) = big.to_words_array(&mut words);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let int_type = py.get_type::<PyInt>();
    let magnitude = int_type.call_method1("from_bytes", (PyBytes::new(py, &bytes), "little"))?;
    Ok(if negative { magnitude.neg()? } else { magnitude })
}

fn array_buffer_bytes<'b>(buffer: &'b v8::Local<'_, v8::ArrayBuffer>) -> &'b [u8] {
    let len = buffer.byte_length();
    match buffer.data() {
        // SAFETY: the engine guarantees `len` readable bytes at `data` while
        // the buffer is alive, and it is alive for the borrow of `buffer`; we
        // copy out before running any JavaScript that could detach it.
        Some(ptr) if len > 0 => unsafe { std::slice::from_raw_parts(ptr.as_ptr() as *const u8, len) },
        _ => &[],
    }
}

// ---------------------------------------------------------------------------
// Python → JavaScript
// ---------------------------------------------------------------------------

/// Walks a Python object into JS values.
pub(crate) struct ToJs<'a> {
    bridge: &'a Bridge,
    /// Containers on the current path (by address), to catch cycles.
    path: Vec<usize>,
    /// The time limit (seconds, as `op_py_call` takes it) of the coroutines
    /// this conversion hands to JS: a call's coroutine is awaited under
    /// the call's limit. -1: the runtime's default.
    await_limit: f64,
}

impl<'a> ToJs<'a> {
    pub(crate) fn new(bridge: &'a Bridge) -> Self {
        Self { bridge, path: Vec::new(), await_limit: -1.0 }
    }

    /// Coroutines among the converted values are awaited under `seconds`.
    pub(crate) fn awaited_under(mut self, seconds: f64) -> Self {
        self.await_limit = seconds;
        self
    }

    pub(crate) fn convert<'s>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        obj: &Bound<'_, PyAny>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        if obj.is_none() {
            return Ok(v8::null(scope).into());
        }
        // Exact types first: they are the common case and cheapest to test.
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return text::py_to_js(scope, s);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return Ok(v8::Boolean::new(scope, b.is_true()).into());
        }
        if let Ok(i) = obj.cast_exact::<PyInt>() {
            return int_to_js(scope, i);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return Ok(v8::Number::new(scope, f.value()).into());
        }
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.guarded(obj, |this| this.dict_to_js(scope, d));
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.guarded(obj, |this| this.seq_to_js(scope, l.iter()));
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return self.guarded(obj, |this| this.seq_to_js(scope, t.iter()));
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(bytes_to_js(scope, b.as_bytes()));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            // SAFETY: no Python code runs while the bytes are copied, so
            // nothing can resize the bytearray under the slice.
            return Ok(bytes_to_js(scope, unsafe { b.as_bytes() }));
        }
        if let Ok(f) = obj.extract::<PyRef<'_, JsFunction>>() {
            return Ok(f.local(scope).into());
        }
        self.convert_slow(scope, obj)
    }

    /// Subclasses of the basic types, numpy values, callables and handles.
    fn convert_slow<'s>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        obj: &Bound<'_, PyAny>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        let py = obj.py();
        if let Some(kind) = numpy_kind(obj) {
            return match kind {
                NumpyKind::Array => match ndarray::ndarray_to_js(scope, obj)? {
                    Some(typed) => Ok(typed),
                    None => self.convert(scope, &obj.call_method0("tolist")?),
                },
                NumpyKind::Scalar => self.convert(scope, &obj.call_method0("item")?),
            };
        }
        // bool before int: bool subclasses int.
        if obj.is_instance_of::<PyBool>() {
            return Ok(v8::Boolean::new(scope, obj.is_truthy()?).into());
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return int_to_js(scope, i);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return Ok(v8::Number::new(scope, f.value()).into());
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return text::py_to_js(scope, s);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return self.guarded(obj, |this| this.dict_to_js(scope, d));
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return self.guarded(obj, |this| this.seq_to_js(scope, l.iter()));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return self.guarded(obj, |this| this.seq_to_js(scope, t.iter()));
        }
        if let Ok(f) = obj.cast::<RemoteJsFunction>() {
            // The host's own function comes back as itself; other isolates
            // get a callable proxy whose calls travel to the host.
            let table = self.bridge.remote.get();
            if let Some(function) = table.and_then(|t| t.get(scope, f.get().id)) {
                return Ok(function.into());
            }
        }
        if obj.is_instance_of::<JsFunction>() {
            return Err(ConvertError::new(
                "a JavaScript callback can only be used on the thread (and during the call) \
                 that passed it to Python",
            ));
        }
        if let Some(queue) = super::batch::queue_of(obj) {
            let batcher = self.bridge.batcher_index(queue);
            return self.wrap_with(scope, obj, WrapKind::Batched, f64::from(batcher));
        }
        if is_awaitable(py, obj)? {
            return self.wrap_with(scope, obj, WrapKind::Awaitable, self.await_limit);
        }
        let kind = if is_routine(py, obj)? {
            WrapKind::Function
        } else if obj.is_callable() {
            WrapKind::Callable
        } else {
            WrapKind::Object
        };
        self.wrap(scope, obj, kind)
    }

    /// Hands `obj` to JS as a proxy (or function, or promise) over a handle.
    pub(crate) fn wrap<'s>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        obj: &Bound<'_, PyAny>,
        kind: WrapKind,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        self.wrap_with(scope, obj, kind, 0.0)
    }

    /// [`Self::wrap`] with the kind's extra argument: a batcher's index, a
    /// coroutine's time limit.
    fn wrap_with<'s>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        obj: &Bound<'_, PyAny>,
        kind: WrapKind,
        extra: f64,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        let wrap = self.bridge.wrap.borrow().clone();
        let Some(wrap) = wrap else {
            return Err(ConvertError::new("the Python bridge is not initialised"));
        };
        let id = self.bridge.handles.insert(obj.clone().unbind());
        let wrap = v8::Local::new(scope, wrap);
        let args = [
            v8::Integer::new_from_unsigned(scope, id).into(),
            v8::Integer::new(scope, kind as i32).into(),
            v8::Number::new(scope, extra).into(),
        ];
        let undefined = v8::undefined(scope).into();
        wrap.call(scope, undefined, &args)
            .ok_or_else(|| ConvertError::new("could not create a proxy for a Python object"))
    }

    fn guarded<'s>(
        &mut self,
        obj: &Bound<'_, PyAny>,
        f: impl FnOnce(&mut Self) -> Result<v8::Local<'s, v8::Value>, ConvertError>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        let addr = obj.as_ptr() as usize;
        if self.path.contains(&addr) {
            return Err(ConvertError::new(
                "the value contains a cycle (a container that contains itself); JavaScript needs a tree",
            ));
        }
        if self.path.len() >= MAX_DEPTH {
            return Err(ConvertError::new(format!("the value is nested deeper than {MAX_DEPTH} levels")));
        }
        self.path.push(addr);
        let result = f(self);
        self.path.pop();
        result
    }

    fn dict_to_js<'s>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        dict: &Bound<'_, PyDict>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        let out = v8::Object::new(scope);
        for (key, value) in dict.iter() {
            let key_js: v8::Local<v8::Value> = if let Ok(s) = key.cast::<PyString>() {
                text::py_to_js(scope, s)?
            } else if key.is_instance_of::<PyInt>() && !key.is_instance_of::<PyBool>() {
                string_to_js(scope, &key.str()?.to_cow()?)?
            } else {
                return Err(ConvertError::new(format!(
                    "dict key {} of type '{}' cannot become a JavaScript property name; only str and int keys can",
                    key.repr().map(|r| r.to_string()).unwrap_or_default(),
                    key.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
                )));
            };
            let value = self.convert(scope, &value).map_err(|e| {
                let k = key.str().map(|s| s.to_string()).unwrap_or_default();
                e.at(key_segment(&k))
            })?;
            // Defined, not assigned: a "__proto__" key is a property like any
            // other, not the object's prototype (and defining skips the
            // search for a setter up the prototype chain).
            let key_js = key_js.cast::<v8::Name>();
            out.create_data_property(scope, key_js, value);
        }
        Ok(out.into())
    }

    fn seq_to_js<'s, 'py>(
        &mut self,
        scope: &mut v8::PinScope<'s, '_>,
        items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
    ) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
        let array = v8::Array::new(scope, items.len() as i32);
        for (i, item) in items.enumerate() {
            let value = self.convert(scope, &item).map_err(|e| e.at(format!("[{i}]")))?;
            array.set_index(scope, i as u32, value);
        }
        Ok(array.into())
    }
}

pub(crate) fn string_to_js<'s>(scope: &mut v8::PinScope<'s, '_>, s: &str) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    v8::String::new(scope, s)
        .map(Into::into)
        .ok_or_else(|| ConvertError::new("string too long for the JavaScript engine"))
}

fn int_to_js<'s>(scope: &mut v8::PinScope<'s, '_>, int: &Bound<'_, PyInt>) -> Result<v8::Local<'s, v8::Value>, ConvertError> {
    if let Ok(v) = int.extract::<i64>() {
        return Ok(i64_to_js(scope, v));
    }
    // Beyond i64: go through little-endian 64-bit words.
    let negative = int.lt(0)?;
    let magnitude = if negative { int.neg()? } else { int.clone().into_any() };
    let bits: usize = magnitude.call_method0("bit_length")?.extract()?;
    let nbytes = bits.div_ceil(64) * 8;
    let bytes = magnitude.call_method1("to_bytes", (nbytes, "little"))?;
    let bytes = bytes.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes();
    let words: Vec<u64> = bytes
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    v8::BigInt::new_from_words(scope, negative, &words)
        .map(Into::into)
        .ok_or_else(|| ConvertError::new("integer too large for a JavaScript BigInt"))
}

/// A number when exact as one (|v| <= 2^53), else a BigInt.
pub(crate) fn i64_to_js<'s>(scope: &mut v8::PinScope<'s, '_>, v: i64) -> v8::Local<'s, v8::Value> {
    if (v as f64).abs() <= MAX_SAFE_INTEGER {
        v8::Number::new(scope, v as f64).into()
    } else {
        v8::BigInt::new_from_i64(scope, v).into()
    }
}

pub(crate) fn bytes_to_js<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: &[u8]) -> v8::Local<'s, v8::Value> {
    let len = bytes.len();
    // One copy, into the engine's own new buffer (a backing store made from
    // a Vec would be copied again by the engine).
    let buffer = v8::ArrayBuffer::new(scope, len);
    if let Some(data) = buffer.data() {
        // SAFETY: the buffer was just made with room for `len` bytes, and
        // nothing else refers to it yet.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data.as_ptr().cast::<u8>(), len) };
    }
    v8::Uint8Array::new(scope, buffer, 0, len)
        .map(Into::into)
        .unwrap_or_else(|| v8::undefined(scope).into())
}

enum NumpyKind {
    Array,
    Scalar,
}

/// Recognises numpy values without importing numpy: a program that never
/// imported it cannot hand us one.
fn numpy_kind(obj: &Bound<'_, PyAny>) -> Option<NumpyKind> {
    let ty = obj.get_type();
    let module = ty.module().ok()?;
    if module.to_cow().ok()? != "numpy" {
        return None;
    }
    let numpy = obj.py().import("numpy").ok()?;
    if obj.is_instance(&numpy.getattr("ndarray").ok()?).ok()? {
        Some(NumpyKind::Array)
    } else if obj.is_instance(&numpy.getattr("generic").ok()?).ok()? {
        Some(NumpyKind::Scalar)
    } else {
        None
    }
}

/// Coroutines and `concurrent.futures.Future`s: both become Promises.
fn is_awaitable(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    static COROUTINE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let ty = COROUTINE.get_or_try_init(py, || -> PyResult<_> {
        Ok(py.import("types")?.getattr("CoroutineType")?.cast_into::<PyType>()?.unbind())
    })?;
    Ok(obj.is_instance(ty.bind(py))? || is_future(py, obj)?)
}

/// Whether `obj` is a `concurrent.futures.Future` (what `@tandem.batch`
/// functions and executors return).
pub(crate) fn is_future(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    obj.is_instance(future_type(py)?)
}

/// `concurrent.futures.Future`, imported once.
pub(crate) fn future_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static FUTURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    FUTURE.import(py, "concurrent.futures", "Future")
}

/// Functions, builtins and bound methods: wrapped as plain JS functions.
fn is_routine(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_instance_of::<PyFunction>() {
        return Ok(true);
    }
    static ROUTINES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    let types = ROUTINES.get_or_try_init(py, || -> PyResult<_> {
        let t = py.import("types")?;
        Ok(PyTuple::new(
            py,
            [
                t.getattr("BuiltinFunctionType")?,
                t.getattr("MethodType")?,
                t.getattr("BuiltinMethodType")?,
            ],
        )?
        .unbind())
    })?;
    obj.is_instance(types.bind(py))
}

/// Makes a Python exception for a failed conversion into Python.
pub(crate) fn type_error(err: &ConvertError, root: &str) -> PyErr {
    PyTypeError::new_err(err.describe(root))
}

#[cfg(test)]
mod tests {
    use super::ConvertError;

    #[test]
    fn a_short_path_is_written_out_and_a_deep_one_shortened() {
        let shallow = ConvertError::new("bad").at("[3]".into()).at(".a".into());
        assert_eq!(shallow.describe("f()"), "f().a[3]: bad");
        let deep = (0..512).fold(ConvertError::new("too deep"), |e, _| e.at("[0]".into()));
        assert_eq!(deep.describe("deep()"), "deep()[0][0]…[0][0] (512 levels): too deep");
    }
}
