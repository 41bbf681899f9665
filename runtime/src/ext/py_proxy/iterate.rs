//! Iterating a Python iterable from JS: `for (const x of proxy)` one
//! `next()` per op, and `for await (const x of proxy)` through the Python
//! helper `tandem._Stream` (which also drives async generators).

use deno_core::{op2, v8};
use pyo3::prelude::*;

use super::lifetime::drop_handle;
use super::{to_js, with_handle};
use crate::python::bridge::{PendingError, WrapKind};
use crate::python::convert::ToJs;

/// `iter(obj)`, returned as a new handle id.
#[op2(reentrant)]
pub(super) fn op_py_iter<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |_py, scope, bridge, obj| match obj.try_iter() {
        Ok(it) => {
            let iter_id = bridge.handles.insert(it.into_any().unbind());
            v8::Integer::new_from_unsigned(scope, iter_id).into()
        }
        Err(e) => bridge.fail(scope, PendingError::Python(e)),
    })
}

/// `next(it)`; returns `done` (the value the glue passes) when exhausted,
/// and releases the iterator's handle then.
#[op2(reentrant)]
pub(super) fn op_py_next<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[smi] id: u32,
    done: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, it| {
        // SAFETY: `it` came from `try_iter`, so it is an iterator object.
        let next = unsafe { Bound::from_owned_ptr_or_opt(py, pyo3::ffi::PyIter_Next(it.as_ptr())) };
        match next {
            Some(item) => to_js(scope, bridge, Ok(item), || "an iterated item".into()),
            None => match PyErr::take(py) {
                Some(err) => bridge.fail(scope, PendingError::Python(err)),
                None => {
                    drop(it);
                    drop_handle(py, bridge, id);
                    done
                }
            },
        }
    })
}

/// `tandem._Stream(obj)`, as a proxy whose `step()` and `close()` the glue
/// calls: what `for await (const x of proxy)` iterates.
#[op2(reentrant)]
pub(super) fn op_py_stream<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    with_handle(scope, id, |py, scope, bridge, obj| {
        let stream = py.import("tandem").and_then(|m| m.getattr("_Stream")).and_then(|c| c.call1((obj,)));
        match stream {
            Ok(stream) => ToJs::new(bridge)
                .wrap(scope, &stream, WrapKind::Object)
                .unwrap_or_else(|e| bridge.fail(scope, PendingError::Conversion(e.describe("a Python stream")))),
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        }
    })
}
