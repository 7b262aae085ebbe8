//! Landlock (with the `landlock` crate, the kernel maintainers' own): the
//! filesystem read-only beneath a few directories and nothing else, no TCP
//! bind or connect, signals and abstract unix sockets scoped to this
//! process.

use landlock::{
    Access, AccessFs, AccessNet, LandlockStatus, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use std::path::PathBuf;

/// The newest ABI this code was written and tested for: rights a newer
/// kernel adds are not asked for (the crate's compatibility contract).
const ABI_USED: ABI = ABI::V7;

/// What Landlock gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landlocked {
    /// Every right we ask for is enforced, at this kernel ABI.
    Full(i32),
    /// Enforced, but this (older) kernel ABI lacks some of the rights.
    Partial(i32),
    /// Not enforced, and why.
    Not(String),
}

/// What ACME adds to the rules (all empty when it is off).
#[derive(Debug, Default, Clone)]
pub struct LandlockExtra {
    /// Read, write, create, rename and remove files beneath these (the
    /// ACME cache).
    pub write_dirs: Vec<PathBuf>,
    /// Read these files (the resolver's, the ACME server's root CA).
    pub read_files: Vec<PathBuf>,
    /// TCP connect to these ports (the ACME directory's, DNS).
    pub connect_ports: Vec<u16>,
}

/// Restricts the calling thread (and the threads it starts afterwards):
/// reading files and listing directories only beneath `dirs`, no other
/// filesystem access anywhere (descriptors already open keep working),
/// no TCP bind or connect, signals only within this process, and, when
/// `scope_unix`, no connecting to abstract unix sockets made outside it;
/// then what `extra` allows. `log_dir`: files beneath it may also be
/// created and written (the access log's reopen).
pub fn landlock_read_only(
    dirs: &[PathBuf],
    log_dir: Option<&std::path::Path>,
    scope_unix: bool,
    extra: &LandlockExtra,
) -> Landlocked {
    let mut scopes = landlock::BitFlags::from(Scope::Signal);
    if scope_unix {
        scopes |= Scope::AbstractUnixSocket;
    }
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let run = || -> Result<landlock::RestrictionStatus, String> {
        let mut created = Ruleset::default()
            .handle_access(AccessFs::from_all(ABI_USED))
            .and_then(|r| r.handle_access(AccessNet::from_all(ABI_USED)))
            .and_then(|r| r.scope(scopes))
            .and_then(|r| r.create())
            .map_err(|e| e.to_string())?;
        for d in dirs {
            let fd = PathFd::new(d).map_err(|e| format!("{}: {e}", d.display()))?;
            created = created
                .add_rule(PathBeneath::new(fd, read))
                .map_err(|e| format!("{}: {e}", d.display()))?;
        }
        if let Some(d) = log_dir {
            let fd = PathFd::new(d).map_err(|e| format!("{}: {e}", d.display()))?;
            created = created
                .add_rule(PathBeneath::new(
                    fd,
                    AccessFs::WriteFile | AccessFs::MakeReg,
                ))
                .map_err(|e| format!("{}: {e}", d.display()))?;
        }
        // Files only ever replaced by rename: no execute, no devices,
        // links or directories made.
        let write = read
            | AccessFs::WriteFile
            | AccessFs::MakeReg
            | AccessFs::RemoveFile
            | AccessFs::Truncate;
        for d in &extra.write_dirs {
            let fd = PathFd::new(d).map_err(|e| format!("{}: {e}", d.display()))?;
            created = created
                .add_rule(PathBeneath::new(fd, write))
                .map_err(|e| format!("{}: {e}", d.display()))?;
        }
        for f in &extra.read_files {
            let fd = PathFd::new(f).map_err(|e| format!("{}: {e}", f.display()))?;
            created = created
                .add_rule(PathBeneath::new(fd, AccessFs::ReadFile))
                .map_err(|e| format!("{}: {e}", f.display()))?;
        }
        for &port in &extra.connect_ports {
            created = created
                .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
                .map_err(|e| format!("TCP port {port}: {e}"))?;
        }
        created.restrict_self().map_err(|e| e.to_string())
    };
    let st = match run() {
        Ok(st) => st,
        Err(e) => return Landlocked::Not(e),
    };
    let abi = match st.landlock {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => kernel_abi.unwrap_or(effective_abi as i32),
        LandlockStatus::NotEnabled => return Landlocked::Not("not enabled at boot".into()),
        LandlockStatus::NotImplemented => {
            return Landlocked::Not("not in this kernel".into());
        }
    };
    match st.ruleset {
        RulesetStatus::FullyEnforced => Landlocked::Full(abi),
        RulesetStatus::PartiallyEnforced => Landlocked::Partial(abi),
        RulesetStatus::NotEnforced => Landlocked::Not(format!("ABI {abi}: not enforced")),
    }
}
