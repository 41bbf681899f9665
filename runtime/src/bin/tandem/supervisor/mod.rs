//! The supervisor behind `--processes N`, `--max-requests` and
//! `--max-memory`: runs N server processes that accept from one listening
//! socket (each has its own isolates and Python interpreter, so
//! Python-bound work uses every core), restarts a process that dies and
//! says what it lost, replaces a process past its request or memory limit
//! (the replacement starts first, then the old one drains: no request is
//! refused), and turns SIGINT/SIGTERM into a graceful shutdown of all of
//! them, as gunicorn's and granian's masters do. It is the binary's: the
//! library serves one process.

mod handoff;
mod tally_page;

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

pub(crate) use handoff::binder;
pub(crate) use tally_page::attach as attach_tally;
use tally_page::TallyPage;

/// A process that keeps dying within this time of its start counts as a
/// crash loop; after [`MAX_QUICK_CRASHES`] in a row the supervisor gives up.
const QUICK_CRASH: Duration = Duration::from_secs(2);
const MAX_QUICK_CRASHES: u32 = 5;

/// How often the supervisor reads its processes' tallies (readiness, the
/// request limit).
const TICK: Duration = Duration::from_millis(50);

/// How often it reads their memory use (the memory limit).
const MEMORY_CHECK: Duration = Duration::from_secs(1);

/// What to run and the limits a process lives under.
pub(crate) struct Plan {
    pub(crate) processes: usize,
    /// The server flags of each process; `entry` (the file and the script's
    /// arguments) comes after them and the supervisor's own.
    pub(crate) flags: Vec<OsString>,
    pub(crate) entry: Vec<OsString>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_requests: Option<u64>,
    pub(crate) max_requests_jitter: u64,
    pub(crate) max_memory: Option<u64>,
}

/// Runs the plan until a signal, then waits up to its shutdown timeout
/// (plus a grace second) for the processes.
pub(crate) fn supervise(plan: Plan) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the supervisor")?;
    runtime.block_on(async move {
        let (found, listeners) = mpsc::unbounded_channel();
        let mut supervisor = Supervisor {
            quick_crashes: vec![0; plan.processes],
            plan,
            processes: Vec::new(),
            listener: None,
            found,
        };
        supervisor.run(listeners).await
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Loading; not yet accepting.
    Starting,
    Serving,
    /// Past a limit: serving until its replacement is ready.
    Retiring,
    /// Sent SIGTERM: finishing its requests, then exiting.
    Draining,
}

struct Process {
    /// Which of the N it is (a replacement takes the slot of the one it
    /// replaces).
    slot: usize,
    child: Child,
    started: Instant,
    tally: TallyPage,
    control: OwnedFd,
    /// Asked to bind the socket and send it up.
    binds: bool,
    /// Has the listening socket (was sent it, or bound it and sent it).
    listens: bool,
    max_requests: Option<u64>,
    state: State,
}

struct Supervisor {
    plan: Plan,
    processes: Vec<Process>,
    /// Dying quickly in a row, by slot.
    quick_crashes: Vec<u32>,
    /// The shared listening socket, once the first process has bound it.
    listener: Option<OwnedFd>,
    /// Where the thread waiting on a binding process sends the socket.
    found: mpsc::UnboundedSender<(u32, OwnedFd)>,
}

impl Supervisor {
    async fn run(&mut self, mut listeners: mpsc::UnboundedReceiver<(u32, OwnedFd)>) -> Result<()> {
        const SIGNALS: &str = "cannot install signal handlers";
        let mut interrupt = signal(SignalKind::interrupt()).context(SIGNALS)?;
        let mut terminate = signal(SignalKind::terminate()).context(SIGNALS)?;
        // SIGCHLD says a child exited: installed before the first spawn, so
        // no exit goes unseen. Signals of several exits may merge into one,
        // so each wakes a look at every child.
        let mut exited = signal(SignalKind::child()).context(SIGNALS)?;
        for slot in 0..self.plan.processes {
            self.spawn(slot)?;
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut memory_checked = Instant::now();
        loop {
            tokio::select! {
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
                _ = exited.recv() => {
                    if let Err(e) = self.reap().await {
                        self.stop_all(&mut exited).await;
                        return Err(e);
                    }
                }
                Some((pid, listener)) = listeners.recv() => self.share(pid, listener),
                _ = tick.tick() => {
                    let check_memory = memory_checked.elapsed() >= MEMORY_CHECK;
                    if check_memory {
                        memory_checked = Instant::now();
                    }
                    self.check(check_memory)?;
                }
            }
        }
        self.stop_all(&mut exited).await;
        Ok(())
    }

    /// Starts a process in `slot`, passing it its tally page, its end of a
    /// socket pair, and the listening socket if there is one yet.
    fn spawn(&mut self, slot: usize) -> Result<()> {
        let tally = TallyPage::new()?;
        let (control, theirs) = handoff::pair().context("cannot create a socket pair")?;
        let binds = self.listener.is_none() && !self.processes.iter().any(|p| p.binds && !p.listens);
        let mut args = self.plan.flags.clone();
        args.extend(["--tally-fd".into(), tally.raw_fd().to_string().into()]);
        args.extend(["--control-fd".into(), theirs.as_raw_fd().to_string().into()]);
        if binds {
            args.push("--bind-for-supervisor".into());
        }
        args.extend(self.plan.entry.iter().cloned());
        let child = start(slot, &args, &[tally.raw_fd(), theirs.as_raw_fd()])?;
        drop(theirs);
        let max_requests = self.plan.max_requests.map(|n| n + jitter(self.plan.max_requests_jitter));
        let mut process =
            Process { slot, child, started: Instant::now(), tally, control, binds, listens: false, max_requests, state: State::Starting };
        if let Some(listener) = &self.listener {
            handoff::send(process.control.as_fd(), listener.as_fd()).context("cannot pass the listening socket")?;
            process.listens = true;
        } else if binds {
            self.wait_for_socket(&process)?;
        }
        self.processes.push(process);
        Ok(())
    }

    /// A thread that waits for the socket a binding process sends up.
    fn wait_for_socket(&self, process: &Process) -> Result<()> {
        let control = process.control.try_clone()?;
        let (found, pid) = (self.found.clone(), process.child.id());
        std::thread::Builder::new()
            .name("tandem-handoff".into())
            .spawn(move || {
                // An error means the process died first; reap() handles that.
                if let Ok(listener) = handoff::receive(control.as_fd()) {
                    let _ = found.send((pid, listener));
                }
            })
            .context("cannot start a thread")?;
        Ok(())
    }

    /// The first process bound the socket: keep it and send it to the
    /// processes waiting for it.
    fn share(&mut self, pid: u32, listener: OwnedFd) {
        if let Some(process) = self.processes.iter_mut().find(|p| p.child.id() == pid) {
            process.listens = true;
        }
        if self.listener.is_some() {
            return;
        }
        for process in self.processes.iter_mut().filter(|p| !p.listens && !p.binds) {
            match handoff::send(process.control.as_fd(), listener.as_fd()) {
                Ok(()) => process.listens = true,
                Err(e) => eprintln!("error: cannot pass the listening socket to pid {}: {e}", process.child.id()),
            }
        }
        self.listener = Some(listener);
    }

    /// Moves processes on: a ready one serves (and the one it replaces
    /// drains), one past a limit gets a replacement.
    fn check(&mut self, check_memory: bool) -> Result<()> {
        for index in 0..self.processes.len() {
            let process = &mut self.processes[index];
            if process.state == State::Starting && process.tally.is_ready() {
                process.state = State::Serving;
                let slot = process.slot;
                for old in self.processes.iter_mut().filter(|p| p.slot == slot && p.state == State::Retiring) {
                    old.state = State::Draining;
                    terminate(&old.child);
                }
                continue;
            }
            if process.state != State::Serving {
                continue;
            }
            let reason = past_limit(process, self.plan.max_memory.filter(|_| check_memory));
            if let Some(reason) = reason {
                eprintln!(
                    "server process {} (pid {}) {reason}: starting its replacement, then draining it",
                    process.slot,
                    process.child.id()
                );
                process.state = State::Retiring;
                let slot = process.slot;
                self.spawn(slot)?;
            }
        }
        Ok(())
    }

    /// Looks at every process for an exit: a drained one is gone, any
    /// other is restarted unless its replacement is already there.
    async fn reap(&mut self) -> Result<()> {
        let mut index = 0;
        while index < self.processes.len() {
            let Ok(Some(status)) = self.processes[index].child.try_wait() else {
                index += 1;
                continue;
            };
            let process = self.processes.remove(index);
            let pid = process.child.id();
            if process.state == State::Draining {
                eprintln!("server process {} (pid {pid}) retired after {} requests", process.slot, process.tally.answered());
                continue;
            }
            let slot = process.slot;
            let quick = process.started.elapsed() < QUICK_CRASH;
            let crashes = if quick { self.quick_crashes[slot] + 1 } else { 0 };
            self.quick_crashes[slot] = crashes;
            if crashes >= MAX_QUICK_CRASHES {
                bail!("server process {slot} {} {MAX_QUICK_CRASHES} times right after starting; giving up", how(status));
            }
            eprintln!("server process {slot} (pid {pid}) {}; {}", how(status), lost(&process.tally));
            let replaced = self.processes.iter().any(|p| p.slot == slot && matches!(p.state, State::Starting | State::Serving));
            if !replaced {
                eprintln!("restarting server process {slot}");
                if quick {
                    tokio::time::sleep(QUICK_CRASH / 2).await;
                }
                self.spawn(slot)?;
            }
        }
        Ok(())
    }

    /// Stops accepting, then SIGTERM to every process (once: a second
    /// would make it exit without draining) and waits, woken by SIGCHLD;
    /// SIGKILL to any still running after the deadline.
    async fn stop_all(&mut self, exited: &mut Signal) {
        // Without the supervisor's descriptor the socket closes with the
        // last process's: new connections are refused, not queued.
        self.listener = None;
        for process in self.processes.iter().filter(|p| p.state != State::Draining) {
            terminate(&process.child);
        }
        let deadline = tokio::time::Instant::now() + self.plan.shutdown_timeout + Duration::from_secs(1);
        loop {
            self.processes.retain_mut(|p| matches!(p.child.try_wait(), Ok(None)));
            if self.processes.is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, exited.recv()).await.is_err() {
                for process in self.processes.iter_mut() {
                    let _ = process.child.kill();
                    let _ = process.child.wait();
                }
                return;
            }
        }
    }
}

/// Why `process` must be replaced, if it must.
fn past_limit(process: &Process, max_memory: Option<u64>) -> Option<String> {
    if let Some(limit) = process.max_requests {
        let answered = process.tally.answered();
        if answered >= limit {
            return Some(format!("answered {answered} requests, past its limit of {limit} (--max-requests plus jitter)"));
        }
    }
    let limit = max_memory?;
    let rss = resident_bytes(process.child.id())?;
    (rss > limit).then(|| format!("uses {} MiB of memory, over --max-memory ({} MiB)", rss >> 20, limit >> 20))
}

/// The resident set size of a process, from /proc.
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A random number in 0..=most, so that processes started together do not
/// all retire together.
fn jitter(most: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    if most == 0 {
        return 0;
    }
    RandomState::new().hash_one(Instant::now()) % (most + 1)
}

/// What a process that died took with it, from its tally.
fn lost(tally: &tandem::Tally) -> String {
    let (requests, connections) = (tally.in_flight(), tally.open_connections());
    if requests == 0 && connections == 0 {
        return "nothing was in flight".into();
    }
    format!("in flight: {} (no answer sent), on {} cut", count(requests, "request"), count(connections, "open connection"))
}

/// "1 request", "2 requests".
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// How a process ended, for the log.
fn how(status: ExitStatus) -> String {
    let Some(signal) = status.signal() else {
        return format!("exited with status {}", status.code().unwrap_or(-1));
    };
    let name = match signal {
        libc::SIGSEGV => " (SIGSEGV: a segmentation fault, e.g. in a native extension)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGABRT => " (SIGABRT: aborted)",
        libc::SIGKILL => " (SIGKILL: killed, e.g. by the out-of-memory killer)",
        libc::SIGFPE => " (SIGFPE)",
        libc::SIGILL => " (SIGILL)",
        libc::SIGTERM => " (SIGTERM)",
        _ => "",
    };
    format!("was killed by signal {signal}{name}")
}

fn terminate(child: &Child) {
    // SAFETY: kill(2) with the pid of a child we have not reaped (a reaped
    // process is removed from the list first), so it is still ours.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
}

/// Starts this program with `args`, letting the child inherit `inherit`.
fn start(slot: usize, args: &[OsString], inherit: &[i32]) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the tandem binary")?;
    let supervisor = std::process::id() as libc::pid_t;
    let inherit = inherit.to_vec();
    let mut command = Command::new(exe);
    command
        .args(args)
        // Its own process group: a terminal's Ctrl-C reaches only the
        // supervisor, which forwards one SIGTERM (a second signal would
        // make a process exit without draining).
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: prctl, getppid, fcntl and
    // _exit are. It allocates nothing (inherit was copied before) and
    // touches no lock.
    unsafe {
        command.pre_exec(move || {
            // A supervisor killed outright (SIGKILL, a crash) must not
            // leave its servers running on the port: each one gets SIGTERM
            // and drains. If it died before this line, exit now.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != supervisor {
                libc::_exit(0);
            }
            // The descriptors meant for this child survive exec; every
            // other one of the supervisor's closes.
            for &fd in &inherit {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command.spawn().with_context(|| format!("cannot start server process {slot}"))
}
