//! `--watch`: watches the app's folder and has every worker reload the app
//! when one of its source files changes.
//!
//! One thread per process (`tandem-watch`) takes the file events, waits
//! for them to settle, reloads the changed Python modules and their
//! importers once for the whole process (crate::python::reload_files), and
//! then bumps a generation number that every worker watches. Each worker
//! builds a new isolate beside its running one and switches to it
//! (crate::apps::script); the workers report back, and this thread prints
//! one line per reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::watch;

use crate::error::Error;

/// How long the file events must be quiet before a reload: editors and
/// `git checkout` write a file (or several) in more than one step.
const SETTLE: Duration = Duration::from_millis(100);

/// How long the watcher waits for the workers to report a reload.
const REPORT_WAIT: Duration = Duration::from_secs(60);

/// Files whose change reloads the app.
const SOURCES: &[&str] = &["ts", "mts", "cts", "tsx", "js", "mjs", "cjs", "jsx", "json", "py"];

/// Folders never watched: installed packages, caches, build output, and
/// hidden ones (`.venv`, `.git`).
const SKIPPED: &[&str] = &["node_modules", "__pycache__", "target", "site-packages"];

/// A worker's end: the reloads to make and where to report them.
#[derive(Clone)]
pub(crate) struct Reloads {
    generations: watch::Receiver<u64>,
    reports: mpsc::Sender<Report>,
}

/// How one worker's reload went.
struct Report {
    generation: u64,
    worker: usize,
    outcome: Result<(), String>,
}

impl Reloads {
    /// The next reload to make, once one is due (never, if the watcher
    /// has stopped).
    pub(crate) async fn next(&mut self) -> u64 {
        match self.generations.changed().await {
            Ok(()) => *self.generations.borrow_and_update(),
            Err(_) => std::future::pending().await,
        }
    }

    /// Tells the watcher how worker `worker`'s reload to `generation` went.
    pub(crate) fn report(&self, generation: u64, worker: usize, outcome: Result<(), String>) {
        let _ = self.reports.send(Report { generation, worker, outcome });
    }
}

/// Starts watching `root` for a server with `workers` worker threads.
pub(crate) fn watch(root: &Path, workers: usize) -> Result<Reloads, Error> {
    let root = std::path::absolute(root).map_err(|e| Error::Config(format!("--watch: {}: {e}", root.display())))?;
    let (events_tx, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(events_tx)
        .map_err(|e| Error::Config(format!("--watch: cannot watch files: {e}")))?;
    watch_tree(&mut watcher, &root)?;
    let (generations_tx, generations) = watch::channel(0);
    let (reports, reports_rx) = mpsc::channel();
    let watched = Watched { root, watcher, events, generations: generations_tx, reports: reports_rx, workers };
    std::thread::Builder::new()
        .name("tandem-watch".into())
        .spawn(move || watched.run())
        .map_err(|source| Error::Spawn { what: "the file watcher thread", source })?;
    Ok(Reloads { generations, reports })
}

/// Watches `dir` and the folders under it that hold sources. Folder by
/// folder rather than recursively, so that a virtualenv inside the app's
/// folder costs no watches.
fn watch_tree(watcher: &mut impl Watcher, dir: &Path) -> Result<(), Error> {
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| Error::Config(format!("--watch: cannot watch {}: {e}", dir.display())))?;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !skipped(&path) {
            watch_tree(watcher, &path)?;
        }
    }
    Ok(())
}

fn skipped(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|name| name.starts_with('.') || SKIPPED.contains(&name))
}

fn is_source(path: &Path) -> bool {
    let hidden = path.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.'));
    !hidden && path.extension().and_then(|e| e.to_str()).is_some_and(|e| SOURCES.contains(&e))
}

/// The watcher thread's state.
struct Watched<W> {
    root: PathBuf,
    watcher: W,
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    generations: watch::Sender<u64>,
    reports: mpsc::Receiver<Report>,
    workers: usize,
}

impl<W: Watcher> Watched<W> {
    fn run(mut self) {
        while let Some(changed) = self.next_change() {
            let started = Instant::now();
            let python: Vec<PathBuf> = changed.iter().filter(|p| p.extension().is_some_and(|e| e == "py")).cloned().collect();
            let reloaded = match self.reload_python(&python) {
                Ok(reloaded) => reloaded,
                Err(traceback) => {
                    eprintln!(
                        "tandem --watch: {} changed, but reloading the Python failed; still serving the code loaded \
                         before (fix it and save again):\n{traceback}",
                        self.names(&changed)
                    );
                    continue;
                }
            };
            self.generations.send_modify(|g| *g += 1);
            let generation = *self.generations.borrow();
            let failures = self.await_reports(generation, started + REPORT_WAIT);
            let names = self.names(&changed);
            match failures.first() {
                None => {
                    let python = if reloaded.is_empty() {
                        String::new()
                    } else {
                        format!("; Python modules re-executed: {}", reloaded.join(", "))
                    };
                    eprintln!(
                        "tandem --watch: {names} changed: reloaded in {} ms{python}",
                        started.elapsed().as_millis()
                    );
                }
                Some(failure) => eprintln!(
                    "tandem --watch: {names} changed, but the new code failed to load in {} of {} workers; they \
                     still serve the code loaded before (fix it and save again):\n{failure}",
                    failures.len(),
                    self.workers
                ),
            }
        }
    }

    /// The next batch of changed sources, once the events have settled;
    /// `None` when the watcher stopped.
    fn next_change(&mut self) -> Option<BTreeSet<PathBuf>> {
        loop {
            let mut changed = BTreeSet::new();
            let first = self.events.recv().ok()?;
            self.take(first, &mut changed);
            while let Ok(event) = self.events.recv_timeout(SETTLE) {
                self.take(event, &mut changed);
            }
            if !changed.is_empty() {
                return Some(changed);
            }
        }
    }

    /// Adds an event's changed sources to `changed`, and watches a new
    /// folder.
    fn take(&mut self, event: notify::Result<notify::Event>, changed: &mut BTreeSet<PathBuf>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                eprintln!("tandem --watch: {e}");
                return;
            }
        };
        if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)) {
            return;
        }
        for path in event.paths {
            if matches!(event.kind, EventKind::Create(_)) && path.is_dir() && !skipped(&path) {
                if let Err(e) = watch_tree(&mut self.watcher, &path) {
                    eprintln!("tandem {e}");
                }
            } else if is_source(&path) {
                changed.insert(path);
            }
        }
    }

    /// Re-executes the changed Python files that are loaded, and their
    /// importers; the error is the traceback.
    fn reload_python(&self, paths: &[PathBuf]) -> Result<Vec<String>, String> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        pyo3::Python::attach(|py| {
            crate::python::reload_files(py, paths, &self.root).map_err(|e| crate::python::format_traceback(py, &e))
        })
    }

    /// The failures the workers report for `generation`, until each has
    /// reported or `deadline` passed.
    fn await_reports(&self, generation: u64, deadline: Instant) -> Vec<String> {
        let mut failures = Vec::new();
        let mut heard = 0;
        while heard < self.workers {
            let Ok(report) = self.reports.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                failures.push(format!("{} workers did not report within {} s", self.workers - heard, REPORT_WAIT.as_secs()));
                break;
            };
            if report.generation != generation {
                continue;
            }
            heard += 1;
            if let Err(message) = report.outcome {
                failures.push(format!("worker {}: {message}", report.worker));
            }
        }
        failures
    }

    /// The changed files, relative to the app's folder.
    fn names(&self, changed: &BTreeSet<PathBuf>) -> String {
        let names: Vec<String> =
            changed.iter().map(|p| p.strip_prefix(&self.root).unwrap_or(p).display().to_string()).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_count_and_caches_and_hidden_files_do_not() {
        assert!(is_source(Path::new("/app/server.ts")));
        assert!(is_source(Path::new("/app/model.py")));
        assert!(!is_source(Path::new("/app/.server.ts.swp")));
        assert!(!is_source(Path::new("/app/model.pyc")));
        assert!(!is_source(Path::new("/app/notes.md")));
        assert!(skipped(Path::new("/app/.venv")));
        assert!(skipped(Path::new("/app/__pycache__")));
        assert!(!skipped(Path::new("/app/models")));
    }
}
