//! Dynamic batching for `@tandem.batch` functions: one queue and one thread
//! per decorated function, shared by every JS isolate and Python thread of
//! the process.
//!
//! Callers queue one input each; the thread takes what is queued (at most
//! `max_size`, waiting up to `max_wait` for company when there is less),
//! calls the list function once with the GIL held, and hands each caller its
//! own result. JS callers queue plain data without touching the GIL (see
//! `detached.rs`), so a JS thread keeps accepting and queueing requests
//! while a batch runs; Python callers get a `concurrent.futures.Future`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyBaseException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFunction, PyList};
use tokio::sync::oneshot;

use super::convert::future_type;
use super::detached::Detached;
use super::thread_state::ThreadStateGuard;
use crate::metrics::Metrics;

/// What a JS caller receives: its result, or the Python exception for its
/// input alone.
pub(crate) type Outcome = PyResult<Detached>;

/// `tandem._Batcher(fn, max_size, max_wait_seconds, name)`: made by the
/// `tandem.batch` decorator, which stores it on the decorated function as
/// `_tandem_batcher` so the bridge can queue JS calls straight to it.
#[pyclass(module = "tandem", name = "_Batcher", frozen)]
pub(crate) struct Batcher {
    queue: Arc<Queue>,
}

#[pymethods]
impl Batcher {
    #[new]
    fn new(function: Py<PyAny>, max_size: usize, max_wait: f64, name: String) -> PyResult<Self> {
        if max_size == 0 {
            return Err(PyValueError::new_err("tandem.batch: max_size must be at least 1"));
        }
        let max_wait = Duration::try_from_secs_f64(max_wait)
            .map_err(|_| PyValueError::new_err(format!("tandem.batch: max_wait_ms must be >= 0, got {}", max_wait * 1000.0)))?;
        Ok(Self {
            queue: Arc::new(Queue {
                function,
                name,
                max_size,
                max_wait,
                state: Mutex::new(State::default()),
                ready: Condvar::new(),
            }),
        })
    }

    /// Queues `item` for a Python caller.
    fn submit<'py>(&self, py: Python<'py>, item: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let future = future_type(py)?.call0()?;
        self.queue.push(Job { input: Detached::Py(item.unbind()), reply: Reply::Future(future.clone().unbind()) });
        Ok(future)
    }
}

/// The batching queue of a decorated function, if `obj` is one.
pub(crate) fn queue_of(obj: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    // Looked up in the function's __dict__ rather than with getattr, so
    // that the common case (a plain function) raises no AttributeError.
    let function = obj.cast::<PyFunction>().ok()?;
    let attrs = function.getattr(pyo3::intern!(obj.py(), "__dict__")).ok()?;
    let batcher = attrs.cast::<PyDict>().ok()?.get_item("_tandem_batcher").ok()??;
    let batcher = batcher.cast::<Batcher>().ok()?;
    Some(batcher.get().queue.clone())
}

struct Job {
    input: Detached,
    reply: Reply,
}

enum Reply {
    Js(oneshot::Sender<Outcome>),
    Future(Py<PyAny>),
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Job>,
    started: bool,
}

pub(crate) struct Queue {
    function: Py<PyAny>,
    name: String,
    max_size: usize,
    max_wait: Duration,
    state: Mutex<State>,
    ready: Condvar,
}

impl Queue {
    /// The decorated function's `module.qualname`, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Queues `input` for a JS caller; needs no GIL.
    pub(crate) fn call(self: &Arc<Self>, input: Detached) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.push(Job { input, reply: Reply::Js(tx) });
        rx
    }

    // Never called while waiting for the GIL, and the batching thread never
    // holds this lock while taking the GIL, so a Python caller holding the
    // GIL here cannot deadlock with it.
    fn push(self: &Arc<Self>, job: Job) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.waiting.push_back(job);
        if !state.started {
            state.started = true;
            let queue = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("tandem-batch:{}", self.name))
                .spawn(move || queue.serve());
            if let Err(e) = spawned {
                // Without a thread nothing would ever settle these calls.
                state.started = false;
                let jobs: Vec<Job> = state.waiting.drain(..).collect();
                drop(state);
                let message = format!("tandem.batch: cannot start the batching thread for {}: {e}", self.name);
                Python::attach(|py| {
                    for job in jobs {
                        settle(py, job.reply, Err(pyo3::exceptions::PyRuntimeError::new_err(message.clone())));
                    }
                });
                return;
            }
        }
        self.ready.notify_one();
    }

    fn serve(self: Arc<Self>) {
        lower_priority();
        let _thread_state = ThreadStateGuard::new();
        loop {
            let group = self.next_group();
            Python::attach(|py| self.run(py, group));
        }
    }

    fn next_group(&self) -> Vec<Job> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.waiting.is_empty() {
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if !self.max_wait.is_zero() && state.waiting.len() < self.max_size {
            let deadline = Instant::now() + self.max_wait;
            while state.waiting.len() < self.max_size {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self.ready.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
        }
        let n = state.waiting.len().min(self.max_size);
        state.waiting.drain(..n).collect()
    }

    fn run(&self, py: Python<'_>, group: Vec<Job>) {
        // Calls cancelled while they waited (their request aborted) are
        // left out of the batch.
        let group: Vec<Job> = group.into_iter().filter(|job| job.reply.wanted(py)).collect();
        if group.is_empty() {
            return;
        }
        Metrics::get().batch_run(&self.name, group.len());
        let mut inputs = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        for job in group {
            match job.input.into_py(py) {
                Ok(input) => {
                    inputs.push(input);
                    replies.push(job.reply);
                }
                Err(e) => settle(py, job.reply, Err(e)),
            }
        }
        if inputs.is_empty() {
            return;
        }
        for (reply, outcome) in replies.into_iter().zip(self.outcomes(py, inputs)) {
            settle(py, reply, outcome);
        }
    }

    /// One result per input. If the function raises or miscounts, each
    /// input is retried alone, so an error reaches only the caller whose
    /// input caused it.
    fn outcomes<'py>(&self, py: Python<'py>, inputs: Vec<Bound<'py, PyAny>>) -> Vec<PyResult<Bound<'py, PyAny>>> {
        match self.call_list(py, &inputs) {
            Ok(results) => results
                .into_iter()
                .map(|r| if r.is_instance_of::<PyBaseException>() { Err(PyErr::from_value(r)) } else { Ok(r) })
                .collect(),
            Err(err) if inputs.len() == 1 => vec![Err(err)],
            Err(_) => inputs.into_iter().flat_map(|input| self.outcomes(py, vec![input])).collect(),
        }
    }

    fn call_list<'py>(&self, py: Python<'py>, inputs: &[Bound<'py, PyAny>]) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let results = self.function.bind(py).call1((PyList::new(py, inputs)?,))?;
        let results: Vec<Bound<'py, PyAny>> = results.try_iter()?.collect::<PyResult<_>>()?;
        if results.len() != inputs.len() {
            return Err(PyValueError::new_err(format!(
                "@tandem.batch function {} returned {} results for {} inputs; it must return one per input, in order",
                self.name,
                results.len(),
                inputs.len()
            )));
        }
        Ok(results)
    }
}

impl Reply {
    /// Whether the caller still waits: a JS caller that stopped waiting
    /// (its request's signal aborted, its isolate went away) closed the
    /// channel; a Python caller may have cancelled the future, which this
    /// marks running otherwise, so that it can no longer be cancelled.
    fn wanted(&self, py: Python<'_>) -> bool {
        match self {
            Reply::Js(tx) => !tx.is_closed(),
            Reply::Future(future) => future
                .bind(py)
                .call_method0("set_running_or_notify_cancel")
                .and_then(|r| r.is_truthy())
                .unwrap_or(false),
        }
    }
}

fn settle(py: Python<'_>, reply: Reply, outcome: PyResult<Bound<'_, PyAny>>) {
    match reply {
        // A closed channel means the caller stopped waiting: nothing to do.
        Reply::Js(tx) => drop(tx.send(outcome.map(|value| Detached::from_py(&value)))),
        Reply::Future(future) => {
            let future = future.bind(py);
            let set = match outcome {
                Ok(value) => future.call_method1("set_result", (value,)),
                Err(err) => future.call_method1("set_exception", (err.into_value(py),)),
            };
            if let Err(e) = set {
                e.write_unraisable(py, Some(future));
            }
        }
    }
}

/// How much lower than the request threads the batching thread runs.
const BATCH_THREAD_NICENESS: i32 = 10;

/// Lowers this thread's CPU priority. When the cores are busy, request
/// threads then get to queue the requests they hold before the next batch
/// runs, so batches fill instead of running as soon as any input waits;
/// when the cores are idle, the niceness makes no difference.
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread's own id; failure only
    // leaves the priority as it was.
    #[cfg(target_os = "linux")]
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BATCH_THREAD_NICENESS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// A batching queue for the list function `source` defines as `f`,
    /// which also records the size of every batch it runs in `sizes`.
    fn queue(source: &CStr, max_size: usize) -> (Arc<Queue>, Py<PyList>) {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let globals = PyDict::new(py);
            py.run(source, Some(&globals), None).unwrap();
            let sizes = PyList::empty(py);
            let record = globals.get_item("f").unwrap().unwrap();
            let wrapped = py
                .eval(c"lambda f, sizes: lambda items: (sizes.append(len(items)), f(items))[1]", None, None)
                .unwrap()
                .call1((record, &sizes))
                .unwrap();
            // Long enough for every call of a test to join the first batch.
            let batcher = Batcher::new(wrapped.unbind(), max_size, 2.0, "test.f".into()).unwrap();
            (batcher.queue, sizes.unbind())
        })
    }

    fn int(outcome: Outcome) -> i64 {
        match outcome {
            Ok(Detached::Int(n)) => n,
            Ok(_) => panic!("not an int"),
            Err(e) => panic!("raised {e}"),
        }
    }

    fn raised(outcome: Outcome) -> String {
        match outcome {
            Ok(_) => panic!("did not raise"),
            Err(e) => e.to_string(),
        }
    }

    fn sizes(sizes: &Py<PyList>) -> Vec<usize> {
        Python::attach(|py| sizes.bind(py).extract().unwrap())
    }

    #[test]
    fn each_caller_gets_its_own_result_from_one_batch() {
        let (queue, batch_sizes) = queue(c"def f(items): return [x * 10 for x in items]", 3);
        let pending: Vec<_> = (1..=3).map(|n| queue.call(Detached::Int(n))).collect();
        let results: Vec<i64> = pending.into_iter().map(|rx| int(rx.blocking_recv().unwrap())).collect();
        assert_eq!(results, [10, 20, 30]);
        assert_eq!(sizes(&batch_sizes), [3]);
    }

    #[test]
    fn an_error_reaches_only_the_caller_whose_input_caused_it() {
        let source = c"def f(items):\n    if 'bad' in items:\n        raise ValueError('bad input')\n    return [len(x) for x in items]";
        let (queue, batch_sizes) = queue(source, 3);
        let pending: Vec<_> =
            ["ab", "bad", "abcd"].map(|s| queue.call(Detached::Str(s.into()))).into_iter().collect();
        let mut outcomes = pending.into_iter().map(|rx| rx.blocking_recv().unwrap());
        assert_eq!(int(outcomes.next().unwrap()), 2);
        assert_eq!(raised(outcomes.next().unwrap()), "ValueError: bad input");
        assert_eq!(int(outcomes.next().unwrap()), 4);
        // The failed batch of three, then each input alone.
        assert_eq!(sizes(&batch_sizes), [3, 1, 1, 1]);
    }

    #[test]
    fn an_exception_returned_in_place_of_a_result_is_raised_for_that_input() {
        let source = c"def f(items): return [KeyError(x) if x < 0 else x for x in items]";
        let (queue, batch_sizes) = queue(source, 2);
        let ok = queue.call(Detached::Int(5));
        let failed = queue.call(Detached::Int(-1));
        assert_eq!(int(ok.blocking_recv().unwrap()), 5);
        assert_eq!(raised(failed.blocking_recv().unwrap()), "KeyError: -1");
        assert_eq!(sizes(&batch_sizes), [2], "a returned exception needs no retry");
    }

    #[test]
    fn a_function_returning_the_wrong_number_of_results_is_named() {
        let (queue, _) = queue(c"def f(items): return []", 1);
        let message = raised(queue.call(Detached::Int(1)).blocking_recv().unwrap());
        assert!(message.contains("test.f returned 0 results for 1 inputs"), "{message}");
    }

    #[test]
    fn python_callers_get_a_future_settled_by_the_batching_thread() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let globals = PyDict::new(py);
            py.run(c"def f(items): return [x + 1 for x in items]", Some(&globals), None).unwrap();
            let f = globals.get_item("f").unwrap().unwrap().unbind();
            let batcher = Batcher::new(f, 4, 0.0, "test.f".into()).unwrap();
            let future = batcher.submit(py, 41i64.into_pyobject(py).unwrap().into_any()).unwrap();
            // Future.result() waits with the GIL released.
            let result: i64 = future.call_method1("result", (10,)).unwrap().extract().unwrap();
            assert_eq!(result, 42);
        });
    }

    #[test]
    fn max_size_zero_and_negative_waits_are_refused() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let none = || py.None();
            let zero = Batcher::new(none(), 0, 0.0, "f".into()).err().unwrap().to_string();
            assert!(zero.contains("max_size must be at least 1"), "{zero}");
            let negative = Batcher::new(none(), 1, -0.5, "f".into()).err().unwrap().to_string();
            assert!(negative.contains("max_wait_ms must be >= 0, got -500"), "{negative}");
        });
    }
}
