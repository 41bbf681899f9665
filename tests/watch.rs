//! `tandem run --watch`: the real binary serves a copy of tests/watch/
//! while the tests edit its files, under load.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{Connection, Server};

/// A copy of tests/watch/ in a folder of its own, removed on drop.
struct App {
    dir: PathBuf,
}

impl App {
    fn copy(name: &str) -> App {
        let dir = std::env::temp_dir().join(format!("tandem-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["server.ts", "model.py", "service.py", "other.py"] {
            std::fs::copy(support::root().join("tests/watch").join(file), dir.join(file)).unwrap();
        }
        App { dir }
    }

    fn serve(&self, workers: &str) -> Server {
        let server = self.dir.join("server.ts");
        Server::launch(&["--port", "0", "--watch", "--workers", workers, server.to_str().unwrap()], 1, &[])
    }

    /// Replaces `from` with `to` in `file`.
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn answer(server: &Server, path: &str) -> serde_json::Value {
    let response = server.get(path);
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// Waits until a new connection gets `version` from `/`.
fn await_version(server: &Server, version: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = answer(server, "/");
        if body["version"] == version {
            return body;
        }
        assert!(Instant::now() < deadline, "version {version} never served; last answer {body}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// What the load generator saw.
#[derive(Default)]
struct Load {
    answered: usize,
    errors: Vec<String>,
    /// A kept-alive connection got an older version after a newer one.
    went_back: Vec<String>,
}

/// Clients that keep sending `GET /` until `stop`: two on kept-alive
/// connections, two opening a connection per request.
fn generate_load(port: u16, stop: Arc<AtomicBool>) -> Vec<thread::JoinHandle<Load>> {
    let kept_alive = (0..2).map(|_| {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut load = Load::default();
            let mut connection = Connection::open(port);
            let mut newest = 0;
            while !stop.load(Ordering::Relaxed) {
                match connection.try_get("/") {
                    Ok(response) if response.status == 200 => {
                        load.answered += 1;
                        let version = response.json()["version"].as_u64().unwrap();
                        if version < newest {
                            load.went_back.push(format!("{version} after {newest}"));
                        }
                        newest = newest.max(version);
                    }
                    Ok(response) => load.errors.push(format!("{}: {}", response.status, response.body)),
                    Err(e) => {
                        load.errors.push(e);
                        connection = Connection::open(port);
                    }
                }
            }
            load
        })
    });
    let fresh = (0..2).map(|_| {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut load = Load::default();
            while !stop.load(Ordering::Relaxed) {
                match get_on_new_connection(port) {
                    Ok(200) => load.answered += 1,
                    Ok(status) => load.errors.push(format!("status {status}")),
                    Err(e) => load.errors.push(e),
                }
            }
            load
        })
    });
    kept_alive.chain(fresh).collect()
}

/// GET / on a new connection; the status, or what went wrong.
fn get_on_new_connection(port: u16) -> Result<u16, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).map_err(|e| format!("read: {e}"))?;
    if bytes.is_empty() {
        return Err("closed without a response".into());
    }
    Ok(support::parse_response(&bytes).status)
}

#[test]
fn ten_typescript_reloads_under_load_lose_no_request_and_keep_python_loaded() {
    let app = App::copy("load");
    let server = app.serve("2");
    let before = answer(&server, "/");
    assert_eq!(before["version"], 1, "{before}");
    let stop = Arc::new(AtomicBool::new(false));
    let clients = generate_load(server.port, stop.clone());
    for version in 2..=11 {
        app.edit("server.ts", &format!("VERSION = {}", version - 1), &format!("VERSION = {version}"));
        server.wait_for_error_line("server.ts changed: reloaded in");
        await_version(&server, version);
    }
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let loads: Vec<Load> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let answered: usize = loads.iter().map(|l| l.answered).sum();
    let errors: Vec<&String> = loads.iter().flat_map(|l| &l.errors).collect();
    let went_back: Vec<&String> = loads.iter().flat_map(|l| &l.went_back).collect();
    eprintln!("{answered} requests answered across 10 reloads");
    assert!(errors.is_empty(), "{} failed of {}: {errors:?}", errors.len(), answered + errors.len());
    assert!(went_back.is_empty(), "old code answered after new code on one connection: {went_back:?}");
    assert!(answered > 100, "the load generator got only {answered} answers");
    let after = answer(&server, "/");
    for module in ["model", "service", "other"] {
        assert_eq!(after[module], before[module], "{module}.py was executed again: {before} then {after}");
    }
}

#[test]
fn a_request_in_flight_finishes_on_the_code_it_started_on() {
    let app = App::copy("in-flight");
    let server = app.serve("1");
    let port = server.port;
    let slow = thread::spawn(move || {
        support::request(port, b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    });
    thread::sleep(Duration::from_millis(300));
    app.edit("server.ts", "VERSION = 1", "VERSION = 2");
    server.wait_for_error_line("server.ts changed: reloaded in");
    assert_eq!(answer(&server, "/")["version"], 2);
    let slow = slow.join().unwrap();
    assert_eq!(slow.status, 200, "{}", slow.body);
    assert_eq!(slow.json()["version"], 1, "the request begun before the reload: {}", slow.body);
}

#[test]
fn a_python_change_reexecutes_that_module_and_its_importers_only() {
    let app = App::copy("python");
    let server = app.serve("2");
    let before = answer(&server, "/");
    assert_eq!(before["label"], "pos");
    app.edit("model.py", "LABEL = \"pos\"", "LABEL = \"neg\"");
    let line = server.wait_for_error_line("model.py changed: reloaded in");
    assert!(line.contains("Python modules re-executed: model, service"), "{line}");
    // Both workers' isolates now hold the new functions.
    for _ in 0..8 {
        let after = answer(&server, "/");
        assert_eq!(after["label"], "neg", "{after}");
        assert_ne!(after["model"], before["model"], "model.py was not executed again");
        assert_ne!(after["service"], before["service"], "service.py imports model.py but was not executed again");
        assert_eq!(after["other"], before["other"], "other.py did not change but was executed again");
    }
}

#[test]
fn code_that_fails_to_load_is_reported_and_the_old_code_serves_on() {
    let app = App::copy("broken");
    let server = app.serve("1");
    app.edit("server.ts", "const VERSION = 1;", "const VERSION = 2;\nsyntax error(");
    let line = server.wait_for_error_line("server.ts changed, but the new code failed to load in 1 of 1 workers");
    assert!(line.contains("still serve the code loaded before"), "{line}");
    server.wait_for_error_line("SyntaxError");
    assert_eq!(answer(&server, "/")["version"], 1);

    app.edit("model.py", "def predict(text):", "def predict(text)");
    server.wait_for_error_line("model.py changed, but reloading the Python failed");
    server.wait_for_error_line("SyntaxError");
    assert_eq!(answer(&server, "/")["label"], "pos");

    app.edit("model.py", "def predict(text)", "def predict(text):");
    app.edit("server.ts", "syntax error(", "");
    await_version(&server, 2);
}

#[test]
fn a_reload_closes_the_old_code_s_websockets_with_1012() {
    let app = App::copy("websocket");
    let server = app.serve("1");
    let mut socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    app.edit("server.ts", "VERSION = 1", "VERSION = 2");
    server.wait_for_error_line("server.ts changed: reloaded in");
    // The server's frames are not masked: FIN + close, a short length,
    // then the code.
    let mut frame = [0u8; 4];
    socket.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 0x88, "not a close frame: {frame:?}");
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1012, "close code");
    assert_eq!(answer(&server, "/")["version"], 2);
}
