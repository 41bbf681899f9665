//! End-to-end tests of the readiness path (`--ready-path`, default
//! `/ready`): the real binary serving tests/readiness/app.ts, whose
//! exported `ready()` the test switches between states over HTTP.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{parse_response, Server};

const APP: &str = "tests/readiness/app.ts";

/// One worker, so that the state the test sets is the one probed.
fn server(flags: &[&str]) -> Server {
    let mut all = vec!["--workers", "1"];
    all.extend_from_slice(flags);
    Server::start(&all, APP)
}

fn set(server: &Server, state: &str) {
    assert_eq!(server.get(&format!("/set/{state}")).status, 200);
}

/// The readiness answer: status and the reason given, if any.
fn probe(server: &Server) -> (u16, String) {
    let response = server.get("/ready");
    let body = response.json();
    (response.status, body["reason"].as_str().unwrap_or("").to_string())
}

#[test]
fn the_apps_check_decides_and_liveness_stays_apart() {
    let server = server(&[]);
    let (status, reason) = probe(&server);
    assert_eq!(status, 503);
    assert!(reason.contains("ready() returned false"), "{reason}");
    assert_eq!(server.get("/health").status, 200, "liveness does not wait for the app");
    set(&server, "ready");
    let response = server.get("/ready");
    assert_eq!((response.status, response.json()["status"].as_str()), (200, Some("ready")));
    set(&server, "async");
    assert_eq!(probe(&server).0, 200, "a Promise of true is ready");
    set(&server, "number");
    let (status, reason) = probe(&server);
    assert_eq!(status, 503);
    assert!(reason.contains("returned number, not a boolean"), "{reason}");
}

#[test]
fn a_check_that_throws_is_not_ready_and_says_why() {
    let server = server(&[]);
    set(&server, "throws");
    let (status, reason) = probe(&server);
    assert_eq!(status, 503);
    assert!(reason.contains("threw Error: model file models/sentiment.onnx is missing"), "{reason}");
}

#[test]
fn a_check_that_hangs_or_spins_is_cut_at_the_handler_deadline_and_the_worker_serves_on() {
    let server = server(&["--handler-timeout", "1"]);
    for state in ["hangs", "spins"] {
        set(&server, state);
        let started = Instant::now();
        let (status, reason) = probe(&server);
        let took = started.elapsed();
        assert_eq!(status, 503, "{state}");
        assert!(reason.contains("did not answer within 1 s"), "{state}: {reason}");
        assert!(took < Duration::from_millis(2500), "{state}: answered after {took:?}");
        set(&server, "ready");
        assert_eq!(probe(&server).0, 200, "after {state}, the next probe is answered by the check");
    }
}

#[test]
fn without_a_check_a_serving_app_is_ready_and_the_path_can_be_moved_or_turned_off() {
    let server = Server::start(&["--workers", "1"], "tests/readiness/no_check.ts");
    assert_eq!(server.get("/ready").status, 200);
    let moved = Server::start(&["--workers", "1", "--ready-path", "/-/ready"], "tests/readiness/no_check.ts");
    assert_eq!(moved.get("/-/ready").status, 200);
    assert_eq!(moved.get("/ready").body, "app", "the old path is the app's");
    let off = Server::start(&["--workers", "1", "--ready-path", ""], "tests/readiness/no_check.ts");
    assert_eq!(off.get("/ready").body, "app");
}

#[test]
fn the_check_can_be_serves_option_and_must_be_a_function() {
    let server = Server::start(&["--workers", "1"], "tests/readiness/serve_option.ts");
    assert_eq!(server.get("/ready").status, 503);
    assert_eq!(server.get("/flip").body, "app");
    assert_eq!(server.get("/ready").status, 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--port", "0"])
        .arg(support::root().join("tests/readiness/bad_option.ts"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("serve()'s ready option must be a function"), "{stderr}");
}

#[test]
fn from_the_shutdown_signal_on_the_probe_fails_while_requests_in_flight_finish() {
    let server = server(&["--shutdown-timeout", "5"]);
    set(&server, "ready");
    let port = server.port;
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        parse_response(&answer)
    });
    std::thread::sleep(Duration::from_millis(200));
    // A connection accepted before the signal whose probe arrives after it
    // (the server still answers a new connection's first request then).
    let mut early = TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(150));
    early.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    early.read_to_end(&mut answer).unwrap();
    let response = parse_response(&answer);
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.json()["status"], "draining");
    // New connections are no longer taken at all.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "the listening socket is closed at the signal");
    let finished = slow.join().unwrap();
    assert_eq!(finished.status, 200, "the request in flight finished: {}", finished.body);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}
