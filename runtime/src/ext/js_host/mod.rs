//! The `tandem_js_host` extension: the JS loop of the module host
//! (crate::module_host), the isolate that runs the modules Python requires.
//!
//! The loop (`01_js_host.js`) takes each job Python sent, runs it (awaiting
//! a Promise), and answers through `op_js_host_reply` or `op_js_host_fail`,
//! which convert the outcome to Python on this thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use deno_core::{ascii_str_include, op2, v8, ExtensionFileSource, JsRuntime, OpState};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::python::bridge::Bridge;
use crate::python::convert::{ToJs, ToPy};
use crate::python::js_function::{self, js_error_to_py};
use crate::python::remote::{FunctionTable, Job};

type Reply = PyResult<Py<PyAny>>;

/// A job and where its answer goes.
pub(crate) struct Call {
    pub(crate) job: Job,
    pub(crate) reply: crossbeam_channel::Sender<Reply>,
}

/// What Python threads send the host.
pub(crate) enum Message {
    Call(Call),
    /// Python dropped its last reference to a function.
    Release(u32),
}

deno_core::extension!(
    tandem_js_host,
    ops = [op_js_host_next, op_js_host_take, op_js_host_reply, op_js_host_fail],
    esm_entry_point = "ext:tandem_js_host/01_js_host.js",
    options = { rx: UnboundedReceiver<Message> },
    state = |state, options| {
        state.put(Rc::new(Jobs {
            rx: RefCell::new(options.rx),
            pending: RefCell::default(),
            next: Cell::new(0),
            last: Cell::new(Instant::now()),
        }));
    },
);

static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_js_host/01_js_host.js",
    ascii_str_include!("01_js_host.js"),
)];

pub(crate) fn extension(rx: UnboundedReceiver<Message>) -> deno_core::Extension {
    super::with_embedded_esm(tandem_js_host::init(rx), &ESM)
}

/// The host's side of the channel, and the calls its JS is running.
struct Jobs {
    rx: RefCell<UnboundedReceiver<Message>>,
    pending: RefCell<HashMap<u32, Call>>,
    next: Cell<u32>,
    /// When the last job arrived.
    last: Cell<Instant>,
}

impl Jobs {
    fn from_isolate(isolate: &v8::Isolate) -> Rc<Jobs> {
        JsRuntime::op_state_from(isolate).borrow().borrow::<Rc<Jobs>>().clone()
    }

    /// While jobs come in a stream (the last one under a millisecond ago),
    /// polls for the next one for a moment before the thread goes to
    /// sleep: a Python thread calling in a loop then finds the host awake
    /// (see [`crate::spin`]).
    fn spin(&self) -> Option<Message> {
        if self.last.get().elapsed() > Duration::from_millis(1) {
            return None;
        }
        crate::spin::poll(|| self.rx.borrow_mut().try_recv().ok())
    }

    fn admit(&self, call: Call) -> u32 {
        self.last.set(Instant::now());
        let id = self.next.get().wrapping_add(1).max(1);
        self.next.set(id);
        self.pending.borrow_mut().insert(id, call);
        id
    }

    fn answer(&self, id: u32, reply: Reply) {
        if let Some(call) = self.pending.borrow_mut().remove(&id) {
            // The caller may have gone (its thread ended); nothing to tell.
            let _ = call.reply.send(reply);
        }
    }
}

/// Waits for the next job and returns its id (never 0).
#[op2]
async fn op_js_host_next(state: Rc<RefCell<OpState>>) -> u32 {
    let (jobs, bridge) = {
        let state = state.borrow();
        (state.borrow::<Rc<Jobs>>().clone(), state.borrow::<Rc<Bridge>>().clone())
    };
    let table = bridge.remote.get_or_init(FunctionTable::default);
    poll_fn(|cx| loop {
        let polled = jobs.rx.borrow_mut().poll_recv(cx);
        let message = match polled {
            Poll::Ready(Some(message)) => message,
            // The sender lives in a static: the channel never closes.
            Poll::Ready(None) => return Poll::Pending,
            Poll::Pending => match jobs.spin() {
                Some(message) => message,
                None => return Poll::Pending,
            },
        };
        match message {
            Message::Call(call) => return Poll::Ready(jobs.admit(call)),
            Message::Release(function) => table.release(function),
        }
    })
    .await
}

/// The job behind `id`: the URL to import (a string), or `[function,
/// args]`. `null` when it was already answered (a released function, or
/// arguments that cannot be converted).
#[op2(reentrant)]
fn op_js_host_take<'s>(scope: &mut v8::PinScope<'s, '_>, #[smi] id: u32) -> v8::Local<'s, v8::Value> {
    let jobs = Jobs::from_isolate(scope);
    let prepared = {
        let pending = jobs.pending.borrow();
        let Some(call) = pending.get(&id) else { return v8::null(scope).into() };
        match &call.job {
            Job::Require { url } => return v8::String::new(scope, url).map_or_else(|| v8::null(scope).into(), Into::into),
            Job::Call { function, args } => prepare_call(scope, *function, args),
        }
    };
    match prepared {
        Ok(job) => job,
        Err(err) => {
            jobs.answer(id, Err(err));
            v8::null(scope).into()
        }
    }
}

/// `[function, args]` for a call, converting the arguments from Python.
fn prepare_call<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    function: u32,
    args: &Py<PyTuple>,
) -> PyResult<v8::Local<'s, v8::Value>> {
    let bridge = Bridge::from_isolate(scope);
    let function = bridge
        .remote
        .get()
        .and_then(|table| table.get(scope, function))
        .ok_or_else(|| PyRuntimeError::new_err("this JavaScript function was already released"))?;
    let _published = js_function::enter(scope);
    let values = Python::attach(|py| -> PyResult<Vec<v8::Local<'s, v8::Value>>> {
        let mut to_js = ToJs::new(&bridge);
        let args = args.bind(py);
        let mut values = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let value = to_js.convert(scope, &arg).map_err(|e| {
                PyTypeError::new_err(e.describe(&format!("argument {i} of a JavaScript function")))
            })?;
            values.push(value);
        }
        Ok(values)
    })?;
    let args = v8::Array::new_with_elements(scope, &values);
    Ok(v8::Array::new_with_elements(scope, &[function.into(), args.into()]).into())
}

/// Answers job `id` with `value`, converted to Python.
#[op2(fast, reentrant)]
fn op_js_host_reply(scope: &mut v8::PinScope<'_, '_>, #[smi] id: u32, value: v8::Local<'_, v8::Value>) {
    let jobs = Jobs::from_isolate(scope);
    let bridge = Bridge::from_isolate(scope);
    let what = match jobs.pending.borrow().get(&id).map(|c| &c.job) {
        Some(Job::Require { url }) => format!("the exports of {url}"),
        Some(Job::Call { .. }) => "the JavaScript function's return value".into(),
        None => return,
    };
    let _published = js_function::enter(scope);
    let reply = Python::attach(|py| {
        ToPy::new(py, &bridge)
            .convert(scope, value)
            .map(Bound::unbind)
            .map_err(|e| PyTypeError::new_err(e.describe(&what)))
    });
    jobs.answer(id, reply);
}

/// Answers job `id` with the error its JavaScript threw.
#[op2(fast, reentrant)]
fn op_js_host_fail(scope: &mut v8::PinScope<'_, '_>, #[smi] id: u32, exception: v8::Local<'_, v8::Value>) {
    let jobs = Jobs::from_isolate(scope);
    // The error goes to another thread: it must not hold the engine value.
    let err = Python::attach(|py| js_error_to_py(py, scope, exception, false));
    jobs.answer(id, Err(err));
}
