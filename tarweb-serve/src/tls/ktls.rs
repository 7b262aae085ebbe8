//! A session whose records the kernel encrypts and decrypts (kTLS): the
//! keys from rustls' handshake in the kernel's layout, their installation,
//! reading (application data, alerts, KeyUpdate), and close_notify. After
//! `install`, responses go out through the very same writev/sendfile code
//! as plain HTTP.

use super::userspace::{AnswerKeyUpdate, UserRx};
use crate::sys::Counters;
use crate::sys::{self, KtlsDir, KtlsFlag};
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ConnectionTrafficSecrets, ExtractedSecrets, ProtocolVersion};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const TLS_1_2_VERSION: u16 = 0x0303;
const TLS_1_3_VERSION: u16 = 0x0304;
const TLS_CIPHER_AES_GCM_128: u16 = 51;
const TLS_CIPHER_AES_GCM_256: u16 = 52;
const TLS_CIPHER_CHACHA20_POLY1305: u16 = 54;

/// What travels in TLS records besides application data: the content
/// types (RFC 8446 5.1) and the few payloads a kTLS socket sends or reads
/// itself. Public for the ktls-vm programs, which speak to the kernel the
/// same way.
pub mod record {
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    /// Alert `[warning, close_notify]`.
    pub const CLOSE_NOTIFY: [u8; 2] = [1, 0];
    /// The description of a `user_canceled` alert (ignored: a
    /// close_notify follows it).
    pub const USER_CANCELED: u8 = 90;

    /// A TLS 1.3 KeyUpdate handshake message (type 24, length 1).
    pub fn key_update_message(update_requested: bool) -> [u8; 5] {
        [24, 0, 0, 1, u8::from(update_requested)]
    }
}

use record::{ALERT, APPLICATION_DATA, CLOSE_NOTIFY, HANDSHAKE, USER_CANCELED};

/// One direction's `struct tls12_crypto_info_*`, serialized in the
/// kernel's layout (native-endian u16 version and cipher, then bytes):
///
/// | cipher            | after the 4-byte header          | size |
/// |-------------------|----------------------------------|------|
/// | AES-GCM-128 (51)  | iv[8] key[16] salt[4] rec_seq[8] | 40   |
/// | AES-GCM-256 (52)  | iv[8] key[32] salt[4] rec_seq[8] | 56   |
/// | ChaCha20 (54)     | iv[12] key[32] rec_seq[8]        | 56   |
///
/// Any other length is EINVAL. Zeroed on drop.
pub struct CryptoInfo {
    buf: [u8; 56],
    len: usize,
}

impl CryptoInfo {
    /// From what rustls returns: the sequence number to start at and the
    /// traffic secret (key and 12-byte static IV).
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> io::Result<CryptoInfo> {
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
            // rustls may report an AES-256 suite as Aes128Gcm: trust the
            // key length, not the variant.
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

    /// The cipher, for logs and reports.
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

/// How many records one TX key may protect, and whether this kernel can
/// take a new TX key (6.14+). RFC 8446 5.5 bounds AES-GCM at 2^24.5 full
/// records per key; the kernel does not count, rustls no longer does after
/// the handover, so the server keeps a conservative estimate (bytes/16 KiB
/// plus one per send call, each of which can end a record) and acts at
/// half the bound: a TLS 1.3 KeyUpdate where the kernel can rekey, else a
/// clean close (close_notify) before the next request is read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub records: u64,
    pub can_rekey: bool,
    /// `TARWEB_KTLS_FAIL=ulp|tx|rx`, a test knob: installing kTLS fails
    /// at that step (the steps before it done for real), so that
    /// `make test-ktls` sees each fallback on real kernels.
    pub fail_at: Option<Step>,
}

/// The steps of handing a session to the kernel, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `setsockopt(TCP_ULP, "tls")`.
    Ulp,
    /// `TLS_TX`.
    Tx,
    /// `TLS_RX`.
    Rx,
}

impl Step {
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "ulp" => Some(Step::Ulp),
            "tx" => Some(Step::Tx),
            "rx" => Some(Step::Rx),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Step::Ulp => "setsockopt TCP_ULP \"tls\"",
            Step::Tx => "TLS_TX",
            Step::Rx => "TLS_RX",
        }
    }
}

/// How far the kernel took a session.
pub(crate) enum Installed {
    /// Both directions: the kTLS path.
    Both,
    /// TX only (`TLS_RX` failed): the kernel encrypts, records are read
    /// and decrypted in user space.
    TxOnly,
}

/// Connections the kernel could not take over (they went on in user
/// space), for the stats; the first one is logged.
pub(crate) static FALLBACKS: AtomicU64 = AtomicU64::new(0);
static LOGGED: AtomicBool = AtomicBool::new(false);

/// Counts (and, the first time, logs) a connection kTLS did not take whole.
pub(crate) fn note_fallback(step: Step, e: &io::Error, version: ProtocolVersion, cipher: &str) {
    FALLBACKS.fetch_add(1, Ordering::Relaxed);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        let rest = match step {
            Step::Rx => "the kernel encrypts and records are decrypted in user space",
            _ => "it goes on in user-space TLS",
        };
        warn!(
            "tarweb-serve: kTLS could not take a connection ({}: {e}; {version:?} {cipher}): {rest}; \
             the stats count such connections as ktls_fallbacks (this line is not repeated)",
            step.name()
        );
    }
}

/// Hands a session's keys to the kernel: ULP "tls", `TLS_TX`, `TLS_RX` at
/// the sequence numbers rustls reports (TLS 1.3: TX 1 after the two
/// session tickets, which went out in one record; never assumed), then the
/// optional flags where the kernel takes them. On an error the step that
/// failed: nothing of the session is in the kernel then (an attached ULP
/// without keys passes bytes through unchanged), so the connection goes on
/// in user space with the same secrets; except after `TLS_TX`, which
/// cannot be taken back: then `Installed::TxOnly`.
pub(crate) fn install(
    fd: RawFd,
    secrets: &ExtractedSecrets,
    version: ProtocolVersion,
    fail_at: Option<Step>,
) -> Result<Installed, (Step, io::Error)> {
    let knob = |step: Step| {
        if fail_at == Some(step) {
            Err((step, io::Error::other("TARWEB_KTLS_FAIL")))
        } else {
            Ok(())
        }
    };
    let tx = CryptoInfo::new(version, secrets.tx.0, &secrets.tx.1).map_err(|e| (Step::Tx, e))?;
    let rx = CryptoInfo::new(version, secrets.rx.0, &secrets.rx.1).map_err(|e| (Step::Rx, e))?;
    knob(Step::Ulp)?;
    sys::ktls_enable_ulp(fd).map_err(|e| (Step::Ulp, e))?;
    knob(Step::Tx)?;
    sys::ktls_set_crypto(fd, KtlsDir::Tx, tx.as_bytes()).map_err(|e| (Step::Tx, e))?;
    // The blob is a private copy: its pages never change while being
    // sent, which is what TLS_TX_ZEROCOPY_RO requires. Both flags are
    // optimisations: a kernel that refuses them (older than 5.19 / 6.0)
    // still serves correctly.
    let _ = sys::ktls_set_flag(fd, KtlsFlag::TxZerocopyReadOnly);
    let rx_done = knob(Step::Rx).and_then(|()| {
        sys::ktls_set_crypto(fd, KtlsDir::Rx, rx.as_bytes()).map_err(|e| (Step::Rx, e))
    });
    if let Err((step, e)) = rx_done {
        note_fallback(step, &e, version, tx.cipher_name());
        return Ok(Installed::TxOnly);
    }
    if version == ProtocolVersion::TLSv1_3 {
        let _ = sys::ktls_set_flag(fd, KtlsFlag::RxExpectNoPad);
    }
    Ok(Installed::Both)
}

impl Limits {
    pub const DEFAULT_RECORDS: u64 = 1 << 23;
}

/// Whether this kernel accepts a second TLS_TX on a socket (6.14+): tried
/// on a throwaway loopback connection with a dummy key. Older kernels say
/// EBUSY; then a KeyUpdate cannot be answered and keys cannot be renewed.
pub(crate) fn kernel_can_rekey() -> bool {
    use rustls::crypto::cipher::{AeadKey, Iv};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    let try_it = || -> io::Result<bool> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let s = TcpStream::connect(l.local_addr()?)?;
        let _peer = l.accept()?;
        let secret = ConnectionTrafficSecrets::Aes256Gcm {
            key: AeadKey::from([7u8; 32]),
            iv: Iv::new([9u8; 12]),
        };
        let info = CryptoInfo::new(ProtocolVersion::TLSv1_3, 0, &secret)?;
        let fd = s.as_raw_fd();
        sys::ktls_enable_ulp(fd)?;
        sys::ktls_set_crypto(fd, KtlsDir::Tx, info.as_bytes())?;
        Ok(sys::ktls_set_crypto(fd, KtlsDir::Tx, info.as_bytes()).is_ok())
    };
    try_it().unwrap_or(false)
}

/// An established session in the kernel (or, after a failed `TLS_RX`,
/// its sending half: `rx_user` reads).
pub(crate) struct KernelTls {
    kconn: KernelConnection<ServerConnectionData>,
    limits: Limits,
    /// Upper estimate of records sent under the current TX key.
    records: u64,
    /// A record failed to authenticate (EBADMSG) or the peer sent a fatal
    /// alert: nothing more is sent on this session, not even close_notify.
    dead: bool,
    closed: bool,
    /// Records read and decrypted in user space (`TLS_RX` failed).
    rx_user: Option<Box<UserRx>>,
}

/// Our KeyUpdate through the kernel, then its next TX key (6.14+).
struct KernelTx<'a> {
    dead: &'a mut bool,
    can_rekey: bool,
}

impl AnswerKeyUpdate for KernelTx<'_> {
    fn key_update(
        &mut self,
        fd: RawFd,
        kconn: &mut KernelConnection<ServerConnectionData>,
        c: &Counters,
    ) -> io::Result<()> {
        // Said before anything is sent: the connection then ends with a
        // close_notify under the key the peer still has (as when the
        // kernel holds both directions and refuses the second RX key).
        if !self.can_rekey {
            return Err(io::Error::other("KeyUpdate: this kernel cannot rekey"));
        }
        sys::ktls_send_record(fd, HANDSHAKE, &record::key_update_message(false), c)?;
        // The peer expects the new key from here: nothing more under the
        // old one if it cannot be installed.
        *self.dead = true;
        next_key(fd, kconn, KtlsDir::Tx)?;
        *self.dead = false;
        Ok(())
    }
}

impl KernelTls {
    pub fn protocol_version(&self) -> rustls::ProtocolVersion {
        self.kconn.protocol_version()
    }

    /// After [`install`]: `rx_user` when only TX is in the kernel.
    pub fn new(
        kconn: KernelConnection<ServerConnectionData>,
        limits: Limits,
        rx_user: Option<Box<UserRx>>,
    ) -> KernelTls {
        KernelTls {
            kconn,
            limits,
            records: 0,
            dead: false,
            closed: false,
            rx_user,
        }
    }

    /// Reads decrypted application data into `buf`. Ok(0): the peer's
    /// close_notify or FIN. Alerts, KeyUpdate and bad records are handled
    /// here; an error means: close.
    pub fn read(&mut self, fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
        if self.records >= self.limits.records && self.can_renew() {
            self.renew_tx_key(fd, c)?;
        }
        if let Some(rx) = self.rx_user.as_mut() {
            let mut tx = KernelTx {
                dead: &mut self.dead,
                can_rekey: self.limits.can_rekey,
            };
            let r = rx.read(fd, buf, c, &mut self.kconn, &mut tx);
            self.dead |= rx.dead;
            return r;
        }
        loop {
            match sys::ktls_recv_record(fd, buf, c) {
                Ok((APPLICATION_DATA, n)) => return Ok(n),
                Ok((ALERT, n)) => {
                    if n == 2 && buf[1] == CLOSE_NOTIFY[1] {
                        return Ok(0);
                    }
                    if n == 2 && buf[0] == 1 && buf[1] == USER_CANCELED {
                        continue;
                    }
                    self.dead = true;
                    return Err(io::Error::other(format!("TLS alert {:?}", &buf[..n])));
                }
                Ok((HANDSHAKE, n)) => {
                    let msg: [u8; 5] = match buf[..n].try_into() {
                        Ok(m) => m,
                        Err(_) => return Err(io::Error::other("post-handshake message")),
                    };
                    self.key_update(fd, msg, c)?;
                }
                Ok((t, _)) => {
                    return Err(io::Error::other(format!("TLS record type {t}")));
                }
                Err(e) => {
                    if e.raw_os_error() == Some(libc::EBADMSG) {
                        self.dead = true;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// A KeyUpdate from the peer: the next RX key; and if the peer asks,
    /// our own KeyUpdate (under the old TX key), then the next TX key.
    /// Kernels before 6.14 refuse a second key (EBUSY): the error closes
    /// the connection, with close_notify under the still valid TX key.
    fn key_update(&mut self, fd: RawFd, msg: [u8; 5], c: &Counters) -> io::Result<()> {
        let requested = match msg {
            [24, 0, 0, 1, 0] => false,
            [24, 0, 0, 1, 1] => true,
            _ => return Err(io::Error::other("unexpected post-handshake message")),
        };
        self.next_key(fd, KtlsDir::Rx)?;
        if requested {
            sys::ktls_send_record(fd, HANDSHAKE, &record::key_update_message(false), c)?;
            self.next_key(fd, KtlsDir::Tx)?;
        }
        Ok(())
    }

    fn next_key(&mut self, fd: RawFd, dir: KtlsDir) -> io::Result<()> {
        next_key(fd, &mut self.kconn, dir)
    }

    /// Bytes and send calls of one flush, for the record estimate.
    pub fn count_sent(&mut self, bytes: u64, sends: u64) {
        self.records += bytes / (1 << 14) + sends;
    }

    fn can_renew(&self) -> bool {
        self.limits.can_rekey && self.kconn.protocol_version() == ProtocolVersion::TLSv1_3
    }

    /// The TX key is used up and cannot be renewed (TLS 1.2, or a kernel
    /// without rekey): the next response says `Connection: close`.
    pub fn retiring(&self) -> bool {
        self.records >= self.limits.records && !self.can_renew()
    }

    /// The TX key has protected about as many records as it should: a
    /// KeyUpdate (not requesting one back) and the next TX key. Done
    /// before reading the next request, so nothing is sent in between.
    fn renew_tx_key(&mut self, fd: RawFd, c: &Counters) -> io::Result<()> {
        sys::ktls_send_record(fd, HANDSHAKE, &record::key_update_message(false), c)?;
        // From here the peer expects the new key: any failure is fatal
        // and nothing more may be sent under the old one.
        self.dead = true;
        self.next_key(fd, KtlsDir::Tx)?;
        self.dead = false;
        self.records = 0;
        Ok(())
    }

    /// Sends close_notify (once), unless the session is dead. The rustls
    /// client reports a bare FIN as a truncation.
    pub fn close_notify(&mut self, fd: RawFd, c: &Counters) {
        if !self.dead && !self.closed {
            self.closed = true;
            let _ = sys::ktls_send_record(fd, ALERT, &CLOSE_NOTIFY, c);
        }
    }
}

/// Takes the next traffic secret of one direction from rustls and
/// installs it (the kernel's second `TLS_RX`/`TLS_TX`, 6.14+).
fn next_key(
    fd: RawFd,
    kconn: &mut KernelConnection<ServerConnectionData>,
    dir: KtlsDir,
) -> io::Result<()> {
    let version = kconn.protocol_version();
    let (seq, secret) = match dir {
        KtlsDir::Rx => kconn.update_rx_secret(),
        KtlsDir::Tx => kconn.update_tx_secret(),
    }
    .map_err(|e| io::Error::other(format!("KeyUpdate: {e}")))?;
    let info = CryptoInfo::new(version, seq, &secret)?;
    sys::ktls_set_crypto(fd, dir, info.as_bytes()).map_err(|e| match dir {
        KtlsDir::Rx => ctx(e, "KeyUpdate: this kernel cannot rekey (second TLS_RX)"),
        KtlsDir::Tx => ctx(e, "KeyUpdate: second TLS_TX"),
    })
}

fn ctx(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    fn secrets(chacha: bool) -> ConnectionTrafficSecrets {
        let key = AeadKey::from(std::array::from_fn::<u8, 32, _>(|i| 0x40 + i as u8));
        let iv = Iv::new(std::array::from_fn(|i| 0x10 + i as u8));
        if chacha {
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
        } else {
            ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        }
    }

    #[test]
    fn aes_256_gcm_layout() {
        let info = CryptoInfo::new(ProtocolVersion::TLSv1_3, 0x0102, &secrets(false)).unwrap();
        let b = info.as_bytes();
        assert_eq!(b.len(), 56);
        assert_eq!(&b[0..2], &0x0304u16.to_ne_bytes());
        assert_eq!(&b[2..4], &52u16.to_ne_bytes());
        // iv = the last 8 bytes of rustls' 12-byte IV, salt = the first 4.
        assert_eq!(&b[4..12], &[0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b]);
        assert_eq!(b[12], 0x40);
        assert_eq!(b[43], 0x5f);
        assert_eq!(&b[44..48], &[0x10, 0x11, 0x12, 0x13]);
        assert_eq!(&b[48..56], &[0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn chacha_layout() {
        let info = CryptoInfo::new(ProtocolVersion::TLSv1_2, 7, &secrets(true)).unwrap();
        let b = info.as_bytes();
        assert_eq!(b.len(), 56);
        assert_eq!(&b[0..2], &0x0303u16.to_ne_bytes());
        assert_eq!(&b[2..4], &54u16.to_ne_bytes());
        assert_eq!(b[4], 0x10);
        assert_eq!(b[15], 0x1b);
        assert_eq!(b[16], 0x40);
        assert_eq!(&b[48..56], &7u64.to_be_bytes());
    }

    #[test]
    fn tls_1_1_is_refused() {
        assert!(CryptoInfo::new(ProtocolVersion::TLSv1_1, 0, &secrets(false)).is_err());
    }
}
