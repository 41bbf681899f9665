//! Waiting for another thread's message without always paying for a
//! sleeping thread's wake-up.
//!
//! A futex wake-up of a thread whose core went idle costs tens of
//! microseconds on a virtual machine, several times the work of a short
//! call. A thread that expects an answer soon polls for a short while first
//! and only then sleeps.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, TryRecvError};

/// How long to poll before sleeping: enough for a short call's answer,
/// short enough that a slow one costs little spinning.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// `rx.recv()`, polled for [`SPIN`] first.
pub(crate) fn recv<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    let started = Instant::now();
    while started.elapsed() < SPIN {
        match rx.try_recv() {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    rx.recv()
}
