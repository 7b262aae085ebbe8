//! Kernel TLS (kTLS): the raw socket calls that hand a TLS session, whose
//! handshake was done in user space by rustls, over to the kernel.
//!
//! After `enable_ulp` + `set_crypto(Tx)` + `set_crypto(Rx)`, plain `write`,
//! `writev` and `sendfile` produce TLS application-data records and `read`
//! returns decrypted application data. Everything that is not application
//! data (alerts, post-handshake messages) goes through `send_record` and
//! `recv_record`: a plain `read` of such a record fails with EIO and leaves it
//! queued.
//!
//! Kernel interface: `include/uapi/linux/tls.h`,
//! `Documentation/networking/tls.rst`. Needs `CONFIG_TLS` (tls.ko).
//! Version notes: TX 4.13, RX 4.17, TLS 1.3 5.1, ChaCha20-Poly1305 5.11,
//! TLS_TX_ZEROCOPY_RO 5.19, TLS_RX_EXPECT_NO_PAD 6.0, TLS 1.3 rekey 6.14.

use std::io;
use std::mem;
use std::os::fd::RawFd;

use rustls::{ConnectionTrafficSecrets, ProtocolVersion};

/// `SOL_TLS`: socket option level of the TLS ULP.
const SOL_TLS: libc::c_int = 282;
/// `TCP_ULP` (level `SOL_TCP`): attach an upper-layer protocol to a TCP socket.
const TCP_ULP: libc::c_int = 31;
/// `TLS_TX` / `TLS_RX`: install the key for one direction.
const TLS_TX: libc::c_int = 1;
const TLS_RX: libc::c_int = 2;
/// cmsg types at level `SOL_TLS`.
const TLS_SET_RECORD_TYPE: libc::c_int = 1;
const TLS_GET_RECORD_TYPE: libc::c_int = 2;

const TLS_1_2_VERSION: u16 = 0x0303;
const TLS_1_3_VERSION: u16 = 0x0304;
const TLS_CIPHER_AES_GCM_128: u16 = 51;
const TLS_CIPHER_AES_GCM_256: u16 = 52;
const TLS_CIPHER_CHACHA20_POLY1305: u16 = 54;

/// TLS record content types (RFC 8446, 5.1).
pub mod record_type {
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Alert payload `[level warning, close_notify]`.
pub const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// A TLS 1.3 KeyUpdate handshake message (type 24, length 1).
pub fn key_update_message(update_requested: bool) -> [u8; 5] {
    [24, 0, 0, 1, update_requested as u8]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Tx,
    Rx,
}

/// Optional per-socket flags (u32 options at level `SOL_TLS`).
#[derive(Clone, Copy, Debug)]
pub enum Flag {
    /// `TLS_TX_ZEROCOPY_RO` (5.19): sendfile encrypts straight from the page
    /// cache. Only safe if the file does not change while being sent.
    TxZerocopyReadOnly = 3,
    /// `TLS_RX_EXPECT_NO_PAD` (6.0, TLS 1.3 only): decrypt in place, assuming
    /// the peer sends no record padding (retried if it does).
    RxExpectNoPad = 4,
}

/// One direction's `struct tls12_crypto_info_*`, serialized in the kernel's
/// layout (native-endian u16 version and cipher, then byte arrays):
///
/// | cipher            | layout after the 4-byte header          | size |
/// |-------------------|------------------------------------------|------|
/// | AES-GCM-128 (51)  | iv[8] key[16] salt[4] rec_seq[8]         | 40   |
/// | AES-GCM-256 (52)  | iv[8] key[32] salt[4] rec_seq[8]         | 56   |
/// | ChaCha20 (54)     | iv[12] key[32] rec_seq[8]                | 56   |
///
/// The kernel rejects any other length with EINVAL. The key material is
/// zeroed on drop.
pub struct CryptoInfo {
    buf: [u8; 56],
    len: usize,
}

impl CryptoInfo {
    /// Build from what rustls returns (`ExtractedSecrets` or
    /// `KernelConnection::update_*_secret`): the record sequence number to
    /// start at and the traffic secrets (key and 12-byte static IV).
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> io::Result<Self> {
        let version = match version {
            ProtocolVersion::TLSv1_2 => TLS_1_2_VERSION,
            ProtocolVersion::TLSv1_3 => TLS_1_3_VERSION,
            v => return Err(invalid(format!("kTLS does not support {v:?}"))),
        };
        let mut info = CryptoInfo {
            buf: [0; 56],
            len: 0,
        };
        match secrets {
            // rustls may report an AES-256 suite as Aes128Gcm: trust the key
            // length, not the variant.
            ConnectionTrafficSecrets::Aes128Gcm { key, iv }
            | ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                let (key, iv) = (key.as_ref(), iv.as_ref());
                let cipher = match key.len() {
                    16 => TLS_CIPHER_AES_GCM_128,
                    32 => TLS_CIPHER_AES_GCM_256,
                    n => return Err(invalid(format!("AES-GCM key of {n} bytes"))),
                };
                if iv.len() != 12 {
                    return Err(invalid(format!("AES-GCM IV of {} bytes", iv.len())));
                }
                // The 12-byte nonce base is salt (first 4) + iv (last 8).
                info.push(&version.to_ne_bytes());
                info.push(&cipher.to_ne_bytes());
                info.push(&iv[4..12]);
                info.push(key);
                info.push(&iv[0..4]);
                info.push(&seq.to_be_bytes());
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                let (key, iv) = (key.as_ref(), iv.as_ref());
                if key.len() != 32 || iv.len() != 12 {
                    return Err(invalid("ChaCha20-Poly1305 key/IV length".into()));
                }
                info.push(&version.to_ne_bytes());
                info.push(&TLS_CIPHER_CHACHA20_POLY1305.to_ne_bytes());
                info.push(iv);
                info.push(key);
                info.push(&seq.to_be_bytes());
            }
            _ => return Err(invalid("cipher not supported by kTLS".into())),
        }
        Ok(info)
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn cipher_name(&self) -> &'static str {
        match u16::from_ne_bytes([self.buf[2], self.buf[3]]) {
            TLS_CIPHER_AES_GCM_128 => "AES-GCM-128",
            TLS_CIPHER_AES_GCM_256 => "AES-GCM-256",
            TLS_CIPHER_CHACHA20_POLY1305 => "ChaCha20-Poly1305",
            _ => "?",
        }
    }
}

impl Drop for CryptoInfo {
    fn drop(&mut self) {
        self.buf.fill(0);
        std::hint::black_box(&self.buf);
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn setsockopt(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &[u8]) -> io::Result<()> {
    // SAFETY: `val` is a live, initialized buffer of exactly `val.len()` bytes
    // that the kernel only reads during the call; an invalid fd is reported
    // as EBADF, not undefined behaviour.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Attach the "tls" ULP to an established TCP socket. ENOENT: tls.ko is
/// missing or could not be auto-loaded (auto-loading needs CAP_NET_ADMIN).
/// Must happen after the handshake and before any application data.
pub fn enable_ulp(fd: RawFd) -> io::Result<()> {
    setsockopt(fd, libc::SOL_TCP, TCP_ULP, b"tls")
}

/// Install the key for one direction. Installing a direction a second time
/// (TLS 1.3 KeyUpdate) works only from Linux 6.14; older kernels say EBUSY.
pub fn set_crypto(fd: RawFd, dir: Direction, info: &CryptoInfo) -> io::Result<()> {
    let name = match dir {
        Direction::Tx => TLS_TX,
        Direction::Rx => TLS_RX,
    };
    setsockopt(fd, SOL_TLS, name, info.as_bytes())
}

/// Turn on an optional flag (after `set_crypto` for its direction).
pub fn set_flag(fd: RawFd, flag: Flag) -> io::Result<()> {
    setsockopt(fd, SOL_TLS, flag as libc::c_int, &1u32.to_ne_bytes())
}

/// Control-message buffer, aligned for `cmsghdr`; CMSG_SPACE(1) is 24 bytes.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// Send `data` as one record of type `record_type` (e.g. an alert, or a
/// KeyUpdate handshake message), via a `TLS_SET_RECORD_TYPE` cmsg.
pub fn send_record(fd: RawFd, record_type: u8, data: &[u8]) -> io::Result<usize> {
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(1) } as _;
    // SAFETY: msg_control points to `cbuf` (32 aligned bytes >= CMSG_SPACE(1)),
    // so CMSG_FIRSTHDR is non-null and the header plus one data byte fit in it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = SOL_TLS;
        (*cmsg).cmsg_type = TLS_SET_RECORD_TYPE;
        (*cmsg).cmsg_len = libc::CMSG_LEN(1) as _;
        *libc::CMSG_DATA(cmsg) = record_type;
    }
    // SAFETY: every pointer in `msg` (iov -> `data`, control -> `cbuf`) is
    // valid for the duration of the call; the kernel only reads `data`.
    let n = unsafe { libc::sendmsg(fd, &msg, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Receive (part of) one record: returns its content type and the number of
/// plaintext bytes written to `buf`. The kernel never mixes record types in
/// one call. `(APPLICATION_DATA, 0)` is end of stream (TCP FIN).
/// Errors worth knowing: EBADMSG (record failed to authenticate: the
/// connection is dead), EKEYEXPIRED (6.14+: a KeyUpdate was received, install
/// the next RX key first), EAGAIN (SO_RCVTIMEO or non-blocking).
pub fn recv_record(fd: RawFd, buf: &mut [u8]) -> io::Result<(u8, usize)> {
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    // SAFETY: iov points to `buf` and msg_control to `cbuf`, both writable
    // for their stated lengths and alive for the duration of the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("recvmsg: control message truncated"));
    }
    let mut record_type = record_type::APPLICATION_DATA;
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_FIRSTHDR and
    // CMSG_NXTHDR stay within that range and return null at its end, and a
    // TLS_GET_RECORD_TYPE cmsg carries one byte of data.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == SOL_TLS && (*cmsg).cmsg_type == TLS_GET_RECORD_TYPE {
                record_type = *libc::CMSG_DATA(cmsg);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((record_type, n as usize))
}
