//! End-to-end tests of `tandem run --wsgi`: the real binary serving the apps
//! of tests/wsgi/app.py, each behind `wsgiref.validate`, over loopback.
//! Every test ends by asking the app for the validator's complaints, which
//! must be none.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{request, root, Server};

const APP: &str = "tests/wsgi/app.py";

fn start(flags: &[&str]) -> Server {
    let mut all = vec!["--wsgi"];
    all.extend_from_slice(flags);
    Server::start(&all, APP)
}

fn assert_no_problems(server: &Server) {
    let problems = server.get("/problems").json();
    assert_eq!(problems, serde_json::json!([]), "wsgiref.validate complained");
}

#[test]
fn environ_follows_pep_3333() {
    let server = start(&[]);
    let port = server.port;
    let r = server.request(&format!(
        "GET /environ?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Custom: a\r\nX-Custom: b\r\nCookie: c=1\r\nCookie: d=2\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(r.status, 200);
    let env = r.json();
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(env["SCRIPT_NAME"], "");
    assert_eq!(env["PATH_INFO"], "/environ");
    assert_eq!(env["QUERY_STRING"], "x=1&y=%20");
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(env["SERVER_NAME"], "127.0.0.1");
    assert_eq!(env["SERVER_PORT"], port.to_string());
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["HTTP_HOST"], format!("127.0.0.1:{port}"));
    assert_eq!(env["HTTP_X_CUSTOM"], "a, b");
    assert_eq!(env["HTTP_COOKIE"], "c=1; d=2");
    assert_eq!(env["wsgi.version"], serde_json::json!([1, 0]));
    assert_eq!(env["wsgi.url_scheme"], "http");
    assert_eq!(env["wsgi.multithread"], true);
    assert_eq!(env["wsgi.multiprocess"], false);
    assert_eq!(env["wsgi.run_once"], false);
    let streams = server.get("/streams").json();
    assert_eq!(streams, serde_json::json!({"input_type": "tandem.WsgiInput", "errors_is_stderr": true}));
    assert!(env.get("CONTENT_TYPE").is_none() && env.get("HTTP_CONTENT_LENGTH").is_none(), "{env}");
    // Paths are percent-decoded into Latin-1 "native strings".
    let r = server.get("/caf%C3%A9");
    assert_eq!((r.status, r.body.as_str()), (404, r"not found: '/caf\xc3\xa9'"));
    let r = server.post("/environ", "{}");
    assert_eq!(r.json()["CONTENT_TYPE"], "application/json");
    assert_eq!(r.json()["CONTENT_LENGTH"], "2");
    assert_no_problems(&server);
}

#[test]
fn responses_whole_streamed_written_and_wrapped() {
    let server = start(&[]);
    let r = server.get("/");
    assert_eq!((r.status, r.body.as_str()), (200, "Hello, World!"));
    assert_eq!(r.header("content-length"), Some("13"));
    // A generator without Content-Length goes out chunked.
    let r = server.get("/stream");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    let r = server.get("/write");
    assert_eq!(r.body, "written, then returned");
    // Status line and headers as the app gave them, repeats kept in order.
    let raw = raw_get(server.port, "/status");
    assert!(raw.starts_with("HTTP/1.1 202 Accepted For Later\r\n"), "{raw}");
    let r = server.get("/status");
    let cookies: Vec<&str> = r.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(r.header("x-custom"), Some("Value"));
    let r = server.get("/file");
    assert_eq!(r.header("content-length"), Some("256000"));
    let expected: Vec<u8> = (0..1000).flat_map(|_| 0..=255u8).collect();
    assert_eq!(raw_body(server.port, "/file"), expected);
    // close() of the app's iterable is called.
    let before = server.get("/closed").json()["count"].as_u64().unwrap();
    assert_eq!(server.get("/closing").body, "closing");
    assert_eq!(server.get("/closed").json()["count"].as_u64().unwrap(), before + 1);
    assert_no_problems(&server);
}

#[test]
fn request_bodies_stream_to_the_app() {
    let server = start(&["--max-body-size", "4000000"]);
    let body: Vec<u8> = (0..3_000_000u32).map(|i| if i % 97 == 0 { b'\n' } else { (i % 251) as u8 }).collect();
    let lines = body.iter().filter(|&&b| b == b'\n').count()
        + usize::from(body.last() != Some(&b'\n'));
    let sha = sha256_hex(&body);
    // With Content-Length, read in blocks.
    let mut raw = format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
        .into_bytes();
    raw.extend_from_slice(&body);
    let r = request(server.port, &raw);
    assert_eq!(r.json()["bytes"], body.len());
    assert_eq!(r.json()["sha256"], sha);
    // Chunked, read line by line.
    let r = request(server.port, &chunked_post("/upload?mode=lines", &body, 100_000));
    assert_eq!((r.json()["sha256"].as_str(), r.json()["lines"].as_u64()), (Some(sha.as_str()), Some(lines as u64)));
    // Over the limit: 413, whether announced or found while reading.
    let big = vec![b'x'; 5_000_000];
    let mut raw = format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", big.len()).into_bytes();
    raw.extend_from_slice(&big);
    assert_eq!(request(server.port, &raw).status, 413);
    assert_eq!(request(server.port, &chunked_post("/upload", &big, 500_000)).status, 413);
    assert_no_problems(&server);
}

#[test]
fn app_errors_give_500_and_the_server_keeps_serving() {
    let server = start(&[]);
    let r = server.get("/error");
    assert_eq!(r.status, 500);
    assert!(r.json()["error"].as_str().unwrap().contains("traceback is in the server's log"));
    // exc_info before the first body chunk replaces the head.
    let r = server.get("/exc-info");
    assert_eq!((r.status, r.body.as_str()), (503, "recovered"));
    // A failure after the head went out breaks the connection off, so the
    // client cannot mistake the partial body for a whole one.
    let raw = raw_get(server.port, "/error-mid-stream");
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains("first part") && !raw.ends_with("0\r\n\r\n"), "{raw:?}");
    assert_eq!(server.get("/").status, 200);
    assert_no_problems(&server);
}

/// Polls the app until `count` /sleep requests are in their sleep.
fn wait_until_sleeping(server: &Server, count: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/sleeping").body != count.to_string() {
        assert!(Instant::now() < deadline, "{count} /sleep requests never ran at once");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn hop_by_hop_headers_are_left_out() {
    let server = start(&[]);
    let r = server.get("/hop-by-hop");
    assert_eq!((r.status, r.body.as_str(), r.header("x-kept")), (200, "ok", Some("yes")));
    for name in ["keep-alive", "upgrade", "transfer-encoding", "trailer", "te"] {
        assert_eq!(r.header(name), None, "{name} reached the client: {:?}", r.headers);
    }
    // The server's own framing stays: Content-Length, and close as asked.
    assert_eq!((r.header("content-length"), r.header("connection")), (Some("2"), Some("close")));
}

#[test]
fn a_slow_request_does_not_hold_up_others() {
    let server = start(&["--wsgi-threads", "4"]);
    let port = server.port;
    let started = Instant::now();
    let sleepers: Vec<_> = (0..2).map(|_| std::thread::spawn(move || request(port, b"GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))).collect();
    wait_until_sleeping(&server, 2);
    let fast = Instant::now();
    assert_eq!(server.get("/").status, 200);
    assert!(fast.elapsed() < Duration::from_millis(500), "a fast request waited {:?}", fast.elapsed());
    for sleeper in sleepers {
        assert_eq!(sleeper.join().unwrap().body, "slept");
    }
    // The two sleeps overlapped (time.sleep releases the GIL).
    assert!(started.elapsed() < Duration::from_millis(1800), "{:?}", started.elapsed());
    assert_no_problems(&server);
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let server = start(&[]);
    let port = server.port;
    let slow = std::thread::spawn(move || request(port, b"GET /sleep?s=0.5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    wait_until_sleeping(&server, 1);
    server.signal(libc::SIGTERM);
    assert_eq!(slow.join().unwrap().body, "slept");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn callable_names_and_load_errors() {
    let server = Server::start(&["--wsgi"], "tests/wsgi/app.py:app");
    assert_eq!(server.get("/").status, 200);
    drop(server);
    let fails = |spec: &str, needle: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["run", "--wsgi", "--port", "0"])
            .arg(spec)
            .current_dir(root())
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        assert!(stderr.contains(needle), "{spec}: expected {needle:?} in {stderr}");
    };
    fails("tests/wsgi/missing.py", "WSGI module not found: 'tests/wsgi/missing.py'");
    fails("tests/wsgi/app.py:nope", "has no 'nope' (name the callable: --wsgi tests/wsgi/app.py:NAME)");
    fails("tests/wsgi/app.py:broken", "must be callable as app(environ, start_response), but it is 42");
    fails("no_such_package.wsgi:app", "No module named 'no_such_package'");
}

/// A POST of `body` in chunks of `size` bytes (chunked transfer encoding).
fn chunked_post(path: &str, body: &[u8], size: usize) -> Vec<u8> {
    let mut raw = format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
    for chunk in body.chunks(size) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw
}

fn raw_get(port: u16, path: &str) -> String {
    String::from_utf8_lossy(&raw_response(port, path)).into_owned()
}

fn raw_response(port: u16, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

/// The body of a Content-Length response, as bytes.
fn raw_body(port: u16, path: &str) -> Vec<u8> {
    let bytes = raw_response(port, path);
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    bytes[at + 4..].to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_typescript_router_mounts_the_app_under_a_prefix() {
    let server = Server::start(&["--max-body-size", "4000000"], "tests/wsgi/mount.ts");
    let port = server.port;
    // TypeScript routes and the Python app side by side; the router's
    // middleware sees (and changes) the app's responses too.
    let r = server.get("/ts");
    assert_eq!((r.status, r.body.as_str()), (200, "from TypeScript"));
    let r = server.get("/py/");
    assert_eq!((r.status, r.body.as_str(), r.header("x-served-by")), (200, "Hello, World!", Some("tandem-router")));
    // The prefix itself: an empty PATH_INFO, as PEP 3333 has it.
    assert_eq!(server.get("/py").body, "not found: ''");
    let r = server.get("/py/environ?x=1");
    let env = r.json();
    assert_eq!((env["SCRIPT_NAME"].as_str(), env["PATH_INFO"].as_str()), (Some("/py"), Some("/environ")));
    assert_eq!(env["QUERY_STRING"], "x=1");
    assert_eq!((env["SERVER_NAME"].as_str(), env["SERVER_PORT"].as_str()), (Some("127.0.0.1"), Some(port.to_string().as_str())));
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(r.header("x-served-by"), Some("tandem-router"));
    // Outside the prefix, and a path that only starts like it: not the app.
    assert_eq!(server.get("/pyx").status, 404);
    // A large body streams through the router to the app unread.
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut raw = format!("POST /py/upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
        .into_bytes();
    raw.extend_from_slice(&body);
    let r = request(port, &raw);
    assert_eq!((r.json()["bytes"].as_u64(), r.json()["sha256"].as_str()), (Some(3_000_000), Some(sha256_hex(&body).as_str())));
    assert_eq!(request(port, &chunked_post("/py/upload", &vec![b'x'; 5_000_000], 500_000)).status, 413);
    // A small body (which the server reads whole before the handler runs).
    let r = server.post("/py/upload", "hello");
    assert_eq!((r.json()["bytes"].as_u64(), r.json()["sha256"].as_str()), (Some(5), Some(sha256_hex(b"hello").as_str())));
    // A streamed response stays streamed; status and repeated headers as given.
    let r = server.get("/py/stream");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    let r = server.get("/py/status");
    assert_eq!((r.status, r.body.as_str(), r.header("x-custom")), (202, "accepted", Some("Value")));
    // An app error is the app's 500, and the server goes on.
    assert_eq!(server.get("/py/error").status, 500);
    // A Request the server did not make is read and passed on too.
    let env = server.get("/copy").json();
    assert_eq!((env["PATH_INFO"].as_str(), env["QUERY_STRING"].as_str()), (Some("/environ"), Some("via=copy")));
    assert_eq!(env["HTTP_X_COPIED"], "yes");
    let problems = server.get("/py/problems").json();
    assert_eq!(problems, serde_json::json!([]), "wsgiref.validate complained");
}
