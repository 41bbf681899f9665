//! The library's error type.

use deno_core::error::{CoreError, CoreErrorKind, JsError};

/// Anything that can go wrong while building a runtime or running code in it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An uncaught JavaScript (or Python, surfaced as `PythonError`) error.
    /// Its display is the source-mapped stack, plus the Python traceback
    /// when the error came from Python.
    #[error("{}", format_js_error(.0))]
    Js(Box<JsError>),
    /// A module could not be resolved, loaded or compiled.
    #[error("{0}")]
    Module(String),
    /// The embedded Python interpreter could not be set up.
    #[error("cannot set up the embedded Python interpreter: {0}")]
    PythonSetup(String),
    /// `call_function` named an export the module does not have.
    #[error("module {module} has no exported function named '{name}'")]
    MissingExport { module: String, name: String },
    /// Arguments or results that do not fit the requested Rust type.
    #[error("cannot convert {what}: {message}")]
    Conversion { what: String, message: String },
    /// The server could not listen on `addr`.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A setting (the command line, `$PORT`, a script's `serve()` options)
    /// that cannot be used; the message says which and how to fix it.
    #[error("{0}")]
    Config(String),
    /// The WSGI app could not be imported or is not a WSGI callable.
    #[error("{0}")]
    WsgiApp(String),
    /// The ASGI app could not be imported, or its lifespan startup failed.
    #[error("{0}")]
    AsgiApp(String),
    /// A thread could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("{0}")]
    Server(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A runtime-internal failure.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn python_setup(err: impl std::fmt::Display) -> Self {
        Error::PythonSetup(err.to_string())
    }
}

impl From<CoreError> for Error {
    fn from(err: CoreError) -> Self {
        match *err.0 {
            CoreErrorKind::Js(js) => Error::Js(js),
            other => Error::Module(other.to_string()),
        }
    }
}

impl From<Box<JsError>> for Error {
    fn from(err: Box<JsError>) -> Self {
        Error::Js(err)
    }
}

/// The stack (or message), and for a `PythonError` its Python traceback.
fn format_js_error(err: &JsError) -> String {
    let mut out = err.to_string();
    let traceback = err
        .additional_properties
        .iter()
        .find(|(k, _)| k == "pythonTraceback")
        .map(|(_, v)| v.as_str());
    if let Some(tb) = traceback {
        out.push('\n');
        out.push_str(tb.trim_end());
    }
    out
}
