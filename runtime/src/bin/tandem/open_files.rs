//! The process's limit on open files, raised so that `--max-connections`
//! can be reached: each connection is a file descriptor, and Linux's soft
//! limit is often 1024 while the hard one is far higher. Servers do this
//! for themselves (nginx's worker_rlimit_nofile; Go raises it at start-up).

/// File descriptors kept back for what is not a connection: the listening
/// socket, libpython's and the app's files, the supervisor's pipes.
const RESERVED: u64 = 256;

/// Raises the soft limit on open files towards the hard one, as far as
/// `max_connections` needs; warns when even the hard limit is too low.
pub(crate) fn make_room(max_connections: usize) {
    let wanted = max_connections as u64 + RESERVED;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= wanted {
        return;
    }
    let raised = libc::rlimit { rlim_cur: wanted.min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up
    // to the hard one needs no privilege.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0;
    let now = if ok { raised.rlim_cur } else { limit.rlim_cur };
    if now < wanted {
        eprintln!(
            "warning: this process may open {now} files, fewer than --max-connections ({max_connections}) needs; \
             raise the hard limit (ulimit -Hn, or the container's nofile) or lower --max-connections"
        );
    }
}
