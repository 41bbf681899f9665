//! The `tandem_py_proxy` extension: ops that let JavaScript call Python, and
//! the JS glue (`01_py_proxy.js`) that turns handles into proxies. One file
//! per family of ops: `call.rs`, `attributes.rs`, `iterate.rs`,
//! `lifetime.rs` (releasing handles), `modules.rs` (imports), `error.rs`
//! (the pending error), `deferred.rs` (coroutines and `@tandem.batch`).
//!
//! Every sync op returns either its value or the bridge's error sentinel;
//! the glue then fetches the error with `op_py_take_error` and throws it.
//! That keeps exception construction (PythonError, rethrowing the original
//! JS value of a callback's error) in JavaScript and off the fast path.

mod attributes;
mod call;
mod deferred;
mod error;
mod iterate;
mod lifetime;
mod modules;

use std::rc::Rc;

use deno_core::{ascii_str_include, op2, v8, ExtensionFileSource};
use pyo3::prelude::*;

use crate::python::bridge::{Bridge, PendingError};
use crate::python::convert::ToJs;
use crate::python::js_function;

use attributes::*;
use call::{op_py_call, op_py_call_short};
use deferred::{op_py_await, op_py_batch_call};
use error::op_py_take_error;
use iterate::{op_py_iter, op_py_next, op_py_stream};
use lifetime::{op_py_live_handles, op_py_release};
use modules::{op_py_import, op_py_load_module};

deno_core::extension!(
    tandem_py_proxy,
    ops = [
        op_py_init,
        op_py_call,
        op_py_call_short,
        op_py_getattr,
        op_py_setattr,
        op_py_delattr,
        op_py_hasattr,
        op_py_dir,
        op_py_str,
        op_py_repr,
        op_py_iter,
        op_py_next,
        op_py_stream,
        op_py_release,
        op_py_take_error,
        op_py_import,
        op_py_load_module,
        op_py_await,
        op_py_batch_call,
        op_py_live_handles,
    ],
    esm_entry_point = "ext:tandem_py_proxy/01_py_proxy.js",
    state = |state| {
        state.put(Rc::new(Bridge::default()));
    },
);

/// The glue, embedded in the binary (see the engineering notes: `esm = [...]`
/// would read the file from the build machine at run time).
static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_py_proxy/01_py_proxy.js",
    ascii_str_include!("01_py_proxy.js"),
)];

pub(crate) fn extension() -> deno_core::Extension {
    super::with_embedded_esm(tandem_py_proxy::init(), &ESM)
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

/// Runs `f` holding the GIL, with this op's scope published for callbacks
/// and the call marked as in progress, so that a deadline can interrupt it
/// (crate::python::interrupt).
fn with_python<'s, R>(
    scope: &mut v8::PinScope<'s, '_>,
    f: impl FnOnce(Python<'_>, &mut v8::PinScope<'s, '_>, &Bridge) -> R,
) -> R {
    let bridge = Bridge::from_isolate(scope);
    let _published = js_function::enter(scope);
    Python::attach(|py| {
        let _in_python = bridge.thread.enter(py);
        f(py, scope, &bridge)
    })
}

/// `with_python` for an op on the object behind handle `id`: a handle
/// already released (its proxy collected, an iterator exhausted) becomes
/// the pending "already released" error instead of reaching `f`.
fn with_handle<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    id: u32,
    f: impl for<'py> FnOnce(Python<'py>, &mut v8::PinScope<'s, '_>, &Bridge, Bound<'py, PyAny>) -> v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| match bridge.handles.get(py, id) {
        Some(obj) => f(py, scope, bridge, obj),
        None => bridge.fail(
            scope,
            PendingError::Conversion("this Python object was already released".into()),
        ),
    })
}

/// Converts a Python result to JS, or records why it cannot be.
fn to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    bridge: &Bridge,
    result: PyResult<Bound<'_, PyAny>>,
    what: impl FnOnce() -> String,
) -> v8::Local<'s, v8::Value> {
    convert_result(scope, bridge, ToJs::new(bridge), result, what)
}

/// [`to_js`] with a converter of the caller's.
fn convert_result<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    bridge: &Bridge,
    mut converter: ToJs<'_>,
    result: PyResult<Bound<'_, PyAny>>,
    what: impl FnOnce() -> String,
) -> v8::Local<'s, v8::Value> {
    match result {
        Ok(obj) => match converter.convert(scope, &obj) {
            Ok(value) => value,
            Err(e) => bridge.fail(scope, PendingError::Conversion(e.describe(&what()))),
        },
        Err(err) => bridge.fail(scope, PendingError::Python(err)),
    }
}

/// `qualname` of a callable, for error messages and metric labels.
fn callable_name(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("__qualname__")
        .or_else(|_| obj.getattr("__name__"))
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "a Python callable".into())
}
