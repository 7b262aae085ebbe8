//! The seccomp allowlist: every syscall the running server makes after
//! confinement, and nothing else. Each concern file of `sys` lists the
//! syscalls of its own wrappers in a `SECCOMP` table beside them (a new
//! wrapper and its permission change together); this file adds what the
//! standard library and the other crates do on their own (`RUNTIME`) and
//! builds the filter (with `seccompiler`, the rust-vmm crate behind
//! Firecracker's jailer).
//!
//! A syscall outside the list kills the whole process
//! (`SECCOMP_RET_KILL_PROCESS`, seen as SIGSYS by whoever supervises it):
//! the list is exercised by every test, so a call outside it is either an
//! exploit, which must stop at its first wrong step, or a bug of ours,
//! which must be loud, like a worker's panic (see tarweb-serve/README.md,
//! "Confinement"). One exception: `clone3` gets ENOSYS from a second
//! filter, since glibc's `pthread_create` then falls back to `clone`, whose
//! flags a filter can check (threads only, never a new process).

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// One entry of the allowlist: a syscall, maybe only with one argument
/// matching (`arg & mask == value`, on its low 32 bits: every argument
/// checked here is an int or a flag word).
#[derive(Clone, Copy, Debug)]
pub struct Allow {
    pub nr: i64,
    pub name: &'static str,
    pub cond: Option<(u8, u64, u64)>,
}

impl Allow {
    /// Any arguments.
    pub const fn any(nr: i64, name: &'static str) -> Allow {
        Allow {
            nr,
            name,
            cond: None,
        }
    }

    /// Only when argument `arg` equals `value`.
    pub const fn arg_eq(nr: i64, name: &'static str, arg: u8, value: u64) -> Allow {
        Allow {
            nr,
            name,
            cond: Some((arg, u32::MAX as u64, value)),
        }
    }

    /// Only when argument `arg`, masked with `mask`, equals `value`.
    pub const fn arg_masked(nr: i64, name: &'static str, arg: u8, mask: u64, value: u64) -> Allow {
        Allow {
            nr,
            name,
            cond: Some((arg, mask, value)),
        }
    }
}

/// What the standard library, glibc and the crates we use (rustls and
/// ring, inotify) call by themselves, on threads that already exist.
const RUNTIME: &[Allow] = &[
    // Time: the vDSO answers without a syscall, but falls back to one where
    // the clock source has no vDSO (VMs, QEMU in `make test-ktls`).
    Allow::any(libc::SYS_clock_gettime, "clock_gettime"),
    Allow::any(libc::SYS_clock_nanosleep, "clock_nanosleep"),
    // Randomness: rustls (ring) for handshakes and tickets, std's hash keys.
    Allow::any(libc::SYS_getrandom, "getrandom"),
    // abort() (a double panic, an allocation failure) raises SIGABRT at
    // this process: tgkill, only to this process (`install_seccomp` adds
    // it with our pid; Landlock scopes signals too).
    Allow::any(libc::SYS_getpid, "getpid"),
    Allow::any(libc::SYS_gettid, "gettid"),
    Allow::any(libc::SYS_rt_sigprocmask, "rt_sigprocmask"),
    Allow::any(libc::SYS_rt_sigreturn, "rt_sigreturn"),
    // Files, read only: the watcher (stat identities, directory listings,
    // symlinks, `Root::load` opening and copying a blob into a memfd) and
    // certificate reloads. Opening for writing, creating or truncating
    // (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_TMPFILE) is not allowed, with
    // or without Landlock.
    Allow::arg_masked(
        libc::SYS_openat,
        "openat",
        2,
        (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | (libc::O_TMPFILE & !libc::O_DIRECTORY))
            as u64,
        0,
    ),
    Allow::any(libc::SYS_statx, "statx"),
    Allow::any(libc::SYS_newfstatat, "newfstatat"),
    Allow::any(libc::SYS_getdents64, "getdents64"),
    Allow::any(libc::SYS_readlink, "readlink"),
    Allow::any(libc::SYS_getcwd, "getcwd"),
    Allow::any(libc::SYS_lseek, "lseek"),
    // `Root::load` reads a copy too short to map with read_exact_at.
    Allow::any(libc::SYS_pread64, "pread64"),
    // Descriptor flags: std asks them (io::copy before copy_file_range);
    // the inotify crate turns O_NONBLOCK off and on around its blocking
    // read.
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_GETFD as u64),
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_GETFL as u64),
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_SETFL as u64),
    // try_clone (`Root::load` reads a too-short copy through a duplicate).
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_DUPFD_CLOEXEC as u64),
    // glibc's realpath (std's canonicalize) checks a path ending in '/'.
    Allow::any(libc::SYS_faccessat2, "faccessat2"),
    Allow::any(libc::SYS_copy_file_range, "copy_file_range"),
    Allow::any(libc::SYS_inotify_init1, "inotify_init1"),
    Allow::any(libc::SYS_inotify_add_watch, "inotify_add_watch"),
    Allow::any(libc::SYS_inotify_rm_watch, "inotify_rm_watch"),
    // The stats thread (std's TcpListener and TcpStream), sd_notify.
    Allow::arg_eq(
        libc::SYS_setsockopt,
        "setsockopt",
        1,
        libc::SOL_SOCKET as u64,
    ),
    Allow::any(libc::SYS_recvfrom, "recvfrom"),
    Allow::any(libc::SYS_sendto, "sendto"),
];

/// The access log's reopen (`access_log`, std's OpenOptions with append
/// and create): O_WRONLY|O_CREAT, and not O_TRUNC or O_TMPFILE.
const LOG_REOPEN: Allow = Allow::arg_masked(
    libc::SYS_openat,
    "openat",
    2,
    (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | (libc::O_TMPFILE & !libc::O_DIRECTORY))
        as u64,
    (libc::O_WRONLY | libc::O_CREAT) as u64,
);

/// `ioctl(FIONREAD)`'s request number (c_ulong or c_int by libc).
#[allow(clippy::unnecessary_cast)]
const FIONREAD: u64 = libc::FIONREAD as u64;

/// What the ACME thread adds (`--acme-*` only; listed from `strace -f` of
/// an issuance): its TCP connections (hyper), glibc's resolver (UDP to the
/// name server, the nscd socket it tries first), and the cache files it
/// writes (Landlock keeps those beneath the cache directory).
pub(super) const ACME: &[Allow] = &[
    Allow::arg_eq(libc::SYS_socket, "socket", 0, libc::AF_INET as u64),
    Allow::arg_eq(libc::SYS_socket, "socket", 0, libc::AF_INET6 as u64),
    Allow::arg_eq(libc::SYS_socket, "socket", 0, libc::AF_UNIX as u64),
    Allow::any(libc::SYS_connect, "connect"),
    Allow::any(libc::SYS_getsockopt, "getsockopt"),
    Allow::any(libc::SYS_getsockname, "getsockname"),
    Allow::any(libc::SYS_getpeername, "getpeername"),
    Allow::arg_eq(
        libc::SYS_setsockopt,
        "setsockopt",
        1,
        libc::IPPROTO_TCP as u64,
    ),
    Allow::arg_eq(
        libc::SYS_setsockopt,
        "setsockopt",
        1,
        libc::IPPROTO_IP as u64,
    ),
    Allow::arg_eq(
        libc::SYS_setsockopt,
        "setsockopt",
        1,
        libc::IPPROTO_IPV6 as u64,
    ),
    Allow::any(libc::SYS_sendmmsg, "sendmmsg"),
    Allow::any(libc::SYS_poll, "poll"),
    Allow::any(libc::SYS_ppoll, "ppoll"),
    Allow::arg_eq(libc::SYS_ioctl, "ioctl", 1, FIONREAD),
    Allow::any(libc::SYS_uname, "uname"),
    // The cache: a temporary file written, synced, renamed over the old
    // (removed on failure).
    Allow::any(libc::SYS_openat, "openat"),
    Allow::any(libc::SYS_fsync, "fsync"),
    Allow::any(libc::SYS_rename, "rename"),
    Allow::any(libc::SYS_renameat2, "renameat2"),
    Allow::any(libc::SYS_unlink, "unlink"),
    Allow::any(libc::SYS_unlinkat, "unlinkat"),
];

/// `tgkill`, to this process only (its pid is known at run time).
fn own_signals() -> Allow {
    Allow::arg_eq(libc::SYS_tgkill, "tgkill", 0, u64::from(std::process::id()))
}

/// Every entry, from each concern's table; `acme`: with [`ACME`].
fn entries(acme: bool) -> impl Iterator<Item = Allow> {
    let acme: &[Allow] = if acme { ACME } else { &[] };
    [
        acme,
        RUNTIME,
        super::process::SECCOMP,
        super::alloc::SECCOMP,
        super::mem::SECCOMP,
        super::lease::SECCOMP,
        super::io::SECCOMP,
        super::net::SECCOMP,
        super::epoll::SECCOMP,
        super::signal::SECCOMP,
        super::ktls::SECCOMP,
    ]
    .into_iter()
    .flatten()
    .copied()
    .chain([own_signals()])
}

/// The allowlist: syscall names, sorted, each once (`acme`: with what
/// ACME adds).
pub fn seccomp_allowlist(acme: bool) -> Vec<&'static str> {
    let mut v: Vec<_> = entries(acme).map(|a| a.name).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn arch() -> Option<TargetArch> {
    if cfg!(target_arch = "x86_64") {
        Some(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(TargetArch::aarch64)
    } else if cfg!(target_arch = "riscv64") {
        Some(TargetArch::riscv64)
    } else {
        None
    }
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let f = SeccompFilter::new(rules, mismatch, matched, arch).map_err(|e| e.to_string())?;
    BpfProgram::try_from(f).map_err(|e| e.to_string())
}

/// Installs the filters on the calling thread (and sets `no_new_privs`,
/// which a filter needs); threads it starts afterwards inherit them.
/// Returns the number of syscalls allowed. `acme`: the ACME thread's too.
/// `log_reopen`: the access log is a file, reopened on SIGUSR1 (by
/// path, creating it): openat for writing, appending and creating, never
/// truncating, is allowed too (Landlock keeps it to the log's directory).
pub fn install_seccomp(log_reopen: bool, acme: bool) -> Result<usize, String> {
    let arch = arch().ok_or("no allowlist for this architecture")?;
    let mut rules: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    let reopen = log_reopen.then_some(LOG_REOPEN);
    for a in entries(acme).chain(reopen) {
        let slot = rules.entry(a.nr).or_insert_with(|| Some(Vec::new()));
        match (a.cond, slot.as_mut()) {
            // Unconditional wins over any condition.
            (None, _) => *slot = None,
            (Some((arg, mask, value)), Some(v)) => {
                let c = SeccompCondition::new(
                    arg,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(mask),
                    value,
                )
                .map_err(|e| e.to_string())?;
                v.push(SeccompRule::new(vec![c]).map_err(|e| e.to_string())?);
            }
            (Some(_), None) => {}
        }
    }
    let n = rules.len();
    let rules = rules
        .into_iter()
        .map(|(nr, r)| (nr, r.unwrap_or_default()))
        .collect();
    let allow = compile(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )?;
    let clone3 = compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    // Of several filters the strictest answer wins: the allowlist lets
    // clone3 through, this one makes it ENOSYS.
    seccompiler::apply_filter(&clone3).map_err(|e| e.to_string())?;
    seccompiler::apply_filter(&allow).map_err(|e| e.to_string())?;
    Ok(n)
}
