//! The release binary is self-contained: a copy of it runs a script that
//! uses the Web API (Deno's extension crates' JavaScript), `tandem:http`
//! and a Python import with the cargo registry and this repository hidden,
//! as in a container or on another machine.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cargo_registry_sources() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    home.join("registry/src")
}

#[test]
fn runs_with_the_registry_and_the_repository_hidden() {
    let dir = std::env::temp_dir().join(format!("tandem-self-contained-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("tandem");
    std::fs::copy(env!("CARGO_BIN_EXE_tandem"), &binary).unwrap();
    for file in ["main.ts", "helper.py"] {
        std::fs::copy(root().join("tests/self_contained").join(file), dir.join(file)).unwrap();
    }
    let registry = cargo_registry_sources();
    assert!(registry.is_dir(), "{} is missing: where did cargo build from?", registry.display());
    // A mount namespace of its own, so the hiding is seen by this command
    // alone: empty file systems over the registry's sources and the repository.
    let script = format!(
        "mount -t tmpfs none '{}' && mount -t tmpfs none '{}' && exec ./tandem run main.ts",
        registry.display(),
        root().display()
    );
    let output = Command::new("unshare")
        .args(["-m", "bash", "-c", &script])
        .current_dir(&dir)
        .env_remove("VIRTUAL_ENV")
        .output()
        .expect("run unshare (util-linux)");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n{stdout}{stderr}", output.status.code());
    assert_eq!(
        stdout,
        "/b/c 1\nPOST 2 1\nstreamed body\n200 {\"hello\":\"ADA!\"}\n",
        "stderr: {stderr}"
    );
}
