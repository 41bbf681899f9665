//! End-to-end tests of the HTTP server: the real `tandem` binary serving
//! tests/http/app.ts, spoken to over loopback with plain TCP.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{both_serve, request, request_to, Connection, Server};

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
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, PUT, PATCH"));
    let r = server.post("/users/7", r#"{"name":"Ada"}"#);
    assert_eq!((r.status, r.json()), (201, serde_json::json!({"id": "7", "body": {"name": "Ada"}})));
    let with_body = |method: &str, path: &str, body: &str| {
        server.request(&format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    };
    let r = with_body("PUT", "/users/3", r#"{"name":"Bo"}"#);
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"replaced": "3", "body": {"name": "Bo"}})));
    let r = with_body("PATCH", "/users/3", r#"{"age":4}"#);
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"patched": "3", "body": {"age": 4}})));
    // A handler that returns nothing answers 204.
    let r = with_body("DELETE", "/items/3", "");
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    // HEAD runs the GET route and sends its head without the body.
    let r = server.request("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("content-type"), Some("text/plain;charset=UTF-8"));
    assert_eq!(server.request("HEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404);
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
    // A connection goes to the worker with the fewest open ones: while
    // `first` stays open on one worker, new connections reach the other.
    let mut first = Connection::open(server.port);
    let first_isolate = first.get("/isolate").body;
    assert_ne!(server.get("/isolate").body, first_isolate, "both connections reached one worker");
    // The bucket holds 3 and refills one every 2 s, whichever worker asks.
    assert_eq!(first.get("/limited").status, 200);
    let statuses: Vec<u16> = (0..3).map(|_| server.get("/limited").status).collect();
    assert_eq!(statuses, [200, 200, 429], "the other worker has a bucket of its own");
    assert_eq!(first.get("/limited").status, 429);
    assert_eq!(first.get("/isolate").body, first_isolate);
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
    // An unmapped Python error is logged, not sent: the body has no message,
    // type or traceback.
    assert_eq!(r.json().as_object().unwrap().keys().collect::<Vec<_>>(), ["error", "requestId"], "{}", r.body);
    assert_eq!(r.json()["error"], "Internal Server Error");
    assert!(!r.body.contains("crashed") && !r.body.contains("RuntimeError"), "{}", r.body);
    // The server keeps serving, through the isolate and Python.
    let r = server.post("/classify", r#"{"text": "I love this"}"#);
    assert_eq!((r.status, r.json()["label"].clone()), (200, "positive".into()));
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
    server.wait_for_line(r#"{"watching":"gone-1"}"#);
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
    server.wait_for_line(r#"{"sleeping":1000}"#);
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
    both_serve(server.port);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
}

/// Starts `GET /slow/{ms}` on its own connection and waits until the
/// handler runs; the connection is returned to read the answer from.
fn slow_request_in_flight(server: &Server, ms: u64) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(format!("GET /slow/{ms} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    server.wait_for_line(&format!(r#"{{"sleeping":{ms}}}"#));
    stream
}

#[test]
fn shutdown_timeout_cuts_in_flight_requests_short() {
    let server = Server::start(&["--shutdown-timeout", "0.5"], APP);
    let mut stream = slow_request_in_flight(&server, 20_000);
    let signalled = Instant::now();
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let waited = signalled.elapsed();
    assert!(waited < Duration::from_secs(5), "exited {waited:?} after SIGTERM with --shutdown-timeout 0.5");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = support::parse_response(&answer);
    assert_eq!(answer.status, 503, "the unfinished request is answered: {}", answer.body);
    assert!(answer.body.contains("--shutdown-timeout"), "{}", answer.body);
}

#[test]
fn a_second_signal_exits_at_once() {
    let server = Server::start(&[], APP);
    let _stream = slow_request_in_flight(&server, 20_000);
    server.signal(SIGTERM);
    // The first signal closes the listening socket; a second one during the
    // (30 s) drain exits with 130.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(130));
}

#[test]
fn metrics_and_health_paths_can_be_moved_or_turned_off() {
    let server = Server::start(&["--metrics-path", "", "--health-path", "/ready"], APP);
    // Turned off: the path reaches the router, which has no such route.
    let r = server.get("/metrics");
    assert_eq!((r.status, r.json()["error"].clone()), (404, "no route for GET /metrics".into()));
    assert_eq!(server.get("/health").json()["error"], "no route for GET /health");
    let r = server.get("/ready");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"status": "ok"})));
    drop(server);
    let server = Server::start(&["--metrics-path", "/internal/metrics", "--health-path", ""], APP);
    assert_eq!(server.get("/").body, "hello");
    let metrics = server.get("/internal/metrics").body;
    assert!(metrics.contains(r#"tandem_http_requests_total{method="GET",route="/",status="200"} 1"#), "{metrics}");
    assert_eq!(server.get("/health").status, 404);
}

#[test]
fn port_from_the_environment_and_host_flag() {
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = support::root().join(APP);
    let script = script.to_str().unwrap();
    // $PORT when no --port is given.
    let port = free_port();
    let server = Server::launch(&[script], 1, &[("PORT", &port.to_string())]);
    assert_eq!(server.port, port);
    assert_eq!(server.get("/").body, "hello");
    drop(server);
    // --port wins over $PORT.
    let port = free_port();
    let server = Server::launch(&["--port", &port.to_string(), script], 1, &[("PORT", "1")]);
    assert_eq!(server.port, port);
    drop(server);
    // --host binds that address alone: 127.0.0.2 answers, 127.0.0.1 does not.
    let server = Server::launch(&["--port", "0", "--host", "127.0.0.2", script], 1, &[]);
    let r = request_to("127.0.0.2", server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.body, "hello");
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err(), "--host 127.0.0.2 also listens on 127.0.0.1");
    drop(server);
    // A $PORT that is not a port is a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", script])
        .env("PORT", "eighty")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"$PORT is "eighty", not a port number"#), "{stderr}");
}

#[test]
fn the_supervisor_restarts_a_dead_process() {
    let server = Server::start_expecting(&["--processes", "2", "--workers", "1"], "tests/http/serve_call.ts", 2);
    let before = both_serve(server.port);
    let victim = *before.iter().next().unwrap();
    // SAFETY: kill(2) on a server process this test started (a child of
    // the supervisor, which is our child), still running.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    server.wait_for_line("Listening on");
    // The victim answers nothing more, so two answering means a replacement.
    let after = both_serve(server.port);
    assert!(!after.contains(&victim), "{victim} still answers: {after:?}");
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn the_supervisor_gives_up_on_a_crash_loop() {
    let script = support::root().join("tests/http/crash_on_start.ts");
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--port", "0", "--processes", "2"])
        .arg(&script)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("5 times right after starting; giving up"), "{stderr}");
    assert!(stderr.contains("exited with status 3; nothing was in flight"), "{stderr}");
    assert!(stderr.contains("restarting server process"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
}
