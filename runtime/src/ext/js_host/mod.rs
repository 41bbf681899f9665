//! The JS host: the isolate that runs the modules Python requires
//! (`tandem.js.require`), one per process, on a thread of its own that
//! starts on the first require.
//!
//! Python threads hand it [`Job`]s over a channel and wait with the GIL
//! released, so any number of them (WSGI request threads, server isolates
//! running Python) can call in at once. The isolate's JS loop
//! (`01_js_host.js`) takes each job, runs it (awaiting a Promise), and
//! answers through `op_js_host_reply` or `op_js_host_fail`, which convert
//! the outcome to Python on this thread.
//!
//! Modules required here are instances of their own: a server's isolates
//! that import the same file each have theirs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use deno_core::{ascii_str_include, op2, v8, ExtensionFileSource, JsRuntime, OpState};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::python::bridge::Bridge;
use crate::python::convert::{ToJs, ToPy};
use crate::python::js_function::{self, js_error_to_py};
use crate::python::remote::FunctionTable;
use crate::runtime::{Runtime, RuntimeOptions};

/// What Python asks of the host.
pub(crate) enum Job {
    /// Evaluate the module at this `file:` URL; answer with its exports.
    Require { url: String },
    /// Call a function of the host's [`FunctionTable`].
    Call { function: u32, args: Py<PyTuple> },
}

type Reply = PyResult<Py<PyAny>>;

struct Call {
    job: Job,
    reply: crossbeam_channel::Sender<Reply>,
}

enum Message {
    Call(Call),
    /// Python dropped its last reference to a function.
    Release(u32),
}

/// The sending end, shared by every Python thread.
struct Host {
    tx: UnboundedSender<Message>,
}

static HOST: OnceLock<Result<Host, String>> = OnceLock::new();

thread_local! {
    static ON_HOST: Cell<bool> = const { Cell::new(false) };
}

/// Whether this is the host's own thread (where waiting for the host would
/// wait forever).
pub(crate) fn on_host_thread() -> bool {
    ON_HOST.with(Cell::get)
}

/// Runs `job` on the host (starting it if need be) and waits for the
/// answer with the GIL released.
pub(crate) fn request(py: Python<'_>, job: Job) -> PyResult<Py<PyAny>> {
    py.detach(move || {
        let host = HOST.get_or_init(start).as_ref().map_err(|e| PyRuntimeError::new_err(e.clone()))?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        host.tx
            .send(Message::Call(Call { job, reply }))
            .map_err(|_| stopped())?;
        crate::spin::recv(&answer).map_err(|_| stopped())?
    })
}

fn stopped() -> PyErr {
    PyRuntimeError::new_err("the JavaScript module host has stopped (see the error printed before)")
}

/// Lets the host drop a function Python no longer holds.
pub(crate) fn release(function: u32) {
    if let Some(Ok(host)) = HOST.get() {
        let _ = host.tx.send(Message::Release(function));
    }
}

/// Starts the host thread and waits until its isolate is ready.
fn start() -> Result<Host, String> {
    let (tx, rx) = unbounded_channel();
    let (ready, started) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("tandem-js-host".into())
        .spawn(move || {
            ON_HOST.with(|h| h.set(true));
            let runtime = Runtime::new(RuntimeOptions {
                extensions: vec![extension(rx)],
                ..Default::default()
            });
            match runtime {
                Ok(runtime) => {
                    let _ = ready.send(Ok(()));
                    serve(runtime);
                }
                Err(e) => {
                    let _ = ready.send(Err(format!("cannot start the JavaScript module host: {e}")));
                }
            }
        })
        .map_err(|e| format!("cannot start the JavaScript module host thread: {e}"))?;
    started
        .recv()
        .map_err(|_| "the JavaScript module host thread ended while starting".to_string())??;
    Ok(Host { tx })
}

/// Runs the JS loop for the life of the process. An error that reaches the
/// event loop (a module's unhandled rejection) is reported and the loop
/// goes on, so one module's mistake does not stop every other call.
fn serve(mut runtime: Runtime) {
    let (js, tokio) = runtime.parts();
    // The loop's first op may have to wait, which spawns onto the event
    // loop: that needs the tokio context even outside `block_on`.
    let _context = tokio.enter();
    let started = js.execute_script("<tandem js host>", "globalThis[Symbol.for(\"tandem.jsHost\")]()");
    if let Err(e) = started {
        eprintln!("tandem: the JavaScript module host failed to start: {e}");
        return;
    }
    loop {
        match tokio.block_on(js.run_event_loop(Default::default())) {
            Ok(()) => return,
            Err(e) => eprintln!("tandem: uncaught error in a module required from Python: {e}"),
        }
    }
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

/// See the engineering notes: sources are embedded, not read at run time.
static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_js_host/01_js_host.js",
    ascii_str_include!("01_js_host.js"),
)];

fn extension(rx: UnboundedReceiver<Message>) -> deno_core::Extension {
    let mut ext = tandem_js_host::init(rx);
    ext.esm_files = std::borrow::Cow::Borrowed(&ESM);
    ext
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
