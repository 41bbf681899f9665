//! End-to-end tests of the HTTP server: the real `tandem` binary serving
//! tests/http/app.ts, spoken to over loopback with plain TCP.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{request, Server};

const SIGTERM: i32 = libc::SIGTERM;

const APP: &str = "tests/http/app.ts";

#[test]
fn routes_params_404_and_405() {
    let server = Server::start(&["--workers", "2"], APP);
    let r = server.get("/users/42");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"id": "42"})));
    // Paths are matched as URL.pathname has them: dot segments resolved.
    assert_eq!(server.get("/files/../users/./9").json(), serde_json::json!({"id": "9"}));
    assert_eq!(server.get("/files/a/b%20c").json(), serde_json::json!({"path": "a/b c"}));
    let r = server.get("/");
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
    assert_eq!(r.header("content-type"), Some("text/plain;charset=UTF-8"));
    let r = server.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "no route for GET /nope");
    let r = server.request("DELETE /users/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = server.post("/users/7", r#"{"name":"Ada"}"#);
    assert_eq!((r.status, r.json()), (201, serde_json::json!({"id": "7", "body": {"name": "Ada"}})));
}

#[test]
fn request_id_and_logging() {
    let server = Server::start(&[], APP);
    let r = server.request("GET /users/1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\nConnection: close\r\n\r\n");
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let line = server.wait_for_line("\"requestId\":\"abc-123\"");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["method"], "GET");
    assert_eq!(log["path"], "/users/1");
    assert_eq!(log["route"], "/users/:id");
    assert_eq!(log["status"], 200);
    assert!(log["durationMs"].as_f64().unwrap() >= 0.0);
    assert!(log["time"].as_str().unwrap().ends_with('Z'));
    let generated = server.get("/").header("x-request-id").unwrap().to_string();
    assert!(generated.len() > 8, "{generated}");
}

#[test]
fn cors_simple_and_preflight() {
    let server = Server::start(&[], APP);
    let r = server.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n");
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    let r = server.request(
        "OPTIONS /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
    assert_eq!(r.header("access-control-allow-headers"), Some("content-type"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    let r = server.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = server.request(
        "OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn rate_limit_shared_by_workers() {
    let server = Server::start(&["--workers", "2"], APP);
    let statuses: Vec<u16> = (0..5).map(|_| server.get("/limited").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let r = server.get("/limited");
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
}

#[test]
fn authentication() {
    let server = Server::start(&[], APP);
    let r = server.get("/secure");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let with = |header: &str| server.request(&format!("GET /secure HTTP/1.1\r\nHost: x\r\n{header}\r\nConnection: close\r\n\r\n"));
    assert_eq!(with("X-API-Key: wrong").status, 403);
    assert_eq!(with("Authorization: Bearer wrong").status, 403);
    let r = with("X-API-Key: key-123");
    assert_eq!((r.status, r.json()["user"]["scheme"].clone()), (200, "api-key".into()));
    assert_eq!(with("Authorization: Bearer token-abc").json()["user"]["scheme"], "bearer");
}

#[test]
fn validation_and_malformed_json() {
    let server = Server::start(&[], APP);
    let r = server.post("/classify", r#"{"text": 5, "topK": 0}"#);
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(body["error"], "the request body is invalid");
    assert_eq!(
        body["details"],
        serde_json::json!([
            {"field": "text", "message": "must be a string, got number 5"},
            {"field": "topK", "message": "must be >= 1 (got 0)"},
        ])
    );
    let long = "x".repeat(101);
    let r = server.post("/classify", &format!(r#"{{"text": "{long}"}}"#));
    assert_eq!(r.json()["details"][0]["message"], "must be at most 100 characters long (got 101)");
    let r = server.post("/classify", r#"{"text": "#);
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().starts_with("the request body is not valid JSON"), "{}", r.body);
    let r = server.post("/classify", r#"{"text": "I love this, great"}"#);
    assert_eq!((r.status, r.json()["label"].clone()), (200, "positive".into()));
}

#[test]
fn handler_errors_and_python_errors() {
    let server = Server::start(&[], APP);
    let r = server.get("/throw");
    assert_eq!(r.status, 500);
    let body = r.json();
    assert_eq!(body["error"], "Internal Server Error");
    assert_eq!(r.header("x-request-id"), body["requestId"].as_str());
    assert_eq!(server.get("/teapot").status, 418);
    let r = server.get("/python-error/value");
    assert_eq!((r.status, r.json()["type"].clone()), (400, "ValueError".into()));
    assert_eq!(server.get("/python-error/key").status, 404);
    let r = server.get("/python-error/other");
    assert_eq!(r.status, 500);
    // The server keeps serving.
    assert_eq!(server.get("/users/1").status, 200);
}

#[test]
fn body_limit_gives_413() {
    let server = Server::start(&["--max-body-size", "1000"], APP);
    let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(2000));
    let r = server.post("/classify", &big);
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("1000 bytes"));
    // Chunked (no Content-Length): caught while the handler reads it.
    let mut raw = String::from("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for _ in 0..3 {
        raw.push_str(&format!("{:x}\r\n{}\r\n", 600, "y".repeat(600)));
    }
    raw.push_str("0\r\n\r\n");
    assert_eq!(server.request(&raw).status, 413);
    let mut raw = String::from("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    raw.push_str(&format!("{:x}\r\n{}\r\n0\r\n\r\n", 900, "y".repeat(900)));
    let r = server.request(&raw);
    assert_eq!((r.status, r.json()["bytes"].clone()), (200, 900.into()));
}

#[test]
fn slow_client_is_cut_off_and_does_not_block_others() {
    let server = Server::start(&["--workers", "1", "--header-timeout", "1"], APP);
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Other requests go through while the slow client dawdles.
    let started = Instant::now();
    assert_eq!(server.get("/users/1").status, 200);
    assert!(started.elapsed() < Duration::from_millis(900));
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let closed_at = Instant::now();
    let _ = slow.read_to_end(&mut rest);
    let waited = closed_at.elapsed();
    assert!(waited < Duration::from_secs(4), "the slow connection was held {waited:?}");
}

#[test]
fn handler_timeout_gives_503() {
    let server = Server::start(&["--handler-timeout", "0.5"], APP);
    let r = server.get("/slow/3000");
    assert_eq!(r.status, 503);
    assert!(r.json()["error"].as_str().unwrap().contains("0.5 s"));
    assert_eq!(server.get("/slow/10").status, 200);
}

#[test]
fn two_hundred_concurrent_requests() {
    let server = Server::start(&["--workers", "2"], APP);
    let port = server.port;
    let threads: Vec<_> = (0..200)
        .map(|i| {
            std::thread::spawn(move || {
                let body = format!(r#"{{"text": "request {i} is great"}}"#);
                let raw = format!(
                    "POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                request(port, raw.as_bytes())
            })
        })
        .collect();
    for thread in threads {
        let r = thread.join().unwrap();
        assert_eq!((r.status, r.json()["label"].clone()), (200, "positive".into()), "{}", r.body);
    }
}

#[test]
fn streaming_response() {
    let server = Server::start(&[], APP);
    let r = server.get("/events");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, "data: event 1\n\ndata: event 2\n\ndata: event 3\n\n");
    assert!(r.header("x-request-id").is_some(), "middleware headers reach streamed responses");
}

#[test]
fn middleware_request_id_replaces_the_handlers() {
    let server = Server::start(&[], APP);
    let r = server.request("GET /own-request-id HTTP/1.1\r\nHost: x\r\nX-Request-Id: given-7\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (200, "mine"));
    let ids: Vec<&str> = r.headers.iter().filter(|(n, _)| n == "x-request-id").map(|(_, v)| v.as_str()).collect();
    assert_eq!(ids, ["given-7"]);
}

#[test]
fn response_headers_repeat_and_keep_their_bytes() {
    let server = Server::start(&[], APP);
    let r = server.request("GET /many-headers HTTP/1.1\r\nHost: x\r\nX-Ask: a\r\nX-Ask: b\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (200, "asked a, b"));
    let x_a: Vec<&str> = r.headers.iter().filter(|(n, _)| n == "x-a").map(|(_, v)| v.as_str()).collect();
    assert_eq!(x_a, ["1", "2"]);
    // One byte 0xE9 (Latin-1, as Headers holds it), not UTF-8's two bytes.
    assert_eq!(r.header("x-latin"), Some("caf\u{FFFD}"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.header("x-request-id").is_some(), "middleware headers join the handler's");
}

#[test]
fn client_disconnect_aborts_the_request_signal() {
    let server = Server::start(&[], APP);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(b"GET /abort-watch HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-1\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(stream);
    server.wait_for_line(r#"{"aborted":"gone-1"}"#);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let server = Server::start(&[], APP);
    let port = server.port;
    let in_flight = std::thread::spawn(move || {
        request(port, b"GET /slow/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    });
    std::thread::sleep(Duration::from_millis(300));
    server.signal(SIGTERM);
    let r = in_flight.join().unwrap();
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"slept": 1000})));
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still accepting after shutdown");
}

#[test]
fn metrics_and_health() {
    let server = Server::start(&[], APP);
    server.post("/classify", r#"{"text": "good"}"#);
    server.get("/python-error/value");
    server.get("/users/5");
    let r = server.get("/health");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"status": "ok"})));
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    let text = &r.body;
    for needle in [
        r#"tandem_http_requests_total{method="GET",route="/users/:id",status="200"} 1"#,
        r#"tandem_http_requests_total{method="POST",route="/classify",status="200"} 1"#,
        r#"tandem_http_requests_total{method="GET",route="/python-error/:kind",status="400"} 1"#,
        r#"tandem_http_request_duration_seconds_count{route="/users/:id"} 1"#,
        r#"tandem_python_calls_total{function="model.classify"} 1"#,
        r#"tandem_python_call_errors_total{function="model.fail_with"} 1"#,
        r#"tandem_python_call_duration_seconds_count{function="model.classify"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[test]
fn outbound_fetch() {
    let server = Server::start(&[], APP);
    let r = server.get("/proxy/9");
    assert_eq!(r.json(), serde_json::json!({"upstreamStatus": 200, "upstream": {"id": "9"}}));
}

#[test]
fn default_export_function_and_serve_call() {
    for script in ["tests/http/fetch_function.ts", "tests/http/serve_call.ts"] {
        let server = Server::start(&[], script);
        let r = server.get("/x?name=Ada");
        assert_eq!((r.status, r.body.as_str()), (200, "hello Ada from /x"), "{script}");
    }
}

#[test]
fn worker_processes() {
    let server = Server::start_expecting(&["--processes", "2", "--workers", "1"], "tests/http/serve_call.ts", 2);
    let pids: std::collections::HashSet<String> =
        (0..40).map(|_| server.get("/pid").body).collect();
    assert_eq!(pids.len(), 2, "40 connections all went to one process: {pids:?}");
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
}
