//! `tandem compile ENTRY -o APP`: one executable holding the runtime and
//! the app's files. APP is a copy of this binary with the app's folder
//! appended as a tar archive and a trailer (the archive's length and a
//! magic number). Started, APP finds its archive, unpacks it once into a
//! cache folder named by the archive's SHA-256, and runs as
//! `tandem run [ARGS] <cache>/ENTRY`: the same flags as `tandem run`.
//!
//! Unpacking to files, rather than loading from memory, keeps every path
//! the app sees real: Python's imports, `__file__`, a model read from a
//! data file. Python packages are not bundled: APP uses the virtualenv in
//! `$VIRTUAL_ENV`, as `tandem run` does (docs/deploy.md says why).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

/// Ends an executable that carries an app.
const MAGIC: &[u8; 8] = b"TNDMAPP1";
/// The trailer: the archive's length (u64, little-endian), then MAGIC.
const TRAILER: u64 = 16;

/// File types collected from the app's folder (data files are listed
/// with `--include`).
const SOURCES: &[&str] = &["ts", "tsx", "mts", "js", "mjs", "json", "py", "toml"];
/// Folders never collected: caches, virtualenvs, dependencies, VCS.
const SKIPPED: &[&str] = &["__pycache__", "node_modules", "target", "venv"];

#[derive(clap::Args)]
pub(crate) struct CompileArgs {
    /// Where to write the executable.
    #[arg(short, long)]
    output: PathBuf,
    /// Files or folders beside the app's sources to carry too (data,
    /// models), relative to the entry file's folder; repeatable.
    #[arg(long, value_name = "PATH")]
    include: Vec<PathBuf>,
    /// The app's entry module; its folder's sources (.ts, .tsx, .mts, .js,
    /// .mjs, .json, .py, tandem.toml), subfolders included, are carried.
    entry: PathBuf,
}

/// Writes the executable; prints what it holds.
pub(crate) fn compile(args: &CompileArgs) -> anyhow::Result<()> {
    let entry = std::path::absolute(&args.entry)?;
    if !entry.is_file() {
        bail!("module not found: '{}' (check the path)", args.entry.display());
    }
    let folder = entry.parent().context("the entry file has no folder")?.to_path_buf();
    let mut files = Vec::new();
    collect(&folder, &folder, &mut files)?;
    for include in &args.include {
        let path = folder.join(include);
        let path = path
            .canonicalize()
            .with_context(|| format!("--include {}: not found in {}", include.display(), folder.display()))?;
        if !path.starts_with(folder.canonicalize()?) {
            bail!("--include {}: outside the app's folder {}; move it there", include.display(), folder.display());
        }
        add_all(&folder.canonicalize()?, &path, &mut files)?;
    }
    files.sort();
    files.dedup();
    let entry_name = entry.strip_prefix(&folder)?.to_path_buf();
    let archive = archive(&folder, &entry_name, &files)?;
    let runtime = own_runtime()?;
    write_executable(&args.output, &runtime, &archive)?;
    println!(
        "Wrote {} ({:.1} MiB: the runtime {:.1} MiB, {} app files {:.1} KiB)",
        args.output.display(),
        (runtime.len() + archive.len()) as f64 / 1048576.0,
        runtime.len() as f64 / 1048576.0,
        files.len(),
        archive.len() as f64 / 1024.0
    );
    Ok(())
}

/// The source files under `dir`, as paths relative to `root`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED.contains(&name.as_ref()) {
                collect(root, &path, files)?;
            }
        } else if path.extension().is_some_and(|e| SOURCES.iter().any(|s| e == *s)) {
            files.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

/// `path` (a file, or a folder's every file) relative to `root`.
fn add_all(root: &Path, path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            add_all(root, &entry?.path(), files)?;
        }
    } else {
        files.push(path.strip_prefix(root)?.to_path_buf());
    }
    Ok(())
}

/// The tar archive: `ENTRY` (a one-line file naming the entry module),
/// then the app's files.
fn archive(folder: &Path, entry: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    let name = entry.to_string_lossy();
    let mut header = tar::Header::new_gnu();
    header.set_size(name.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "ENTRY", name.as_bytes())?;
    for file in files {
        builder
            .append_path_with_name(folder.join(file), Path::new("app").join(file))
            .with_context(|| format!("cannot add {}", file.display()))?;
    }
    Ok(builder.into_inner()?)
}

/// This executable without any app it carries.
fn own_runtime() -> anyhow::Result<Vec<u8>> {
    let exe = std::env::current_exe()?;
    let mut bytes = std::fs::read(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
    if let Some(length) = carried_length(&bytes) {
        bytes.truncate(bytes.len() - (length + TRAILER) as usize);
    }
    Ok(bytes)
}

/// The length of the archive a binary's bytes end with, if any.
fn carried_length(bytes: &[u8]) -> Option<u64> {
    let trailer = bytes.len().checked_sub(TRAILER as usize).map(|at| &bytes[at..])?;
    (&trailer[8..] == MAGIC).then(|| u64::from_le_bytes(trailer[..8].try_into().unwrap()))
}

fn write_executable(output: &Path, runtime: &[u8], archive: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = File::create(output).with_context(|| format!("cannot write {}", output.display()))?;
    file.write_all(runtime)?;
    file.write_all(archive)?;
    file.write_all(&(archive.len() as u64).to_le_bytes())?;
    file.write_all(MAGIC)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// If this executable carries an app: the command line to run it with,
/// `tandem run ARGS <cache>/ENTRY [-- SCRIPT ARGS]`, after unpacking it.
/// A command line that already names `run` or `serve` is left as it is
/// (the supervisor of `--processes` starts its servers that way).
pub(crate) fn carried_app_command() -> anyhow::Result<Option<Vec<OsString>>> {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "run" || a == "serve") {
        return Ok(None);
    }
    let exe = std::env::current_exe()?;
    let Some(archive) = read_archive(&exe)? else { return Ok(None) };
    let (folder, entry) = unpack(&archive).context("cannot unpack the app this executable carries")?;
    let script_args = match argv.iter().position(|a| a == "--") {
        Some(at) => argv.split_off(at).into_iter().skip(1).collect(),
        None => Vec::new(),
    };
    let mut command = vec![argv[0].clone(), "run".into()];
    command.extend(argv.into_iter().skip(1));
    command.push(folder.join("app").join(entry).into_os_string());
    command.extend(script_args);
    Ok(Some(command))
}

fn read_archive(exe: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let mut file = File::open(exe).with_context(|| format!("cannot read {}", exe.display()))?;
    let size = file.metadata()?.len();
    if size < TRAILER {
        return Ok(None);
    }
    let mut trailer = [0u8; TRAILER as usize];
    file.seek(SeekFrom::Start(size - TRAILER))?;
    file.read_exact(&mut trailer)?;
    let Some(length) = carried_length(&trailer) else { return Ok(None) };
    if length > size - TRAILER {
        bail!("{} ends with a damaged app archive", exe.display());
    }
    let mut archive = vec![0u8; length as usize];
    file.seek(SeekFrom::Start(size - TRAILER - length))?;
    file.read_exact(&mut archive)?;
    Ok(Some(archive))
}

/// Unpacks the archive into its cache folder (once: a folder already there
/// is complete, as it is renamed into place whole); returns the folder and
/// the entry module's path in `app/`.
fn unpack(archive: &[u8]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let digest = Sha256::digest(archive);
    let name: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let folder = cache_root()?.join(name);
    if !folder.join("ENTRY").is_file() {
        let parent = folder.parent().context("cache folder")?;
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let staging = parent.join(format!(".unpacking-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        tar::Archive::new(archive).unpack(&staging).with_context(|| format!("into {}", staging.display()))?;
        if std::fs::rename(&staging, &folder).is_err() {
            // Another process unpacked the same app first.
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    let entry = std::fs::read_to_string(folder.join("ENTRY"))?;
    Ok((folder, PathBuf::from(entry.trim_end())))
}

/// Unpacked apps live in `apps/` under the runtime's cache root
/// ([`tandem::cache::cache_root`]).
fn cache_root() -> anyhow::Result<PathBuf> {
    Ok(tandem::cache::cache_root().join("apps"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailer_is_recognised_only_with_its_magic() {
        let mut bytes = b"runtime".to_vec();
        bytes.extend_from_slice(b"archive");
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(MAGIC);
        assert_eq!(carried_length(&bytes), Some(7));
        assert_eq!(carried_length(b"a plain binary, long enough"), None);
        assert_eq!(carried_length(b"short"), None);
    }

    #[test]
    fn an_archive_unpacks_to_its_entry_and_files() {
        let dir = std::env::temp_dir().join(format!("tandem-compile-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src/lib")).unwrap();
        std::fs::write(dir.join("src/main.ts"), "x").unwrap();
        std::fs::write(dir.join("src/lib/util.py"), "y").unwrap();
        let files = vec![PathBuf::from("main.ts"), PathBuf::from("lib/util.py")];
        let archive = archive(&dir.join("src"), Path::new("main.ts"), &files).unwrap();
        std::env::set_var("TANDEM_CACHE_DIR", dir.join("cache"));
        let (folder, entry) = unpack(&archive).unwrap();
        assert_eq!(entry, PathBuf::from("main.ts"));
        assert_eq!(std::fs::read_to_string(folder.join("app/lib/util.py")).unwrap(), "y");
        let (again, _) = unpack(&archive).unwrap();
        assert_eq!(again, folder, "the same archive, the same folder");
    }
}
