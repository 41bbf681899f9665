//! Tandem: a single-process polyglot runtime. TypeScript runs on deno_core,
//! CPython is embedded with PyO3, and a `.ts` file can
//! `import { predict } from "./model.py"` and call Python in-process.
//!
//! The library is what the `tandem` binary is built on; a Rust program can
//! use it the same way:
//!
//! ```no_run
//! use tandem::{Runtime, RuntimeOptions};
//!
//! # fn main() -> Result<(), tandem::Error> {
//! let mut runtime = Runtime::new(RuntimeOptions::default())?;
//! runtime.register_function("greeting", |args| {
//!     Ok(serde_json::json!(format!("hello, {}", args[0].as_str().unwrap_or("?"))))
//! });
//! let module = runtime.load_module("examples/hello/main.ts")?;
//! let sum: f64 = runtime.call_function(&module, "add", &(1, 2))?;
//! assert_eq!(sum, 3.0);
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/values.md` for how values convert between TypeScript and
//! Python, and `docs/modules.md` for the module specifiers.

// Layers, top to bottom; a module imports only from layers below its own
// (docs/architecture.md draws them):
//   serving:   apps (what is served), server (the HTTP server core)
//   runtime:   runtime, module_loader, module_host
//   extension: ext (deno_core ops and their JavaScript)
//   Python:    python (the value bridge), wsgi (PEP 3333 machinery)
//   utilities: cache, exchange, metrics, permissions, spin, transpile, error
mod apps;
mod asgi;
pub mod cache;
mod error;
mod exchange;
mod ext;
mod metrics;
mod module_host;
mod module_loader;
mod permissions;
mod python;
mod runtime;
mod server;
mod spin;
mod transpile;
mod wsgi;

pub use apps::asgi::run_asgi;
pub use apps::script::run_program;
pub use apps::wsgi::run_wsgi;
pub use error::Error;
pub use permissions::{Access, Permissions};
pub use python::declarations::{declaration_path, declarations as python_declarations, DECLARATION_SUFFIX};
pub use runtime::{Module, Runtime, RuntimeOptions};
pub use server::{listen, Binder, ServerOptions, Tally, DEFAULT_MAX_CONNECTIONS};

/// Python threads that run WSGI requests when [`ServerOptions`] is left
/// at its default.
pub const DEFAULT_WSGI_THREADS: usize = wsgi::DEFAULT_THREADS;

/// The deno_core crate Tandem is built on, for embedders who add their own
/// extensions through [`RuntimeOptions::extensions`].
pub use deno_core;

/// Tandem's own TypeScript declarations, as (file name, text): the
/// globals (`Tandem`, `PythonError`), `.py`/`python:`/`tandem:python`
/// imports and `tandem:http`. `tandem check` type-checks apps against them.
pub const TYPESCRIPT_DECLARATIONS: &[(&str, &str)] = &[
    ("tandem.d.ts", include_str!("../ts/tandem.d.ts")),
    ("py_modules.d.ts", include_str!("../ts/py_modules.d.ts")),
    ("http.d.ts", include_str!("../ts/http.d.ts")),
];

/// Starts the embedded Python interpreter (idempotent). [`Runtime::new`]
/// calls it; call it yourself only to use Python before the first runtime.
pub fn initialize_python() -> Result<(), Error> {
    python::initialize()
}
