//! A corpus of malformed HTTP sent to the real server, for a TypeScript
//! app (`tandem run`) and a WSGI app (`tandem run --wsgi`): bad request
//! lines, bad and conflicting framing, oversized heads, broken chunked
//! bodies, and handlers that try to put a line break into the response
//! head. Each case must get the status it names (or, for the response
//! cases, a 500 with nothing injected), and after every case the server
//! must still answer a well-formed request.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use support::{parse_response, Response, Server};

/// One malformed exchange and the answer it must get.
struct Case {
    name: &'static str,
    raw: Vec<u8>,
    /// The client stops sending after `raw` (half-close), as a client that
    /// sent a short body and gave up would.
    half_close: bool,
    expect: Expect,
}

enum Expect {
    Status(u16),
    /// A 500 whose head carries no `set-cookie` (the injection failed).
    NotInjected,
}

fn case(name: &'static str, raw: impl Into<Vec<u8>>, status: u16) -> Case {
    Case { name, raw: raw.into(), half_close: false, expect: Expect::Status(status) }
}

fn post(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n{body}").into_bytes()
}

fn corpus() -> Vec<Case> {
    let long_value = "a".repeat(1024 * 1024);
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let long_path = format!("/{}", "p".repeat(70 * 1024));
    vec![
        // Request lines.
        case("garbage request line", "HELLO\r\n\r\n", 400),
        case("no HTTP version (HTTP/0.9)", "GET /\r\n\r\n", 400),
        // hyper's parser refuses any version but 1.0 and 1.1 as a bad
        // request line rather than with 505.
        case("unknown HTTP version", "GET / HTTP/3.7\r\nHost: x\r\n\r\n", 400),
        case("space inside the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        case("control byte in the target", "GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        case("invalid method token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        case("target longer than 64 KiB", format!("GET {long_path} HTTP/1.1\r\nHost: x\r\n\r\n"), 414),
        // Header fields.
        case("space in a header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
        case("obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        case("NUL in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400),
        case("a header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        case("a 1 MiB header value", format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {long_value}\r\n\r\n"), 431),
        case("200 header fields", format!("GET / HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"), 431),
        // Framing: Content-Length.
        case("two different Content-Lengths", post("/echo", "Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"), 400),
        case("a Content-Length list with different values", post("/echo", "Content-Length: 3, 4\r\n", "abcd"), 400),
        case("Content-Length not a number", post("/echo", "Content-Length: abc\r\n", "abc"), 400),
        case("negative Content-Length", post("/echo", "Content-Length: -1\r\n", "abc"), 400),
        case("Content-Length past u64", post("/echo", "Content-Length: 99999999999999999999999\r\n", "abc"), 400),
        Case {
            name: "body shorter than its Content-Length, then the client stops sending",
            raw: post("/echo", "Content-Length: 10\r\n", "abc"),
            half_close: true,
            expect: Expect::Status(400),
        },
        // Framing: Transfer-Encoding.
        case("Transfer-Encoding that does not end in chunked", post("/echo", "Transfer-Encoding: gzip\r\n", "abc"), 400),
        // RFC 9112 section 6.1: a coding the server does not implement is 501.
        case("an unknown transfer coding", post("/echo", "Transfer-Encoding: bogus, chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), 501),
        case("gzip before chunked", post("/echo", "Transfer-Encoding: gzip, chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), 501),
        case("chunk size not hexadecimal", post("/echo", "Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"), 400),
        case("chunk longer than its size", post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\nabcdef\r\n0\r\n\r\n"), 400),
        case(
            "chunk size past u64",
            post("/echo", "Transfer-Encoding: chunked\r\n", "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
            400,
        ),
        Case {
            name: "chunked body cut off, then the client stops sending",
            raw: post("/echo", "Transfer-Encoding: chunked\r\n", "a\r\nabc"),
            half_close: true,
            expect: Expect::Status(400),
        },
        // Responses: a handler may not split the response head.
        Case { name: "CRLF in a response header value", raw: get("/inject/header"), half_close: false, expect: Expect::NotInjected },
        Case { name: "CRLF in a response header name", raw: get("/inject/name"), half_close: false, expect: Expect::NotInjected },
        Case {
            name: "CRLF in the response's status text",
            raw: get("/inject/status-text"),
            half_close: false,
            expect: Expect::NotInjected,
        },
    ]
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Sends `case` on a new connection and reads until the server closes it.
fn exchange(port: u16, case: &Case) -> Result<Response, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(&case.raw);
    if case.half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        // A reset after the answer was sent: the answer still counts.
        Err(_) if !bytes.is_empty() => {}
        Err(e) => return Err(format!("no answer: {e}")),
    }
    if bytes.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    Ok(parse_response(&bytes))
}

fn check(response: &Response, expect: &Expect) -> Result<(), String> {
    match expect {
        Expect::Status(status) if response.status == *status => Ok(()),
        Expect::Status(status) => Err(format!("got {} instead of {status}", response.status)),
        Expect::NotInjected if response.header("set-cookie").is_some() => {
            Err(format!("a header was injected: {:?}", response.headers))
        }
        Expect::NotInjected if response.status != 500 => Err(format!("got {} instead of 500", response.status)),
        Expect::NotInjected => Ok(()),
    }
}

/// Runs the corpus against `server`, checking after each case that a
/// well-formed request is still answered, and reports every failure.
fn run_corpus(server: &Server) {
    let mut failures = Vec::new();
    for case in corpus() {
        if let Err(why) = exchange(server.port, &case).and_then(|r| check(&r, &case.expect)) {
            failures.push(format!("{}: {why}", case.name));
        }
        let after = server.get("/");
        if after.status != 200 || after.body != "hello" {
            failures.push(format!("after {:?} a plain GET got {} {:?}", case.name, after.status, after.body));
        }
    }
    // A good body still reaches the app whole, both ways of framing it.
    let echoed = support::request(server.port, &post("/echo", "Content-Length: 3\r\nContent-Length: 3\r\n", "abc"));
    if echoed.status != 200 || echoed.json()["text"] != "abc" {
        failures.push(format!("two equal Content-Lengths: {} {}", echoed.status, echoed.body));
    }
    let chunked =
        support::request(server.port, &post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    if chunked.status != 200 || chunked.json()["text"] != "abcde" {
        failures.push(format!("a well-formed chunked body: {} {}", chunked.status, chunked.body));
    }
    assert!(failures.is_empty(), "{} of the corpus failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_typescript_app_answers_every_malformed_request_and_serves_on() {
    let server = Server::start(&["--workers", "1"], "tests/malformed/app.ts");
    run_corpus(&server);
}

#[test]
fn a_wsgi_app_answers_every_malformed_request_and_serves_on() {
    let server = Server::start(&["--workers", "1", "--wsgi"], "tests/malformed/app.py");
    run_corpus(&server);
}
