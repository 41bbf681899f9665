//! The container image, built and run on this machine: deploy/local-image.sh
//! builds the Dockerfile with podman (a Debian base made with mmdebstrap,
//! the binary cargo built; see the script for why), then the image serves
//! the ML example: ready, answering /api/sentiment, as a non-root user,
//! with its compile caches filled, and stopping with exit status 0 on
//! SIGTERM. podman, runc and mmdebstrap come from scripts/setup.sh.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{post, request, root};

const TAG: &str = "localhost/tandem-ml-api:test";

fn podman(args: &[&str]) -> Output {
    // runc, with limits it may set: crun cannot manage cgroups here.
    Command::new("podman").arg("--runtime").arg("runc").args(args).output().expect("podman (scripts/setup.sh installs it)")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Removes the container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", &self.0]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(port: u16, path: &str) -> Option<support::Response> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    Some(request(port, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()))
}

#[test]
fn the_image_builds_serves_the_example_as_non_root_and_stops_on_sigterm() {
    let built = Command::new(root().join("deploy/local-image.sh"))
        .args([TAG, env!("CARGO_BIN_EXE_tandem")])
        .output()
        .unwrap();
    assert!(built.status.success(), "building the image failed:\n{}", text(&built));

    let port = free_port();
    let name = format!("tandem-image-test-{}", std::process::id());
    let env = format!("PORT={port}");
    let started = podman(&[
        "run", "--detach", "--name", &name, "--network", "host",
        "--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096",
        "--env", &env, TAG,
    ]);
    assert!(started.status.success(), "{}", text(&started));
    let container = Container(name);

    // The models load before the server listens: wait for readiness.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if get(port, "/ready").is_some_and(|r| r.status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "not ready in 60 s:\n{}", text(&podman(&["logs", &container.0])));
        std::thread::sleep(Duration::from_millis(200));
    }
    let answer = post(port, "/api/sentiment", "", r#"{"text":"I love this, it is great"}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["sentiment"], "positive", "{}", answer.body);

    let user = podman(&["exec", &container.0, "id", "-u"]);
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "10001", "{}", text(&user));
    // The compile caches were filled when the image was built.
    for cache in ["/app/.cache/v8x/quickjs-bytecode", "/app/.cache/tandem/python"] {
        let listed = podman(&["exec", &container.0, "ls", cache]);
        assert!(listed.status.success() && !listed.stdout.is_empty(), "{cache} in the image: {}", text(&listed));
    }

    let stopped = podman(&["stop", "--time", "10", &container.0]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    let code = podman(&["inspect", &container.0, "--format", "{{.State.ExitCode}}"]);
    assert_eq!(String::from_utf8_lossy(&code.stdout).trim(), "0", "exit status after SIGTERM: {}", text(&code));
    let image = podman(&["image", "inspect", TAG]);
    let image: serde_json::Value = serde_json::from_slice(&image.stdout).expect("podman image inspect");
    let check = image[0]["Healthcheck"]["Test"].to_string();
    assert!(check.contains("/ready"), "the image's HEALTHCHECK: {check}");
}
