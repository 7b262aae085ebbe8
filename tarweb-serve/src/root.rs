//! The blob handle: the site, loaded once and shared read-only by every
//! worker.
//!
//! The file is copied into a sealed memfd and served from there, never from
//! the file itself: truncating or rewriting the `.twb` in place while the
//! server runs can then neither raise SIGBUS (a mapping of a shrunk file
//! faults) nor send torn bytes (sendfile reads the page cache as it is now).
//! A copy racing with a writer is caught by `Blob::parse`, which checks the
//! blake3 digest of the copy.
//!
//! **Memory trade-off**: the blob lives in RAM as shmem (it shows as
//! `Shmem`/`Shared` in `free`, and can go to swap if there is any), once
//! for all threads; the page cache of the original file is dropped by the
//! kernel as usual. So serving a 1 GiB site costs 1 GiB of RAM, which for a
//! static site is the point anyway (every byte is meant to be hot).
//! `--mlock` pins it so it is never swapped out.
//!
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
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;
use tarweb_format::{Blob, Layout};

pub struct Root {
    /// `None` only while being dropped.
    memfd: Option<OwnedFd>,
    /// `memfd`'s number, for sendfile.
    fd: RawFd,
    map: Mmap,
    layout: Layout,
    pub generation: u64,
    /// The blake3 digest in hex, as `tarweb-pack` prints it.
    pub digest_hex: String,
    /// `Tarweb-Root: <digest>\r\n`, for the optional response header.
    pub header_line: Box<[u8]>,
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

impl Root {
    /// Copies `path` into a sealed memfd, maps it, validates it.
    pub fn load(path: &Path, generation: u64, mlock: bool) -> Result<Root, LoadError> {
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
        let memfd = sys::memfd_create(c"tarweb-blob").map_err(|e| io("memfd_create", e))?;
        let mut dst = File::from(memfd);
        // std uses copy_file_range/sendfile here: no copy through user space.
        let len = io::copy(&mut src, &mut dst).map_err(|e| io("copy into memfd", e))?;
        let memfd = OwnedFd::from(dst);
        sys::seal(memfd.as_raw_fd()).map_err(|e| io("sealing memfd", e))?;
        if len < 128 {
            // Too short to map usefully; let the parser say why.
            let mut v = vec![0u8; len as usize];
            let f = File::from(memfd.try_clone().map_err(|e| io("dup", e))?);
            std::os::unix::fs::FileExt::read_exact_at(&f, &mut v, 0).map_err(|e| io("read", e))?;
            return Err(LoadError::Format(
                Blob::parse(&v)
                    .err()
                    .expect("a blob under 128 bytes is invalid"),
            ));
        }
        let map = sys::mmap_readonly(memfd.as_raw_fd(), len as usize).map_err(|e| io("mmap", e))?;
        if mlock {
            sys::mlock(&map).map_err(|e| io("mlock", e))?;
        }
        let blob = Blob::parse(map.as_slice()).map_err(LoadError::Format)?;
        let layout = blob.layout();
        let digest_hex = blob.digest_hex();
        let header_line = format!("Tarweb-Root: {digest_hex}\r\n").into_bytes().into();
        Ok(Root {
            fd: memfd.as_raw_fd(),
            memfd: Some(memfd),
            map,
            layout,
            generation,
            digest_hex,
            header_line,
        })
    }

    /// A view of the validated blob (cheap: no re-validation).
    #[inline]
    pub fn blob(&self) -> Blob<'_> {
        Blob::with_layout(self.map.as_slice(), self.layout).expect("same bytes as parsed")
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_slice()
    }

    /// The memfd, for sendfile.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub fn len(&self) -> u64 {
        self.layout.file_size
    }

    pub fn is_empty(&self) -> bool {
        self.layout.file_size == 0
    }
}

/// What a dropped root leaves to the reaper.
type Remains = (Mmap, Option<OwnedFd>);

static REAPER: OnceLock<Sender<Remains>> = OnceLock::new();

/// Starts the thread that unmaps and closes released roots. Without it
/// (tests, or if it cannot start) a root is released where it is dropped.
pub fn start_reaper() -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<Remains>();
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
        let remains = (self.map.take(), self.memfd.take());
        if let Some(tx) = REAPER.get() {
            // On failure (no reaper any more) the remains drop here.
            let _ = tx.send(remains);
        }
    }
}
