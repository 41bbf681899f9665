//! The `tandem_python` extension: ops that let JavaScript call Python, and
//! the JS glue (`01_python.js`) that turns handles into proxies.
//!
//! Every sync op returns either its value or the bridge's error sentinel;
//! the glue then fetches the error with `op_py_take_error` and throws it.
//! That keeps exception construction (PythonError, rethrowing the original
//! JS value of a callback's error) in JavaScript and off the fast path.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use deno_core::{ascii_str_include, op2, v8, ExtensionFileSource, OpState};
use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::metrics::{CallMetrics, Metrics};
use crate::python::bridge::{Bridge, PendingError, WrapKind};
use crate::python::convert::{ToJs, ToPy};
use crate::python::detached::Detached;
use crate::python::js_function::{self, JsValueRef};
use crate::python::{self as python_mod};

deno_core::extension!(
    tandem_python,
    ops = [
        op_py_init,
        op_py_call,
        op_py_getattr,
        op_py_setattr,
        op_py_delattr,
        op_py_hasattr,
        op_py_dir,
        op_py_str,
        op_py_repr,
        op_py_iter,
        op_py_next,
        op_py_release,
        op_py_take_error,
        op_py_import,
        op_py_load_module,
        op_py_await,
        op_py_batch_call,
        op_py_live_handles,
    ],
    esm_entry_point = "ext:tandem_python/01_python.js",
    state = |state| {
        state.put(Rc::new(Bridge::default()));
    },
);

/// The glue, embedded in the binary (see the engineering notes: `esm = [...]`
/// would read the file from the build machine at run time).
static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_python/01_python.js",
    ascii_str_include!("01_python.js"),
)];

pub(crate) fn extension() -> deno_core::Extension {
    super::with_embedded_esm(tandem_python::init(), &ESM)
}

/// Called once by the glue: hands Rust the proxy factory and the sentinels.
#[op2(fast)]
fn op_py_init(
    scope: &mut v8::PinScope<'_, '_>,
    wrap: v8::Local<'_, v8::Function>,
    error_sentinel: v8::Local<'_, v8::Value>,
    handle_key: v8::Local<'_, v8::Symbol>,
) {
    let bridge = Bridge::from_isolate(scope);
    *bridge.wrap.borrow_mut() = Some(v8::Global::new(scope, wrap));
    *bridge.error_sentinel.borrow_mut() = Some(v8::Global::new(scope, error_sentinel));
    *bridge.handle_key.borrow_mut() = Some(v8::Global::new(scope, handle_key));
}

/// Runs `f` holding the GIL, with this op's scope published for callbacks.
fn with_python<'s, R>(
    scope: &mut v8::PinScope<'s, '_>,
    f: impl FnOnce(Python<'_>, &mut v8::PinScope<'s, '_>, &Bridge) -> R,
) -> R {
    let bridge = Bridge::from_isolate(scope);
    let _published = js_function::enter(scope);
    Python::attach(|py| f(py, scope, &bridge))
}

fn released<'s>(scope: &mut v8::PinScope<'s, '_>, bridge: &Bridge) -> v8::Local<'s, v8::Value> {
    bridge.fail(
        scope,
        PendingError::Conversion("this Python object was already released".into()),
    )
}

/// Converts a Python result to JS, or records why it cannot be.
fn to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    bridge: &Bridge,
    result: PyResult<Bound<'_, PyAny>>,
    what: impl FnOnce() -> String,
) -> v8::Local<'s, v8::Value> {
    match result {
        Ok(obj) => match ToJs::new(bridge).convert(scope, &obj) {
            Ok(value) => value,
            Err(e) => bridge.fail(scope, PendingError::Conversion(e.describe(&what()))),
        },
        Err(err) => bridge.fail(scope, PendingError::Python(err)),
    }
}

fn callable_name(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("__qualname__")
        .or_else(|_| obj.getattr("__name__"))
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "a Python callable".into())
}

/// `callable(*args, **kwargs)`; `args` is a JS Array, `kwargs` an object or
/// undefined.
#[op2(reentrant)]
fn op_py_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    args: v8::Local<'s, v8::Array>,
    kwargs: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(callable) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        let mut to_py = ToPy::new(py, bridge);
        let len = args.length();
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let arg = args.get_index(scope, i).unwrap_or_else(|| v8::undefined(scope).into());
            match to_py.convert(scope, arg) {
                Ok(v) => items.push(v),
                Err(e) => {
                    let root = format!("argument {i} of {}()", callable_name(&callable));
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
            }
        }
        let kwargs = if kwargs.is_object() {
            match to_py.convert(scope, kwargs) {
                Ok(d) => d.cast_into::<PyDict>().ok(),
                Err(e) => {
                    let root = format!("keyword arguments of {}()", callable_name(&callable));
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
            }
        } else {
            None
        };
        let args = match PyTuple::new(py, items) {
            Ok(t) => t,
            Err(e) => return bridge.fail(scope, PendingError::Python(e)),
        };
        let metrics = call_metrics(bridge, id, &callable);
        let started = std::time::Instant::now();
        let result = callable.call(args, kwargs.as_ref());
        metrics.duration.observe(started.elapsed().as_secs_f64());
        metrics.calls.inc();
        if result.is_err() {
            metrics.errors.inc();
        }
        to_js(scope, bridge, result, || format!("return value of {}()", callable_name(&callable)))
    })
}

/// `getattr(obj, name)`; a missing attribute reads as `undefined`, as a
/// missing property does in JavaScript.
#[op2(reentrant)]
fn op_py_getattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        match obj.getattr(name) {
            Err(e) if e.is_instance_of::<PyAttributeError>(py) => v8::undefined(scope).into(),
            result => to_js(scope, bridge, result, || format!("attribute '{name}'")),
        }
    })
}

#[op2(reentrant)]
fn op_py_setattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
    value: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
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
fn op_py_delattr<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    #[string] name: &str,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        match obj.delattr(name) {
            Ok(()) => v8::undefined(scope).into(),
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

#[op2(fast, reentrant)]
fn op_py_hasattr(scope: &mut v8::PinScope<'_, '_>, #[smi] id: u32, #[string] name: &str) -> bool {
    with_python(scope, |py, _scope, bridge| {
        bridge
            .handles
            .get(py, id)
            .is_some_and(|obj| obj.hasattr(name).unwrap_or(false))
    })
}

/// Public attribute names (`dir()` without `_`-prefixed ones).
#[op2(reentrant)]
fn op_py_dir<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
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

fn text_op<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    id: u32,
    f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<String>,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        match f(&obj) {
            Ok(s) => v8::String::new(scope, &s).map(Into::into).unwrap_or_else(|| v8::undefined(scope).into()),
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

#[op2(reentrant)]
fn op_py_str<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    text_op(scope, id, |obj| Ok(obj.str()?.to_string()))
}

#[op2(reentrant)]
fn op_py_repr<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    text_op(scope, id, |obj| Ok(obj.repr()?.to_string()))
}

/// `iter(obj)`, returned as a new handle id.
#[op2(reentrant)]
fn op_py_iter<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(obj) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        match obj.try_iter() {
            Ok(it) => {
                let iter_id = bridge.handles.insert(it.into_any().unbind());
                v8::Integer::new_from_unsigned(scope, iter_id).into()
            }
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

/// `next(it)`; returns `done` (the value the glue passes) when exhausted.
#[op2(reentrant)]
fn op_py_next<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    done: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let Some(it) = bridge.handles.get(py, id) else {
            return released(scope, bridge);
        };
        // SAFETY: `it` came from `try_iter`, so it is an iterator object.
        let next = unsafe { Bound::from_owned_ptr_or_opt(py, pyo3::ffi::PyIter_Next(it.as_ptr())) };
        match next {
            Some(item) => to_js(scope, bridge, Ok(item), || "an iterated item".into()),
            None => match PyErr::take(py) {
                Some(err) => bridge.fail(scope, PendingError::Python(err)),
                None => {
                    drop_handle(py, bridge, id);
                    done
                }
            },
        }
    })
}

/// Takes the `Python` token to prove the GIL is held: dropping a `Py` then
/// decrefs at once instead of queueing the decref for later.
fn drop_handle(_py: Python<'_>, bridge: &Bridge, id: u32) {
    bridge.call_metrics.borrow_mut().remove(&id);
    drop(bridge.handles.take(id));
}

/// The metrics of the function behind handle `id`, labelled
/// `module.qualname` and looked up once per handle.
fn call_metrics(bridge: &Bridge, id: u32, callable: &Bound<'_, PyAny>) -> Rc<CallMetrics> {
    bridge
        .call_metrics
        .borrow_mut()
        .entry(id)
        .or_insert_with(|| {
            let module = callable.getattr("__module__").map(|m| m.to_string()).unwrap_or_default();
            let name = callable_name(callable);
            let label = if module.is_empty() || module == "None" { name } else { format!("{module}.{name}") };
            Rc::new(Metrics::get().python_function(&label))
        })
        .clone()
}

/// Called by the FinalizationRegistry when a proxy is collected.
#[op2(fast)]
fn op_py_release(state: &OpState, #[smi] id: u32) {
    let bridge = state.borrow::<Rc<Bridge>>().clone();
    Python::attach(|py| drop_handle(py, &bridge, id));
}

#[op2(fast)]
#[smi]
fn op_py_live_handles(state: &OpState) -> u32 {
    state.borrow::<Rc<Bridge>>().handles.live() as u32
}

/// The pending error as `{ kind, type, message, traceback, jsValue }`.
#[op2(reentrant)]
fn op_py_take_error<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
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
    let traceback = python_mod::format_traceback(py, err);
    let js_value = value
        .getattr("_tandem_js_value")
        .ok()
        .and_then(|v| v.extract::<PyRef<'_, JsValueRef>>().ok().map(|r| v8::Local::new(scope, &r.value)));
    PythonErrorInfo { type_name, message, traceback, js_value }
}

/// `importlib.import_module(name)` for `python.import("numpy")`.
#[op2(reentrant)]
fn op_py_import<'s>(scope: &mut v8::PinScope<'s, '_>, #[string] name: &str) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        match python_mod::import_package(py, name) {
            Ok(module) => {
                let module = module.into_any();
                ToJs::new(bridge)
                    .wrap(scope, &module, WrapKind::Object)
                    .unwrap_or_else(|e| bridge.fail(scope, PendingError::Conversion(e.describe(name))))
            }
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}

/// The module and exports behind a `.py` or `python:` import, as
/// `{ module, names, values }` for the synthetic ES module.
#[op2(reentrant)]
fn op_py_load_module<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[string] specifier: &str,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let loaded = python_mod::import_specifier(py, specifier)
            .and_then(|m| Ok((python_mod::module_exports(&m)?, m)));
        let (exports, module) = match loaded {
            Ok(v) => v,
            Err(e) => return bridge.fail(scope, PendingError::Python(e)),
        };
        let mut to_js = ToJs::new(bridge);
        let module_js = match to_js.wrap(scope, module.as_any(), WrapKind::Object) {
            Ok(v) => v,
            Err(e) => return bridge.fail(scope, PendingError::Conversion(e.describe(specifier))),
        };
        let values = v8::Array::new(scope, exports.len() as i32);
        for (i, (name, value)) in exports.iter().enumerate() {
            match to_js.convert(scope, value) {
                Ok(v) => {
                    values.set_index(scope, i as u32, v);
                }
                Err(e) => {
                    let root = format!("export '{name}' of {specifier}");
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
            }
        }
        let out = v8::Object::new(scope);
        let key = v8::String::new(scope, "module").unwrap();
        out.set(scope, key.into(), module_js);
        let key = v8::String::new(scope, "values").unwrap();
        out.set(scope, key.into(), values.into());
        out.into()
    })
}

/// The result of a coroutine, converted when the op resolves.
struct Awaited(PyResult<Py<PyAny>>);

impl<'a> deno_core::convert::ToV8<'a> for Awaited {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        Ok(with_python(scope, |py, scope, bridge| {
            to_js(scope, bridge, self.0.map(|v| v.into_bound(py)), || "the awaited result".into())
        }))
    }
}

/// Runs the coroutine behind handle `id` on the runtime's asyncio loop (or
/// waits for the `concurrent.futures.Future` behind it) and resolves with
/// its result (or the error sentinel).
#[op2]
async fn op_py_await(state: Rc<RefCell<OpState>>, #[smi] id: u32) -> Awaited {
    let bridge = Bridge::from_state(&state);
    let (tx, rx) = tokio::sync::oneshot::channel::<PyResult<Py<PyAny>>>();
    let submitted = Python::attach(|py| -> PyResult<()> {
        let coro = bridge
            .handles
            .take(id)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("coroutine already awaited"))?;
        let tx = std::sync::Mutex::new(Some(tx));
        let on_done = pyo3::types::PyCFunction::new_closure(py, None, None, move |args, _kwargs| -> PyResult<()> {
            let future = args.get_item(0)?;
            let result = future.call_method0("result").map(Bound::unbind);
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(result);
            }
            Ok(())
        })?;
        let awaitable = coro.bind(py);
        if crate::python::convert::is_future(py, awaitable)? {
            // Settled by another thread (a batcher, an executor): no event
            // loop needed, the callback fires where the result is set.
            awaitable.call_method1("add_done_callback", (on_done,))?;
        } else {
            py.import("tandem")?.call_method1("_submit", (awaitable, on_done))?;
        }
        Ok(())
    });
    if let Err(e) = submitted {
        return Awaited(Err(e));
    }
    drop(bridge);
    match rx.await {
        Ok(result) => Awaited(result),
        Err(_) => Awaited(Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the asyncio loop dropped the coroutine",
        ))),
    }
}

/// What a batched call settles with: the result, the Python exception for
/// this input, or why the input could not be converted.
struct Batched(Result<crate::python::batch::Outcome, String>);

impl<'a> deno_core::convert::ToV8<'a> for Batched {
    type Error = std::convert::Infallible;

    fn to_v8<'i>(self, scope: &mut v8::PinScope<'a, 'i>) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let bridge = Bridge::from_isolate(scope);
        Ok(match self.0 {
            Ok(Ok(value)) => match value.into_js(scope, &bridge) {
                Ok(value) => value,
                Err(e) => bridge.fail(scope, PendingError::Conversion(e.describe("the result of a batched call"))),
            },
            Ok(Err(err)) => bridge.fail(scope, PendingError::Python(err)),
            Err(message) => bridge.fail(scope, PendingError::Conversion(message)),
        })
    }
}

/// Queues `value` for the `@tandem.batch` function behind `batcher` and
/// resolves with its own result. Plain data is queued without the GIL, so
/// this thread goes on serving requests while the batch runs; other values
/// are converted to Python first, as for any call.
#[op2(reentrant)]
fn op_py_batch_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] batcher: u32,
    value: v8::Local<'s, v8::Value>,
) -> impl Future<Output = Batched> {
    let queue = Bridge::from_isolate(scope).batchers.borrow().get(batcher as usize).cloned();
    let queued = queue.ok_or_else(|| format!("no batched function has index {batcher}")).and_then(|queue| {
        let input = match Detached::from_js(scope, value) {
            Some(input) => input,
            None => with_python(scope, |py, scope, bridge| {
                ToPy::new(py, bridge)
                    .convert(scope, value)
                    .map(|obj| Detached::Py(obj.unbind()))
                    .map_err(|e| e.describe(&format!("argument 0 of {}()", queue.name())))
            })?,
        };
        Ok(queue.call(input))
    });
    async move {
        match queued {
            Ok(rx) => Batched(rx.await.map_err(|_| "the batching thread dropped the call".to_string())),
            Err(message) => Batched(Err(message)),
        }
    }
}
