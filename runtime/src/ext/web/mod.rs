//! The `tandem_web` extension: puts the Web platform API implemented by
//! Deno's extension crates (deno_webidl, deno_web, deno_net, deno_fetch)
//! on `globalThis`: URL, Request/Response/Headers, fetch, streams, text
//! encoding, timers, AbortController, structuredClone, performance.

use std::borrow::Cow;
use std::sync::Arc;

use deno_core::{ascii_str_include, Extension, ExtensionFileSource};
use deno_permissions::{PermissionsContainer, RuntimePermissionDescriptorParser};

deno_core::extension!(
    tandem_web,
    deps = [deno_webidl, deno_web, deno_net, deno_fetch],
    esm_entry_point = "ext:tandem_web/00_globals.js",
    state = |state| {
        // A server runtime: scripts are trusted code, as with `deno run -A`.
        let parser = RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys);
        state.put(PermissionsContainer::allow_all(Arc::new(parser)));
    },
);

static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_web/00_globals.js",
    ascii_str_include!("00_globals.js"),
)];

/// The Deno extensions and our bootstrap, in dependency order.
pub(crate) fn extensions() -> Vec<Extension> {
    let mut bootstrap = tandem_web::init();
    bootstrap.esm_files = Cow::Borrowed(&ESM);
    vec![
        deno_webidl::deno_webidl::init(),
        deno_web::deno_web::init(deno_web::BlobStore::default_arc(), None, false, Default::default()),
        deno_net::deno_net::init(None, None),
        deno_fetch::deno_fetch::init(deno_fetch::Options::default()),
        bootstrap,
    ]
}
