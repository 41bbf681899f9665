//! The runtime's deno_core extensions, one folder each with its ops and
//! its JavaScript.

pub(crate) mod python;
pub(crate) mod runtime;
