//! Serving a TypeScript/JavaScript program: every worker thread builds an
//! isolate that loads the main module, and its dispatch queues each request
//! for that isolate (crate::exchange::queue) and awaits the reply.
//!
//! Under `--watch` a worker reloads in place: it loads the app again in a
//! new isolate on the same thread and event loop, sends new requests there
//! once it serves, and keeps the old isolate running until its requests
//! are done. Python modules stay loaded (crate::apps::reload re-executes
//! the changed ones first).

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::sync::oneshot;

use super::reload::{self, Reloads};
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
use crate::server::{self, Dispatch, Listener, Requested, ServerOptions, Stopper, Worker};

/// Runs `main` as a program. If it serves HTTP (a default export with
/// `fetch`, or a `serve()` call), starts the server with `options.workers`
/// isolates, each built from `make_options()` and loading `main`, and
/// returns after a graceful shutdown; otherwise runs its event loop to the
/// end. With `options.watch`, a server reloads when a source file changes
/// (crate::apps::reload).
pub fn run_program<F>(main: &Path, make_options: F, options: ServerOptions) -> Result<(), Error>
where
    F: Fn() -> RuntimeOptions + Send + Sync + 'static,
{
    let mut runtime = Runtime::new(make_options())?;
    let module = runtime.load_module(main)?;
    let Some(request) = runtime.take_serve_request(&module)? else {
        if options.watch.is_some() {
            eprintln!("tandem --watch: {} does not serve HTTP, so it ran once; --watch reloads servers", main.display());
        }
        return runtime.run_event_loop();
    };
    let requested = Requested { port: request.port, host: request.hostname };
    let listener = Listener::bind(&options, &requested, DEFAULT_PORT)?;
    let mounts = MountSettings { threads: options.wsgi_threads, facts: server_facts(listener.address(), &options) };
    runtime.set_mount_settings(mounts.clone());
    let reloads = options.watch.as_deref().map(|root| reload::watch(root, options.workers.max(1))).transpose()?;
    let app = Arc::new(App { main: main.to_path_buf(), make_options: Box::new(make_options), mounts });
    let options = Arc::new(options);
    let first = ScriptWorker::new(0, runtime, app.clone(), reloads.clone(), options.clone())?;
    let worker_options = options.clone();
    let make = move |index: usize| {
        let mut runtime = Runtime::new((app.make_options)())?;
        runtime.event_loop().block_on(app.load(&mut runtime, index))?;
        ScriptWorker::new(index, runtime, app.clone(), reloads.clone(), worker_options.clone())
    };
    server::serve(listener, first, make, options)
}

/// What every isolate of the app is built from: again on each reload.
struct App {
    main: PathBuf,
    make_options: Box<dyn Fn() -> RuntimeOptions + Send + Sync>,
    mounts: MountSettings,
}

impl App {
    /// Loads the main module into `runtime`, which must then serve.
    async fn load(&self, runtime: &mut Runtime, index: usize) -> Result<(), Error> {
        runtime.set_mount_settings(self.mounts.clone());
        let module = runtime.load(&self.main).await?;
        if runtime.serve_request(&module).await?.is_none() {
            return Err(Error::Server(format!(
                "worker {index}: loading {} again did not serve (serve() must run at module load)",
                self.main.display()
            )));
        }
        Ok(())
    }
}

/// One load of the app on a worker thread: its isolate, the queue its
/// serve loop takes requests from, and the watchdog over it. A reload
/// makes a new generation; the old one finishes what it has.
struct Generation {
    runtime: Runtime,
    target: Target,
    /// Its watchdog's stopper, listed in the worker's while it lives.
    stopper: Stopper,
}

/// Where a worker's dispatch sends a request: the current generation.
#[derive(Clone)]
struct Target {
    queue: Rc<RequestQueue>,
    watchdog: Rc<Watchdog>,
}

impl Generation {
    fn new(index: usize, mut runtime: Runtime, options: &ServerOptions) -> Result<Self, Error> {
        let queue = runtime.http_queue().ok_or_else(|| Error::Server("serve() was not called".into()))?;
        let watchdog = Rc::new(Watchdog::start(format!("worker {index}"), runtime.interrupter(), options.handler_timeout)?);
        // WebSocket listeners run outside requests, under the same limit.
        let watch: SharedTurnWatch = Rc::new(WatchTurns { watchdog: watchdog.clone(), limit: options.handler_timeout });
        runtime.parts().0.op_state().borrow_mut().put(watch);
        let stopper = watchdog.stopper();
        Ok(Generation { runtime, target: Target { queue, watchdog }, stopper })
    }

    /// Runs the isolate's event loop, under its watchdog.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let (js, _) = self.runtime.parts();
        self.target.watchdog.poll_event_loop(js, cx)
    }
}

/// A generation a reload replaced, finishing its requests. Its WebSockets
/// are asked to close with 1012 (service restart) and it gets as long as
/// a shutdown would (`--shutdown-timeout`) before it is dropped.
struct Retired {
    generation: Generation,
    until: Pin<Box<tokio::time::Sleep>>,
    /// The worker's list of live stoppers, which loses this one on drop.
    stoppers: Arc<Mutex<Vec<Stopper>>>,
}

impl Retired {
    fn new(mut generation: Generation, options: &ServerOptions, stoppers: Arc<Mutex<Vec<Stopper>>>) -> Self {
        let state = generation.runtime.parts().0.op_state();
        crate::ext::websocket::close_all(&state.borrow(), 1012, "service restart");
        let until = Box::pin(tokio::time::sleep(options.shutdown_timeout));
        Retired { generation, until, stoppers }
    }

    /// Ready once the generation can go: nothing left in flight, its event
    /// loop ended, or its time is up.
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.generation.poll(cx).is_ready() || self.until.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let state = self.generation.runtime.parts().0.op_state();
        let idle = self.generation.target.queue.is_idle() && crate::ext::websocket::open_sockets(&state.borrow()) == 0;
        if idle { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        self.generation.target.queue.close();
        let mut stoppers = self.stoppers.lock().unwrap_or_else(|e| e.into_inner());
        stoppers.retain(|stop| !Arc::ptr_eq(stop, &self.generation.stopper));
    }
}

/// A worker thread: the generation serving new requests and those a
/// reload replaced, still finishing theirs.
struct ScriptWorker {
    index: usize,
    current: Generation,
    retired: Vec<Retired>,
    /// The current generation, as the dispatch sees it.
    target: Rc<RefCell<Target>>,
    /// The stoppers of the live generations' watchdogs.
    stoppers: Arc<Mutex<Vec<Stopper>>>,
    app: Arc<App>,
    reloads: Option<Reloads>,
    options: Arc<ServerOptions>,
}

impl ScriptWorker {
    fn new(
        index: usize,
        runtime: Runtime,
        app: Arc<App>,
        reloads: Option<Reloads>,
        options: Arc<ServerOptions>,
    ) -> Result<Self, Error> {
        let current = Generation::new(index, runtime, &options)?;
        let target = Rc::new(RefCell::new(current.target.clone()));
        let stoppers = Arc::new(Mutex::new(vec![current.stopper.clone()]));
        Ok(ScriptWorker { index, current, retired: Vec::new(), target, stoppers, app, reloads, options })
    }

    /// Serves until `connections` ends, reloading the app when told to.
    async fn serve(mut self, connections: impl Future<Output = ()>) -> Result<(), Error> {
        let mut connections = std::pin::pin!(connections);
        let mut loading: Option<Pin<Box<dyn Future<Output = (u64, Result<Generation, Error>)>>>> = None;
        loop {
            tokio::select! {
                () = &mut connections => {
                    self.current.target.queue.close();
                    return Ok(());
                }
                result = std::future::poll_fn(|cx| self.current.poll(cx)) => {
                    result?;
                    return Err(Error::Server("the isolate's serve loop ended while the server was running".into()));
                }
                () = std::future::poll_fn(|cx| {
                    self.retired.retain_mut(|retired| retired.poll_done(cx).is_pending());
                    Poll::<()>::Pending
                }) => {}
                generation = next_reload(&mut self.reloads), if loading.is_none() => {
                    loading = Some(Box::pin(self.reload(generation)));
                }
                (generation, result) = std::future::poll_fn(|cx| match &mut loading {
                    Some(load) => load.as_mut().poll(cx),
                    None => Poll::Pending,
                }) => {
                    loading = None;
                    self.switch(generation, result);
                }
            }
        }
    }

    /// Loads the app again in a new isolate beside the current one.
    fn reload(&self, generation: u64) -> impl Future<Output = (u64, Result<Generation, Error>)> + 'static {
        let sibling = self.current.runtime.sibling((self.app.make_options)());
        let (app, index, options) = (self.app.clone(), self.index, self.options.clone());
        async move {
            let load = async {
                let mut runtime = sibling?;
                app.load(&mut runtime, index).await?;
                Generation::new(index, runtime, &options)
            };
            (generation, load.await)
        }
    }

    /// Makes a newly loaded generation the current one (new requests go to
    /// it) and retires the one it replaces; or reports why it failed.
    fn switch(&mut self, generation: u64, loaded: Result<Generation, Error>) {
        let outcome = loaded.map(|next| {
            *self.target.borrow_mut() = next.target.clone();
            self.stoppers.lock().unwrap_or_else(|e| e.into_inner()).push(next.stopper.clone());
            let old = std::mem::replace(&mut self.current, next);
            self.retired.push(Retired::new(old, &self.options, self.stoppers.clone()));
        });
        if let Some(reloads) = &self.reloads {
            reloads.report(generation, self.index, outcome.map_err(|e| e.to_string()));
        }
    }
}

async fn next_reload(reloads: &mut Option<Reloads>) -> u64 {
    match reloads {
        Some(reloads) => reloads.next().await,
        None => std::future::pending().await,
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
        Isolate { target: self.target.clone(), options: self.options.clone() }
    }

    /// Stops whatever generation is running away.
    fn stopper(&self) -> Option<server::Stopper> {
        let stoppers = self.stoppers.clone();
        Some(Arc::new(move || {
            for stop in stoppers.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                stop();
            }
        }))
    }

    /// hyper's connection tasks and the isolates' event loops run side by
    /// side on the worker's current-thread runtime; each event loop runs
    /// under its watchdog.
    fn run(self, connections: impl Future<Output = ()>) -> Result<(), Error> {
        let tokio = self.current.runtime.event_loop();
        let local = tokio::task::LocalSet::new();
        tokio.block_on(local.run_until(self.serve(connections)))
    }
}

/// A worker's isolate, as the server's [`Dispatch`].
struct Isolate {
    target: Rc<RefCell<Target>>,
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
        // The generation current now answers, even if a reload replaces it
        // meanwhile.
        let Target { queue, watchdog } = self.target.borrow().clone();
        let (reply, replied) = oneshot::channel();
        let id = queue.push(InFlight::new(parts, body, remote, reply));
        let _guard = InFlightGuard { queue: &queue, id };
        let deadline = Deadline::after(self.options.handler_timeout);
        let _armed = watchdog.arm(deadline);
        match answer::within(deadline, replied, id).await {
            Ok(reply) if limit.failed() => (reply.route, limit.refusal()),
            Ok(reply) => (reply.route, reply.response),
            Err(response) => (None, response),
        }
    }

    /// Asks the app's `ready()` check in this isolate, under the handler
    /// deadline (a check that runs away is cut like a handler).
    async fn ready(&self) -> Readiness {
        let Target { queue, watchdog } = self.target.borrow().clone();
        if !queue.checks_readiness() {
            return Ok(());
        }
        let (reply, replied) = oneshot::channel();
        let id = queue.push_probe(reply);
        let _forget = ProbeGuard { queue: &queue, id };
        let deadline = Deadline::after(self.options.handler_timeout);
        let _armed = watchdog.arm(deadline);
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
