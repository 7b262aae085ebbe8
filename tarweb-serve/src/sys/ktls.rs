//! Kernel TLS (linux/tls.h): after rustls' handshake the session's keys are
//! handed to the kernel, which then encrypts and decrypts the records, so
//! writev/sendfile/read keep working on the same fd. Needs CONFIG_TLS
//! (tls.ko). Versions: TLS 1.3 5.1, ChaCha20 5.11, TLS_TX_ZEROCOPY_RO 5.19,
//! TLS_RX_EXPECT_NO_PAD 6.0, TLS 1.3 rekey 6.14.

use super::counters::{Counters, Sc};
use super::net::setsockopt_bytes;
use super::seccomp::Allow;
use super::{cvt, cvt_size, owned};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// This file's syscalls after start-up: the ULP and keys at the TCP and
/// TLS levels, records with control messages (the seccomp allowlist,
/// `seccomp.rs`).
pub(super) const SECCOMP: &[Allow] = &[
    Allow::arg_eq(libc::SYS_setsockopt, "setsockopt", 1, libc::SOL_TCP as u64),
    Allow::arg_eq(libc::SYS_setsockopt, "setsockopt", 1, SOL_TLS as u64),
    Allow::any(libc::SYS_sendmsg, "sendmsg"),
    Allow::any(libc::SYS_recvmsg, "recvmsg"),
];

/// `SOL_TLS`: socket option level of the TLS ULP.
const SOL_TLS: libc::c_int = 282;
/// `TCP_ULP` (level `SOL_TCP`).
const TCP_ULP: libc::c_int = 31;
const TLS_TX: libc::c_int = 1;
const TLS_RX: libc::c_int = 2;
/// cmsg types at level `SOL_TLS`.
const TLS_SET_RECORD_TYPE: libc::c_int = 1;
const TLS_GET_RECORD_TYPE: libc::c_int = 2;

/// Which direction a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KtlsDir {
    Tx,
    Rx,
}

/// Optional u32 flags at level `SOL_TLS`.
#[derive(Clone, Copy, Debug)]
pub enum KtlsFlag {
    /// `TLS_TX_ZEROCOPY_RO` (5.19): sendfile encrypts straight from the
    /// page cache; safe only when the file never changes (our private copy
    /// of the blob).
    TxZerocopyReadOnly = 3,
    /// `TLS_RX_EXPECT_NO_PAD` (6.0, TLS 1.3): decrypt in place assuming no
    /// record padding (the kernel retries if there is some).
    RxExpectNoPad = 4,
}

/// Whether this kernel has the "tls" ULP: asking for it on a fresh,
/// unconnected TCP socket gives ENOENT when tls.ko is missing (and cannot
/// be auto-loaded: that needs CAP_NET_ADMIN), ENOTCONN when it is there.
pub fn ktls_available() -> bool {
    // SAFETY: plain syscall with constant arguments.
    let Ok(fd) =
        cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })
    else {
        return false;
    };
    let fd = owned(fd);
    match setsockopt_bytes(fd.as_raw_fd(), libc::SOL_TCP, TCP_ULP, b"tls") {
        Ok(()) => true,
        Err(e) => e.raw_os_error() != Some(libc::ENOENT),
    }
}

/// Attaches the "tls" ULP to an established TCP socket (after the
/// handshake, before any application data).
pub fn ktls_enable_ulp(fd: RawFd) -> io::Result<()> {
    setsockopt_bytes(fd, libc::SOL_TCP, TCP_ULP, b"tls")
}

/// Installs one direction's `tls12_crypto_info_*` (already serialized in
/// the kernel's layout). A second install of a direction (TLS 1.3
/// KeyUpdate) works from 6.14; older kernels say EBUSY.
pub fn ktls_set_crypto(fd: RawFd, dir: KtlsDir, info: &[u8]) -> io::Result<()> {
    let name = match dir {
        KtlsDir::Tx => TLS_TX,
        KtlsDir::Rx => TLS_RX,
    };
    setsockopt_bytes(fd, SOL_TLS, name, info)
}

/// Turns on an optional flag (after the key of its direction).
pub fn ktls_set_flag(fd: RawFd, flag: KtlsFlag) -> io::Result<()> {
    setsockopt_bytes(fd, SOL_TLS, flag as libc::c_int, &1u32.to_ne_bytes())
}

/// Control-message buffer aligned for `cmsghdr`; CMSG_SPACE(1) is 24 bytes.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// Sends `data` as one record of `record_type` (an alert, a KeyUpdate) on a
/// kTLS socket, via a `TLS_SET_RECORD_TYPE` cmsg. Counted as `sendmsg`.
pub fn ktls_send_record(
    fd: RawFd,
    record_type: u8,
    data: &[u8],
    c: &Counters,
) -> io::Result<usize> {
    c.bump(Sc::Sendmsg);
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(1) } as _;
    // SAFETY: msg_control points at `cbuf` (32 aligned bytes >=
    // CMSG_SPACE(1)), so CMSG_FIRSTHDR is non-null and the header plus one
    // data byte fit.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = SOL_TLS;
        (*cmsg).cmsg_type = TLS_SET_RECORD_TYPE;
        (*cmsg).cmsg_len = libc::CMSG_LEN(1) as _;
        *libc::CMSG_DATA(cmsg) = record_type;
    }
    // SAFETY: every pointer in `msg` is valid for the call; the kernel only
    // reads `data`.
    cvt_size(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })
}

/// Receives plaintext of one record type from a kTLS socket with
/// `recvmsg` and a control buffer (a plain `read` of a non-data record
/// fails with EIO and leaves it queued). Returns (record type, bytes);
/// no cmsg means application data (23); (23, 0) is end of stream.
/// EBADMSG: a record failed to authenticate (sticky: close).
/// Counted as `recvmsg`.
pub fn ktls_recv_record(fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<(u8, usize)> {
    c.bump(Sc::Recvmsg);
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    // SAFETY: iov points at `buf` and msg_control at `cbuf`, both writable
    // for their stated lengths for the whole call.
    let n = cvt_size(unsafe { libc::recvmsg(fd, &mut msg, 0) })?;
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("recvmsg: control message truncated"));
    }
    let mut record_type = 23u8;
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_FIRSTHDR
    // and CMSG_NXTHDR stay within that range and return null at its end;
    // a TLS_GET_RECORD_TYPE cmsg carries one byte.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == SOL_TLS && (*cmsg).cmsg_type == TLS_GET_RECORD_TYPE {
                record_type = *libc::CMSG_DATA(cmsg);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((record_type, n))
}
