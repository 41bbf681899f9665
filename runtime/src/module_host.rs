//! The module host: the isolate that runs the modules Python requires
//! (`tandem.js.require`), one per process, on a thread of its own that
//! starts on the first require.
//!
//! Python threads hand it jobs over a channel and wait with the GIL
//! released, so any number of them (WSGI request threads, server isolates
//! running Python) can call in at once. The isolate's JS loop and the ops
//! that answer jobs are the `tandem_js_host` extension (crate::ext::js_host).
//!
//! Modules required here are instances of their own: a server's isolates
//! that import the same file each have theirs.

use std::cell::Cell;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::ext::js_host::{self, Call, Message};
use crate::permissions::Permissions;
use crate::python::remote::Job;
use crate::runtime::{Runtime, RuntimeOptions};

/// The sending end, shared by every Python thread.
struct Host {
    tx: UnboundedSender<Message>,
}

static HOST: OnceLock<Result<Host, String>> = OnceLock::new();

/// What the host's TypeScript may reach: those of the process's first
/// runtime (a server's isolates all have the same).
static PERMISSIONS: OnceLock<Permissions> = OnceLock::new();

/// Makes `permissions` the host's, unless an earlier runtime's already are.
pub(crate) fn adopt_permissions(permissions: &Permissions) {
    if !on_host_thread() {
        let _ = PERMISSIONS.set(permissions.clone());
    }
}

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
        host.tx.send(Message::Call(Call { job, reply })).map_err(|_| stopped())?;
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
                extensions: vec![js_host::extension(rx)],
                permissions: PERMISSIONS.get().cloned().unwrap_or_default(),
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
    started.recv().map_err(|_| "the JavaScript module host thread ended while starting".to_string())??;
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
