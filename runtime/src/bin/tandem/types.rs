//! `tandem types FILE.py...`: writes each Python module's TypeScript
//! declarations beside it (`m.py` → `m.d.py.ts`), read from its type
//! hints without running it; `--check` only says whether they are current.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub(crate) struct TypesArgs {
    /// Do not write: fail, naming each file, when a declaration file is
    /// missing or differs from what its module's hints give now.
    #[arg(long)]
    check: bool,
    /// Also write Tandem's own declarations (the globals, `.py` and
    /// `tandem:python` imports, `tandem:http`) into DIR, for an editor's
    /// tsconfig.json to include (docs/types.md shows one).
    #[arg(long, value_name = "DIR")]
    tandem: Option<PathBuf>,
    /// Python modules, or folders whose .py files (subfolders included,
    /// hidden ones, virtualenvs and caches left out) are all declared.
    #[arg(required_unless_present = "tandem", value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Folders a search for the app's Python modules never enters.
const SKIPPED: &[&str] = &["__pycache__", "node_modules", "site-packages", "target", "venv"];

pub(crate) fn types(args: &TypesArgs) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    if let Some(dir) = &args.tandem {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in tandem::TYPESCRIPT_DECLARATIONS {
            let target = dir.join(name);
            if std::fs::read_to_string(&target).ok().as_deref() == Some(*text) {
                continue;
            }
            if args.check {
                stale.push((PathBuf::from(format!("--tandem {}", dir.display())), target, false));
            } else {
                std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
                eprintln!("tandem types: wrote {}", target.display());
            }
        }
    }
    for module in python_modules(&args.paths)? {
        let text = tandem::python_declarations(&module)?;
        let target = tandem::declaration_path(&module);
        let current = std::fs::read_to_string(&target).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if args.check {
            stale.push((module, target, current.is_none()));
        } else {
            std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
            eprintln!("tandem types: wrote {}", target.display());
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    for (module, target, missing) in &stale {
        let state = if *missing { "is missing" } else { "is out of date" };
        eprintln!("{} {state}: run `tandem types {}`", target.display(), module.display());
    }
    bail!("{} declaration file(s) not current", stale.len())
}

/// The .py files named, and those under the folders named, sorted.
pub(crate) fn python_modules(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut found)?;
        } else if path.extension().is_some_and(|e| e == "py") && path.is_file() {
            found.push(path.clone());
        } else if path.exists() {
            bail!("{}: not a Python module (.py) or a folder", path.display());
        } else {
            bail!("{}: no such file or folder", path.display());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) && !path.join("pyvenv.cfg").exists() {
                collect(&path, found)?;
            }
        } else if path.extension().is_some_and(|e| e == "py") {
            found.push(path);
        }
    }
    Ok(())
}
