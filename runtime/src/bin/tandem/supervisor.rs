//! `--processes N`: a supervisor that runs N server processes on one port
//! (each binds with SO_REUSEPORT and has its own isolates and Python
//! interpreter, so Python-bound work uses every core), restarts a process
//! that dies, and turns SIGINT/SIGTERM into a graceful shutdown of all of
//! them, as gunicorn's and granian's masters do. It is the binary's: the
//! library serves one process, which the supervisor starts with
//! `--reuse-port`.

use std::ffi::OsString;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::signal::unix::{signal, SignalKind};

/// A process that keeps dying within this time of its start counts as a
/// crash loop; after [`MAX_QUICK_CRASHES`] in a row the supervisor gives up.
const QUICK_CRASH: Duration = Duration::from_secs(2);
const MAX_QUICK_CRASHES: u32 = 5;

/// Picks a free port for `--port 0`, so that every process binds the same one.
pub fn pick_port(host: &str) -> Result<u16> {
    let listener = std::net::TcpListener::bind((host, 0)).with_context(|| format!("cannot find a free port on {host}"))?;
    Ok(listener.local_addr()?.port())
}

struct Process {
    child: Child,
    started: Instant,
    quick_crashes: u32,
}

/// Runs `processes` copies of this program with `args` until a signal,
/// then waits up to `shutdown_timeout` (plus a grace second) for them.
pub fn supervise(processes: usize, args: Vec<OsString>, shutdown_timeout: Duration) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the supervisor")?;
    runtime.block_on(run(processes, args, shutdown_timeout))
}

fn spawn(index: usize, args: &[OsString]) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the tandem binary")?;
    let supervisor = std::process::id() as libc::pid_t;
    let mut command = Command::new(exe);
    command
        .args(args)
        // Its own process group: a terminal's Ctrl-C reaches only the
        // supervisor, which forwards one SIGTERM (a second signal would
        // make a process exit without draining).
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: prctl, getppid and _exit
    // are. It allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || {
            // A supervisor killed outright (SIGKILL, a crash) must not
            // leave its servers running on the port: each one gets SIGTERM
            // and drains. If it died before this line, exit now.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != supervisor {
                libc::_exit(0);
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("cannot start server process {index}"))
}

async fn run(processes: usize, args: Vec<OsString>, shutdown_timeout: Duration) -> Result<()> {
    const SIGNALS: &str = "cannot install signal handlers";
    let mut interrupt = signal(SignalKind::interrupt()).context(SIGNALS)?;
    let mut terminate = signal(SignalKind::terminate()).context(SIGNALS)?;
    // SIGCHLD says a child exited: installed before the first spawn, so no
    // exit goes unseen. Signals of several exits may merge into one, so each
    // wakes a look at every child.
    let mut exited = signal(SignalKind::child()).context(SIGNALS)?;
    let mut children = Vec::with_capacity(processes);
    for index in 0..processes {
        children.push(Process { child: spawn(index, &args)?, started: Instant::now(), quick_crashes: 0 });
    }
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = exited.recv() => {}
        }
        for (index, process) in children.iter_mut().enumerate() {
            let Ok(Some(status)) = process.child.try_wait() else { continue };
            let quick = process.started.elapsed() < QUICK_CRASH;
            let quick_crashes = if quick { process.quick_crashes + 1 } else { 0 };
            if quick_crashes >= MAX_QUICK_CRASHES {
                stop_all(&mut children, &mut exited, shutdown_timeout).await;
                bail!("server process {index} exited ({status}) {MAX_QUICK_CRASHES} times right after starting; giving up");
            }
            eprintln!("server process {index} (pid {}) exited ({status}); restarting it", process.child.id());
            if quick {
                tokio::time::sleep(QUICK_CRASH / 2).await;
            }
            *process = Process { child: spawn(index, &args)?, started: Instant::now(), quick_crashes };
        }
    }
    stop_all(&mut children, &mut exited, shutdown_timeout).await;
    Ok(())
}

/// SIGTERM to every process, then waits (woken by `exited`, SIGCHLD);
/// SIGKILL to any still running after the deadline.
async fn stop_all(children: &mut [Process], exited: &mut tokio::signal::unix::Signal, shutdown_timeout: Duration) {
    for process in children.iter() {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet
        // (a reaped child is skipped by try_wait below).
        unsafe { libc::kill(process.child.id() as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = tokio::time::Instant::now() + shutdown_timeout + Duration::from_secs(1);
    loop {
        let mut running = 0;
        for process in children.iter_mut() {
            if matches!(process.child.try_wait(), Ok(None)) {
                running += 1;
            }
        }
        if running == 0 {
            return;
        }
        if tokio::time::timeout_at(deadline, exited.recv()).await.is_err() {
            for process in children.iter_mut() {
                let _ = process.child.kill();
                let _ = process.child.wait();
            }
            return;
        }
    }
}
