//! The blob handle: the site, loaded once and shared read-only by every
//! worker.
//!
//! A root is served from bytes nothing can change under it, so that
//! truncating or rewriting the `.twb` in place while the server runs can
//! neither raise SIGBUS (a mapping of a shrunk file faults) nor send torn
//! bytes (sendfile reads the page cache as it is now):
//! - by default (`--blob-copy auto`), **the file itself under a read
//!   lease** (`leased_store`): no writer can open it while the lease is
//!   held, and a writer's open (or a truncate) waits while [`leases_broken`]
//!   (the main thread's SIGIO) moves a sealed memfd copy under the same
//!   addresses and descriptor number; only then is the file let go.
//!   Nothing is copied at load: start and swap cost the index's digest
//!   and checks, not a copy (nor a hash) of the blob;
//! - where no lease can be had (a writer has it open, another owner
//!   without CAP_LEASE, NFS/FUSE), or with `copy`/`memfd`, **a private
//!   copy** made at load, as below.
//!
//! Either way the bytes served are checked against the blob's digests: its
//! index at load (a half-written or corrupted index, or a copy racing with
//! a writer, is refused), each variant before it is first sent
//! (`dispatch::checked`: a damaged one is answered 500, never sent);
//! `--blob-verify full` checks every byte at load instead.
//!
//! Where a copy lives (`--blob-copy`):
//! - **`copy`** (and `auto` without a lease): a nameless file (`O_TMPFILE`) next to the blob,
//!   on the same filesystem (a reflink on XFS/btrfs, an in-kernel copy on
//!   ext4). Its page cache has large folios on XFS, and on ext4 since Linux
//!   6.16, so sendfile finds a body's pages in a few lookups instead of
//!   one per 4 KiB page: 0.88-0.91x the server CPU per request of the memfd
//!   for 52-64 KB bodies (alternating A/B runs of both modes against one
//!   wrk, ext4 on 6.18; see tarweb-serve/README.md). Its pages are ordinary
//!   page cache: the kernel may evict them under memory pressure and read
//!   them back from the copy on disk (a worker then waits for the disk;
//!   `--mlock` prevents that). Costs the blob's size again on that disk
//!   while it is served. When the directory is not writable, is tmpfs, or
//!   the copy fails (disk full), the memfd below is used. So is it for
//!   every blob loaded once the process is confined (`sandbox`): the
//!   server may then create no file anywhere, so a live swap's copy goes
//!   to a memfd rather than into the site's directory (see
//!   tarweb-serve/README.md, "Confinement").
//! - **`memfd`**: a sealed memfd. Lives in RAM as shmem (`Shmem` in
//!   `free`; only swap can take it out) and is sealed against writes by
//!   anyone. No huge pages unless `shmem_enabled` allows them (Debian: not).
//!
//! Either way the copy has no name: another process can reach it only
//! through /proc/PID/fd, with ptrace rights over the server. Serving a
//! 1 GiB site costs 1 GiB of RAM once hot, for all threads together, which
//! for a static site is the point (every byte is meant to be hot).

//! Live root swap (`watch`, `publish`): a new `Root` is loaded and
//! validated here before anyone sees it; workers hold `Arc<Root>`s through
//! a published `Sites` table, and a response that could not be written in
//! one go keeps its own `Arc<Root>` clone (see `conn::Output`), so an old
//! root (its mapping and memfd) lives exactly until its last response.
//! Its release (munmap, and the close that frees the memfd's pages:
//! ~100 ms for 512 MiB on the dev machine) is handed to a reaper thread,
//! so the worker that happens to drop the last reference does not stall
//! its connections.

use crate::sys::{self, Mmap};
use std::fs::File;
use std::io;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex, Weak};
use tarweb_format::{Blob, Layout, VariantChecks, Verify};

pub struct Root {
    /// The bytes and their descriptor. `None` only while being dropped.
    store: Option<Arc<Store>>,
    /// The store's descriptor number, for sendfile (the same number for
    /// the root's whole life, even when a lease break moves a copy onto it).
    fd: RawFd,
    /// Where the bytes live at load, for logs.
    pub backing: Backing,
    /// How long loading took (open to validated), for logs.
    pub load_time: std::time::Duration,
    layout: Layout,
    /// Which variants have passed their check (a lazily loaded blob's are
    /// checked before first use; see `finish`).
    checks: VariantChecks,
    pub generation: u64,
    /// The blake3 digest in hex, as `tarweb-pack` prints it.
    pub digest_hex: String,
    /// `Tarweb-Root: <digest>\r\n`, for the optional response header.
    pub header_line: Box<[u8]>,
    /// The same as an HTTP/2 field (HPACK).
    pub h2_field: Box<[u8]>,
}

#[derive(Debug)]
pub enum LoadError {
    Io(String),
    Format(tarweb_format::FormatError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(s) => f.write_str(s),
            LoadError::Format(e) => write!(f, "{e}"),
        }
    }
}

/// `--blob-copy`: where a loaded blob's private copy lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyTo {
    /// The file itself under a read lease, else as `Copy`.
    Auto,
    /// A nameless file next to the blob, else a sealed memfd.
    Copy,
    /// Always a sealed memfd.
    Memfd,
}

/// The mapping and the descriptor sendfile reads, shared with the lease
/// list (a weak reference) so that a lease break can move a private copy
/// under them while responses use them. Dropped in this order: the
/// mapping, then the descriptor.
struct Store {
    map: Mmap,
    file: OwnedFd,
    /// Under a read lease, until the break moves a copy in (then `false`).
    leased: std::sync::Mutex<bool>,
    mlock: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    File,
    Memfd,
    /// The blob's own file, under a read lease.
    Leased,
}

impl std::fmt::Display for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backing::File => "file copy",
            Backing::Memfd => "sealed memfd",
            Backing::Leased => "the file itself, leased",
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LoadOpts {
    pub copy: CopyTo,
    /// Pin the mapping in RAM (`--mlock`).
    pub mlock: bool,
    /// Check each variant before its first use rather than every byte at
    /// load (`--blob-verify`).
    pub lazy: bool,
}

impl Root {
    /// Copies `path` privately (see the module comment), maps the copy,
    /// validates it.
    pub fn load(path: &Path, generation: u64, opts: LoadOpts) -> Result<Root, LoadError> {
        let started = std::time::Instant::now();
        let io =
            |what: &str, e: io::Error| LoadError::Io(format!("{}: {what}: {e}", path.display()));
        // O_NONBLOCK: a FIFO renamed in must not block the loader in open.
        let mut src = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| io("open", e))?;
        let meta = src.metadata().map_err(|e| io("stat", e))?;
        if !meta.is_file() {
            return Err(LoadError::Io(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        let len = meta.len();
        // The file itself, under a read lease, where one can be taken:
        // nothing copied; the digest is checked on the file's own bytes.
        if opts.copy == CopyTo::Auto && len >= 128 && LEASES.load(Ordering::Relaxed) {
            if let Some(store) = leased_store(&src, len, opts.mlock) {
                return finish(store, Backing::Leased, generation, started, opts.lazy);
            }
        }
        let file_copy = match opts.copy {
            CopyTo::Auto | CopyTo::Copy if !NO_NEW_FILES.load(Ordering::Relaxed) => {
                copy_to_file(&mut src, path)
            }
            CopyTo::Auto | CopyTo::Copy | CopyTo::Memfd => None,
        };
        let (copy, len, backing) = match file_copy {
            Some((fd, len)) => (fd, len, Backing::File),
            None => {
                // From the start again: a failed file copy may have read some.
                src.seek(SeekFrom::Start(0)).map_err(|e| io("seek", e))?;
                let memfd = sys::memfd_create(c"tarweb-blob").map_err(|e| io("memfd_create", e))?;
                let mut dst = File::from(memfd);
                // std uses copy_file_range/sendfile here: no copy through user space.
                let len = io::copy(&mut src, &mut dst).map_err(|e| io("copy into memfd", e))?;
                let memfd = OwnedFd::from(dst);
                sys::seal(memfd.as_raw_fd()).map_err(|e| io("sealing memfd", e))?;
                (memfd, len, Backing::Memfd)
            }
        };
        if len < 128 {
            // Too short to map usefully; let the parser say why.
            let mut v = vec![0u8; len as usize];
            let f = File::from(copy.try_clone().map_err(|e| io("dup", e))?);
            std::os::unix::fs::FileExt::read_exact_at(&f, &mut v, 0).map_err(|e| io("read", e))?;
            return Err(LoadError::Format(
                Blob::parse(&v).expect_err("a blob under 128 bytes is invalid"),
            ));
        }
        let map = sys::mmap_readonly(copy.as_raw_fd(), len as usize).map_err(|e| io("mmap", e))?;
        if opts.mlock {
            sys::mlock(&map).map_err(|e| io("mlock", e))?;
        }
        let store = Arc::new(Store {
            map,
            file: copy,
            leased: Mutex::new(false),
            mlock: opts.mlock,
        });
        finish(store, backing, generation, started, opts.lazy)
    }

    /// A view of the validated blob (cheap: no re-validation). Its index
    /// is checked; a variant may be sent only once [`Root::checks`] passes
    /// it.
    #[inline]
    pub fn blob(&self) -> Blob<'_> {
        Blob::with_layout(self.bytes(), self.layout).expect("same bytes as parsed")
    }

    /// What is known of the variants' checks, shared by every worker.
    #[inline]
    pub fn checks(&self) -> &VariantChecks {
        &self.checks
    }

    pub fn bytes(&self) -> &[u8] {
        self.store.as_ref().expect("not dropped").map.as_slice()
    }

    /// The private copy, for sendfile.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The blob's size in bytes.
    pub fn size(&self) -> u64 {
        self.layout.file_size
    }
}

/// Set before the process is confined: from then on no file may be
/// created (Landlock allows no writes; seccomp refuses `O_TMPFILE`), so
/// blobs loaded later are copied into memfds without trying.
static NO_NEW_FILES: AtomicBool = AtomicBool::new(false);

/// Copies of blobs loaded from now on go to memfds (see [`NO_NEW_FILES`]).
pub fn no_new_files() {
    NO_NEW_FILES.store(true, Ordering::Relaxed);
}

/// What a dropped root leaves to the reaper.
type Remains = Arc<Store>;

/// Bounded and preallocated (`sync_channel`): an unbounded channel
/// allocates a block per 31 messages on the sending thread (a worker) and
/// frees it on the reaper, memory moving between the two threads' malloc
/// arenas with every swap. A full queue (a reaper still unmapping 64
/// roots) drops the remains where they are, as without a reaper.
static REAPER: OnceLock<SyncSender<Remains>> = OnceLock::new();
const REAPER_QUEUE: usize = 64;

/// Copies `src` into a nameless file (`O_TMPFILE`) in `path`'s directory;
/// `None` where that cannot be done or would not help (tmpfs: there a
/// sealed memfd is the same memory with a stronger guarantee).
fn copy_to_file(src: &mut File, path: &Path) -> Option<(OwnedFd, u64)> {
    let mut dst = nameless_file(dir_of(path), 0o400)?;
    // copy_file_range: a reflink where the filesystem can, else in-kernel.
    let len = io::copy(src, &mut dst).ok()?;
    Some((OwnedFd::from(dst), len))
}

/// The directory holding `path` (`.` for a bare file name).
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A nameless file (`O_TMPFILE`) in `dir`, unless `dir` is tmpfs or the
/// file cannot be made there.
fn nameless_file(dir: &Path, mode: u32) -> Option<File> {
    if sys::on_tmpfs(dir).unwrap_or(true) {
        return None;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .mode(mode)
        .open(dir)
        .ok()
}

/// A private, empty, writable file for the server's own bytes (hot
/// responses): nameless in `dir` like a blob's copy, or a memfd when there
/// is no `dir`, it is tmpfs, or the file cannot be made there. Mode 0600
/// where a blob's copy has 0400: /proc then tells the two apart.
pub fn scratch_file(dir: Option<&Path>, name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    match dir.and_then(|d| nameless_file(d, 0o600)) {
        Some(f) => Ok(OwnedFd::from(f)),
        None => sys::memfd_create(name),
    }
}

/// Validates a mapped store and makes the root: the index (its digest,
/// hashed on every core, and its structure) now; each variant's blocks
/// before that variant is first sent (`dispatch::checked`), so loading
/// costs the index, not the bytes (`format-spec.md` §8). A blob without an
/// index digest is checked whole here, as is every blob without `lazy`
/// (`--blob-verify full`).
fn finish(
    store: Arc<Store>,
    backing: Backing,
    generation: u64,
    started: std::time::Instant,
    lazy: bool,
) -> Result<Root, LoadError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let verify = match lazy {
        true => Verify::Lazy(threads),
        false => Verify::FullThreads(threads),
    };
    let blob = Blob::parse_with(store.map.as_slice(), verify).map_err(LoadError::Format)?;
    let layout = blob.layout();
    let checks = VariantChecks::new(&blob);
    let digest_hex = blob.digest_hex();
    let header_line = format!("Tarweb-Root: {digest_hex}\r\n").into_bytes().into();
    let mut h2_field = Vec::new();
    tarweb_format::hpack::encode_field(&mut h2_field, b"tarweb-root", digest_hex.as_bytes());
    Ok(Root {
        fd: store.file.as_raw_fd(),
        store: Some(store),
        backing,
        load_time: started.elapsed(),
        layout,
        checks,
        generation,
        digest_hex,
        header_line,
        h2_field: h2_field.into(),
    })
}

/// Set once SIGIO is blocked in every thread and taken by the main loop
/// (`server::run`): before that (tests, tools) a lease break would kill the
/// process, so no lease is taken.
static LEASES: AtomicBool = AtomicBool::new(false);

/// Roots served from their own files under a lease, for [`leases_broken`].
static LEASED: Mutex<Vec<Weak<Store>>> = Mutex::new(Vec::new());

/// Blobs loaded from now on may be served from their files under a lease.
pub fn enable_leases() {
    LEASES.store(true, Ordering::Relaxed);
}

/// The file itself as a store, under a read lease: `None` where no lease
/// can be had (someone has it open for writing, another owner without
/// CAP_LEASE, a filesystem without leases) or the file changed before it
/// was taken; the caller then copies.
fn leased_store(src: &File, len: u64, mlock: bool) -> Option<Arc<Store>> {
    let fd = src.try_clone().ok()?;
    let raw = fd.as_raw_fd();
    sys::read_lease(raw).ok()?;
    let store = leased_map(fd, len, mlock);
    if store.is_none() {
        // `src` shares the leased file and is copied next: a writer must
        // not wait for a lease no one will break.
        sys::release_lease(src.as_raw_fd());
    }
    store
}

fn leased_map(fd: File, len: u64, mlock: bool) -> Option<Arc<Store>> {
    let raw = fd.as_raw_fd();
    // Under the lease the size can no longer change unseen (a truncate
    // breaks it); before it, it may have. Mapped only if it did not.
    if fd.metadata().ok()?.len() != len {
        return None;
    }
    let map = sys::mmap_leased(raw, len as usize).ok()?;
    let store = Arc::new(Store {
        map,
        file: OwnedFd::from(fd),
        leased: Mutex::new(true),
        mlock,
    });
    if mlock && sys::mlock(&store.map).is_err() {
        return None;
    }
    let mut list = LEASED.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(&store));
    drop(list);
    // A break that came between taking the lease and listing the store
    // found nothing to do: look now.
    if !sys::lease_held(raw) {
        go_private(&store);
    }
    Some(store)
}

/// SIGIO: every listed store whose lease is breaking gets its private copy
/// (a sealed memfd: the server may create no file once confined) moved
/// under its mapping and descriptor, then lets the file go; the writer
/// waiting in `open` proceeds. Responses in flight never see a change:
/// the copy holds the same bytes at the same addresses and number.
pub fn leases_broken() {
    let stores: Vec<Arc<Store>> = {
        let mut list = LEASED.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    for s in stores {
        if !sys::lease_held(s.file.as_raw_fd()) {
            go_private(&s);
        }
    }
}

/// Moves a private copy of a leased store's bytes under its mapping and
/// descriptor (once). On failure the lease is left to expire: the writer
/// then proceeds after lease-break-time, so a failure is logged loudly.
fn go_private(s: &Store) {
    let mut leased = s.leased.lock().unwrap_or_else(|e| e.into_inner());
    if !*leased {
        return;
    }
    let r = (|| -> io::Result<()> {
        let memfd = sys::memfd_create(c"tarweb-blob")?;
        let mut dst = File::from(memfd);
        // From the mapping: the leased bytes, whatever the file's offset.
        io::Write::write_all(&mut dst, s.map.as_slice())?;
        let memfd = OwnedFd::from(dst);
        sys::seal(memfd.as_raw_fd())?;
        sys::remap_private(&s.map, memfd.as_raw_fd())?;
        if s.mlock {
            sys::mlock(&s.map)?;
        }
        // Last: the leased file closes here (the mapping no longer holds
        // it), which releases the lease once in-flight sendfiles are done.
        sys::replace_fd(memfd.as_raw_fd(), s.file.as_raw_fd())
    })();
    match r {
        Ok(()) => {
            *leased = false;
            eprintln!(
                "tarweb-serve: a writer opened a served blob: now served from a private copy (sealed memfd, {} bytes)",
                s.map.as_slice().len()
            );
        }
        Err(e) => eprintln!(
            "tarweb-serve: a writer opened a served blob and its private copy failed ({e}); \
             the lease expires after /proc/sys/fs/lease-break-time"
        ),
    }
}

/// Starts the thread that unmaps and closes released roots. Without it
/// (tests, or if it cannot start) a root is released where it is dropped.
pub fn start_reaper() -> io::Result<()> {
    let (tx, rx) = mpsc::sync_channel::<Remains>(REAPER_QUEUE);
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || {
            for remains in rx {
                drop(remains);
            }
        })?;
    let _ = REAPER.set(tx);
    Ok(())
}

impl Drop for Root {
    fn drop(&mut self) {
        let Some(remains) = self.store.take() else {
            return;
        };
        if let Some(tx) = REAPER.get() {
            // On failure (queue full, no reaper any more) the remains drop
            // here; a worker never waits for the reaper.
            let _ = tx.try_send(remains);
        }
    }
}
