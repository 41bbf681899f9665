//! [`Runtime`]: one JS isolate with the Python bridge, driven synchronously
//! on the thread that owns it. This is the whole public API the binary uses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use deno_core::{v8, JsRuntime, ModuleId, ModuleSpecifier, PollEventLoopOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::ext;
use crate::ext::http::ServeRequest;
use crate::ext::script_env::{HostFunction, RuntimeInfo};
use crate::module_host;
use crate::module_loader::{self, TandemModuleLoader};
use crate::permissions::Permissions;
use crate::python;
use crate::python::bridge::Bridge;
use crate::python::interrupt::PythonThread;
use crate::python::thread_state::ThreadStateGuard;

/// How to build a [`Runtime`].
#[derive(Default)]
pub struct RuntimeOptions {
    /// Folder that relative module paths given to [`Runtime::load_module`]
    /// are resolved against, and that is put on Python's `sys.path`
    /// (default: the current directory).
    pub module_root: Option<PathBuf>,
    /// Extra folders for Python's `sys.path`.
    pub python_path: Vec<PathBuf>,
    /// The script's arguments, visible to TypeScript as `Tandem.args`.
    pub args: Vec<String>,
    /// Extra deno_core extensions (ops and JS) for advanced embedders.
    pub extensions: Vec<deno_core::Extension>,
    /// Time limit of every call from TypeScript into a Python function
    /// that sets none of its own (`withTimeout` in tandem:python): past it,
    /// the call is interrupted and throws a `PythonError` of type
    /// `TimeoutError`. `None` (the default): no limit.
    pub python_call_timeout: Option<std::time::Duration>,
    /// What the runtime's TypeScript may reach (network, files, environment
    /// variables, Python modules); everything by default. The first runtime
    /// of a process also sets them for the modules Python requires.
    pub permissions: Permissions,
}

/// A loaded and evaluated ES module.
#[derive(Debug, Clone)]
pub struct Module {
    id: ModuleId,
    specifier: ModuleSpecifier,
}

impl Module {
    /// The module's URL (`file:///…/main.ts`).
    pub fn specifier(&self) -> &str {
        self.specifier.as_str()
    }
}

/// Stops what a [`Runtime`]'s thread is running, from another thread (the
/// server's watchdog, crate::apps::watchdog).
pub(crate) struct Interrupter {
    isolate: v8::IsolateHandle,
    python: PythonThread,
}

impl Interrupter {
    /// Terminates the JavaScript the isolate runs (an uncatchable error
    /// that unwinds every frame); its owner cancels the termination after.
    pub(crate) fn terminate_js(&self) {
        self.isolate.terminate_execution();
    }

    /// Takes back a termination that found no JavaScript running.
    pub(crate) fn cancel_js_termination(&self) {
        self.isolate.cancel_terminate_execution();
    }

    /// Raises `tandem.TimeoutError` in the Python call the thread is in;
    /// false if it is in none.
    pub(crate) fn interrupt_python(&self) -> bool {
        self.python.interrupt()
    }
}

/// A TypeScript runtime with in-process Python.
///
/// `Runtime` is `!Send`: it lives on the thread that created it, which
/// keeps a Python thread state for as long as the runtime lives.
pub struct Runtime {
    // Field order is drop order: the isolate goes before the thread state.
    js: JsRuntime,
    // Shared with the sibling runtimes a server worker builds on its thread
    // when it reloads the app (crate::apps::script).
    tokio: Rc<tokio::runtime::Runtime>,
    module_root: PathBuf,
    main_loaded: bool,
    thread_state: Rc<ThreadStateGuard>,
}

impl Runtime {
    /// Starts Python (once per process) and builds a JS isolate with the
    /// Python bridge, `console` and the `Tandem` global.
    pub fn new(options: RuntimeOptions) -> Result<Self, Error> {
        python::initialize()?;
        let thread_state = Rc::new(ThreadStateGuard::new());
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the event loop: {e}")))?;
        Self::build(options, Rc::new(tokio), thread_state)
    }

    /// A new runtime on this thread that shares this one's event loop (so
    /// it can be loaded with [`Runtime::load_main`] while this one runs).
    pub(crate) fn sibling(&self, options: RuntimeOptions) -> Result<Self, Error> {
        Self::build(options, self.tokio.clone(), self.thread_state.clone())
    }

    fn build(
        options: RuntimeOptions,
        tokio: Rc<tokio::runtime::Runtime>,
        thread_state: Rc<ThreadStateGuard>,
    ) -> Result<Self, Error> {
        let module_root = match options.module_root {
            Some(root) => std::path::absolute(root).map_err(|e| Error::Internal(e.to_string()))?,
            None => std::env::current_dir().map_err(|e| Error::Internal(e.to_string()))?,
        };
        pyo3::Python::attach(|py| -> pyo3::PyResult<()> {
            for dir in options.python_path.iter().rev() {
                python::add_sys_path(py, dir)?;
            }
            python::add_sys_path(py, &module_root)
        })
        .map_err(Error::python_setup)?;
        let mut permissions = options.permissions;
        permissions.project_root.get_or_insert_with(|| module_root.clone());
        let checks = permissions.container().map_err(|e| Error::Config(e.to_string()))?;
        module_host::adopt_permissions(&permissions);
        let permissions = Rc::new(permissions);

        let info = RuntimeInfo {
            args: options.args,
            main_module: None,
            host_functions: HashMap::new(),
        };
        let mut extensions = ext::web::extensions(checks);
        extensions.push(ext::py_proxy::extension());
        extensions.push(ext::http::extension());
        extensions.push(ext::websocket::extension());
        extensions.push(ext::script_env::extension(info));
        extensions.extend(options.extensions);
        let js = JsRuntime::try_new(deno_core::RuntimeOptions {
            module_loader: Some(Rc::new(TandemModuleLoader::new(permissions.clone()))),
            extensions,
            ..Default::default()
        })?;
        let bridge = Bridge::from_state(&js.op_state());
        bridge.call_timeout.set(options.python_call_timeout);
        *bridge.permissions.borrow_mut() = permissions;
        Ok(Self { js, tokio, module_root, main_loaded: false, thread_state })
    }

    /// Makes `f` callable from TypeScript as `Tandem.host.call(name, ...args)`.
    /// Arguments and the result travel as JSON values; an `Err` becomes a
    /// thrown `Error` carrying its message.
    pub fn register_function<F>(&mut self, name: &str, f: F)
    where
        F: Fn(Vec<serde_json::Value>) -> Result<serde_json::Value, String> + 'static,
    {
        let state = self.js.op_state();
        let mut state = state.borrow_mut();
        let function: Rc<HostFunction> = Rc::new(f);
        state.borrow_mut::<RuntimeInfo>().host_functions.insert(name.to_string(), function);
    }

    fn specifier(&self, path: &Path) -> Result<ModuleSpecifier, Error> {
        let path = if path.is_absolute() { path.to_path_buf() } else { self.module_root.join(path) };
        module_loader::main_specifier(&path).map_err(|e| Error::Module(e.to_string()))
    }

    /// Loads and evaluates a module (and runs the event loop until its
    /// top-level await settles). The first module loaded is the main module
    /// (`import.meta.main`, `Tandem.mainModule`).
    pub fn load_module(&mut self, path: impl AsRef<Path>) -> Result<Module, Error> {
        let tokio = self.tokio.clone();
        tokio.block_on(self.load(path.as_ref()))
    }

    /// [`Runtime::load_module`] as a future, for a caller already inside
    /// the event loop (a server worker loading a sibling runtime).
    pub(crate) async fn load(&mut self, path: &Path) -> Result<Module, Error> {
        let specifier = self.specifier(path)?;
        let main = !self.main_loaded;
        if main {
            self.js
                .op_state()
                .borrow_mut()
                .borrow_mut::<RuntimeInfo>()
                .main_module = Some(specifier.to_string());
        }
        let js = &mut self.js;
        let id = if main {
            js.load_main_es_module(&specifier).await?
        } else {
            js.load_side_es_module(&specifier).await?
        };
        let evaluation = js.mod_evaluate(id);
        js.with_event_loop_future(evaluation, PollEventLoopOptions::default()).await?;
        self.main_loaded = true;
        Ok(Module { id, specifier })
    }

    /// Runs the event loop until there is nothing left to do.
    pub fn run_event_loop(&mut self) -> Result<(), Error> {
        let js = &mut self.js;
        self.tokio
            .block_on(js.run_event_loop(PollEventLoopOptions::default()))
            .map_err(Error::from)
    }

    /// Calls the function `name` exported by `module` with `args` (a tuple
    /// or array is spread into arguments, any other value is the single
    /// argument), awaits it if it returns a Promise, and deserializes the
    /// result into `T`.
    pub fn call_function<A, T>(&mut self, module: &Module, name: &str, args: &A) -> Result<T, Error>
    where
        A: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let namespace = self.js.get_module_namespace(module.id)?;
        let (function, args) = {
            deno_core::scope!(scope, &mut self.js);
            let namespace = v8::Local::new(scope, namespace);
            let key = v8::String::new(scope, name).ok_or_else(|| Error::Internal("name too long".into()))?;
            let value = namespace.get(scope, key.into());
            let function = value
                .filter(|v| v.is_function())
                .map(|v| v8::Global::new(scope, v.cast::<v8::Function>()))
                .ok_or_else(|| Error::MissingExport {
                    module: module.specifier.to_string(),
                    name: name.to_string(),
                })?;
            let args = deno_core::serde_v8::to_v8(scope, args).map_err(|e| Error::Conversion {
                what: format!("the arguments of {name}()"),
                message: e.to_string(),
            })?;
            let args: Vec<v8::Global<v8::Value>> = if args.is_array() {
                let array = args.cast::<v8::Array>();
                (0..array.length())
                    .filter_map(|i| array.get_index(scope, i))
                    .map(|v| v8::Global::new(scope, v))
                    .collect()
            } else {
                vec![v8::Global::new(scope, args)]
            };
            (function, args)
        };
        let js = &mut self.js;
        let result = self.tokio.block_on(async {
            let call = js.call_with_args(&function, &args);
            js.with_event_loop_promise(call, PollEventLoopOptions::default()).await
        })?;
        deno_core::scope!(scope, &mut self.js);
        let result = v8::Local::new(scope, result);
        deno_core::serde_v8::from_v8(scope, result).map_err(|e| Error::Conversion {
            what: format!("the result of {name}()"),
            message: e.to_string(),
        })
    }

    /// Evaluates a classic script (not a module) and deserializes its
    /// completion value. Handy for tests and REPL-like embedding.
    pub fn eval<T: DeserializeOwned>(&mut self, code: &str) -> Result<T, Error> {
        let value = self.js.execute_script("<eval>", code.to_string())?;
        deno_core::scope!(scope, &mut self.js);
        let value = v8::Local::new(scope, value);
        deno_core::serde_v8::from_v8(scope, value).map_err(|e| Error::Conversion {
            what: "the evaluated value".into(),
            message: e.to_string(),
        })
    }

    /// After the main module loaded: the options of its `serve()` call, or
    /// of serving its default export when that has a `fetch` method (or is
    /// a function named `fetch`); `None` for a plain script.
    pub(crate) fn take_serve_request(&mut self, module: &Module) -> Result<Option<ServeRequest>, Error> {
        let tokio = self.tokio.clone();
        tokio.block_on(self.serve_request(module))
    }

    /// [`Runtime::take_serve_request`] as a future (see [`Runtime::load`]).
    pub(crate) async fn serve_request(&mut self, module: &Module) -> Result<Option<ServeRequest>, Error> {
        if let Some(request) = self.js.op_state().borrow_mut().try_take::<ServeRequest>() {
            return Ok(Some(request));
        }
        let namespace = self.js.get_module_namespace(module.id)?;
        let (serve_module, namespace) = {
            deno_core::scope!(scope, &mut self.js);
            let function = crate::ext::http::glue_function(scope, "serveModule")
                .ok_or_else(|| Error::Internal("the HTTP extension is not loaded".into()))?;
            let namespace = v8::Local::new(scope, namespace).cast::<v8::Value>();
            (v8::Global::new(scope, function), v8::Global::new(scope, namespace))
        };
        let js = &mut self.js;
        let call = js.call_with_args(&serve_module, &[namespace]);
        js.with_event_loop_promise(call, PollEventLoopOptions::default()).await?;
        Ok(self.js.op_state().borrow_mut().try_take::<ServeRequest>())
    }

    /// The request queue of this isolate once it serves HTTP.
    pub(crate) fn http_queue(&self) -> Option<Rc<crate::exchange::queue::RequestQueue>> {
        crate::ext::http::queue(&self.js.op_state().borrow())
    }

    /// What WSGI apps the script mounts in its router are set up with.
    pub(crate) fn set_mount_settings(&mut self, settings: crate::ext::http::MountSettings) {
        self.js.op_state().borrow_mut().put(settings);
    }

    /// What another thread needs to stop this runtime's runaway work.
    pub(crate) fn interrupter(&mut self) -> Interrupter {
        let python = Bridge::from_state(&self.js.op_state()).thread.clone();
        Interrupter { isolate: self.js.v8_isolate().thread_safe_handle(), python }
    }

    /// The isolate and the event loop it runs on, for the server.
    pub(crate) fn parts(&mut self) -> (&mut JsRuntime, &tokio::runtime::Runtime) {
        (&mut self.js, &self.tokio)
    }

    /// The event loop this runtime and its siblings run on.
    pub(crate) fn event_loop(&self) -> Rc<tokio::runtime::Runtime> {
        self.tokio.clone()
    }
}
