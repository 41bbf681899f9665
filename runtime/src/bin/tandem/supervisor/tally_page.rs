//! One server process's [`Tally`] in a shared memory page (a memfd the
//! supervisor creates and the process inherits), so the supervisor can
//! read its counts while it runs and after it dies.

use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use anyhow::{Context, Result};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use tandem::Tally;

const SIZE: usize = 4096;
const _: () = assert!(std::mem::size_of::<Tally>() <= SIZE);

/// The supervisor's mapping of a process's page.
pub(super) struct TallyPage {
    fd: OwnedFd,
    page: NonNull<Tally>,
}

impl TallyPage {
    pub(super) fn new() -> Result<Self> {
        let fd = memfd_create(c"tandem-tally", MFdFlags::MFD_CLOEXEC).context("cannot create a shared memory page")?;
        nix::unistd::ftruncate(&fd, SIZE as i64).context("cannot size the shared memory page")?;
        let page = map(&fd)?;
        Ok(TallyPage { fd, page })
    }

    /// The descriptor the process inherits (see `--tally-fd`).
    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl std::ops::Deref for TallyPage {
    type Target = Tally;

    fn deref(&self) -> &Tally {
        // SAFETY: the page is mapped for as long as self lives (unmapped
        // in Drop), shared memory of all-zero or atomically written bytes,
        // which is a valid Tally (all its fields are atomics).
        unsafe { self.page.as_ref() }
    }
}

impl Drop for TallyPage {
    fn drop(&mut self) {
        // SAFETY: page came from mmap of SIZE bytes and no reference to it
        // outlives self (Deref borrows self).
        let _ = unsafe { munmap(self.page.cast(), SIZE) };
    }
}

/// In a server process: maps the page the supervisor passed as `fd`, for
/// the rest of the process's life.
pub(crate) fn attach(fd: RawFd) -> Result<&'static Tally> {
    // SAFETY: the supervisor put a memfd at this number for this process
    // (--tally-fd is its flag, not a user's), and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let page = map(&fd)?;
    // SAFETY: as in Deref above; the mapping is never unmapped, so the
    // reference is valid for the process's life.
    Ok(unsafe { page.as_ref() })
}

fn map(fd: &OwnedFd) -> Result<NonNull<Tally>> {
    let length = NonZeroUsize::new(SIZE).expect("SIZE is not zero");
    // SAFETY: a new shared mapping of a file we own, at an address the
    // kernel picks, so it aliases no Rust object.
    let page = unsafe { mmap(None, length, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED, fd, 0) }
        .context("cannot map the shared memory page")?;
    Ok(page.cast())
}
