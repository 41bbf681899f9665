//! The runtime's deno_core extensions, one folder each with its ops and
//! its JavaScript.

pub(crate) mod python;
pub(crate) mod http;
pub(crate) mod js_host;
pub(crate) mod runtime;
pub(crate) mod web;
