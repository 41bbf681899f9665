//! `tandem check server.ts`: type-checks an app with the TypeScript
//! compiler, run by Node.js (`node .../typescript/lib/tsc.js`).
//!
//! The compiler sees Tandem's own declarations (embedded in this binary)
//! and declarations generated now from every Python module in the app's
//! folder, in a scratch folder that `rootDirs` lays over the app's: an
//! `import ... from "./ml_service.py"` finds `ml_service.d.py.ts` there
//! even when none is on disk. One on disk that is out of date is an error,
//! since an editor would read it.
//!
//! Why Node and not Tandem's own engine: the compiler is 9 MB of
//! JavaScript written against Node's `fs`/`path`, and Node's JIT checks
//! the ML example in about a second (docs/types.md has the figures).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

use crate::types::python_modules;

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// The `typescript` npm package's folder [default: node_modules/typescript
    /// in FILE's folder or one above it, then beside the tandem binary].
    #[arg(long, env = "TANDEM_TYPESCRIPT", value_name = "DIR")]
    typescript: Option<PathBuf>,
    /// The Node.js executable that runs the compiler.
    #[arg(long, env = "TANDEM_NODE", default_value = "node", value_name = "PATH")]
    node: PathBuf,
    /// The app's entry module; what it imports is checked too.
    file: PathBuf,
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let entry = std::path::absolute(&args.file)?;
    if !entry.is_file() {
        bail!("module not found: '{}' (check the path)", args.file.display());
    }
    let folder = entry.parent().context("the entry file has no folder")?.to_path_buf();
    let compiler = find_compiler(args.typescript.as_deref(), &folder)?;
    let scratch = Scratch::new()?;
    let stale = write_declarations(&folder, &scratch.path)?;
    let config = write_config(&scratch.path, &folder, &entry)?;
    let output = Command::new(&args.node)
        .arg(&compiler)
        .args(["--project", &config.to_string_lossy(), "--pretty", "false"])
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (tandem check runs the TypeScript compiler on Node.js 18 or later: install it, or \
                 name it with --node or $TANDEM_NODE)",
                args.node.display()
            )
        })?;
    // The compiler names generated files by their scratch path; they stand
    // for the same path beside the module.
    let report = readable(&String::from_utf8_lossy(&output.stdout), &scratch.path, &folder);
    print!("{report}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    for (module, target) in &stale {
        eprintln!("{} is out of date: run `tandem types {}`", target.display(), module.display());
    }
    let errors = report.lines().filter(|l| l.contains(": error TS")).count();
    let seconds = started.elapsed().as_secs_f64();
    if output.status.success() && stale.is_empty() {
        eprintln!("tandem check: {} type-checks ({seconds:.1} s)", args.file.display());
        return Ok(());
    }
    if !stale.is_empty() && output.status.success() {
        bail!("{} declaration file(s) out of date", stale.len());
    }
    bail!("{} type error(s) in {} ({seconds:.1} s)", errors.max(1), args.file.display())
}

/// The compiler's report with scratch paths named for what they stand
/// for: a generated declaration file for the one beside its module, and
/// Tandem's own declarations as `<tandem>/NAME`.
fn readable(report: &str, scratch: &Path, folder: &Path) -> String {
    let mut text = report.to_string();
    for (root, stands_for) in [(scratch.join("app"), folder.to_path_buf()), (scratch.join("tandem"), "<tandem>".into())] {
        let root = root.to_string_lossy().into_owned();
        // The relative form first: it ends with the absolute one.
        if let Some(relative) = pathdiff(&root) {
            text = text.replace(&relative, &stands_for.to_string_lossy());
        }
        text = text.replace(&root, &stands_for.to_string_lossy());
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `path` relative to the current folder, the way the compiler prints it.
fn pathdiff(path: &str) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let target = Path::new(path);
    let common = cwd.ancestors().find(|a| target.starts_with(a))?;
    let ups = cwd.strip_prefix(common).ok()?.components().count();
    let rest = target.strip_prefix(common).ok()?;
    let mut relative = PathBuf::new();
    for _ in 0..ups {
        relative.push("..");
    }
    Some(relative.join(rest).to_string_lossy().into_owned())
}

/// `tsc.js` of the TypeScript package to run.
fn find_compiler(named: Option<&Path>, folder: &Path) -> anyhow::Result<PathBuf> {
    if let Some(dir) = named {
        let tsc = dir.join("lib/tsc.js");
        anyhow::ensure!(tsc.is_file(), "{} is not the typescript package (no lib/tsc.js in it)", dir.display());
        return Ok(tsc);
    }
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    let starts = [Some(folder.to_path_buf()), beside_binary];
    for start in starts.iter().flatten() {
        for dir in start.ancestors() {
            let tsc = dir.join("node_modules/typescript/lib/tsc.js");
            if tsc.is_file() {
                return Ok(tsc);
            }
        }
    }
    bail!(
        "the TypeScript compiler was not found: run `npm install --save-dev typescript@5` in {} (or a folder \
         above it), or name the package's folder with --typescript or $TANDEM_TYPESCRIPT",
        folder.display()
    )
}

/// Writes Tandem's declarations and those of the app's Python modules
/// under `scratch`; returns the (module, declaration file) pairs whose
/// file on disk differs from what was generated.
fn write_declarations(folder: &Path, scratch: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    for (name, text) in tandem::TYPESCRIPT_DECLARATIONS {
        write(&scratch.join("tandem").join(name), text)?;
    }
    let mut stale = Vec::new();
    for module in python_modules(&[folder.to_path_buf()])? {
        let text = tandem::python_declarations(&module)?;
        let beside = tandem::declaration_path(&module);
        let relative = beside.strip_prefix(folder).unwrap_or(&beside);
        write(&scratch.join("app").join(relative), &text)?;
        if std::fs::read_to_string(&beside).is_ok_and(|on_disk| on_disk != text) {
            stale.push((module, beside));
        }
    }
    Ok(stale)
}

/// The compiler's settings: strict, no output, Tandem's module resolution
/// (`.ts` and `.py` specifiers), the Web API as TypeScript's DOM library.
/// A tsconfig.json beside the entry file is extended, so its options win.
fn write_config(scratch: &Path, folder: &Path, entry: &Path) -> anyhow::Result<PathBuf> {
    let mut files = vec![entry.to_string_lossy().into_owned()];
    for (name, _) in tandem::TYPESCRIPT_DECLARATIONS {
        files.push(scratch.join("tandem").join(name).to_string_lossy().into_owned());
    }
    let mut config = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "noEmit": true,
            "target": "es2022",
            "lib": ["es2022", "dom", "dom.iterable", "dom.asynciterable"],
            "module": "esnext",
            "moduleResolution": "bundler",
            "allowImportingTsExtensions": true,
            "allowArbitraryExtensions": true,
            "resolveJsonModule": true,
            "esModuleInterop": true,
            "types": [],
            "rootDirs": [folder, scratch.join("app")],
        },
        "files": files,
        // Tandem's declarations come from this binary: an extended
        // tsconfig's own "include" (which may list copies) is not used.
        "include": [],
    });
    let user_config = folder.join("tsconfig.json");
    if user_config.is_file() {
        config["extends"] = serde_json::Value::from(user_config.to_string_lossy().into_owned());
    }
    let path = scratch.join("tsconfig.json");
    write(&path, &serde_json::to_string_pretty(&config)?)?;
    Ok(path)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A scratch folder removed when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("tandem-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
