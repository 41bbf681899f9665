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

mod error;
mod ext;
mod module_loader;
mod python;
mod runtime;
pub mod server;
mod spin;
mod transpile;
pub mod wsgi;

pub use error::Error;
pub use runtime::{Module, Runtime, RuntimeOptions};
pub use server::{run_program, run_wsgi, ServerOptions};

/// The deno_core crate Tandem is built on, for embedders who add their own
/// extensions through [`RuntimeOptions::extensions`].
pub use deno_core;

/// Starts the embedded Python interpreter (idempotent). [`Runtime::new`]
/// calls it; call it yourself only to use Python before the first runtime.
pub fn initialize_python() -> Result<(), Error> {
    python::initialize()
}
