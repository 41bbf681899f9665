//! Serving a TypeScript/JavaScript program: every worker thread builds an
//! isolate that loads the main module, and its dispatch queues each request
//! for that isolate (crate::exchange::queue) and awaits the reply.

use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::sync::oneshot;

use super::watchdog::Watchdog;
use super::{server_facts, DEFAULT_PORT};
use crate::error::Error;
use crate::exchange::answer::{self, Deadline};
use crate::exchange::body::Body;
use crate::exchange::queue::{InFlight, Readiness, RequestBody, RequestQueue};
use crate::exchange::request_body::{self, Arrival, BodyLimit};
use crate::exchange::watch::{SharedTurnWatch, TurnWatch};
use crate::ext::http::MountSettings;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::server::{self, Dispatch, Listener, Requested, ServerOptions, Worker};

/// Runs `main` as a program. If it serves HTTP (a default export with
/// `fetch`, or a `serve()` call), starts the server with `options.workers`
/// isolates, each built from `make_options()` and loading `main`, and
/// returns after a graceful shutdown; otherwise runs its event loop to the
/// end.
pub fn run_program<F>(main: &Path, make_options: F, options: ServerOptions) -> Result<(), Error>
where
    F: Fn() -> RuntimeOptions + Send + Sync + 'static,
{
    let mut runtime = Runtime::new(make_options())?;
    let module = runtime.load_module(main)?;
    let Some(request) = runtime.take_serve_request(&module)? else {
        return runtime.run_event_loop();
    };
    let requested = Requested { port: request.port, host: request.hostname };
    let listener = Listener::bind(&options, &requested, DEFAULT_PORT)?;
    let mounts = MountSettings { threads: options.wsgi_threads, facts: server_facts(listener.address(), &options) };
    runtime.set_mount_settings(mounts.clone());
    let options = Arc::new(options);
    let first = ScriptWorker::new(0, runtime, options.clone())?;
    let main = main.to_path_buf();
    let worker_options = options.clone();
    let make = move |index: usize| {
        let mut runtime = Runtime::new(make_options())?;
        runtime.set_mount_settings(mounts.clone());
        let module = runtime.load_module(&main)?;
        if runtime.take_serve_request(&module)?.is_none() {
            return Err(Error::Server(format!(
                "worker {index}: loading {} again did not serve (serve() must run at module load)",
                main.display()
            )));
        }
        ScriptWorker::new(index, runtime, worker_options.clone())
    };
    server::serve(listener, first, make, options)
}

/// A worker thread's isolate, which has loaded the main module, and the
/// watchdog that stops runaway handlers on it.
struct ScriptWorker {
    runtime: Runtime,
    queue: Rc<RequestQueue>,
    watchdog: Rc<Watchdog>,
    options: Arc<ServerOptions>,
}

impl ScriptWorker {
    fn new(index: usize, mut runtime: Runtime, options: Arc<ServerOptions>) -> Result<Self, Error> {
        let queue = runtime.http_queue().ok_or_else(|| Error::Server("serve() was not called".into()))?;
        let watchdog = Rc::new(Watchdog::start(format!("worker {index}"), runtime.interrupter(), options.handler_timeout)?);
        // WebSocket listeners run outside requests, under the same limit.
        let watch: SharedTurnWatch = Rc::new(WatchTurns { watchdog: watchdog.clone(), limit: options.handler_timeout });
        runtime.parts().0.op_state().borrow_mut().put(watch);
        Ok(ScriptWorker { runtime, queue, watchdog, options })
    }
}

/// The worker's watchdog, for JavaScript run outside requests.
struct WatchTurns {
    watchdog: Rc<Watchdog>,
    limit: std::time::Duration,
}

impl TurnWatch for WatchTurns {
    fn watch(&self) -> Box<dyn std::any::Any> {
        Box::new(self.watchdog.arm(Deadline::after(self.limit)))
    }
}

impl Worker for ScriptWorker {
    type Dispatch = Isolate;

    fn dispatch(&self) -> Isolate {
        Isolate { queue: self.queue.clone(), watchdog: self.watchdog.clone(), options: self.options.clone() }
    }

    fn stopper(&self) -> Option<server::Stopper> {
        Some(self.watchdog.stopper())
    }

    /// hyper's connection tasks and the isolate's event loop run side by
    /// side on the isolate's current-thread runtime; the event loop runs
    /// under the watchdog.
    fn run(mut self, connections: impl std::future::Future<Output = ()>) -> Result<(), Error> {
        let queue = self.queue;
        let watchdog = self.watchdog;
        let (js, tokio) = self.runtime.parts();
        let local = tokio::task::LocalSet::new();
        tokio.block_on(local.run_until(async move {
            let event_loop = std::future::poll_fn(|cx| watchdog.poll_event_loop(js, cx));
            tokio::select! {
                result = event_loop => match result {
                    Ok(()) => Err(Error::Server("the isolate's serve loop ended while the server was running".into())),
                    Err(e) => Err(e),
                },
                () = connections => {
                    queue.close();
                    Ok(())
                }
            }
        }))
    }
}

/// A worker's isolate, as the server's [`Dispatch`].
struct Isolate {
    queue: Rc<RequestQueue>,
    watchdog: Rc<Watchdog>,
    options: Arc<ServerOptions>,
}

impl Dispatch for Isolate {
    /// Hands the request to the isolate and awaits its reply, under the
    /// body limit and the handler deadline.
    async fn dispatch(&self, request: Request<Incoming>, remote: SocketAddr) -> (Option<String>, Response<Body>) {
        let (parts, incoming) = request.into_parts();
        let limit = BodyLimit::new(self.options.max_body_bytes);
        let body = match request_body::receive(&parts.headers, incoming, &limit).await {
            Ok(Arrival::Empty) => RequestBody::None,
            Ok(Arrival::Whole(bytes)) => RequestBody::Buffered(bytes),
            Ok(Arrival::Stream(streamed)) => RequestBody::Streaming(streamed),
            Err(response) => return (None, response),
        };
        let (reply, replied) = oneshot::channel();
        let id = self.queue.push(InFlight::new(parts, body, remote, reply));
        let _guard = InFlightGuard { queue: &self.queue, id };
        let deadline = Deadline::after(self.options.handler_timeout);
        let _armed = self.watchdog.arm(deadline);
        match answer::within(deadline, replied, id).await {
            Ok(reply) if limit.failed() => (reply.route, limit.refusal()),
            Ok(reply) => (reply.route, reply.response),
            Err(response) => (None, response),
        }
    }

    /// Asks the app's `ready()` check in this isolate, under the handler
    /// deadline (a check that runs away is cut like a handler).
    async fn ready(&self) -> Readiness {
        if !self.queue.checks_readiness() {
            return Ok(());
        }
        let (reply, replied) = oneshot::channel();
        let id = self.queue.push_probe(reply);
        let _forget = ProbeGuard { queue: &self.queue, id };
        let deadline = Deadline::after(self.options.handler_timeout);
        let _armed = self.watchdog.arm(deadline);
        match tokio::time::timeout_at(deadline.due.into(), replied).await {
            Ok(Ok(readiness)) => readiness,
            Ok(Err(_)) => Err("the worker stopped before the app's ready() answered".into()),
            Err(_) => Err(format!(
                "the app's ready() did not answer within {} s (see --handler-timeout)",
                deadline.limit.as_secs_f64()
            )),
        }
    }
}

/// Forgets a probe the server no longer waits for (answered, past the
/// deadline, or its client gone).
struct ProbeGuard<'a> {
    queue: &'a RequestQueue,
    id: u32,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.queue.forget_probe(self.id);
    }
}

/// Forgets a request whose reply the server no longer waits for (the
/// client went away, so hyper dropped the dispatch future, or the deadline
/// passed) and lets the isolate abort its `request.signal`.
struct InFlightGuard<'a> {
    queue: &'a RequestQueue,
    id: u32,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.queue.is_pending(self.id) {
            self.queue.abort(self.id);
        }
    }
}
