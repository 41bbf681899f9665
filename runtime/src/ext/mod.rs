//! The runtime's deno_core extensions, one folder each with its ops and
//! its JavaScript: `web` (URL, fetch types, streams from Deno's crates),
//! `py_proxy` (JS proxies of Python objects and `tandem:python`), `http`
//! (the server's request and response ops, WSGI mounts), `websocket`
//! (server WebSockets over the same connections), `js_host`
//! (Python calling TypeScript) and `script_env` (`console`, `Tandem`). Ops are thin: they find the request, handle or job they
//! name and call into the layers below (the exchange with the server, the
//! Python bridge, the WSGI machinery).

pub(crate) mod http;
pub(crate) mod js_host;
pub(crate) mod py_proxy;
pub(crate) mod script_env;
pub(crate) mod web;
pub(crate) mod websocket;

use std::borrow::Cow;

use deno_core::{Extension, ExtensionFileSource};

/// `extension` with `files` as its ES modules, their text compiled into the
/// binary: `extension!`'s own `esm = [...]` is read from the build
/// machine's disk when a runtime starts without a snapshot.
pub(crate) fn with_embedded_esm(mut extension: Extension, files: &'static [ExtensionFileSource]) -> Extension {
    extension.esm_files = Cow::Borrowed(files);
    extension
}
