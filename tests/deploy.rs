//! The deployment files (Dockerfile, deploy/kubernetes/) are checked as
//! code: hadolint lints the Dockerfile, kubernetes-validate checks each
//! manifest against the Kubernetes schemas (both installed into .venv by
//! scripts/setup.sh), tests/deploy/check_manifests.py checks that they
//! agree with each other, and the real binary serves the ML example with
//! the ConfigMap's tandem.toml.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{root, Server};

/// A tool from the project's virtualenv.
fn venv_tool(name: &str) -> PathBuf {
    let tool = root().join(".venv/bin").join(name);
    assert!(tool.exists(), "{} is missing: run scripts/setup.sh", tool.display());
    tool
}

fn run(tool: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(venv_tool(tool)).args(args).current_dir(dir).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-deploy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let lint = run("hadolint", &["Dockerfile"], &root());
    assert!(lint.status.success(), "{}", text(&lint));
    // The linter is live: a Dockerfile with a known mistake fails.
    let dir = scratch("lint");
    std::fs::write(dir.join("Dockerfile"), "FROM debian:bookworm-slim\nRUN cd /tmp && ls\n").unwrap();
    let bad = run("hadolint", &["Dockerfile"], &dir);
    assert!(!bad.status.success() && text(&bad).contains("DL3003"), "{}", text(&bad));
}

#[test]
fn the_kubernetes_manifests_pass_the_schemas() {
    let kube = root().join("deploy/kubernetes");
    let names = ["configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "optional/hpa-in-flight.yaml"];
    for name in names {
        let checked = run("kubernetes-validate", &["--strict", name], &kube);
        assert!(checked.status.success(), "{name}: {}", text(&checked));
    }
    // The validator is live: an unknown field and a wrong type fail.
    let dir = scratch("schema");
    let bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n  selector: {}\n  template: {}\n  gracePeriod: 5\n";
    std::fs::write(dir.join("bad.yaml"), bad).unwrap();
    let refused = run("kubernetes-validate", &["--strict", "bad.yaml"], &dir);
    assert!(!refused.status.success(), "{}", text(&refused));
}

#[test]
fn the_manifests_agree_and_the_configmaps_settings_serve_the_example() {
    let dir = scratch("serve");
    let python = venv_tool("python");
    let checked = Command::new(python)
        .arg(root().join("tests/deploy/check_manifests.py"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked));
    // The image's /app: the example's files and models, the ConfigMap's
    // tandem.toml beside server.ts.
    let example = root().join("examples/ml-api");
    for file in ["server.ts", "ml_service.py"] {
        std::fs::copy(example.join(file), dir.join(file)).unwrap();
    }
    std::fs::create_dir_all(dir.join("models")).unwrap();
    for entry in std::fs::read_dir(example.join("models")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("models").join(path.file_name().unwrap())).unwrap();
    }
    // The pod listens on 0.0.0.0:3000; here a free port on loopback (flags
    // beat the file), everything else as the ConfigMap says.
    let script = dir.join("server.ts");
    let server = Server::launch(&["--port", "0", "--host", "127.0.0.1", script.to_str().unwrap()], 1, &[]);
    assert_eq!(server.get("/health").status, 200);
    let ready = server.get("/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let answer = server.post("/api/sentiment", r#"{"text":"I love this, it is great"}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["sentiment"], "positive", "{}", answer.body);
}
