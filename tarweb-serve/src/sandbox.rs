//! Confinement after start-up (`--sandbox off|auto|require`, `--user`).
//!
//! `server::run` first does everything that needs the world: parses,
//! binds the listeners (or takes systemd's), loads the blobs, reads the
//! certificates, opens the access log, makes the epolls, eventfds and hot
//! files, connects the sd_notify socket. Then, while the main thread is
//! still the only thread, [`confine`] takes away what serving does not
//! need, in this order:
//!
//! 1. `--user`: supplementary groups cleared, gid and uid set (as root).
//! 2. Every capability dropped (uid 0 without `--user` keeps its uid, not
//!    its capabilities; file capabilities such as cap_net_bind_service
//!    were for the bind).
//! 3. `no_new_privs`.
//! 4. Landlock: read-only beneath the directories the server reads later
//!    ([`read_dirs`]), nothing else on the filesystem, no TCP bind or
//!    connect, signals and abstract unix sockets scoped to the process.
//! 5. seccomp: the allowlist of `sys` (others kill the process).
//!
//! Every thread (workers, watcher, inotify, stats, reaper) starts after
//! that and inherits all of it. One line on stdout says what was got.

use crate::sys;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `--sandbox`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No confinement (debugging); `--user` still applies.
    Off,
    /// As much as the kernel allows; the log line says what.
    Auto,
    /// Refuse to start unless every layer is in place (and, as root,
    /// `--user` is given).
    Require,
}

/// What [`confine`] is asked to do.
pub(crate) struct Plan {
    pub mode: Mode,
    /// `--user`, resolved.
    pub user: Option<sys::Account>,
    /// Landlock: read-only beneath these.
    pub read_dirs: BTreeSet<PathBuf>,
    /// `--mlock`: later loads must still be able to lock (root: the limit
    /// is lifted before the capability goes).
    pub mlock: bool,
    /// Scope abstract unix sockets (not when systemd's notify socket is
    /// one: datagrams to it must still go).
    pub scope_unix: bool,
    /// `--access-log FILE`: the directory where SIGUSR1 reopens (creates)
    /// it. Landlock lets files beneath it be created and written, and
    /// seccomp lets openat create and append (never truncate).
    pub log_dir: Option<PathBuf>,
    /// ACME is on: its cache joins the write set, its directory's port the
    /// connect set, its syscalls the allowlist.
    pub acme: Option<sys::LandlockExtra>,
}

/// The directories to allow reading beneath, for blobs and certificates
/// read after start-up: for each file, the directory it is named in and
/// the one it really is in, and for each symlink on its path, the
/// directory holding the link (so that a flip to a sibling release is
/// readable), except `/`, which would allow everything; for each
/// directory (`--sites`, `--tls-cert-dir`), itself and the same for each
/// entry that is a symlink. All canonical (Landlock follows inodes).
pub(crate) fn read_dirs(files: &[&Path], dirs: &[&Path]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for f in files {
        file_dirs(f, &mut out);
    }
    for d in dirs {
        if let Ok(c) = d.canonicalize() {
            out.insert(c);
        }
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                file_dirs(&e.path(), &mut out);
            }
        }
    }
    // A directory beneath another adds nothing.
    let all: Vec<PathBuf> = out.iter().cloned().collect();
    out.retain(|d| !all.iter().any(|a| a != d && d.starts_with(a)));
    out
}

fn file_dirs(file: &Path, out: &mut BTreeSet<PathBuf>) {
    let named = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(c) = named.canonicalize() {
        out.insert(c);
    }
    if let Some(p) = file.canonicalize().ok().as_deref().and_then(Path::parent) {
        out.insert(p.to_path_buf());
    }
    link_holders(file, out, 0);
}

/// The directory of every symlink met on the way to `file` (following
/// each link, at most 40 deep).
fn link_holders(file: &Path, out: &mut BTreeSet<PathBuf>, depth: u32) {
    let Ok(abs) = std::path::absolute(file) else {
        return;
    };
    let comps: Vec<_> = abs.components().collect();
    let mut prefix = PathBuf::new();
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        let link = prefix
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if !link || depth >= 40 {
            continue;
        }
        let parent = prefix.parent().unwrap_or(Path::new("/"));
        let Ok(parent) = parent.canonicalize() else {
            return;
        };
        if parent != Path::new("/") {
            out.insert(parent.clone());
        }
        let Ok(to) = std::fs::read_link(&prefix) else {
            return;
        };
        let mut next = parent.join(to);
        next.extend(&comps[i + 1..]);
        return link_holders(&next, out, depth + 1);
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Confines the process (see the module comment); must run while the
/// calling thread is the only one. Returns the line to log; an error when
/// a step that was asked for fails (`--user`), or, under `require`, when
/// a layer is missing.
pub(crate) fn confine(p: &Plan) -> Result<String, String> {
    let root = sys::euid() == 0;
    let mut missing: Vec<String> = Vec::new();
    let who = match (&p.user, root) {
        (Some(a), true) => {
            if p.mlock {
                if let Err(e) = sys::unlimit_memlock() {
                    warn!("tarweb-serve: --mlock: cannot lift RLIMIT_MEMLOCK ({e}): a blob loaded later must fit in it");
                }
            }
            sys::become_account(a).map_err(|e| format!("--user {}: {e}", a.name))?;
            format!("user {} (uid {}, gid {})", a.name, a.uid, a.gid)
        }
        (Some(a), false) if a.uid == sys::euid() => {
            format!("user {} (uid {}, started as it)", a.name, a.uid)
        }
        (Some(a), false) => {
            return Err(format!(
                "--user {}: only root can change user (running as uid {})",
                a.name,
                sys::euid()
            ))
        }
        (None, true) => {
            warn!("tarweb-serve: warning: running as root without --user; pass --user USER[:GROUP] to serve as an unprivileged user");
            missing.push("a user other than root (--user)".into());
            "uid 0 (no --user)".to_string()
        }
        (None, false) => format!("uid {}", sys::euid()),
    };
    if p.mode == Mode::Off {
        return Ok(format!("sandbox: off, {who}"));
    }
    // Applied in this order (each step needs what the next takes away);
    // logged strongest first.
    let caps = sys::drop_capabilities().map(|()| "no capabilities".to_string());
    let nnp = sys::set_no_new_privs().map(|()| "no_new_privs".to_string());
    let dirs: Vec<PathBuf> = p.read_dirs.iter().cloned().collect();
    let beneath = if dirs.is_empty() {
        "nothing".to_string()
    } else {
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // What the kernel's ABI gives of what we ask: TCP rules came with
    // ABI 4, scopes with ABI 6.
    let what = |abi: i32| {
        let mut v = vec![format!("read-only beneath {beneath}")];
        let mut writes: Vec<String> = Vec::new();
        if let Some(d) = &p.log_dir {
            writes.push(format!("{} (the access log)", d.display()));
        }
        if let Some(a) = &p.acme {
            for d in &a.write_dirs {
                writes.push(format!("{} (ACME)", d.display()));
            }
        }
        match writes.is_empty() {
            true => v.push("no writes".into()),
            false => v.push(format!("writes beneath {} only", writes.join(", "))),
        }
        match (&p.acme, abi >= 4) {
            (_, false) => {}
            (None, true) => v.push("no TCP bind or connect".into()),
            (Some(a), true) => {
                let ports: Vec<String> = a.connect_ports.iter().map(u16::to_string).collect();
                v.push(format!(
                    "no TCP bind, connect to port {} only (ACME)",
                    ports.join(", ")
                ));
            }
        }
        if abi >= 6 {
            v.push("signals scoped".into());
        }
        v.join(", ")
    };
    let extra = p.acme.clone().unwrap_or_default();
    let landlock = match sys::landlock_read_only(&dirs, p.log_dir.as_deref(), p.scope_unix, &extra)
    {
        sys::Landlocked::Full(abi) => Ok(format!("landlock ABI {abi} ({})", what(abi))),
        sys::Landlocked::Partial(abi) => Ok(format!(
            "landlock ABI {abi}, partial: older kernel ({})",
            what(abi)
        )),
        sys::Landlocked::Not(why) => Err(why),
    };
    let seccomp = sys::install_seccomp(p.log_dir.is_some(), p.acme.is_some()).map(|n| {
        format!(
            "seccomp ({}, others kill the process)",
            plural(n, "syscall")
        )
    });
    let mut got = Vec::new();
    for (name, r) in [
        ("landlock", landlock),
        ("seccomp", seccomp),
        ("no_new_privs", nnp.map_err(|e| e.to_string())),
        ("dropping capabilities", caps.map_err(|e| e.to_string())),
    ] {
        match r {
            Ok(s) => got.push(s),
            Err(e) => missing.push(format!("{name} ({e})")),
        }
    }
    if p.mode == Mode::Require && !missing.is_empty() {
        return Err(format!("--sandbox require: missing {}", missing.join(", ")));
    }
    let mut line = format!("sandbox: {}, {who}", got.join(", "));
    let unavailable: Vec<&str> = missing
        .iter()
        .filter(|m| !m.starts_with("a user"))
        .map(|s| s.as_str())
        .collect();
    if !unavailable.is_empty() {
        line.push_str(&format!("; unavailable: {}", unavailable.join(", ")));
    }
    Ok(line)
}

/// The directory the access log is reopened in: the canonical directory
/// of `file` (which exists: it was opened already).
pub(crate) fn log_dir(file: &Path) -> Option<PathBuf> {
    let named = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    named.canonicalize().ok()
}
