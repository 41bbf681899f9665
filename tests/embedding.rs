//! The library API as an embedding Rust program uses it, and the example
//! program in examples/embed.

use std::path::{Path, PathBuf};

use serde_json::json;
use tandem::{Error, Runtime, RuntimeOptions};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts")
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions { module_root: Some(scripts()), ..Default::default() }).unwrap()
}

#[test]
fn calls_exported_functions_with_serde_values() {
    let mut rt = runtime();
    let module = rt.load_module("_embed_target.ts").unwrap();
    let sum: f64 = rt.call_function(&module, "add", &(2, 3)).unwrap();
    assert_eq!(sum, 5.0);
    let described: String = rt.call_function(&module, "viaPython", &(json!([1, "a"]),)).unwrap();
    assert_eq!(described, "list [1, 'a']");
    // Async exports are awaited.
    let later: f64 = rt.call_function(&module, "later", &(20,)).unwrap();
    assert_eq!(later, 21.0);
}

#[test]
fn missing_exports_and_js_errors_are_errors() {
    let mut rt = runtime();
    let module = rt.load_module("_embed_target.ts").unwrap();
    let err = rt.call_function::<_, f64>(&module, "nope", &()).unwrap_err();
    assert!(matches!(err, Error::MissingExport { .. }), "{err}");
    let err = rt.call_function::<_, f64>(&module, "fails", &()).unwrap_err();
    assert!(err.to_string().contains("ValueError: from python"), "{err}");
    assert!(err.to_string().contains("Traceback"), "{err}");
}

#[test]
fn host_functions_are_callable_from_typescript() {
    let mut rt = runtime();
    rt.register_function("double", |args| Ok(json!(args[0].as_f64().unwrap_or(0.0) * 2.0)));
    let value: f64 = rt.eval("Tandem.host.call('double', 21)").unwrap();
    assert_eq!(value, 42.0);
    let err = rt.eval::<f64>("Tandem.host.call('missing')").unwrap_err();
    assert!(err.to_string().contains("no host function named \"missing\""), "{err}");
}

#[test]
fn module_errors_name_the_file() {
    let mut rt = runtime();
    let err = rt.load_module("no_such_file.ts").unwrap_err();
    assert!(err.to_string().contains("no_such_file.ts"), "{err}");
}

/// Several isolates on their own threads call Python at once: no deadlock,
/// every call answered. (The HTTP server runs one isolate per worker.)
#[test]
fn isolates_on_several_threads_share_the_interpreter() {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rt = runtime();
                let module = rt.load_module("_embed_target.ts").unwrap();
                let total: f64 = rt.call_function(&module, "manyCalls", &(2000, t)).unwrap();
                total
            })
        })
        .collect();
    for (t, handle) in threads.into_iter().enumerate() {
        let expected: f64 = (0..2000).map(|i| (i + t) as f64).sum();
        assert_eq!(handle.join().unwrap(), expected);
    }
}

/// One thread builds and drops more runtimes than the QuickJS engine's
/// per-thread function table held before third_party/v8x's fix (the 47th
/// failed to start): what `tandem run --watch` does on each reload.
#[test]
fn one_thread_builds_and_drops_sixty_runtimes() {
    std::thread::spawn(|| {
        for i in 0..60 {
            let mut rt = runtime();
            let module = rt.load_module("_embed_target.ts").unwrap_or_else(|e| panic!("runtime {i}: {e}"));
            let sum: f64 = rt.call_function(&module, "add", &(i, 1)).unwrap();
            assert_eq!(sum, f64::from(i + 1));
        }
    })
    .join()
    .unwrap();
}

/// Isolates on several threads import the same Python files at once while
/// the files are still executing (they sleep, giving up the GIL): each waits
/// for the import under way and gets the whole module, under its plain name
/// or, for a second file of the same name, under one made from its path.
#[test]
fn isolates_importing_one_python_file_at_once_all_get_its_names() {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut rt = runtime();
                let module = rt.load_module("_slow_import.ts").map_err(|e| e.to_string())?;
                rt.call_function::<_, Vec<String>>(&module, "both", &()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for handle in threads {
        assert_eq!(handle.join().unwrap(), Ok(vec!["first".to_string(), "second".to_string()]));
    }
}

#[test]
fn the_embed_example_runs() {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(if cfg!(debug_assertions) { "debug" } else { "release" })
        .join("tandem-embed-example");
    assert!(exe.exists(), "build the workspace first (cargo build --workspace): {} is missing", exe.display());
    // Built from the sources on disk, not left over from an older build.
    let built = std::fs::metadata(&exe).unwrap().modified().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["examples/embed", "runtime/src", "runtime/Cargo.toml", "runtime/pylib", "runtime/ts", "Cargo.lock"] {
        if let Some((newest, path)) = newest_file(&root.join(dir)) {
            assert!(
                newest <= built,
                "{} is older than {} (run cargo build --workspace first)",
                exe.display(),
                path.display()
            );
        }
    }
    let out = std::process::Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("quote: subtotal 30.00, discount 3.00, tax 5.40, total 32.40"), "{stdout}");
    assert!(stdout.contains("unknown region Some(\"mars\")"), "{stdout}");
}

/// The most recently modified source file under `path` (or `path`
/// itself); Python's byte-code caches, written when the example runs, are
/// not sources.
fn newest_file(path: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    if path.file_name()? == "__pycache__" {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return Some((meta.modified().ok()?, path.to_path_buf()));
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| newest_file(&entry.ok()?.path()))
        .max_by_key(|(time, _)| *time)
}
