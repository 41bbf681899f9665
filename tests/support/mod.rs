//! What the end-to-end tests share: the real `tandem` binary started as a
//! server on a free port, and a plain-TCP HTTP client (so that slow
//! clients, disconnects and raw responses can be tested too).
#![allow(dead_code)] // each test binary uses its own part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Lines the server printed after "Listening on".
    pub lines: mpsc::Receiver<String>,
    /// Lines it printed on stderr (echoed to the test's stderr too).
    pub errors: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(flags: &[&str], script: &str) -> Server {
        Self::start_expecting(flags, script, 1)
    }

    /// Starts the server and waits for `listening` "Listening on" lines.
    pub fn start_expecting(flags: &[&str], script: &str, listening: usize) -> Server {
        Self::start_with_env(flags, script, listening, &[])
    }

    /// As `start_expecting`, with extra environment variables.
    pub fn start_with_env(flags: &[&str], script: &str, listening: usize, env: &[(&str, &str)]) -> Server {
        let script = root().join(script);
        let mut args = vec!["--port", "0"];
        args.extend_from_slice(flags);
        args.push(script.to_str().unwrap());
        Self::launch(&args, listening, env)
    }

    /// `tandem run ARGS` as given (no `--port 0` added), waiting for
    /// `listening` "Listening on" lines.
    pub fn launch(args: &[&str], listening: usize, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .envs(env.iter().copied())
            .arg("run")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tandem");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let (errors_tx, errors) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let _ = errors_tx.send(line);
            }
        });
        let mut port = 0;
        let mut seen = 0;
        while seen < listening {
            let line = rx.recv_timeout(Duration::from_secs(60)).expect("server did not start");
            if let Some(rest) = line.strip_prefix("Listening on http://") {
                port = rest.trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();
                seen += 1;
            }
        }
        Server { child, port, lines: rx, errors }
    }

    pub fn request(&self, raw: &str) -> Response {
        request(self.port, raw.as_bytes())
    }

    pub fn get(&self, path: &str) -> Response {
        let port = self.port;
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"))
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        post(self.port, path, "", body)
    }

    /// Waits for a printed line containing `needle`.
    pub fn wait_for_line(&self, needle: &str) -> String {
        wait_for(&self.lines, needle, "printed")
    }

    /// Waits for a line on stderr containing `needle`.
    pub fn wait_for_error_line(&self, needle: &str) -> String {
        wait_for(&self.errors, needle, "logged on stderr")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    pub fn wait_exit(mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            if line.contains(needle) {
                return line;
            }
        }
    }
    panic!("the server never {what} a line with {needle:?}");
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// POSTs a JSON `body` to `path`; `headers` are extra lines, each ending
/// in `\r\n`.
pub fn post(port: u16, path: &str, headers: &str, body: &str) -> Response {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    request(port, raw.as_bytes())
}

/// Sends a raw request (which should say `Connection: close`) and reads the
/// whole response, de-chunking the body.
pub fn request(port: u16, raw: &[u8]) -> Response {
    request_to("127.0.0.1", port, raw)
}

/// As [`request`], to another loopback address.
pub fn request_to(host: &str, port: u16, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect((host, port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // A server may answer before reading the whole request (413 on a
    // large body) and close: the answer is still there to read.
    let _ = stream.write_all(raw);
    let mut bytes = Vec::new();
    let read = stream.read_to_end(&mut bytes);
    assert!(!bytes.is_empty(), "no response: {read:?}");
    parse_response(&bytes)
}

/// A kept-alive connection: requests go one after another on the same
/// socket, so they reach the same server worker.
pub struct Connection(BufReader<TcpStream>);

impl Connection {
    pub fn open(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Connection(BufReader::new(stream))
    }

    /// GETs `path` and reads one response (which must carry Content-Length).
    pub fn get(&mut self, path: &str) -> Response {
        self.try_get(path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Connection::get`], saying what went wrong instead of panicking.
    pub fn try_get(&mut self, path: &str) -> Result<Response, String> {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.0.get_mut().write_all(raw.as_bytes()).map_err(|e| format!("send: {e}"))?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let read = self.0.read_until(b'\n', &mut head).map_err(|e| format!("read the head: {e}"))?;
            if read == 0 {
                return Err(format!("the connection closed: {}", String::from_utf8_lossy(&head)));
            }
        }
        let mut response = parse_response(&head);
        let length: usize = response.header("content-length").ok_or("no Content-Length")?.parse().unwrap();
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).map_err(|e| format!("read the body: {e}"))?;
        response.body = String::from_utf8_lossy(&body).into_owned();
        Ok(response)
    }
}

pub fn parse_response(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked");
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Response { status, headers, body }
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The pid of the process that answers `GET /pid` on a new connection.
pub fn pid(port: u16) -> i32 {
    let response = request(port, b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(response.status, 200, "{}", response.body);
    response.body.parse().unwrap()
}

/// Waits until two processes have answered (all accept from one socket,
/// so which one takes a connection is the kernel's choice); returns them.
pub fn both_serve(port: u16) -> std::collections::HashSet<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "only {seen:?} answered in 20 s");
        seen.insert(pid(port));
    }
    seen
}
