//! Kernel TLS (kTLS) for the probe: the key layout, the socket calls and
//! the record constants are tarweb-serve's own
//! (`tarweb_serve::tls::ktls::{CryptoInfo, record}`, the `ktls_*` calls of
//! `tarweb_serve::sys`), so what the VM checks against real kernels is the
//! code the server runs. This module only names them the way the scenarios
//! read.
//!
//! After `enable_ulp` + `set_crypto(Tx)` + `set_crypto(Rx)`, plain `write`,
//! `writev` and `sendfile` produce TLS application-data records and `read`
//! returns decrypted application data. Everything else (alerts,
//! post-handshake messages) goes through `send_record` and `recv_record`:
//! a plain `read` of such a record fails with EIO and leaves it queued.

use std::io;
use std::os::fd::RawFd;
use std::sync::LazyLock;

use tarweb_serve::sys;
use tarweb_serve::sys::Counters;

pub use tarweb_serve::sys::{KtlsDir as Direction, KtlsFlag as Flag};
pub use tarweb_serve::tls::ktls::record::{key_update_message, CLOSE_NOTIFY};
pub use tarweb_serve::tls::ktls::CryptoInfo;

/// The server's calls count themselves; the probe has no use for the counts.
static COUNTERS: LazyLock<Counters> = LazyLock::new(Counters::default);

/// Counters for the server's calls the probe makes.
pub fn counters() -> &'static Counters {
    &COUNTERS
}

/// TLS record content types (RFC 8446, 5.1).
pub mod record_type {
    pub use tarweb_serve::tls::ktls::record::{ALERT, APPLICATION_DATA, HANDSHAKE};
}

/// The cipher a `CryptoInfo` holds.
pub fn cipher_name(info: &CryptoInfo) -> &'static str {
    info.cipher_name()
}

/// Attach the "tls" ULP to an established TCP socket. ENOENT: tls.ko is
/// missing or could not be auto-loaded (auto-loading needs CAP_NET_ADMIN).
pub fn enable_ulp(fd: RawFd) -> io::Result<()> {
    sys::ktls_enable_ulp(fd)
}

/// Install the key for one direction (a second time, TLS 1.3 KeyUpdate,
/// works from Linux 6.14; older kernels say EBUSY).
pub fn set_crypto(fd: RawFd, dir: Direction, info: &CryptoInfo) -> io::Result<()> {
    sys::ktls_set_crypto(fd, dir, info.as_bytes())
}

/// Turn on an optional flag (after `set_crypto` for its direction).
pub fn set_flag(fd: RawFd, flag: Flag) -> io::Result<()> {
    sys::ktls_set_flag(fd, flag)
}

/// Send `data` as one record of type `record_type` (an alert, a KeyUpdate).
pub fn send_record(fd: RawFd, record_type: u8, data: &[u8]) -> io::Result<usize> {
    sys::ktls_send_record(fd, record_type, data, &COUNTERS)
}

/// Receive (part of) one record: its content type and the plaintext bytes
/// written to `buf`; `(APPLICATION_DATA, 0)` is end of stream. Errors worth
/// knowing: EBADMSG (a record failed to authenticate: the connection is
/// dead), EKEYEXPIRED (6.14+: a KeyUpdate came, install the next RX key
/// first), EAGAIN (SO_RCVTIMEO or non-blocking).
pub fn recv_record(fd: RawFd, buf: &mut [u8]) -> io::Result<(u8, usize)> {
    sys::ktls_recv_record(fd, buf, &COUNTERS)
}
