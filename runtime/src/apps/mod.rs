//! What the server serves. Each kind of app supplies the server core
//! (crate::server) with a [`Worker`](crate::server::Worker) per worker
//! thread and the dispatch that answers requests there:
//!
//! - [`script`]: a TypeScript/JavaScript program, one isolate per worker;
//! - [`wsgi`]: a Python WSGI app at the root (`tandem run --wsgi`);
//! - [`asgi`]: a Python ASGI app at the root (`tandem run --asgi`);
//!
//! [`watchdog`] stops a script worker's runaway handlers, and [`reload`]
//! watches a script's files for `--watch`.
//!
//! Both take request bodies, the handler deadline and the server's own
//! error answers from crate::exchange, so they answer alike.

pub(crate) mod asgi;
mod reload;
pub(crate) mod script;
mod watchdog;
pub(crate) mod wsgi;

use std::net::SocketAddr;

use crate::server::ServerOptions;
use crate::wsgi::ServerFacts;

/// The port of a script's server when neither the command line, the
/// script nor `$PORT` names one.
const DEFAULT_PORT: u16 = 3000;

/// The port of `tandem run --wsgi` when neither the command line nor
/// `$PORT` names one (Flask's).
const DEFAULT_WSGI_PORT: u16 = 5000;

/// What WSGI apps (served or mounted) report as SERVER_NAME, SERVER_PORT
/// and wsgi.multiprocess.
fn server_facts(address: SocketAddr, options: &ServerOptions) -> ServerFacts {
    ServerFacts { host: address.ip().to_string(), port: address.port(), multiprocess: options.reuse_port }
}

/// Runs a Python app's worker thread: its connections on a current-thread
/// tokio loop, under a LocalSet (for tasks that feed a request body).
fn run_connections(connections: impl std::future::Future<Output = ()>) -> Result<(), crate::error::Error> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| crate::error::Error::Spawn { what: "a worker's event loop", source })?;
    let local = tokio::task::LocalSet::new();
    tokio.block_on(local.run_until(connections));
    Ok(())
}
