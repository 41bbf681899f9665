//! `tandem run --asgi`: FastAPI, Starlette and a bare ASGI callable served by the
//! real binary over loopback: routes, FastAPI's validation errors and
//! exception handlers, request bodies streamed in, responses streamed out,
//! background tasks, lifespan state and shutdown, the handler deadline
//! (503, the task cancelled), a crash and a header-injection attempt
//! (500, logged, the server serving on).

mod support;

use std::time::Duration;

use support::{request, Server};

const FASTAPI: &str = "tests/asgi/fastapi_app.py";

fn fastapi(flags: &[&str]) -> Server {
    let mut all = vec!["--asgi"];
    all.extend_from_slice(flags);
    Server::start(&all, FASTAPI)
}

#[test]
fn fastapi_routes_validation_errors_and_exception_handlers() {
    let server = fastapi(&[]);
    let r = server.get("/items/5?q=x");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"item_id": 5, "q": "x"})));
    let r = server.get("/items/abc");
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["path", "item_id"]));
    let r = server.post("/items", r#"{"name":"lamp","price":2.5,"tags":["a"]}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"], 5.0);
    let r = server.post("/items", r#"{"name":"lamp"}"#);
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["body", "price"]));
    let r = server.get("/fail");
    assert_eq!((r.status, r.json()["code"].clone()), (422, "E42".into()));
    let r = server.get("/missing");
    assert_eq!((r.status, r.json()["detail"].clone()), (404, "no such thing".into()));
}

#[test]
fn request_bodies_stream_in_and_responses_stream_out() {
    let server = fastapi(&[]);
    // 3 MB in chunks: above the size the server reads whole, so the app
    // reads it as it arrives.
    let chunk = vec![b'x'; 100_000];
    let mut raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..30 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = request(server.port, &raw);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["bytes"], 3_000_000);
    assert!(r.json()["chunks"].as_u64().unwrap() > 1, "{}", r.body);

    let r = server.get("/stream?n=4");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, "line 0\nline 1\nline 2\nline 3\n");
}

#[test]
fn background_tasks_run_after_the_response() {
    let server = fastapi(&[]);
    let r = server.post("/tasks?name=reindex", "");
    assert_eq!((r.status, r.json()["queued"].clone()), (200, "reindex".into()));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let done = server.get("/tasks").json()["done"].clone();
        if done == serde_json::json!(["reindex"]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the background task did not run: {done}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lifespan_state_reaches_requests_and_shutdown_runs_after_sigterm() {
    let server = fastapi(&[]);
    let r = server.get("/");
    assert_eq!(r.json()["model"], "sentiment-v1", "{}", r.body);
    assert_eq!(r.json()["events"][0], "startup");
    server.signal(libc::SIGTERM);
    let line = server.lines.recv_timeout(Duration::from_secs(10)).expect("no shutdown line");
    assert_eq!(line, "lifespan: shutdown ran");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn past_the_deadline_the_client_gets_503_and_the_task_is_cancelled() {
    let server = fastapi(&["--handler-timeout", "1"]);
    let started = std::time::Instant::now();
    let r = server.get("/slow?seconds=10");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The cancelled coroutine's `finally` ran.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.get("/").body.contains("slow finally") {
        assert!(std::time::Instant::now() < deadline, "the slow handler was not cancelled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_crash_and_a_header_injection_are_500s_logged_and_the_server_serves_on() {
    let server = fastapi(&[]);
    let r = server.get("/crash");
    assert_eq!(r.status, 500);
    server.wait_for_error_line("RuntimeError: unhandled");
    let r = server.get("/bad-header");
    assert_eq!(r.status, 500);
    assert!(!r.body.contains("injected") && r.header("set-cookie").is_none(), "{}", r.body);
    server.wait_for_error_line("the value of header x-evil is not valid");
    assert_eq!(server.get("/items/1").status, 200);
}

#[test]
fn a_bare_asgi_app_without_lifespan_is_served() {
    let server = Server::start(&["--asgi"], "tests/asgi/raw_app.py");
    server.wait_for_error_line("does not run the ASGI lifespan protocol");
    let r = server.post("/a%20b/c?x=1", "hello");
    assert_eq!((r.status, r.body.as_str()), (200, "POST /a b/c x=1 5"));
}

#[test]
fn a_missing_app_gets_a_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--asgi", "tests/asgi/raw_app.py:nope"])
        .current_dir(support::root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the ASGI module 'tests/asgi/raw_app.py' has no 'nope' (name the callable: --asgi"), "{stderr}");
}

#[test]
fn a_fastapi_app_mounted_in_a_router_serves_beside_typescript_routes() {
    let server = Server::start(&[], "tests/asgi/mount.ts");
    assert_eq!(server.get("/ts").json()["from"], "typescript");
    let r = server.get("/api/items/7?q=m");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"item_id": 7, "q": "m"})), "{}", r.body);
    // Lifespan startup ran on the first request: its state is there.
    assert_eq!(server.get("/api/").json()["model"], "sentiment-v1");
    let r = server.post("/api/items", r#"{"name":"lamp"}"#);
    assert_eq!(r.status, 422, "{}", r.body);
    let r = server.get("/api/stream?n=2");
    assert_eq!((r.status, r.body.as_str()), (200, "line 0\nline 1\n"));
    assert_eq!(server.get("/api/missing").status, 404);
    assert_eq!(server.get("/elsewhere").status, 404);
}

#[test]
fn a_starlette_app_routes_reads_forms_streams_and_runs_background_tasks() {
    let server = Server::start(&["--asgi"], "tests/asgi/starlette_app.py");
    assert_eq!(server.get("/").body, "hello from lifespan");
    let r = server.get("/users/ada?page=2");
    assert_eq!(r.json(), serde_json::json!({"name": "ada", "page": "2"}));
    let r = request(
        server.port,
        b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\nConnection: close\r\n\r\na=1&b=two+words",
    );
    assert_eq!(r.json(), serde_json::json!({"a": "1", "b": "two words"}), "{}", r.body);
    assert_eq!(server.get("/countdown").body, "3\n2\n1\n");
    assert_eq!(server.get("/nowhere").status, 404);
    assert_eq!(server.post("/later", "").json()["accepted"], true);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.get("/done").json()["done"] != serde_json::json!(["ran"]) {
        assert!(std::time::Instant::now() < deadline, "the background task did not run");
        std::thread::sleep(Duration::from_millis(20));
    }
}
