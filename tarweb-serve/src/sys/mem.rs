//! The blob's memory: read-only mappings of private copies, memfds and seals.

use super::seccomp::Allow;
use super::{cvt, owned};
use std::ffi::CStr;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

/// This file's syscalls (the seccomp allowlist, `seccomp.rs`): a loaded
/// blob's memfd, seals and mapping; `--mlock`.
pub(super) const SECCOMP: &[Allow] = &[
    // Never executable.
    Allow::arg_masked(libc::SYS_mmap, "mmap", 2, libc::PROT_EXEC as u64, 0),
    Allow::any(libc::SYS_munmap, "munmap"),
    Allow::any(libc::SYS_mlock, "mlock"),
    Allow::any(libc::SYS_memfd_create, "memfd_create"),
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_ADD_SEALS as u64),
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_GET_SEALS as u64),
];

/// A read-only shared mapping of a whole file.
pub struct Mmap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and of a private copy (a sealed memfd,
// or a nameless file only this process holds: see `mmap_readonly`), or of
// a file under a read lease that is replaced by such a copy before the
// lease is let go (`mmap_leased`, `remap_private`): no one changes the
// bytes, so sharing references across threads is sound.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is mapped readable for the life of `self`,
        // and the file under it is a private copy that nothing writes or
        // shrinks (`mmap_readonly` checked it), or a leased file that no
        // one may write before `remap_private` has put a copy of the same
        // bytes at the same addresses (`mmap_leased`), so the bytes never change
        // and access never hits a hole (an empty one from `take` has a
        // dangling, aligned, non-null pointer and length 0).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: unmaps exactly what `mmap_readonly` mapped; no borrow of
        // `as_slice` outlives `self`.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// `len` bytes of `fd`, read-only and shared, for the two constructors
/// below once each has checked why the bytes cannot change under it.
fn map_shared(fd: RawFd, len: usize) -> io::Result<Mmap> {
    // SAFETY: a fresh mapping chosen by the kernel; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Mmap {
        ptr: p as *const u8,
        len,
    })
}

/// Maps `len` bytes of `fd` read-only and shared. `len` must be > 0 and
/// `fd` a private copy (checked: that is what makes `Mmap::as_slice`
/// sound, since the bytes can then never change or vanish under the
/// mapping): either a memfd sealed against shrinking and writing, or a
/// regular file with no name (`O_TMPFILE`, never linked), which no other
/// process can open except through /proc/PID/fd, that is, with ptrace
/// rights over this process (which could as well write its memory).
pub fn mmap_readonly(fd: RawFd, len: usize) -> io::Result<Mmap> {
    let need = libc::F_SEAL_SHRINK | libc::F_SEAL_WRITE;
    let sealed = get_seals(fd).is_ok_and(|s| s & need == need);
    if !sealed && !is_nameless_file(fd)? {
        return Err(io::Error::other(
            "refusing to map a descriptor that is neither a sealed memfd nor a nameless file",
        ));
    }
    map_shared(fd, len)
}

/// Maps `len` bytes of `fd` read-only and shared, without the private
/// copy check of [`mmap_readonly`]: the caller holds a read lease on `fd`
/// (`lease::read_lease`, checked again here), has checked after taking it
/// that the file is still `len` bytes long, and calls [`remap_private`]
/// before it lets the lease go. While the lease is held no one can open
/// the file for writing or truncate it, so the bytes cannot change or
/// vanish under the mapping.
pub fn mmap_leased(fd: RawFd, len: usize) -> io::Result<Mmap> {
    if !super::lease::lease_held(fd) {
        return Err(io::Error::other(
            "refusing to map a file without its read lease",
        ));
    }
    map_shared(fd, len)
}

/// Puts `fd`, a private copy of the bytes `m` maps (a sealed memfd or a
/// nameless file: checked as by [`mmap_readonly`]), under `m`'s addresses
/// in place of the leased file: one `mmap(MAP_FIXED)`, which replaces the
/// old pages atomically (a reader faulting meanwhile waits for the new
/// mapping and finds the same bytes), so every slice into `m` stays valid.
pub fn remap_private(m: &Mmap, fd: RawFd) -> io::Result<()> {
    let need = libc::F_SEAL_SHRINK | libc::F_SEAL_WRITE;
    let sealed = get_seals(fd).is_ok_and(|s| s & need == need);
    if m.len == 0 || (!sealed && !is_nameless_file(fd)?) {
        return Err(io::Error::other("not a private copy to remap"));
    }
    // SAFETY: replaces exactly the pages `m` owns (`ptr..ptr+len`, mapped
    // by `mmap_leased`) with the same bytes from a private copy; nothing
    // else lives in that range.
    let p = unsafe {
        libc::mmap(
            m.ptr as *mut libc::c_void,
            m.len,
            libc::PROT_READ,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn mlock(m: &Mmap) -> io::Result<()> {
    // SAFETY: locks pages of a live mapping.
    cvt(unsafe { libc::mlock(m.ptr.cast(), m.len) }).map(drop)
}

/// `memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING)`.
pub fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string.
    Ok(owned(cvt(unsafe {
        libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
    })?))
}

/// Seals a memfd against shrinking, growing, writing, and further seals.
pub fn seal(fd: RawFd) -> io::Result<()> {
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: plain fcntl on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) }).map(drop)
}

/// A regular file without a name (link count 0): an `O_TMPFILE` that was
/// never linked.
fn is_nameless_file(fd: RawFd) -> io::Result<bool> {
    // SAFETY: fstat fills the zeroed struct we pass; no other memory is touched.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on a descriptor we own.
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_nlink == 0)
}

/// Is `dir` on tmpfs (where a file is shmem, like a memfd, but unsealable)?
pub fn on_tmpfs(dir: &std::path::Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statfs fills the zeroed struct we pass; `c` is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    cvt(unsafe { libc::statfs(c.as_ptr(), &mut st) })?;
    Ok(st.f_type == libc::TMPFS_MAGIC)
}

fn get_seals(fd: RawFd) -> io::Result<i32> {
    // SAFETY: plain fcntl on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_GET_SEALS) })
}
