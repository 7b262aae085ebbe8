//! Process-wide limits and credentials: the file limit, users and groups,
//! capabilities, `no_new_privs`, and the syscalls threads make on their own.

use super::cvt;
use super::seccomp::Allow;
use std::ffi::CString;
use std::io;

/// Threads: started after confinement (`std::thread` → glibc's
/// `pthread_create`), named, parked on futexes, ended at exit.
pub(super) const SECCOMP: &[Allow] = &[
    // pthread_create. clone3 gets ENOSYS from a filter of its own (its
    // flags are in memory, out of a filter's reach), so glibc falls back
    // to clone, whose flags a filter can see: threads only, no fork.
    Allow::arg_masked(
        libc::SYS_clone,
        "clone",
        0,
        libc::CLONE_THREAD as u64,
        libc::CLONE_THREAD as u64,
    ),
    // Listed so that the allowlist does not kill it: the second filter
    // answers ENOSYS (see `seccomp.rs`).
    Allow::any(libc::SYS_clone3, "clone3"),
    Allow::any(libc::SYS_set_robust_list, "set_robust_list"),
    // glibc installs its thread-control signal handlers at the first
    // pthread_create; std reads each new thread's stack bounds
    // (pthread_getattr_np asks for the CPU affinity).
    Allow::any(libc::SYS_rt_sigaction, "rt_sigaction"),
    Allow::any(libc::SYS_sched_getaffinity, "sched_getaffinity"),
    Allow::any(libc::SYS_rseq, "rseq"),
    // std's guard for stack overflows: an alternate signal stack per thread.
    Allow::any(libc::SYS_sigaltstack, "sigaltstack"),
    // std names each thread from inside it (pthread_setname_np on itself).
    Allow::arg_eq(libc::SYS_prctl, "prctl", 0, libc::PR_SET_NAME as u64),
    // Mutexes, channels, condvars, thread joins, Once.
    Allow::any(libc::SYS_futex, "futex"),
    Allow::any(libc::SYS_sched_yield, "sched_yield"),
    // A thread's end, and the process's (exit(), also after a worker panic).
    Allow::any(libc::SYS_exit, "exit"),
    Allow::any(libc::SYS_exit_group, "exit_group"),
];

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns it.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a live rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) })?;
    r.rlim_cur = r.rlim_max;
    // SAFETY: `r` is a live rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) })?;
    Ok(r.rlim_cur)
}

/// Lifts RLIMIT_MEMLOCK (root only): `--mlock` must keep working for blobs
/// loaded after the capabilities are gone.
pub fn unlimit_memlock() -> io::Result<()> {
    let r = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `r` is a live rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) }).map(drop)
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { libc::geteuid() }
}

/// A user to run as, resolved (through NSS, before any confinement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    /// `USER[:GROUP]` as given, for the log.
    pub name: String,
}

/// Resolves `USER[:GROUP]` (names or numbers). Without a group, the
/// user's primary group (a number without a passwd entry: the same
/// number).
pub fn lookup_account(spec: &str) -> Result<Account, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match passwd(user)? {
        Some(ids) => ids,
        None => match user.parse::<u32>() {
            Ok(n) => (n, n),
            Err(_) => return Err(format!("--user {spec}: no user {user:?}")),
        },
    };
    let gid = match group {
        None | Some("") => primary,
        Some(g) => match group_id(g)? {
            Some(n) => n,
            None => g
                .parse::<u32>()
                .map_err(|_| format!("--user {spec}: no group {g:?}"))?,
        },
    };
    Ok(Account {
        uid,
        gid,
        name: spec.to_string(),
    })
}

/// getpwnam_r: (uid, primary gid), None when there is no such user.
fn passwd(name: &str) -> Result<Option<(u32, u32)>, String> {
    let c = CString::new(name).map_err(|_| format!("bad user name {name:?}"))?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain old data; all-zero is valid.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is live for the call and `buf.len()` is its size.
    let r = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if r != 0 {
        return Err(format!(
            "looking up user {name:?}: {}",
            io::Error::from_raw_os_error(r)
        ));
    }
    Ok((!out.is_null()).then_some((pw.pw_uid, pw.pw_gid)))
}

/// getgrnam_r: the gid, None when there is no such group.
fn group_id(name: &str) -> Result<Option<u32>, String> {
    let c = CString::new(name).map_err(|_| format!("bad group name {name:?}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: group is plain old data; all-zero is valid.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is live for the call and `buf.len()` is its size.
    let r = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if r != 0 {
        return Err(format!(
            "looking up group {name:?}: {}",
            io::Error::from_raw_os_error(r)
        ));
    }
    Ok((!out.is_null()).then_some(gr.gr_gid))
}

/// Becomes `a`: supplementary groups cleared, then real, effective and
/// saved gid and uid set (the kernel then clears every capability). Raw
/// syscalls change only the calling thread, so this must run while it is
/// the only one (checked: `/proc/self/task` has one entry).
pub fn become_account(a: &Account) -> io::Result<()> {
    let tasks = std::fs::read_dir("/proc/self/task")?.count();
    if tasks != 1 {
        return Err(io::Error::other(format!(
            "{tasks} threads already: credentials must change before any thread starts"
        )));
    }
    // SAFETY: an empty list; the pointer is not read for size 0.
    cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: plain syscall.
    cvt(unsafe { libc::setresgid(a.gid, a.gid, a.gid) })?;
    // SAFETY: plain syscall.
    cvt(unsafe { libc::setresuid(a.uid, a.uid, a.uid) })?;
    Ok(())
}

/// `capget` header and data, version 3 (two 32-bit words per set).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Clears the calling thread's effective, permitted and inheritable
/// capabilities (uid 0 without `--user`, or file capabilities such as
/// cap_net_bind_service: needed to bind, not to serve). Before any thread
/// starts, so all inherit the empty sets.
pub fn drop_capabilities() -> io::Result<()> {
    let mut h = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: `h` and `data` are live, version 3 takes two data entries.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut h, data.as_ptr()) } as libc::c_int).map(drop)
}

/// Sets `no_new_privs` on the calling thread (inherited by threads it
/// starts afterwards): no exec can ever gain privileges again.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: plain prctl with constant arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// `CLOCK_MONOTONIC` in microseconds: sd_notify's `RELOADING=1` carries it
/// (`MONOTONIC_USEC=`), as systemd compares it with its own clock. A vDSO
/// call (`clock_gettime` is in `seccomp.rs`'s runtime list).
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec the kernel writes.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}
