//! Golden-output tests: every `tests/scripts/*.ts` (names starting with `_`
//! are helpers) runs under the real `tandem` binary, and its stdout, then
//! stderr, then `[exit code N]` when non-zero, must match the `.out` file
//! beside it. In `.out` files `[WILDCARD]` matches any text and `$DIR` is
//! the scripts folder. A first line `// args: a b` passes script arguments,
//! and a line `// flags: --x 1` among the first ones passes `tandem run`
//! flags.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the `.out` files.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts").canonicalize().unwrap()
}

fn main() {
    let args = Arguments::from_args();
    let dir = scripts_dir();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('_') && (name.ends_with(".ts") || name.ends_with(".js") || name.ends_with(".mjs"))
        })
        .collect();
    scripts.sort();
    let trials = scripts
        .into_iter()
        .map(|script| {
            let name = script.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run_script(&script))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run_script(script: &Path) -> Result<(), Failed> {
    let dir = script.parent().unwrap();
    let source = std::fs::read_to_string(script)?;
    let script_args: Vec<String> = source
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("// args:"))
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let flags: Vec<String> = source
        .lines()
        .take_while(|l| l.starts_with("//"))
        .find_map(|l| l.strip_prefix("// flags:"))
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("run")
        .args(&flags)
        .arg(script.file_name().unwrap())
        .args(&script_args)
        .current_dir(dir)
        .env("TANDEM_GOLDEN", "1")
        .output()?;
    let mut actual = String::from_utf8_lossy(&output.stdout).into_owned();
    actual.push_str(&String::from_utf8_lossy(&output.stderr));
    if let Some(code) = output.status.code().filter(|c| *c != 0) {
        actual.push_str(&format!("[exit code {code}]\n"));
    }
    let actual = actual.replace(&dir.display().to_string(), "$DIR");
    let golden = script.with_extension("out");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual)?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&golden)
        .map_err(|e| format!("missing {}: {e} (run with UPDATE_GOLDEN=1 to create it)", golden.display()))?;
    if wildcard_match(&expected, &actual) {
        Ok(())
    } else {
        Err(format!("output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}", golden.display()).into())
    }
}

/// Matches `text` against `pattern`, where `[WILDCARD]` matches any run of
/// characters (shortest first, with backtracking).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[WILDCARD]").collect();
    fn go(parts: &[&str], text: &str, first: bool) -> bool {
        match parts {
            [] => text.is_empty(),
            [only] if !first => text.ends_with(only),
            [head, rest @ ..] => {
                if first {
                    return text.starts_with(head) && go(rest, &text[head.len()..], false);
                }
                let mut from = 0;
                while let Some(pos) = text[from..].find(head) {
                    let at = from + pos;
                    if go(rest, &text[at + head.len()..], false) {
                        return true;
                    }
                    // Step one character (not byte) so slicing stays on a boundary.
                    from = at + text[at..].chars().next().map_or(1, char::len_utf8);
                    if from > text.len() {
                        break;
                    }
                }
                false
            }
        }
    }
    if parts.len() == 1 {
        return pattern == text;
    }
    go(&parts, text, true)
}
