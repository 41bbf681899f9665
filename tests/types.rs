//! `tandem types` and `tandem check` on the real binary, with the
//! TypeScript compiler scripts/setup.sh installs (node_modules/typescript,
//! run by Node.js):
//! - tests/types/hints.py's declarations are the committed
//!   hints.d.py.ts (every kind of hint: the golden file to read);
//! - uses_hints.ts, correct calls of each, type-checks, and run, the
//!   values that cross are what the declarations say (uses_hints.out);
//! - misuses.ts fails with the compiler's messages (misuses.out);
//! - the examples' declarations are current and the examples type-check,
//!   with `tandem check` and with the ML example's tsconfig.json alone;
//! - a declaration file gone stale, a Python syntax error and a missing
//!   compiler are each reported plainly.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::root;

fn tandem(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem")).args(args).current_dir(dir).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-types-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `actual` against the golden file `path` (UPDATE_GOLDEN=1 rewrites it).
fn golden(path: &str, actual: &str) {
    let path = root().join(path);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

#[test]
fn declarations_of_every_kind_of_hint_are_current() {
    let out = tandem(&["types", "--check", "tests/types/hints.py"], &root());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn correct_calls_type_check_and_run_as_declared() {
    let out = tandem(&["check", "tests/types/uses_hints.ts"], &root());
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("tests/types/uses_hints.ts type-checks"), "{}", text(&out.stderr));
    let run = tandem(&["run", "tests/types/uses_hints.ts"], &root());
    assert!(run.status.success(), "{}", text(&run.stderr));
    golden("tests/types/uses_hints.out", &text(&run.stdout));
}

#[test]
fn wrong_calls_fail_with_the_compilers_messages() {
    let out = tandem(&["check", "tests/types/misuses.ts"], &root());
    assert!(!out.status.success());
    golden("tests/types/misuses.out", &text(&out.stdout));
    assert!(text(&out.stderr).contains("error: 5 type error(s) in tests/types/misuses.ts"), "{}", text(&out.stderr));
}

#[test]
fn examples_declarations_are_current_and_the_examples_type_check() {
    let modules =
        ["examples/ml-api/ml_service.py", "examples/hello/ml_service.py", "examples/hello/helpers.py", "examples/flask-polyglot/ml_service.py"];
    let mut args = vec!["types", "--check", "--tandem", "examples/ml-api/types"];
    args.extend(modules);
    let out = tandem(&args, &root());
    assert!(out.status.success(), "{}", text(&out.stderr));
    for entry in ["examples/ml-api/server.ts", "examples/hello/main.ts", "examples/flask-polyglot/server.ts"] {
        let out = tandem(&["check", entry], &root());
        assert!(out.status.success(), "{entry}:\n{}{}", text(&out.stdout), text(&out.stderr));
    }
}

#[test]
fn the_ml_examples_editor_config_type_checks_it() {
    // What an editor does with examples/ml-api/tsconfig.json (docs/types.md):
    // the compiler alone, with the declarations on disk.
    let out = Command::new("node")
        .arg(root().join("node_modules/typescript/lib/tsc.js"))
        .args(["--project", "examples/ml-api/tsconfig.json", "--pretty", "false"])
        .current_dir(root())
        .output()
        .expect("node (scripts/setup.sh installs it)");
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn a_misuse_of_the_ml_example_is_caught_without_declarations_on_disk() {
    // `tandem check` generates what is missing: a copy of the example with
    // no .d.py.ts still has its Python calls checked.
    let dir = scratch("ml");
    for file in ["server.ts", "ml_service.py"] {
        std::fs::copy(root().join("examples/ml-api").join(file), dir.join(file)).unwrap();
    }
    let server = std::fs::read_to_string(dir.join("server.ts")).unwrap();
    let broken = server.replacen("sentiment_many(texts)", "sentiment_many(42)", 1);
    assert_ne!(server, broken, "examples/ml-api/server.ts no longer calls sentiment_many(texts)");
    std::fs::write(dir.join("server.ts"), broken).unwrap();
    let out = tandem(&["check", "server.ts", "--typescript", &root().join("node_modules/typescript").to_string_lossy()], &dir);
    let stdout = text(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("server.ts(") && stdout.contains(
            "error TS2345: Argument of type 'number' is not assignable to parameter of type 'string[]'."
        ),
        "{stdout}"
    );
}

#[test]
fn a_stale_declaration_file_is_named_with_the_command_that_fixes_it() {
    let dir = scratch("stale");
    std::fs::write(dir.join("m.py"), "def f(x: int) -> int:\n    return x\n").unwrap();
    assert!(tandem(&["types", "m.py"], &dir).status.success());
    std::fs::write(dir.join("m.py"), "def f(x: str) -> int:\n    return 1\n").unwrap();
    let out = tandem(&["types", "--check", "m.py"], &dir);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("m.d.py.ts is out of date: run `tandem types m.py`"), "{}", text(&out.stderr));
    std::fs::write(dir.join("main.ts"), "import { f } from \"./m.py\";\nconsole.log(f(\"a\"));\n").unwrap();
    let typescript = root().join("node_modules/typescript");
    let out = tandem(&["check", "main.ts", "--typescript", &typescript.to_string_lossy()], &dir);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("m.d.py.ts is out of date: run `tandem types"), "{}", text(&out.stderr));
    assert!(tandem(&["types", "m.py"], &dir).status.success());
    let out = tandem(&["check", "main.ts", "--typescript", &typescript.to_string_lossy()], &dir);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = scratch("bad");
    std::fs::write(dir.join("broken.py"), "def f(x:\n").unwrap();
    let out = tandem(&["types", "broken.py"], &dir);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot read the type hints of broken.py") && stderr.contains("line 1"), "{stderr}");

    let out = tandem(&["types", "missing.py"], &dir);
    assert!(text(&out.stderr).contains("missing.py: no such file or folder"), "{}", text(&out.stderr));

    std::fs::write(dir.join("main.ts"), "console.log(1);\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["check", "main.ts"])
        .current_dir(&dir)
        .env("TANDEM_TYPESCRIPT", dir.join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is not the typescript package (no lib/tsc.js in it)"), "{}", text(&out.stderr));
}
