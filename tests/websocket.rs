//! End-to-end tests of server WebSockets: the real binary serving
//! tests/websocket/echo.ts, and the `websockets` package from PyPI as the
//! client (tests/websocket/client.py), except where a client must
//! misbehave.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libc::SIGTERM;
use support::{root, Server};

const APP: &str = "tests/websocket/echo.ts";

fn client(port: u16, scenario: &str) -> Command {
    let mut command = Command::new(root().join(".venv/bin/python"));
    command.arg(root().join("tests/websocket/client.py")).arg(port.to_string()).arg(scenario);
    command
}

/// Runs a client scenario to its end; its printed lines.
fn run(port: u16, scenario: &str) -> Vec<String> {
    let Output { status, stdout, stderr } = client(port, scenario).output().expect("run the Python client");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(status.success(), "{scenario}: {stdout}\n{}", String::from_utf8_lossy(&stderr));
    stdout.lines().map(str::to_string).collect()
}

#[test]
fn text_binary_and_fragmented_messages_echo() {
    let server = Server::start(&[], APP);
    assert_eq!(
        run(server.port, "echo"),
        ["text héllo", "binary bytes True", "fragmented fragmented", "closed 1000 "]
    );
}

#[test]
fn a_hundred_sockets_at_once() {
    let server = Server::start(&["--workers", "2"], APP);
    assert_eq!(run(server.port, "concurrent"), ["echoed 100 of 100"]);
    assert_eq!(server.get("/").body, "plain HTTP still works");
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    let server = Server::start(&[], APP);
    let reason = "message too big: the limit is 1024 bytes";
    assert_eq!(
        run(server.port, "too_big"),
        ["got 1024".to_string(), format!("closed 1009 {reason}"), format!("fragments closed 1009 {reason}")]
    );
}

#[test]
fn a_listener_that_throws_closes_with_1011_and_the_server_serves_on() {
    let server = Server::start(&["--workers", "1"], APP);
    assert_eq!(run(server.port, "throws"), ["ok a", "closed 1011 internal error", "after ok b"]);
    server.wait_for_error_line("a listener failed; closing with 1011: Error: the handler failed");
    assert_eq!(server.get("/").body, "plain HTTP still works");
}

#[test]
fn a_listener_that_runs_away_is_cut_at_the_handler_timeout() {
    let server = Server::start(&["--workers", "1", "--handler-timeout", "1"], APP);
    let lines = run(server.port, "spin");
    assert_eq!(lines[..2], ["ok a", "closed 1011 handler timeout"], "{lines:?}");
    assert!(lines[2] == "after 1" || lines[2] == "after 2", "{lines:?}");
    assert_eq!(lines[3], "after ok b", "{lines:?}");
    server.wait_for_error_line("a listener held the thread past --handler-timeout; closing with 1011");
    assert_eq!(server.get("/").body, "plain HTTP still works");
}

#[test]
fn events_in_order_with_the_chosen_subprotocol() {
    let server = Server::start(&[], APP);
    assert_eq!(
        run(server.port, "events"),
        ["protocol tandem.v1", "state 0 true,open 1 tandem.v1,message m1", "closed 4000 asked to"]
    );
}

#[test]
fn a_silent_client_is_pinged_then_closed() {
    let server = Server::start(&[], APP);
    let lines = run(server.port, "silent");
    assert_eq!(lines[0], "HTTP/1.1 101 Switching Protocols", "{lines:?}");
    assert!(lines[1].starts_with("ping at 1."), "{lines:?}");
    assert!(lines[2].starts_with("close 1001 idle timeout at 2."), "{lines:?}");
    assert!(lines[3].starts_with("connection closed at "), "{lines:?}");
}

#[test]
fn shutdown_sends_close_frames_and_waits_for_them() {
    let server = Server::start(&["--shutdown-timeout", "10"], APP);
    let mut holder = client(server.port, "hold").stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines().map_while(Result::ok);
    assert_eq!(lines.next().as_deref(), Some("ready"));
    let signalled = Instant::now();
    server.signal(SIGTERM);
    assert_eq!(lines.next().as_deref(), Some("closed 1001 server shutting down"));
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5), "the shutdown waited out its timeout: {:?}", signalled.elapsed());
    assert!(holder.wait().unwrap().success());
}

#[test]
fn a_request_that_is_not_an_upgrade_gets_a_clear_error() {
    let server = Server::start(&[], APP);
    let r = server.get("/echo");
    assert_eq!(r.status, 500, "{}", r.body);
    server.wait_for_error_line("Invalid Header: 'upgrade' header must contain 'websocket'");
}

#[test]
fn the_global_websocket_connects_out() {
    let server = Server::start(&[], APP);
    let url = format!("ws://127.0.0.1:{}/echo", server.port);
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", root().join("tests/websocket/connect.ts").to_str().unwrap(), &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "open true\ntext hello from the client\nbinary 1,2,3\nclose 1000 done true\n");
}
