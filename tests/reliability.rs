//! End-to-end tests of what a fault does to a server: the real `tandem`
//! binary serving tests/reliability/runaway.ts, whose routes run away on
//! purpose, spoken to over loopback. Each test checks that the runaway
//! request is answered at its deadline and that the worker then serves
//! other requests correctly, with its isolate's state intact.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{parse_response, Response, Server};

const RUNAWAY: &str = "tests/reliability/runaway.ts";

/// One worker, so that a stuck handler would hold every request.
fn one_worker(timeout: &str) -> Server {
    Server::start(&["--workers", "1", "--handler-timeout", timeout], RUNAWAY)
}

/// `GET path`, timed.
fn timed_get(server: &Server, path: &str) -> (Response, Duration) {
    let started = Instant::now();
    let response = server.get(path);
    (response, started.elapsed())
}

/// `GET path` on a thread of its own; join it for the response.
fn in_background(port: u16, path: &'static str) -> std::thread::JoinHandle<Response> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        parse_response(&answer)
    })
}

/// The answer to a runaway request: 503 with the request id, at the
/// deadline (give or take the watchdog's grace and a busy machine).
fn assert_cut_at_deadline(response: &Response, took: Duration, deadline: Duration) {
    assert_eq!(response.status, 503, "{}", response.body);
    let body = response.json();
    assert!(body["error"].as_str().unwrap().contains("--handler-timeout"), "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(took >= deadline, "answered after {took:?}, before the {deadline:?} deadline");
    assert!(took < deadline + Duration::from_millis(1500), "answered after {took:?}, deadline {deadline:?}");
}

#[test]
fn a_javascript_busy_loop_is_terminated_and_the_worker_serves_on() {
    let server = one_worker("1");
    assert_eq!(server.get("/").json()["served"], 1);
    let (r, took) = timed_get(&server, "/js-loop");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    // The same isolate, recovered in place: its module state survived.
    assert_eq!(server.get("/").json()["served"], 2);
    // And it can be stopped again.
    let (r, took) = timed_get(&server, "/js-loop");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    assert_eq!(server.get("/").json()["served"], 3);
}

#[test]
fn a_busy_loop_after_an_await_is_terminated_too() {
    let server = one_worker("1");
    let (r, took) = timed_get(&server, "/js-loop-after-await");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    assert_eq!(server.get("/").json()["served"], 1);
}

#[test]
fn requests_queued_behind_a_stuck_handler_are_served_after_it_is_cut() {
    let server = one_worker("1");
    let stuck = in_background(server.port, "/js-loop");
    std::thread::sleep(Duration::from_millis(200));
    // Arrives while the worker is stuck; its own deadline is later, so it
    // is answered normally once the runaway is cut.
    let queued = server.get("/");
    assert_eq!((queued.status, queued.json()["served"].clone()), (200, 1.into()));
    assert_eq!(stuck.join().unwrap().status, 503);
}

#[test]
fn a_python_busy_loop_gets_a_timeout_error_and_its_finally_runs() {
    let server = one_worker("1");
    let (r, took) = timed_get(&server, "/py-loop");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    let (r, took) = timed_get(&server, "/py-with");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    let state = server.get("/py-state").json();
    assert_eq!(state["finally"], 1, "{state}");
    assert_eq!(state["exits"], 1, "the with block's exit ran: {state}");
    let caught = state["caught"][0].as_str().unwrap();
    assert!(caught.starts_with("tandem.TimeoutError: interrupted by Tandem"), "{caught}");
    assert_eq!(server.get("/").json()["served"], 1);
}

#[test]
fn a_handler_that_would_catch_the_python_timeout_is_still_cut() {
    let server = one_worker("1");
    let (r, took) = timed_get(&server, "/py-loop-caught");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    assert_eq!(server.get("/py-state").json()["finally"], 1, "Python's finally ran");
    assert_eq!(server.get("/").json()["served"], 1);
    // JavaScript was terminated as the Python call returned: the handler's
    // catch block (which logs, then loops) never ran.
    let printed: Vec<String> = server.lines.try_iter().collect();
    assert!(!printed.iter().any(|line| line.contains("caught")), "{printed:?}");
}

#[test]
fn each_process_of_several_recovers() {
    let server = Server::start_expecting(
        &["--processes", "2", "--workers", "1", "--handler-timeout", "1"],
        RUNAWAY,
        2,
    );
    for _ in 0..4 {
        let (r, took) = timed_get(&server, "/py-loop");
        assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    }
    for _ in 0..10 {
        let r = server.get("/");
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[test]
fn sigterm_with_a_stuck_handler_answers_it_and_exits_on_time() {
    // The handler deadline (60 s) is far off: the shutdown's is what cuts
    // the runaway handler short.
    let server = Server::start(&["--workers", "1", "--shutdown-timeout", "1"], RUNAWAY);
    let stuck = in_background(server.port, "/js-loop");
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let waited = signalled.elapsed();
    // The shutdown timeout plus one second, with room for a busy machine.
    assert!(waited < Duration::from_millis(2500), "exited {waited:?} after SIGTERM with --shutdown-timeout 1");
    let answer = stuck.join().unwrap();
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("--shutdown-timeout"), "{}", answer.body);
}

#[test]
fn a_wsgi_busy_loop_is_interrupted_and_frees_its_python_thread() {
    // One Python thread: were the loop not interrupted, nothing else could
    // be served.
    let flags = ["--wsgi", "--wsgi-threads", "1", "--handler-timeout", "1"];
    let server = Server::start(&flags, "tests/reliability/runaway_wsgi.py");
    let (r, took) = timed_get(&server, "/loop");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    let state = server.get("/").json();
    assert_eq!(state["finally"], 1, "{state}");
    assert_eq!(state["caught"][0], "tandem.TimeoutError", "{state}");
}
