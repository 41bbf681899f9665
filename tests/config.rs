//! End-to-end tests of tandem.toml: the real binary started on an app in a
//! fresh folder with a config file beside it. What a setting does is seen
//! from outside: the handler timeout's 503 names the limit in force.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::Server;

/// A handler that takes `?ms=` milliseconds to answer.
const SLOW_APP: &str = "export default {\n  async fetch(request: Request) {\n    const ms = Number(new URL(request.url).searchParams.get(\"ms\"));\n    await new Promise((resolve) => setTimeout(resolve, ms));\n    return new Response(\"answered\");\n  },\n};\n";

/// A new folder holding the slow app and `config` as its tandem.toml.
fn app_folder(name: &str, config: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("server.ts"), SLOW_APP).unwrap();
    std::fs::write(dir.join("tandem.toml"), config).unwrap();
    dir
}

/// The handler timeout the server applies, read off its 503.
fn handler_timeout_in_force(server: &Server) -> String {
    let r = server.get("/?ms=3000");
    assert_eq!(r.status, 503, "{}", r.body);
    r.json()["error"].as_str().unwrap().to_string()
}

#[test]
fn the_file_sets_a_limit_the_environment_beats_it_and_a_flag_beats_both() {
    let dir = app_folder("order", "[server]\nworkers = 1\n\n[limits]\nhandler_timeout = 0.4\n");
    let script = dir.join("server.ts");
    let script = script.to_str().unwrap();
    let from_file = Server::launch(&["--port", "0", script], 1, &[]);
    assert!(handler_timeout_in_force(&from_file).contains("within 0.4 s"));
    assert_eq!(from_file.get("/?ms=1").body, "answered");
    let from_env = Server::launch(&["--port", "0", script], 1, &[("TANDEM_HANDLER_TIMEOUT", "0.6")]);
    assert!(handler_timeout_in_force(&from_env).contains("within 0.6 s"));
    let env = [("TANDEM_HANDLER_TIMEOUT", "0.6")];
    let from_flag = Server::launch(&["--port", "0", "--handler-timeout", "0.8", script], 1, &env);
    assert!(handler_timeout_in_force(&from_flag).contains("within 0.8 s"));
}

#[test]
fn a_mistake_in_the_file_stops_the_start_with_the_key_and_the_fix() {
    let dir = app_folder("typo", "[limits]\nhandler_timout = 1\n");
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--port", "0"])
        .arg(dir.join("server.ts"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tandem.toml"), "{stderr}");
    assert!(stderr.contains("unknown key `limits.handler_timout`"), "{stderr}");
    assert!(stderr.contains("limits.handler_timeout"), "the known keys are listed: {stderr}");
}

#[test]
fn help_names_every_limit_flag_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem")).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "TANDEM_MAX_BODY_SIZE",
        "TANDEM_HEADER_TIMEOUT",
        "TANDEM_HANDLER_TIMEOUT",
        "TANDEM_SHUTDOWN_TIMEOUT",
        "TANDEM_MAX_CONNECTIONS",
        "TANDEM_PYTHON_CALL_TIMEOUT",
        "TANDEM_WSGI_THREADS",
    ] {
        assert!(help.contains(&format!("[env: {variable}=")), "{variable} missing from\n{help}");
    }
    assert!(help.contains("tandem.toml"), "{help}");
}
