//! Streamed responses over loopback: Python generators answered with
//! `sse()`, `ndjson()` and `ReadableStream.from()`, read as they arrive,
//! and closed (their `finally` runs) when the client goes away.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::Server;

const APP: &str = "tests/streaming/app.ts";

/// Sends GET `path` and returns a reader positioned after the response
/// head, with the head's text.
fn open_stream(port: u16, path: &str) -> (BufReader<TcpStream>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(reader.read_line(&mut head).unwrap() > 0, "closed before the head: {head}");
    }
    (reader, head)
}

/// The next non-empty line of the (chunked) body that is not a chunk size.
fn next_line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        let is_chunk_size = !line.is_empty() && line.chars().all(|c| c.is_ascii_hexdigit());
        if !line.is_empty() && !is_chunk_size {
            return Some(line);
        }
        if line == "0" {
            return None;
        }
    }
}

/// Waits until the app's generators have recorded `wanted`.
fn wait_for_event(server: &Server, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let events = server.get("/events").json();
        seen.extend(events.as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()));
        if seen.iter().any(|e| e == wanted) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the app never recorded {wanted:?}; it recorded {seen:?}");
}

#[test]
fn sse_events_arrive_as_the_generator_yields_them() {
    let server = Server::start(&["--workers", "2"], APP);
    let started = Instant::now();
    let (mut reader, head) = open_stream(server.port, "/ticks?n=3&delay=1");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/event-stream"), "{head}");
    let first = next_line(&mut reader).unwrap();
    let first_at = started.elapsed();
    assert!(first.starts_with("data: {\"tick\":0,"), "{first}");
    // The first event came before the generator made the rest (2 s).
    assert!(first_at < Duration::from_millis(1500), "first event after {first_at:?}");
    assert!(next_line(&mut reader).unwrap().starts_with("data: {\"tick\":1,"));
    assert!(next_line(&mut reader).unwrap().starts_with("data: {\"tick\":2,"));
    assert_eq!(next_line(&mut reader), None);
    assert!(started.elapsed() >= Duration::from_millis(2000));
    wait_for_event(&server, "ticks(3) closed");
}

#[test]
fn keep_alive_comments_fill_the_pauses() {
    let server = Server::start(&[], APP);
    let r = server.get("/quiet?delay=0.5");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(": keep-alive\n\n"), "{}", r.body);
    assert_eq!(r.body.matches("data: ").count(), 2, "{}", r.body);
}

#[test]
fn a_client_that_leaves_closes_the_generator() {
    let server = Server::start(&["--workers", "2"], APP);
    // A synchronous generator under ndjson(): found out at the next write.
    let (mut reader, _) = open_stream(server.port, "/numbers?name=sync");
    assert_eq!(next_line(&mut reader).as_deref(), Some(r#"{"n":0}"#));
    assert_eq!(next_line(&mut reader).as_deref(), Some(r#"{"n":1}"#));
    drop(reader);
    wait_for_event(&server, "numbers sync closed");
    // An async generator under sse() with the request's signal.
    let (mut reader, _) = open_stream(server.port, "/endless?name=async");
    assert_eq!(next_line(&mut reader).as_deref(), Some("data: tick"));
    drop(reader);
    wait_for_event(&server, "endless async closed");
    // The server serves on.
    assert_eq!(server.get("/named").status, 200);
}

#[test]
fn an_error_mid_stream_ends_it_with_an_error_event() {
    let server = Server::start(&[], APP);
    let r = server.get("/broken");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        "data: 0\n\ndata: 1\n\nevent: error\ndata: {\"error\":\"RuntimeError: the model failed after 2 items\"}\n\n"
    );
    server.wait_for_error_line("the model failed after 2 items");
}

#[test]
fn named_events_and_js_streams() {
    let server = Server::start(&[], APP);
    let r = server.get("/named");
    assert_eq!(r.body, "event: note\nid: 7\ndata: two\ndata: lines\n\ndata: {\"plain\":true}\n\n");
    assert_eq!(server.get("/js").body, "ab");
}

/// The handler deadline covers the wait for the head only; a generator
/// step that never ends is cut by --python-call-timeout (TimeoutError in
/// Python, so its finally runs), the stream ends with an error event, and
/// the worker serves on.
#[test]
fn a_stuck_generator_step_is_cut_by_the_python_call_timeout() {
    let server = Server::start(&["--workers", "1", "--python-call-timeout", "0.5"], APP);
    let started = Instant::now();
    let r = server.get("/stuck");
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("data: one\n\nevent: error\ndata: {\"error\":\"TimeoutError: "), "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    wait_for_event(&server, "stuck closed");
}
