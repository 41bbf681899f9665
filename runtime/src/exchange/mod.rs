//! What travels between the HTTP server and the code that answers its
//! requests (a JS isolate, or the WSGI thread pool): request bodies under
//! the one body limit, response bodies, the server's own error answers,
//! the queue through which an isolate takes requests, the lease on a
//! connection taken over after a 101 (a WebSocket), and the watch on
//! JavaScript run outside requests.
//!
//! It sits below every layer that serves, runs scripts or calls Python, so
//! that the server, the `tandem_http` ops and the WSGI code all use one
//! copy of each of these and none of them imports another for it.

pub(crate) mod answer;
pub(crate) mod body;
pub(crate) mod queue;
pub(crate) mod request_body;
pub(crate) mod takeover;
pub(crate) mod watch;
