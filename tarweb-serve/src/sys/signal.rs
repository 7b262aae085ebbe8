//! Signals: blocked in every thread, taken by one `sigwait` loop.
//! SIGIO among them: a lease break must never kill the process (its
//! default action), whichever thread the kernel picks.

use super::seccomp::Allow;
use std::mem::MaybeUninit;

/// `sigwait` (the main thread's loop; the mask is set before confinement).
pub(super) const SECCOMP: &[Allow] = &[Allow::any(libc::SYS_rt_sigtimedwait, "rt_sigtimedwait")];

fn signal_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset adds to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        // SIGHUP: re-check the blob, reload the certificates.
        libc::sigaddset(set.as_mut_ptr(), libc::SIGHUP);
        // SIGUSR1: reopen the access log (logrotate).
        libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR1);
        // SIGIO: a writer is breaking the read lease of a blob served
        // from its own file (`root.rs`).
        libc::sigaddset(set.as_mut_ptr(), libc::SIGIO);
        set.assume_init()
    }
}

/// Blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGIO in the calling thread (and the
/// threads it spawns afterwards) and ignores SIGPIPE, so [`wait_signal`]
/// gets them (a thread with one unblocked would die of it, taking the
/// process along).
pub fn block_signals() {
    let set = signal_set();
    // SAFETY: `set` is initialised; the old mask is not wanted.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: shut down.
    Term,
    /// SIGHUP: re-check what is reloadable.
    Hup,
    /// SIGUSR1: reopen the access log.
    Usr1,
    /// SIGIO: a blob's lease is being broken.
    Lease,
}

/// Waits for one of the signals [`block_signals`] blocked.
pub fn wait_signal() -> Signal {
    let set = signal_set();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is live.
    unsafe { libc::sigwait(&set, &mut sig) };
    match sig {
        libc::SIGHUP => Signal::Hup,
        libc::SIGUSR1 => Signal::Usr1,
        libc::SIGIO => Signal::Lease,
        _ => Signal::Term,
    }
}
