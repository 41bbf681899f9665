//! End-to-end tests of the supervisor (`--processes`, `--max-requests`,
//! `--max-memory`): the real binary serving tests/reliability/recycle.ts,
//! whose Python can grow its memory and crash. Each test checks that
//! clients are answered through the fault or the recycling, and that what
//! the supervisor reports is what the clients saw.

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{both_serve, parse_response, pid, Server};

const RECYCLE: &str = "tests/reliability/recycle.ts";

/// `GET path` on a thread of its own: the pid that answered, or `None`
/// when the connection closed without an answer.
fn answered_by(port: u16, path: &'static str) -> std::thread::JoinHandle<Option<i32>> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        (!answer.is_empty()).then(|| parse_response(&answer).body.parse().unwrap())
    })
}

fn kill(pid: i32, signal: i32) {
    // SAFETY: kill(2) on a server process of the supervisor this test
    // started, which answered a request a moment ago.
    unsafe { libc::kill(pid, signal) };
}

#[test]
fn past_max_requests_a_process_is_replaced_and_no_request_is_refused() {
    let server = Server::start(&["--workers", "1", "--max-requests", "20"], RECYCLE);
    let port = server.port;
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deadline = Instant::now() + Duration::from_secs(60);
    // Four clients, a new connection per request (each one a chance to be
    // refused while a process retires), until three processes answered.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut requests = 0;
                while seen.lock().unwrap().len() < 3 {
                    assert!(Instant::now() < deadline, "fewer than 3 processes in 60 s: {:?}", seen.lock().unwrap());
                    let pid = pid(port);
                    seen.lock().unwrap().insert(pid);
                    requests += 1;
                }
                requests
            })
        })
        .collect();
    let requests: u32 = clients.into_iter().map(|c| c.join().expect("a request failed")).sum();
    assert!(requests >= 40, "three processes served only {requests} requests under --max-requests 20");
    let line = server.wait_for_error_line("retired after");
    assert!(line.starts_with("server process 0 (pid "), "{line}");
    server.wait_for_error_line("--max-requests");
}

#[test]
fn past_max_memory_a_process_is_replaced() {
    let server = Server::start(&["--workers", "1", "--max-memory", "400MiB"], RECYCLE);
    let first = pid(server.port);
    assert_eq!(pid(server.port), first, "replaced before its memory grew");
    let grown = server.get("/grow?mib=500");
    assert_eq!(grown.status, 200, "{}", grown.body);
    let line = server.wait_for_error_line("over --max-memory");
    assert!(line.contains(&format!("(pid {first}) uses ")), "{line}");
    server.wait_for_error_line(&format!("(pid {first}) retired after"));
    let after = pid(server.port);
    assert_ne!(after, first);
    // The replacement is small again: it stays.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(pid(server.port), after);
}

#[test]
fn a_segfault_in_native_code_loses_only_its_own_request_and_is_reported() {
    let server = Server::start_expecting(&["--processes", "2", "--workers", "1"], RECYCLE, 2);
    assert_eq!(answered_by(server.port, "/segfault").join().unwrap(), None, "a segfault answered");
    let line = server.wait_for_error_line("was killed by signal");
    assert!(line.contains("signal 11 (SIGSEGV"), "{line}");
    assert!(line.contains("in flight: 1 request (no answer sent)"), "{line}");
    server.wait_for_error_line("restarting server process");
    // Every request after it is answered, by the survivor and the new one.
    server.wait_for_line("Listening on");
    both_serve(server.port);
}

#[test]
fn kill_9_under_load_loses_the_requests_in_flight_there_and_says_how_many() {
    let server = Server::start_expecting(&["--processes", "2", "--workers", "1"], RECYCLE, 2);
    let port = server.port;
    let both = both_serve(port);
    let victim = *both.iter().next().unwrap();
    // The kernel spreads the connections between the two processes; with
    // 16 of them the victim almost always holds some.
    let waiting: Vec<_> = (0..16).map(|_| answered_by(port, "/wait?ms=2000")).collect();
    std::thread::sleep(Duration::from_millis(700));
    kill(victim, libc::SIGKILL);
    let answers: Vec<Option<i32>> = waiting.into_iter().map(|w| w.join().unwrap()).collect();
    let lost = answers.iter().filter(|a| a.is_none()).count();
    assert!(answers.iter().flatten().all(|&pid| pid != victim), "{answers:?}");
    let line = server.wait_for_error_line(&format!("(pid {victim}) was killed by signal 9"));
    let reported = match lost {
        0 => "nothing was in flight".to_string(),
        1 => "in flight: 1 request (".to_string(),
        _ => format!("in flight: {lost} requests ("),
    };
    assert!(line.contains(&reported), "{lost} clients got no answer, the supervisor said: {line}");
    // Served on: by the survivor and then by the replacement too.
    server.wait_for_line("Listening on");
    assert!(!both_serve(port).contains(&victim));
}
