//! The WSGI `environ` dict of a request (PEP 3333).
//!
//! The keys that are the same for every request live in a template dict
//! built once; each request copies it (one C-level dict copy) and adds its
//! own. Text follows PEP 3333's "native strings": bytes from the wire are
//! decoded as Latin-1, so every byte survives and apps re-decode as they
//! see fit (Werkzeug decodes the path as UTF-8).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use http::request::Parts;
use http::HeaderName;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::input::Input;

/// What the environ of every request of one server shares.
pub(crate) struct Template {
    base: Py<PyDict>,
    /// `HTTP_...` keys by header name, made once per name.
    header_keys: Mutex<HashMap<HeaderName, Py<PyString>>>,
}

/// The server facts that go into every environ.
#[derive(Clone, Debug)]
pub(crate) struct ServerFacts {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Several server processes answer on the port.
    pub(crate) multiprocess: bool,
}

/// Header names kept apart from the cache (clients can send any number of
/// distinct names; the cache stops growing here).
const MAX_CACHED_HEADER_KEYS: usize = 256;

impl Template {
    pub(crate) fn new(py: Python<'_>, facts: &ServerFacts) -> PyResult<Self> {
        let base = PyDict::new(py);
        base.set_item("SERVER_NAME", &facts.host)?;
        base.set_item("SERVER_PORT", facts.port.to_string())?;
        base.set_item("SCRIPT_NAME", "")?;
        base.set_item("wsgi.version", (1, 0))?;
        base.set_item("wsgi.url_scheme", "http")?;
        base.set_item("wsgi.multithread", true)?;
        base.set_item("wsgi.multiprocess", facts.multiprocess)?;
        base.set_item("wsgi.run_once", false)?;
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.import("tandem")?.getattr("FileWrapper")?)?;
        Ok(Template { base: base.unbind(), header_keys: Mutex::default() })
    }

    /// The environ of one request. `script_name` is the path prefix the app
    /// is mounted at ("" at the root); the rest of the path is PATH_INFO.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        parts: &Parts,
        remote: SocketAddr,
        script_name: &str,
        input: Input,
    ) -> PyResult<Bound<'py, PyDict>> {
        let environ = self.base.bind(py).copy()?;
        let path = latin1(&percent_decode(parts.uri.path().as_bytes()));
        let path_info = path.strip_prefix(script_name).unwrap_or(&path);
        environ.set_item("REQUEST_METHOD", parts.method.as_str())?;
        if !script_name.is_empty() {
            environ.set_item("SCRIPT_NAME", script_name)?;
        }
        environ.set_item("PATH_INFO", path_info)?;
        environ.set_item("QUERY_STRING", parts.uri.query().unwrap_or(""))?;
        environ.set_item("SERVER_PROTOCOL", protocol(parts.version))?;
        environ.set_item("REMOTE_ADDR", remote.ip().to_string())?;
        environ.set_item("REMOTE_PORT", remote.port().to_string())?;
        self.add_headers(py, &environ, &parts.headers)?;
        environ.set_item("wsgi.input", input)?;
        environ.set_item("wsgi.errors", py.import("sys")?.getattr("stderr")?)?;
        Ok(environ)
    }

    /// CONTENT_TYPE, CONTENT_LENGTH and an `HTTP_` key per other header;
    /// repeated headers are joined with ", " (RFC 9110 §5.3), cookies with "; ".
    fn add_headers(&self, py: Python<'_>, environ: &Bound<'_, PyDict>, headers: &http::HeaderMap) -> PyResult<()> {
        let mut keys = self.header_keys.lock().unwrap_or_else(|e| e.into_inner());
        for name in headers.keys() {
            let mut values = headers.get_all(name).iter();
            let Some(first) = values.next() else { continue };
            let mut value = latin1(first.as_bytes());
            let separator = if name == http::header::COOKIE { "; " } else { ", " };
            for more in values {
                value.push_str(separator);
                value.push_str(&latin1(more.as_bytes()));
            }
            if name == http::header::CONTENT_TYPE {
                environ.set_item("CONTENT_TYPE", value)?;
            } else if name == http::header::CONTENT_LENGTH {
                environ.set_item("CONTENT_LENGTH", value)?;
            } else if let Some(key) = keys.get(name) {
                environ.set_item(key.bind(py), value)?;
            } else {
                let key = PyString::new(py, &header_key(name));
                environ.set_item(&key, value)?;
                if keys.len() < MAX_CACHED_HEADER_KEYS {
                    keys.insert(name.clone(), key.unbind());
                }
            }
        }
        Ok(())
    }
}

/// `user-agent` → `HTTP_USER_AGENT`.
fn header_key(name: &HeaderName) -> String {
    let mut key = String::with_capacity(5 + name.as_str().len());
    key.push_str("HTTP_");
    key.extend(name.as_str().chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }));
    key
}

fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// Each byte as the character of the same code point (Latin-1).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// `%XX` escapes decoded to bytes; anything malformed is kept as it is.
fn percent_decode(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    percent_encoding::percent_decode(input).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_to_latin1_native_strings() {
        assert_eq!(latin1(&percent_decode(b"/caf%C3%A9")), "/caf\u{c3}\u{a9}");
        assert_eq!(latin1(&percent_decode(b"/a%2Fb%20c")), "/a/b c");
        assert_eq!(latin1(&percent_decode(b"/100%")), "/100%");
        assert_eq!(latin1(&percent_decode(b"/%zz%4")), "/%zz%4");
    }

    #[test]
    fn header_keys_follow_cgi() {
        assert_eq!(header_key(&HeaderName::from_static("x-request-id")), "HTTP_X_REQUEST_ID");
    }
}
