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

/// The value of one metric line (`name{labels}`) the server reports.
fn metric(server: &Server, series: &str) -> f64 {
    let text = server.get("/metrics").body;
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
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
    assert_eq!(metric(&server, r#"tandem_interrupts_total{what="javascript"}"#), 2.0);
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

/// Raises this test process's limit on open files to at least `wanted`
/// (the hard limit allows it on the machines the suite runs on; if not,
/// the test says so instead of failing obscurely).
fn allow_open_files(wanted: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read or write only the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            assert!(limit.rlim_max >= wanted, "this test needs {wanted} open files; the hard limit is {}", limit.rlim_max);
            limit.rlim_cur = wanted;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// `count` connections that send nothing (or half a request head, every
/// other one: a slow client), held open by the caller. They are opened in
/// batches the server's accept queue can hold: a burst past it has its
/// handshakes dropped and retried a second later, which would time the
/// kernel, not the server.
fn idle_connections(port: u16, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for i in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect an idle connection");
        if i % 2 == 1 {
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        }
        streams.push(stream);
        if i % 1000 == 999 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    streams
}

#[test]
fn ten_thousand_idle_connections_leave_other_clients_served_at_once() {
    allow_open_files(11_000);
    // The header timeout (which also closes idle keep-alive connections)
    // is longer than the test.
    let server = Server::start(&["--workers", "1", "--header-timeout", "60"], RUNAWAY);
    let idle = idle_connections(server.port, 10_000);
    for _ in 0..20 {
        let (r, took) = timed_get(&server, "/");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(took < Duration::from_secs(1), "a request beside 10,000 idle connections took {took:?}");
    }
    // They were held open, not dropped: one of the last (which sent
    // nothing) still serves.
    let mut last = &idle[idle.len() - 2];
    last.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    last.read_to_end(&mut answer).unwrap();
    assert_eq!(parse_response(&answer).status, 200);
}

/// Whether the server closed `stream` (it reads end-of-file or a reset
/// within a short wait; an open idle connection reads nothing).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    match stream.read(&mut [0u8; 1024]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn at_the_connection_limit_the_longest_idle_connections_make_room() {
    let flags = ["--workers", "1", "--max-connections", "20", "--header-timeout", "60"];
    let server = Server::start(&flags, RUNAWAY);
    let mut idle = idle_connections(server.port, 20);
    // Each request finds the process at its limit: it is served, not
    // refused nor kept waiting for the idle ones to time out.
    for _ in 0..5 {
        let (r, took) = timed_get(&server, "/");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(took < Duration::from_secs(2), "served after {took:?} at the connection limit");
    }
    // Room was made by closing idle connections, the longest idle first.
    assert!(closed_by_server(&mut idle[0]), "the first idle connection is still open");
    let closed = idle.iter_mut().map(closed_by_server).filter(|&c| c).count();
    assert!((1..20).contains(&closed), "{closed} of 20 idle connections closed");
    assert!(metric(&server, "tandem_connections_shed_total") >= closed as f64);
}

#[test]
fn a_python_call_past_its_limit_throws_in_the_handler_which_answers() {
    let flags = ["--workers", "1", "--python-call-timeout", "0.3", "--handler-timeout", "10"];
    let server = Server::start(&flags, RUNAWAY);
    let (r, took) = timed_get(&server, "/py-limited");
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["pythonType"], "TimeoutError", "{body}");
    assert!(body["message"].as_str().unwrap().contains("spin() ran past its time limit of 0.3 s"), "{body}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // withTimeout() sets a function's own limit, under the same default.
    let body = server.get("/py-own-limit").json();
    assert!(body["message"].as_str().unwrap().contains("time limit of 0.1 s"), "{body}");
    assert_eq!(server.get("/py-state").json()["finally"], 2);
    assert_eq!(server.get("/").json()["served"], 1);
    assert_eq!(metric(&server, r#"tandem_interrupts_total{what="python_call_limit"}"#), 2.0);
}

#[test]
fn the_call_limit_comes_from_the_environment_too() {
    let env = [("TANDEM_PYTHON_CALL_TIMEOUT", "0.2")];
    let server = Server::start_with_env(&["--workers", "1"], RUNAWAY, 1, &env);
    let body = server.get("/py-limited").json();
    assert!(body["message"].as_str().unwrap().contains("time limit of 0.2 s"), "{body}");
}

#[test]
fn the_servers_of_a_supervisor_killed_outright_exit_too() {
    let server = Server::start_expecting(&["--processes", "2", "--workers", "1"], RUNAWAY, 2);
    assert_eq!(server.get("/").status, 200);
    server.signal(libc::SIGKILL);
    // The kernel sends its server processes SIGTERM (they drain and exit):
    // nothing is left listening on the port.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(Instant::now() < deadline, "the server processes outlived their supervisor by 10 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_mounted_wsgi_app_past_the_deadline_is_interrupted_and_frees_its_thread() {
    // One Python thread for mounted apps: were the loop not interrupted,
    // the second WSGI request could not be served.
    let flags = ["--workers", "1", "--wsgi-threads", "1", "--handler-timeout", "1"];
    let server = Server::start(&flags, "tests/reliability/runaway_mount.ts");
    let (r, took) = timed_get(&server, "/py/loop");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    let state = server.get("/py/").json();
    assert_eq!(state["finally"], 1, "{state}");
    assert_eq!(state["caught"][0], "tandem.TimeoutError", "{state}");
    assert_eq!(server.get("/ts").body, "from TypeScript");
    assert_eq!(metric(&server, r#"tandem_interrupts_total{what="wsgi"}"#), 1.0);
}

/// Polls `/py-state` until `done` holds of it (for up to 5 s), and returns it.
fn python_state_when(server: &Server, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let state = server.get("/py-state").json();
        if done(&state) || started.elapsed() > Duration::from_secs(5) {
            return state;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_pending_async_python_call_is_cancelled_at_the_deadline() {
    let server = one_worker("1");
    let (r, took) = timed_get(&server, "/py-async-sleep");
    assert_cut_at_deadline(&r, took, Duration::from_secs(1));
    // The coroutine saw asyncio's CancelledError (rather than sleeping its
    // 30 s out), and the worker serves on.
    let state = python_state_when(&server, |s| s["awaits"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(state["awaits"], serde_json::json!(["asyncio.exceptions.CancelledError"]), "{state}");
    assert_eq!(server.get("/py-async-quick").json(), "slept");
    assert_eq!(server.get("/").json()["served"], 1);
}

#[test]
fn a_client_that_goes_away_cancels_its_pending_async_python_call() {
    let server = one_worker("60");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(b"GET /py-async-sleep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(stream);
    let state = python_state_when(&server, |s| s["awaits"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(state["awaits"], serde_json::json!(["asyncio.exceptions.CancelledError"]), "{state}");
}

#[test]
fn an_async_python_call_past_its_limit_is_cancelled_and_throws_a_timeout_error() {
    let server = one_worker("10");
    let (r, took) = timed_get(&server, "/py-async-limited");
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["pythonType"], "TimeoutError", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("sleep_async() ran past its time limit of 0.2 s and was cancelled"), "{body}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let state = server.get("/py-state").json();
    assert_eq!(state["awaits"], serde_json::json!(["asyncio.exceptions.CancelledError"]), "{state}");
}

#[test]
fn the_default_call_limit_applies_to_async_python_calls() {
    let flags = ["--workers", "1", "--python-call-timeout", "0.3", "--handler-timeout", "10"];
    let server = Server::start(&flags, RUNAWAY);
    let (r, took) = timed_get(&server, "/py-async-sleep");
    // The handler does not catch: the Python TimeoutError is a 500.
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let state = server.get("/py-state").json();
    assert_eq!(state["awaits"], serde_json::json!(["asyncio.exceptions.CancelledError"]), "{state}");
}

#[test]
fn a_batched_call_whose_request_aborted_is_left_out_of_later_batches() {
    let server = one_worker("1");
    // `a` holds the batching thread for 1.5 s; `b` queues behind it, and
    // both requests pass their 1 s deadline while `a` runs.
    let a = in_background(server.port, "/py-batch?tag=a&seconds=1.5");
    std::thread::sleep(Duration::from_millis(200));
    let b = in_background(server.port, "/py-batch?tag=b&seconds=0");
    assert_eq!(a.join().unwrap().status, 503);
    assert_eq!(b.join().unwrap().status, 503);
    std::thread::sleep(Duration::from_millis(800));
    // `a`'s batch had started, so it ran out; `b` never ran.
    let state = server.get("/py-state").json();
    assert_eq!(state["batched"], serde_json::json!(["a"]), "{state}");
    assert_eq!(server.get("/py-batch?tag=c&seconds=0").json(), "c");
}
