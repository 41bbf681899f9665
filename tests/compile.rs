//! `tandem compile`: the executable it writes is moved away from the app's
//! sources (which are then deleted) and run from another folder, with the
//! flags of `tandem run`: it serves the app, Python and data file
//! included, under the supervisor of `--processes` too.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{request, root};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-compile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn tandem(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tandem")).args(args).current_dir(dir).output().unwrap()
}

/// Compiles a copy of tests/compile/app, deletes the copy, and moves the
/// executable into a folder of its own; returns its path.
fn compiled(name: &str) -> PathBuf {
    let work = scratch(name);
    let sources = work.join("src");
    copy_tree(&root().join("tests/compile/app"), &sources);
    let out = tandem(&["compile", "src/server.ts", "--include", "data", "-o", "built"], &work);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 app files"), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::remove_dir_all(&sources).unwrap();
    let elsewhere = work.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::rename(work.join("built"), elsewhere.join("app")).unwrap();
    elsewhere.join("app")
}

/// The app started with `args` from its own folder, and its port.
fn start(app: &Path, args: &[&str]) -> (Child, u16) {
    let folder = app.parent().unwrap();
    let mut child = Command::new(app)
        .args(args)
        .current_dir(folder)
        .env("TANDEM_CACHE_DIR", folder.join("cache"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("the app did not start");
    let port = line.trim_end_matches('/').rsplit(':').next().unwrap().parse().expect(&line);
    (child, port)
}

fn get(port: u16, path: &str) -> support::Response {
    request(port, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
}

#[test]
fn the_executable_runs_the_app_from_elsewhere_with_run_flags_and_script_args() {
    let app = compiled("run");
    let (mut child, port) = start(&app, &["--port", "0", "--workers", "1", "--", "one", "two"]);
    let body = get(port, "/?word=tandem").json();
    assert_eq!(body["word"], "TANDEM");
    assert_eq!(body["meaning"], "a bicycle for two", "the Python module read its data file");
    assert_eq!(body["args"], serde_json::json!(["one", "two"]));
    assert_eq!(get(port, "/ready").status, 200);
    // Unpacked under apps/ of the cache root (python/ beside it holds
    // the helper package's compiled code).
    let cache = app.parent().unwrap().join("cache").join("apps");
    let unpacked = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path().join("app");
    assert!(unpacked.join("data/words.txt").is_file() && unpacked.join("lib/util.ts").is_file());
    assert!(!unpacked.join("NOTES.md").exists(), "only sources and what --include lists are carried");
    // SAFETY: kill(2) on our own child's pid, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_executable_supervises_several_processes() {
    let app = compiled("processes");
    let (mut child, port) = start(&app, &["--port", "0", "--workers", "1", "--processes", "2"]);
    for _ in 0..4 {
        assert_eq!(get(port, "/?word=tandem").json()["meaning"], "a bicycle for two");
    }
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn compile_refuses_a_missing_entry_and_an_include_outside_the_app() {
    let work = scratch("errors");
    copy_tree(&root().join("tests/compile/app"), &work.join("src"));
    let missing = tandem(&["compile", "src/nothing.ts", "-o", "x"], &work);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("module not found: 'src/nothing.ts'"));
    std::fs::write(work.join("outside.txt"), "x").unwrap();
    let outside = tandem(&["compile", "src/server.ts", "--include", "../outside.txt", "-o", "x"], &work);
    let stderr = String::from_utf8_lossy(&outside.stderr);
    assert!(!outside.status.success());
    assert!(stderr.contains("outside the app's folder"), "{stderr}");
}
