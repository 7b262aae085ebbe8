//! Notices a new site on disk, loads it, and publishes it.
//!
//! What is watched is a directory, never the file: a deploy replaces the
//! file by a rename (`mv site.twb.new site.twb`) or a symlink flip
//! (`ln -sfn`), and neither is an event on the old file. So inotify
//! watches the file's directory, the directory of the real file when the
//! path goes through a symlink, and the parent of every symlinked component
//! of the path (a `current -> releases/v2` flip). Any event there triggers
//! a re-check, which compares a `stat` identity (device, inode, size,
//! mtime, ctime) with the one loaded: unrelated events cost a stat.
//! Without inotify (or with `--watch poll`) the same check runs every
//! interval; SIGHUP forces a check that also retries files that failed.
//!
//! Other files the server reads at start (the TLS certificates) can ride on
//! the same watch ([`Watcher::also_watch`]): their directories join the
//! watched set, and when their `stat` identities change an action runs
//! (the certificate reload), on this thread, after the blob check.
//!
//! A candidate is loaded with `Root::load` (a private copy, fully validated
//! with its digest) and published only if that succeeds; otherwise the old
//! root stays and the reason is logged once per file version. Loading runs
//! on this thread, so the workers never wait for it.

mod dirs;

use crate::publish::Published;
use crate::root::{LoadOpts, Root};
use crate::sites::{self, Site, Sites, DEFAULT_STEM};
use dirs::{dirs_for, dirs_for_dir};
use inotify::{Inotify, WatchMask, Watches};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to serve: one blob, or a directory of `<host>.twb` files.
#[derive(Clone, Debug)]
pub enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// inotify, falling back to polling when it is unavailable.
    Inotify,
    Poll,
    /// Never reload (SIGHUP still does).
    Off,
}

/// Events of one deploy (a rename, a symlink flip, a file written in place
/// and closed) arrive together; wait this long for quiet before checking.
const QUIET: Duration = Duration::from_millis(50);
const QUIET_MAX: Duration = Duration::from_secs(1);

enum Msg {
    Changed,
    Recheck,
    InotifyFailed(String),
}

/// Asks the watcher thread for a check (SIGHUP).
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Msg>,
}

impl Handle {
    /// A forced check: every file is loaded again if its identity changed
    /// or it failed before.
    pub fn recheck(&self) {
        let _ = self.tx.send(Msg::Recheck);
    }
}

/// `stat` identity of a file version (following symlinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Ident {
    fn of(m: &std::fs::Metadata) -> Ident {
        Ident {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

struct Loaded {
    id: Ident,
    root: Arc<Root>,
}

/// Root generations (unique per loaded root, for logs and tests).
static NEXT_ROOT: AtomicU64 = AtomicU64::new(1);

pub struct Watcher {
    target: Target,
    load_opts: LoadOpts,
    /// Loaded sites by key: the file name stem in a directory, `""` for
    /// the single file.
    loaded: BTreeMap<String, Loaded>,
    /// The identity that last failed to load, by key (not retried, not
    /// logged again, until it changes or SIGHUP).
    failed: HashMap<String, Ident>,
    /// `.twb` names in the directory that cannot be host names (logged
    /// once).
    ignored: BTreeSet<String>,
    /// Keys whose file could not be `stat`ed (logged once until it can).
    unreadable: BTreeSet<String>,
    /// Non-blob files watched for an action (see `also_watch`).
    also: Vec<Also>,
}

/// Files (and directories whose entries count) whose change runs `action`.
struct Also {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    seen: Vec<(PathBuf, Option<Ident>)>,
    action: Box<dyn FnMut() + Send>,
}

impl Also {
    /// The identities of the files, and of every entry of the directories.
    fn snapshot(&self) -> Vec<(PathBuf, Option<Ident>)> {
        let ident = |p: &Path| std::fs::metadata(p).ok().map(|m| Ident::of(&m));
        let mut v: Vec<_> = self.files.iter().map(|p| (p.clone(), ident(p))).collect();
        for d in &self.dirs {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            v.extend(entries.into_iter().map(|p| {
                let id = ident(&p);
                (p, id)
            }));
        }
        v
    }
}

fn log(msg: &str) {
    info!("{msg}");
}

/// The name the kernel gives an `O_TMPFILE` in inotify events: `#<inode>`.
/// Our own blob copies (`root::copy_to_file`) live next to the blobs, so
/// their writes and closes would otherwise wake the watcher for nothing.
fn own_copy(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes()
        .split_first()
        .is_some_and(|(h, t)| *h == b'#' && !t.is_empty() && t.iter().all(u8::is_ascii_digit))
}

fn log_loaded(label: &str, root: &Root) {
    log(&format!(
        "loaded {label}: digest {} ({} bytes, {}; {} ms)",
        root.digest_hex,
        root.size(),
        root.backing,
        root.load_time.as_millis()
    ));
}

fn log_err(msg: &str) {
    warn!("tarweb-serve: {msg}");
}

impl Watcher {
    /// Loads what `target` names, for startup. A single file must load (it
    /// is the whole site); in a directory, a bad file is logged and left
    /// out, and an empty directory is a valid (empty) table.
    pub fn start(target: Target, load_opts: LoadOpts) -> Result<(Watcher, Sites), String> {
        let mut w = Watcher {
            target,
            load_opts,
            loaded: BTreeMap::new(),
            failed: HashMap::new(),
            ignored: BTreeSet::new(),
            unreadable: BTreeSet::new(),
            also: Vec::new(),
        };
        match &w.target {
            Target::File(p) => {
                let id = std::fs::metadata(p)
                    .map(|m| Ident::of(&m))
                    .map_err(|e| format!("{}: open: {e}", p.display()))?;
                let root = load(p, load_opts).map_err(|e| e.to_string())?;
                log_loaded(&p.display().to_string(), &root);
                w.loaded.insert(String::new(), Loaded { id, root });
            }
            Target::Dir(d) => {
                if !d.is_dir() {
                    return Err(format!("{}: not a directory", d.display()));
                }
                w.check(false);
            }
        }
        let sites = w.sites();
        Ok((w, sites))
    }

    /// Watches `files` and the entries of `dirs` too: when any of their
    /// `stat` identities changes (a rename over, a rewrite, a symlink flip,
    /// an added or removed entry), `action` runs on the watcher thread.
    /// Call before `spawn`, so the watches are in place before `ready`.
    pub fn also_watch(
        &mut self,
        files: Vec<PathBuf>,
        dirs: Vec<PathBuf>,
        action: Box<dyn FnMut() + Send>,
    ) {
        let mut a = Also {
            files,
            dirs,
            seen: Vec::new(),
            action,
        };
        a.seen = a.snapshot();
        self.also.push(a);
    }

    /// Runs the action of every `also_watch` set whose files changed.
    fn check_also(&mut self) {
        for a in &mut self.also {
            let now = a.snapshot();
            if now != a.seen {
                a.seen = now;
                (a.action)();
            }
        }
    }

    fn sites(&self) -> Sites {
        match self.target {
            Target::File(_) => Sites::single(self.loaded[""].root.clone()),
            Target::Dir(_) => {
                let hosts = self
                    .loaded
                    .iter()
                    .filter(|(k, _)| k.as_str() != DEFAULT_STEM)
                    .map(|(k, l)| Site {
                        name: k.as_str().into(),
                        root: l.root.clone(),
                    })
                    .collect();
                let default = self.loaded.get(DEFAULT_STEM).map(|l| l.root.clone());
                Sites::hosts(hosts, default)
            }
        }
    }

    /// (key, path) of every file that should be served now.
    fn candidates(&mut self) -> Vec<(String, PathBuf)> {
        match &self.target {
            Target::File(p) => vec![(String::new(), p.clone())],
            Target::Dir(d) => {
                let rd = match std::fs::read_dir(d) {
                    Ok(rd) => rd,
                    Err(e) => {
                        // Keep serving what we have: a directory that
                        // vanished for a moment is not a deploy.
                        log_err(&format!("{}: {e}; keeping the current sites", d.display()));
                        return self
                            .loaded
                            .keys()
                            .map(|k| (k.clone(), d.join(format!("{k}.twb"))))
                            .collect();
                    }
                };
                let mut out = Vec::new();
                let mut ignored = BTreeSet::new();
                for e in rd.flatten() {
                    let name = e.file_name();
                    let Some(name) = name.to_str() else { continue };
                    let Some(stem) = name.strip_suffix(".twb") else {
                        continue;
                    };
                    if stem == DEFAULT_STEM || sites::valid_site_name(stem) {
                        out.push((stem.to_string(), e.path()));
                    } else if !stem.starts_with('.') {
                        ignored.insert(name.to_string());
                    }
                }
                for n in ignored.difference(&self.ignored) {
                    log_err(&format!(
                        "{}: ignored: not a lower-case host name or {DEFAULT_STEM}.twb",
                        d.join(n).display()
                    ));
                }
                self.ignored = ignored;
                out
            }
        }
    }

    /// Loads what changed; returns true when the table changed.
    fn check(&mut self, force: bool) -> bool {
        let mut changed = false;
        let cands = self.candidates();
        let single = matches!(self.target, Target::File(_));
        for (key, path) in &cands {
            let id = match std::fs::metadata(path) {
                Ok(m) => Ident::of(&m),
                Err(e) => {
                    // The single file keeps serving; in a directory a
                    // dangling symlink is a removed site (below).
                    if self.unreadable.insert(key.clone()) {
                        let still = match self.loaded.get(key) {
                            Some(l) if single => format!("; still serving {}", l.root.digest_hex),
                            _ => String::new(),
                        };
                        log_err(&format!("{}: {e}{still}", path.display()));
                    }
                    continue;
                }
            };
            self.unreadable.remove(key);
            let old = self.loaded.get(key);
            if old.is_some_and(|l| l.id == id) && !force {
                continue;
            }
            if self.failed.get(key) == Some(&id) && !force {
                continue;
            }
            let label = if single {
                path.display().to_string()
            } else {
                key.clone()
            };
            match load(path, self.load_opts) {
                Ok(root) => {
                    self.failed.remove(key);
                    if let Some(old) = old.filter(|l| l.root.digest_hex == root.digest_hex) {
                        // Same content (a re-deploy): keep the root the
                        // workers already have.
                        let root = old.root.clone();
                        self.loaded.insert(key.clone(), Loaded { id, root });
                        continue;
                    }
                    log_loaded(&label, &root);
                    self.loaded.insert(key.clone(), Loaded { id, root });
                    changed = true;
                }
                Err(e) => {
                    let still = match old {
                        Some(l) => format!("still serving {}", l.root.digest_hex),
                        None => "not serving it".to_string(),
                    };
                    crate::metrics::REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    log_err(&format!("refusing {label}: {e}; {still}"));
                    self.failed.insert(key.clone(), id);
                }
            }
        }
        if !single {
            let present: BTreeSet<&String> = cands
                .iter()
                .filter(|(_, p)| p.exists())
                .map(|(k, _)| k)
                .collect();
            let gone: Vec<String> = self
                .loaded
                .keys()
                .filter(|k| !present.contains(k))
                .cloned()
                .collect();
            for k in gone {
                log(&format!("removed {k}"));
                self.loaded.remove(&k);
                changed = true;
            }
            self.failed.retain(|k, _| present.contains(k));
            self.unreadable
                .retain(|k| cands.iter().any(|(c, _)| c == k));
        }
        changed
    }

    /// Directories whose entries decide what `check` finds.
    fn watch_dirs(&self) -> BTreeSet<PathBuf> {
        let mut dirs = BTreeSet::new();
        for a in &self.also {
            for f in &a.files {
                dirs_for(f, &mut dirs);
            }
            for d in &a.dirs {
                dirs_for_dir(d, &mut dirs);
                // An entry may be a symlink (certbot's `live/`): where
                // its target lives counts too.
                for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                    dirs_for(&e.path(), &mut dirs);
                }
            }
        }
        match &self.target {
            Target::File(p) => dirs_for(p, &mut dirs),
            Target::Dir(d) => {
                dirs_for_dir(d, &mut dirs);
                for k in self.loaded.keys() {
                    dirs_for(&d.join(format!("{k}.twb")), &mut dirs);
                }
            }
        }
        dirs
    }

    /// Runs the watcher on its own thread; the handle forces checks.
    pub fn spawn(mut self, published: Arc<Published>, mode: Mode, interval: Duration) -> Handle {
        let (tx, rx) = mpsc::channel();
        let mut watches = None;
        if mode == Mode::Inotify {
            match Inotify::init() {
                Ok(mut ino) => {
                    watches = Some((ino.watches(), HashMap::new()));
                    let tx = tx.clone();
                    let spawned =
                        std::thread::Builder::new()
                            .name("inotify".into())
                            .spawn(move || {
                                let mut buf = [0u8; 4096];
                                loop {
                                    match ino.read_events_blocking(&mut buf) {
                                        Ok(mut evs) => {
                                            if evs.all(|e| e.name.is_some_and(own_copy)) {
                                                continue;
                                            }
                                            if tx.send(Msg::Changed).is_err() {
                                                return;
                                            }
                                        }
                                        Err(e) => {
                                            let _ = tx.send(Msg::InotifyFailed(e.to_string()));
                                            return;
                                        }
                                    }
                                }
                            });
                    if let Err(e) = spawned {
                        log_err(&format!("inotify thread: {e}; polling instead"));
                        watches = None;
                    }
                }
                Err(e) => log_err(&format!("inotify: {e}; polling every {interval:?} instead")),
            }
        }
        // Watches in place before `ready`, then one check for what changed
        // since the first load (before there was a watch to see it).
        let mut poll = mode == Mode::Poll || (mode == Mode::Inotify && watches.is_none());
        if let Some((w, held)) = watches.as_mut() {
            poll |= !self.rewatch(w, held);
        }
        if mode != Mode::Off && self.check(false) {
            published.publish(self.sites());
        }
        let handle = Handle { tx };
        let spawned = std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || {
                loop {
                    let msg = if poll {
                        rx.recv_timeout(interval)
                    } else {
                        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    };
                    let mut msgs = match msg {
                        Ok(m) => vec![m],
                        Err(RecvTimeoutError::Timeout) => Vec::new(),
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    if matches!(msgs.first(), Some(Msg::Changed)) {
                        // Let the rest of the deploy's events arrive.
                        let t0 = Instant::now();
                        while t0.elapsed() < QUIET_MAX {
                            match rx.recv_timeout(QUIET) {
                                Ok(m) => msgs.push(m),
                                Err(_) => break,
                            }
                        }
                    }
                    let mut force = false;
                    for m in msgs {
                        match m {
                            Msg::Recheck => force = true,
                            Msg::Changed => {}
                            Msg::InotifyFailed(e) => {
                                log_err(&format!("inotify: {e}; polling every {interval:?}"));
                                watches = None;
                                poll = true;
                            }
                        }
                    }
                    if self.check(force) {
                        let g = published.publish(self.sites());
                        crate::metrics::SWAPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        log(&format!("published generation {g}"));
                    }
                    self.check_also();
                    if let Some((w, held)) = watches.as_mut() {
                        // A watch that could not be placed (a directory
                        // that does not exist yet) is covered by polling.
                        poll = mode == Mode::Poll || !self.rewatch(w, held);
                    }
                }
            });
        if let Err(e) = spawned {
            log_err(&format!("watch thread: {e}; live reload is off"));
        }
        handle
    }

    /// Places a watch on every directory of `watch_dirs` and drops the
    /// ones no longer needed. False when one could not be placed.
    fn rewatch(&self, w: &mut Watches, held: &mut HashMap<i32, inotify::WatchDescriptor>) -> bool {
        let mask = WatchMask::CLOSE_WRITE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::ATTRIB
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ONLYDIR;
        let mut all = true;
        let mut now = HashMap::new();
        for d in self.watch_dirs() {
            match w.add(&d, mask) {
                Ok(wd) => {
                    now.insert(wd.get_watch_descriptor_id(), wd);
                }
                Err(_) => all = false,
            }
        }
        for (id, wd) in held.drain() {
            if !now.contains_key(&id) {
                // Fails harmlessly when the directory is already gone.
                let _ = w.remove(wd);
            }
        }
        *held = now;
        all
    }
}

fn load(path: &Path, opts: LoadOpts) -> Result<Arc<Root>, crate::root::LoadError> {
    Root::load(path, NEXT_ROOT.fetch_add(1, Ordering::Relaxed), opts).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tmpfile_names_are_our_copies() {
        use std::ffi::OsStr;
        assert!(own_copy(OsStr::new("#10108946")));
        for n in ["#", "#12a", "site.twb", "12", "#1.twb", ""] {
            assert!(!own_copy(OsStr::new(n)), "{n}");
        }
    }
}
