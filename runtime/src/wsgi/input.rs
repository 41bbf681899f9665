//! `wsgi.input`: the request body as a readable binary stream.
//!
//! Small bodies arrive whole; larger ones come from hyper chunk by chunk
//! through a bounded channel, so an upload is never buffered whole unless
//! the app reads it whole. Waiting for the next chunk releases the GIL.

use std::sync::{Mutex, TryLockError};

use bytes::{Buf, Bytes, BytesMut};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use tokio::sync::mpsc;

use crate::exchange::request_body::Streamed;

/// How the body reaches the pool thread.
pub(crate) enum Source {
    None,
    Whole(Bytes),
    Chunks(mpsc::Receiver<Result<Bytes, String>>),
}

/// Starts forwarding `body` to a channel the app reads from; a read past
/// the body limit fails (and marks the request's limit as exceeded).
pub(crate) fn stream(mut body: Streamed) -> Source {
    // Two chunks in flight: enough to overlap network and Python, small
    // enough that a fast client cannot make us buffer its upload.
    let (sender, receiver) = mpsc::channel(2);
    tokio::spawn(async move {
        loop {
            let item = match body.next_chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => return,
                Err(e) => Err(e.to_string()),
            };
            let stop = item.is_err();
            // The app stopped reading (its request ended): stop too.
            if sender.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    Source::Chunks(receiver)
}

/// The `wsgi.input` object.
#[pyclass(module = "tandem", name = "WsgiInput")]
pub(crate) struct Input {
    state: Mutex<State>,
}

struct State {
    buffer: BytesMut,
    source: Source,
}

impl Input {
    pub(crate) fn new(source: Source) -> Self {
        let (buffer, source) = match source {
            // Takes over the buffer hyper read without copying it.
            Source::Whole(bytes) => (BytesMut::from(bytes), Source::None),
            other => (BytesMut::new(), other),
        };
        Input { state: Mutex::new(State { buffer, source }) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> PyResult<T>) -> PyResult<T> {
        // A blocked read holds the lock without the GIL; a second thread
        // waiting here with the GIL would deadlock it, so it fails instead.
        match self.state.try_lock() {
            Ok(mut state) => f(&mut state),
            Err(TryLockError::WouldBlock) => {
                Err(PyRuntimeError::new_err("wsgi.input is being read by another thread"))
            }
            Err(TryLockError::Poisoned(_)) => Err(PyRuntimeError::new_err("wsgi.input is broken")),
        }
    }
}

impl State {
    /// Appends the next chunk to the buffer; false at the end of the body.
    fn pull(&mut self, py: Python<'_>) -> PyResult<bool> {
        let Source::Chunks(receiver) = &mut self.source else {
            return Ok(false);
        };
        match py.detach(|| receiver.blocking_recv()) {
            Some(Ok(chunk)) => {
                self.buffer.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(message)) => {
                self.source = Source::None;
                Err(PyOSError::new_err(message))
            }
            None => {
                self.source = Source::None;
                Ok(false)
            }
        }
    }

    fn take<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyBytes> {
        let n = n.min(self.buffer.len());
        let bytes = PyBytes::new(py, &self.buffer[..n]);
        self.buffer.advance(n);
        bytes
    }

    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let wanted = size.filter(|&n| n >= 0).map(|n| n as usize);
        while wanted.is_none_or(|n| self.buffer.len() < n) && self.pull(py)? {}
        Ok(self.take(py, wanted.unwrap_or(usize::MAX)))
    }

    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let limit = size.filter(|&n| n >= 0).map_or(usize::MAX, |n| n as usize);
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buffer[scanned..].iter().position(|&b| b == b'\n') {
                return Ok(self.take(py, (scanned + i + 1).min(limit)));
            }
            scanned = self.buffer.len();
            if scanned >= limit || !self.pull(py)? {
                return Ok(self.take(py, limit));
            }
        }
    }
}

#[pymethods]
impl Input {
    /// Up to `size` bytes (all that is left when `size` is omitted or
    /// negative); `b""` at the end of the body.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|state| state.read(py, size))
    }

    /// One line, newline included, of at most `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|state| state.readline(py, size))
    }

    /// The remaining lines (stopping once `hint` bytes were read, if given).
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = hint.filter(|&n| n > 0).map_or(usize::MAX, |n| n as usize);
        self.with(|state| {
            let lines = PyList::empty(py);
            let mut total = 0;
            loop {
                let line = state.readline(py, None)?;
                if line.as_bytes().is_empty() {
                    return Ok(lines);
                }
                total += line.as_bytes().len();
                lines.append(line)?;
                if total >= hint {
                    return Ok(lines);
                }
            }
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.with(|state| state.readline(py, None))?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    fn readable(&self) -> bool {
        true
    }
}
