//! The `tandem_web` extension: puts the Web platform API implemented by
//! Deno's extension crates (deno_webidl, deno_web, deno_net, deno_fetch,
//! deno_websocket) on `globalThis`: URL, Request/Response/Headers, fetch,
//! the WebSocket client, streams, text
//! encoding, timers, AbortController, structuredClone, performance; and
//! the permission checks Deno's fetch (and our own ops) consult.

use std::rc::Rc;

use deno_core::{ascii_str_include, Extension, ExtensionFileSource, ExtensionFileSourceCode};
use deno_permissions::PermissionsContainer;

mod file_fetch;

deno_core::extension!(
    tandem_web,
    deps = [deno_webidl, deno_web, deno_net, deno_fetch, deno_websocket],
    esm_entry_point = "ext:tandem_web/00_globals.js",
    options = { permissions: PermissionsContainer },
    state = |state, options| {
        state.put(options.permissions);
    },
);

static ESM: [ExtensionFileSource; 1] = [ExtensionFileSource::new(
    "ext:tandem_web/00_globals.js",
    ascii_str_include!("00_globals.js"),
)];

include!(concat!(env!("OUT_DIR"), "/deno_ext_sources.rs"));

/// The Deno extensions and our bootstrap, in dependency order, checking
/// accesses against `permissions` (crate::permissions).
pub(crate) fn extensions(permissions: PermissionsContainer) -> Vec<Extension> {
    let bootstrap = super::with_embedded_esm(tandem_web::init(permissions), &ESM);
    let fetch = deno_fetch::Options { file_fetch_handler: Rc::new(file_fetch::ReadFile), ..Default::default() };
    let mut extensions = vec![
        deno_webidl::deno_webidl::init(),
        deno_web::deno_web::init(deno_web::BlobStore::default_arc(), None, false, Default::default()),
        deno_net::deno_net::init(None, None),
        deno_fetch::deno_fetch::init(fetch),
        deno_websocket::deno_websocket::init(),
    ];
    for extension in &mut extensions {
        embed_sources(extension);
    }
    extensions.push(bootstrap);
    extensions
}

/// Puts the embedded text (build.rs) in place of every source `extension`
/// would read from the build machine's disk when a runtime starts.
fn embed_sources(extension: &mut Extension) {
    for files in [
        &mut extension.js_files,
        &mut extension.esm_files,
        &mut extension.lazy_loaded_js_files,
        &mut extension.lazy_loaded_esm_files,
    ] {
        if files.iter().all(ExtensionFileSource::is_runtime_loadable) {
            continue;
        }
        *files = files.iter().map(embedded).collect::<Vec<_>>().into();
    }
}

fn embedded(file: &ExtensionFileSource) -> ExtensionFileSource {
    #[allow(deprecated, reason = "the only way to read the path deno_core recorded")]
    let ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) = file.code else {
        return file.clone();
    };
    match DENO_EXT_SOURCES.iter().find(|(p, _)| *p == path) {
        Some((_, code)) => ExtensionFileSource::new(file.specifier, *code),
        // build.rs embeds every .js file of the crates that have such
        // sources; one missing is a new crate or folder it must learn of.
        None => panic!("{} ({path}) is not embedded in the binary: add its crate to runtime/build.rs", file.specifier),
    }
}
