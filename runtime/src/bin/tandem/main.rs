//! The `tandem` command: `tandem run [FLAGS] FILE [ARGS...]` runs a script,
//! and serves HTTP when the script does (`tandem serve` is the same);
//! `tandem run --wsgi app.py` serves a Python WSGI app.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod check;
mod compile;
mod config;
mod open_files;
mod permission_flags;
mod size;
mod supervisor;
mod types;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tandem::{RuntimeOptions, ServerOptions};

#[derive(Parser)]
#[command(name = "tandem", version, about = "TypeScript with in-process Python")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How settings combine, under `tandem run --help`.
const SETTINGS: &str = "Settings: a flag wins over its environment variable (shown as [env: ...]), which wins over \
tandem.toml beside the entry file, which wins over the default. tandem.toml has the sections [server] (port, host, \
workers, processes, metrics_path, health_path, ready_path), [limits] (max_body_size, header_timeout, handler_timeout, \
shutdown_timeout, max_connections, python_call_timeout, max_requests, max_requests_jitter, max_memory), [wsgi] \
(threads) and [permissions] (net, read, env, python: true or a list; the section's presence means --deny-all); see \
docs/http.md and docs/permissions.md.";

#[derive(Subcommand)]
enum Command {
    /// Run a TypeScript or JavaScript module; if it serves HTTP (a default
    /// export with `fetch`, or a `serve()` call), run the server. Flags go
    /// before FILE; what follows FILE belongs to the script (`Tandem.args`).
    #[command(after_help = SETTINGS)]
    Run(RunArgs),
    /// The same as `run`.
    #[command(after_help = SETTINGS)]
    Serve(RunArgs),
    /// Write one executable holding the runtime and the app (ENTRY's
    /// folder); it runs as `tandem run` does, with the same flags.
    Compile(compile::CompileArgs),
    /// Write TypeScript declarations for Python modules from their type
    /// hints (m.py → m.d.py.ts, what `import ... from "./m.py"` reads).
    Types(types::TypesArgs),
    /// Type-check a TypeScript app with the TypeScript compiler (run by
    /// Node.js), against Tandem's declarations and its Python modules' hints.
    Check(check::CheckArgs),
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Port to listen on [default: the script's serve({port}), then $PORT, then 3000].
    #[arg(long, env = "TANDEM_PORT")]
    port: Option<u16>,
    /// Interface to listen on [default: 127.0.0.1].
    #[arg(long, env = "TANDEM_HOST")]
    host: Option<String>,
    /// Isolate threads per process, each loading the module [default: number of CPUs divided by --processes; 1 for --asgi].
    #[arg(long, env = "TANDEM_WORKERS")]
    workers: Option<usize>,
    /// Server processes accepting from one socket, each with its own
    /// Python interpreter, under a supervisor that restarts them.
    #[arg(long, default_value_t = 1, env = "TANDEM_PROCESSES")]
    processes: usize,
    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, default_value_t = 10 * 1024 * 1024, env = "TANDEM_MAX_BODY_SIZE")]
    max_body_size: u64,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = 10.0, env = "TANDEM_HEADER_TIMEOUT")]
    header_timeout: f64,
    /// Seconds a handler has to answer; after that the client gets 503.
    #[arg(long, default_value_t = 60.0, env = "TANDEM_HANDLER_TIMEOUT")]
    handler_timeout: f64,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30.0, env = "TANDEM_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: f64,
    /// Path the server answers with Prometheus metrics ("" turns it off).
    #[arg(long, default_value = "/metrics", env = "TANDEM_METRICS_PATH")]
    metrics_path: String,
    /// Path the server answers with {"status":"ok"} for probes ("" turns it off).
    #[arg(long, default_value = "/health", env = "TANDEM_HEALTH_PATH")]
    health_path: String,
    /// Path the server answers 200 once the app is ready for traffic, 503
    /// while its own check (`ready` in serve()'s options, or an exported
    /// ready()) fails and from SIGTERM on ("" turns it off).
    #[arg(long, default_value = "/ready", env = "TANDEM_READY_PATH")]
    ready_path: String,
    /// Serve FILE as a Python WSGI app (app.py, app.py:NAME or
    /// package.module:NAME; the callable defaults to `app`) on port 5000
    /// unless --port or $PORT says otherwise.
    #[arg(long, conflicts_with = "asgi")]
    wsgi: bool,
    /// Serve FILE as a Python ASGI 3 app (FastAPI, Starlette: app.py,
    /// app.py:NAME or package.module:NAME; the callable defaults to `app`)
    /// on port 8000 unless --port or $PORT says otherwise, with its
    /// lifespan startup before serving and shutdown after draining.
    #[arg(long)]
    asgi: bool,
    /// Seconds a call from TypeScript into a Python function may run
    /// before it is interrupted with a TimeoutError (off by default;
    /// withTimeout() from tandem:python sets a function's own).
    #[arg(long, env = "TANDEM_PYTHON_CALL_TIMEOUT")]
    python_call_timeout: Option<f64>,
    /// Most connections open at once per process; past it new connections
    /// wait in the kernel's queue until one closes. An idle keep-alive
    /// connection is closed after --header-timeout.
    #[arg(long, default_value_t = tandem::DEFAULT_MAX_CONNECTIONS, env = "TANDEM_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Python threads that run WSGI requests, per process (for --wsgi and
    /// for apps a script mounts with `wsgi()` from tandem:http).
    #[arg(long, default_value_t = tandem::DEFAULT_WSGI_THREADS, env = "TANDEM_WSGI_THREADS")]
    wsgi_threads: usize,
    /// Replace a process after it has answered this many requests (plus
    /// up to --max-requests-jitter): its replacement starts, then it drains.
    #[arg(long, env = "TANDEM_MAX_REQUESTS")]
    max_requests: Option<u64>,
    /// Up to this many more requests, drawn for each process, so that
    /// processes started together do not retire together.
    #[arg(long, default_value_t = 0, env = "TANDEM_MAX_REQUESTS_JITTER")]
    max_requests_jitter: u64,
    /// Replace a process whose resident memory passes this size (e.g.
    /// 512MiB, 2G; checked every second): its replacement starts, then it drains.
    #[arg(long, env = "TANDEM_MAX_MEMORY", value_parser = size::parse)]
    max_memory: Option<u64>,
    /// Reload the app when a source file (.ts, .js, .json, .py) in its
    /// folder changes: new requests get the new code, requests in flight
    /// finish on the old, and Python modules that did not change (and the
    /// models they hold) stay loaded. For development.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    permissions: permission_flags::PermissionFlags,
    /// The supervisor's: the shared memory page this process counts in.
    #[arg(long, hide = true)]
    tally_fd: Option<i32>,
    /// The supervisor's: this process's end of its socket pair, over which
    /// the listening socket travels.
    #[arg(long, hide = true)]
    control_fd: Option<i32>,
    /// The supervisor's: bind the socket and send it up (the first process).
    #[arg(long, hide = true)]
    bind_for_supervisor: bool,
    /// The module to run (.ts, .mts, .tsx, .js, .mjs), or with --wsgi the
    /// WSGI app.
    file: PathBuf,
    /// Arguments for the script.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl RunArgs {
    fn server_options(&self) -> anyhow::Result<ServerOptions> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // An ASGI app runs on one asyncio thread per process: one hyper
        // thread keeps up with it, and more only fight it for the GIL
        // (measured in benches/asgi: 1 worker served 1.5x what 2 did).
        let default = if self.asgi { 1 } else { (cpus / self.processes.max(1)).max(1) };
        let workers = self.workers.unwrap_or(default);
        anyhow::ensure!(workers >= 1, "--workers must be at least 1");
        let path = |p: &str| (!p.is_empty()).then(|| p.to_string());
        Ok(ServerOptions {
            port: self.port,
            host: self.host.clone(),
            workers,
            max_body_bytes: self.max_body_size,
            header_timeout: seconds("header-timeout", self.header_timeout)?,
            handler_timeout: seconds("handler-timeout", self.handler_timeout)?,
            shutdown_timeout: seconds("shutdown-timeout", self.shutdown_timeout)?,
            metrics_path: path(&self.metrics_path),
            health_path: path(&self.health_path),
            ready_path: path(&self.ready_path),
            wsgi_threads: self.wsgi_threads,
            reuse_port: false,
            max_connections: self.max_connections,
            tally: self.tally_fd.map(supervisor::attach_tally).transpose()?,
            binder: self.control_fd.map(|fd| supervisor::binder(fd, self.bind_for_supervisor)),
            watch: None,
        })
    }

    /// Whether this process runs the supervisor (and not a server itself).
    fn supervises(&self) -> bool {
        let supervised = self.control_fd.is_some();
        !supervised && (self.processes > 1 || self.max_requests.is_some() || self.max_memory.is_some())
    }

    /// What the supervisor runs: the server flags of one process, and the
    /// entry file with the script's arguments.
    fn plan(&self, workers: usize, shutdown_timeout: Duration) -> supervisor::Plan {
        let mut entry: Vec<OsString> = vec![self.file.clone().into()];
        entry.extend(self.args.iter().map(OsString::from));
        supervisor::Plan {
            processes: self.processes,
            flags: self.process_flags(workers),
            entry,
            shutdown_timeout,
            max_requests: self.max_requests,
            max_requests_jitter: self.max_requests_jitter,
            max_memory: self.max_memory,
        }
    }

    /// The flags of one server process under the supervisor.
    fn process_flags(&self, workers: usize) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["run".into()];
        let mut flag = |name: &str, value: String| {
            args.push(format!("--{name}").into());
            args.push(value.into());
        };
        if let Some(port) = self.port {
            flag("port", port.to_string());
        }
        if let Some(host) = &self.host {
            flag("host", host.clone());
        }
        flag("workers", workers.to_string());
        flag("processes", "1".into());
        flag("max-body-size", self.max_body_size.to_string());
        flag("header-timeout", self.header_timeout.to_string());
        flag("handler-timeout", self.handler_timeout.to_string());
        flag("shutdown-timeout", self.shutdown_timeout.to_string());
        flag("metrics-path", self.metrics_path.clone());
        flag("health-path", self.health_path.clone());
        flag("ready-path", self.ready_path.clone());
        flag("wsgi-threads", self.wsgi_threads.to_string());
        flag("max-connections", self.max_connections.to_string());
        if let Some(limit) = self.python_call_timeout {
            flag("python-call-timeout", limit.to_string());
        }
        if self.asgi {
            args.push("--asgi".into());
        }
        if self.wsgi {
            args.push("--wsgi".into());
        }
        if self.watch {
            args.push("--watch".into());
        }
        args.extend(self.permissions.to_args());
        args
    }
}

/// A flag's number of seconds as a Duration.
fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(value.is_finite() && value > 0.0, "--{name} must be a positive number of seconds, got {value}");
    Ok(Duration::from_secs_f64(value))
}

fn main() -> ExitCode {
    // An executable `tandem compile` wrote runs the app it carries.
    let argv: Vec<OsString> = match compile::carried_app_command() {
        Ok(Some(command)) => command,
        Ok(None) => std::env::args_os().collect(),
        Err(err) => return failed(err),
    };
    let args = match Cli::parse_from(&argv).command {
        Command::Compile(args) => return outcome(compile::compile(&args)),
        Command::Types(args) => return outcome(types::types(&args)),
        Command::Check(args) => return outcome(check::check(&args)),
        Command::Run(args) | Command::Serve(args) => args,
    };
    // tandem.toml beside the entry file fills in what neither the flags
    // nor the environment set; the command line is read again with it.
    let args = match config::apply(&config::path_for(&args.file)) {
        Ok(false) => args,
        Ok(true) => match Cli::parse_from(&argv).command {
            Command::Run(args) | Command::Serve(args) => args,
            _ => unreachable!("the same command line"),
        },
        Err(err) => return failed(err),
    };
    outcome(run(args))
}

fn outcome(result: anyhow::Result<()>) -> ExitCode {
    result.map_or_else(failed, |()| ExitCode::SUCCESS)
}

fn failed(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let python_app = args.wsgi || args.asgi;
    if !python_app && !args.file.is_file() {
        anyhow::bail!("module not found: '{}' (check the path)", args.file.display());
    }
    let server = args.server_options()?;
    anyhow::ensure!(args.max_requests != Some(0), "--max-requests must be at least 1");
    anyhow::ensure!(args.processes >= 1, "--processes must be at least 1");
    anyhow::ensure!(args.max_connections >= 1, "--max-connections must be at least 1");
    open_files::make_room(server.max_connections);
    anyhow::ensure!(args.wsgi_threads >= 1, "--wsgi-threads must be at least 1");
    let module_root = std::path::absolute(&args.file)?
        .parent()
        .map(PathBuf::from)
        .context("module path has no parent folder")?;
    anyhow::ensure!(
        !(python_app && args.watch),
        "--watch reloads a TypeScript app; for a WSGI app, mount it in a server.ts with wsgi() from tandem:http \
         and run that with --watch (its Python files reload too)"
    );
    let permissions = args.permissions.permissions(&module_root)?;
    anyhow::ensure!(
        !python_app || permissions.is_allow_all(),
        "permissions govern TypeScript, and --wsgi/--asgi serve Python: run the app without --deny-all, or mount it in \
         a server.ts with wsgi() from tandem:http"
    );
    if args.supervises() {
        supervisor::supervise(args.plan(server.workers, server.shutdown_timeout))?;
        return Ok(());
    }
    let cwd = std::env::current_dir()?;
    if python_app {
        let spec = args.file.to_string_lossy();
        // The app's folder first (its siblings import by name), then the
        // current one (for package.module:NAME).
        let mut python_path = vec![cwd];
        if let Some(folder) = std::path::absolute(spec.split(':').next().unwrap_or(&spec))?.parent() {
            python_path.insert(0, folder.to_path_buf());
        }
        if args.asgi {
            tandem::run_asgi(&spec, &python_path, server)?;
        } else {
            tandem::run_wsgi(&spec, &python_path, server)?;
        }
        return Ok(());
    }
    let mut server = server;
    server.watch = args.watch.then(|| module_root.clone());
    let script_args = args.args.clone();
    let python_call_timeout = args.python_call_timeout.map(|s| seconds("python-call-timeout", s)).transpose()?;
    let make_options = move || RuntimeOptions {
        module_root: Some(cwd.clone()),
        python_path: vec![module_root.clone()],
        args: script_args.clone(),
        python_call_timeout,
        permissions: permissions.clone(),
        ..Default::default()
    };
    tandem::run_program(&args.file, make_options, server)?;
    Ok(())
}
