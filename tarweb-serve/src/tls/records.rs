//! The TLS record layer in user space: what kTLS does in the kernel, done
//! here with ring's AEADs from the same traffic secrets rustls hands over
//! after the handshake (`dangerous_into_kernel_connection`). TLS 1.3 and
//! 1.2; AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 (every suite the
//! server offers).
//!
//! Owning the record layer is what lets a connection keep no ciphertext:
//! the caller says which sequence number a record gets, sealing is
//! deterministic, so a record whose first bytes went out before the socket
//! filled is sealed again, byte for byte, from the same plaintext (the
//! blob's mapping and the output's own bytes, which do not change while
//! it waits), and the rest of it is sent from there. rustls' own record
//! layer numbers records itself and cannot do that.
//!
//! Record formats (RFC 8446 5.2, RFC 5246 6.2.3.3, RFC 5288, RFC 7905):
//!
//! | protocol, AEAD | on the wire | nonce | additional data |
//! |---|---|---|---|
//! | 1.3, any | header(23) + seal(data + type) + tag | iv ^ seq | header |
//! | 1.2, AES-GCM | header(type) + explicit[8] + seal(data) + tag | iv[0..4] + explicit | seq + type + version + data length |
//! | 1.2, ChaCha20 | header(type) + seal(data) + tag | iv ^ seq | as for AES-GCM |
//!
//! The TLS 1.2 AES-GCM explicit part is `iv[4..12] ^ seq`, as rustls
//! makes it (the kernel counts up from `iv[4..12]`; either is unique).

use ring::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use rustls::{ConnectionTrafficSecrets, ProtocolVersion};
use std::io;

/// Content types (RFC 8446 5.1).
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;
/// Largest plaintext of a record (2^14).
pub(crate) const MAX_PLAIN: usize = 1 << 14;
pub(crate) const HEADER: usize = 5;
/// Largest record body a peer may send: 2^14 + 256 in TLS 1.3, 2^14 +
/// 2048 in TLS 1.2.
pub(crate) const MAX_BODY_12: usize = MAX_PLAIN + 2048;
const MAX_BODY_13: usize = MAX_PLAIN + 256;
/// Largest record on the wire, header included.
pub(crate) const MAX_RECORD: usize = HEADER + MAX_BODY_12;
const TAG: usize = 16;
/// Record version field of every record after the handshake.
const VERSION: [u8; 2] = [3, 3];

/// One direction's key: the AEAD and its 12-byte IV, from rustls' traffic
/// secret. Sequence numbers are the caller's.
pub(crate) struct RecordKey {
    key: LessSafeKey,
    iv: [u8; 12],
    tls13: bool,
    /// TLS 1.2 AES-GCM: an explicit 8-byte nonce part in each record.
    explicit: bool,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl RecordKey {
    pub fn new(version: ProtocolVersion, secrets: &ConnectionTrafficSecrets) -> io::Result<Self> {
        let tls13 = match version {
            ProtocolVersion::TLSv1_3 => true,
            ProtocolVersion::TLSv1_2 => false,
            v => return Err(bad(&format!("no record layer for {v:?}"))),
        };
        let (alg, key, iv, gcm) = match secrets {
            // rustls may report an AES-256 suite as Aes128Gcm: the key
            // length decides (as for kTLS).
            ConnectionTrafficSecrets::Aes128Gcm { key, iv }
            | ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                let alg = match key.as_ref().len() {
                    16 => &AES_128_GCM,
                    32 => &AES_256_GCM,
                    n => return Err(bad(&format!("AES-GCM key of {n} bytes"))),
                };
                (alg, key.as_ref(), iv.as_ref(), true)
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&CHACHA20_POLY1305, key.as_ref(), iv.as_ref(), false)
            }
            _ => return Err(bad("cipher without a user-space record layer")),
        };
        let iv: [u8; 12] = iv.try_into().map_err(|_| bad("IV not 12 bytes"))?;
        let key = UnboundKey::new(alg, key).map_err(|_| bad("AEAD key length"))?;
        Ok(RecordKey {
            key: LessSafeKey::new(key),
            iv,
            tls13,
            explicit: gcm && !tls13,
        })
    }

    pub fn tls13(&self) -> bool {
        self.tls13
    }

    /// `iv ^ seq`, the sequence number big-endian in the last 8 bytes.
    fn xor_nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Bytes in front of a record's plaintext: the header, and TLS 1.2
    /// AES-GCM's explicit nonce.
    pub fn prefix(&self) -> usize {
        HEADER + if self.explicit { 8 } else { 0 }
    }

    /// What a record adds to its plaintext on the wire.
    #[cfg(test)]
    pub fn overhead(&self) -> usize {
        self.prefix() + TAG + usize::from(self.tls13)
    }

    /// Seals the record that starts at `buf[at]`: the caller has put
    /// `n` bytes of plaintext (at most [`MAX_PLAIN`]) at
    /// `buf[at + prefix()..]` and nothing after them; this writes the
    /// header in front and appends the rest (TLS 1.3's inner type, the
    /// tag). `buf` must have room for `overhead()` more bytes than it has.
    pub fn seal(&self, seq: u64, typ: u8, buf: &mut Vec<u8>, at: usize, n: usize) {
        debug_assert!(n <= MAX_PLAIN && buf.len() == at + self.prefix() + n);
        let (outer, body_len) = if self.tls13 {
            buf.push(typ);
            (APPLICATION_DATA, n + 1 + TAG)
        } else {
            (typ, self.prefix() - HEADER + n + TAG)
        };
        let header = [
            outer,
            VERSION[0],
            VERSION[1],
            (body_len >> 8) as u8,
            body_len as u8,
        ];
        buf[at..at + HEADER].copy_from_slice(&header);
        let (nonce, text) = if self.tls13 {
            (self.xor_nonce(seq), at + HEADER..buf.len())
        } else {
            let nonce = self.xor_nonce(seq);
            if self.explicit {
                buf[at + HEADER..at + HEADER + 8].copy_from_slice(&nonce[4..]);
            }
            (nonce, at + self.prefix()..buf.len())
        };
        let tag = if self.tls13 {
            self.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut buf[text],
            )
        } else {
            self.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad12(seq, typ, n)),
                &mut buf[text],
            )
        };
        // ring fails only for plaintexts beyond its limit (GiBs).
        buf.extend_from_slice(tag.expect("AEAD seal").as_ref());
    }

    /// The length of the record at the start of `buf` (header included)
    /// when all of it is there; `None` when more bytes are needed. An
    /// error for a record no peer may send.
    pub fn complete(&self, buf: &[u8]) -> io::Result<Option<usize>> {
        if buf.len() < HEADER {
            return Ok(None);
        }
        let body = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
        let max = if self.tls13 { MAX_BODY_13 } else { MAX_BODY_12 };
        if body > max {
            return Err(bad("record_overflow: a record longer than TLS allows"));
        }
        Ok((buf.len() >= HEADER + body).then_some(HEADER + body))
    }

    /// Opens the complete record `rec` (header included) in place: its
    /// content type and where its plaintext lies in `rec`.
    pub fn open(&self, seq: u64, rec: &mut [u8]) -> io::Result<(u8, std::ops::Range<usize>)> {
        let header: [u8; HEADER] = rec[..HEADER].try_into().expect("a complete record");
        let typ = header[0];
        let body = &mut rec[HEADER..];
        let mac = || bad("bad_record_mac: a record failed to decrypt");
        if self.tls13 {
            if typ != APPLICATION_DATA || body.len() < TAG + 1 {
                return Err(bad("unexpected_message: not a protected TLS 1.3 record"));
            }
            let nonce = Nonce::assume_unique_for_key(self.xor_nonce(seq));
            let plain = self
                .key
                .open_in_place(nonce, Aad::from(header), body)
                .map_err(|_| mac())?;
            // The inner type is the last non-zero byte (zeros are padding).
            let Some(end) = plain.iter().rposition(|&b| b != 0) else {
                return Err(bad("unexpected_message: a record of padding only"));
            };
            if end > MAX_PLAIN {
                return Err(bad("record_overflow: plaintext longer than 2^14"));
            }
            return Ok((plain[end], HEADER..HEADER + end));
        }
        let skip = self.prefix() - HEADER;
        if body.len() < skip + TAG {
            return Err(mac());
        }
        let n = body.len() - skip - TAG;
        let nonce = if self.explicit {
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&self.iv[..4]);
            nonce[4..].copy_from_slice(&body[..8]);
            nonce
        } else {
            self.xor_nonce(seq)
        };
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad12(seq, typ, n)),
                &mut body[skip..],
            )
            .map_err(|_| mac())?;
        if n > MAX_PLAIN {
            return Err(bad("record_overflow: plaintext longer than 2^14"));
        }
        Ok((typ, HEADER + skip..HEADER + skip + n))
    }
}

/// TLS 1.2's additional data: sequence number, type, version, length.
fn aad12(seq: u64, typ: u8, n: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = typ;
    a[9..11].copy_from_slice(&VERSION);
    a[11..].copy_from_slice(&(n as u16).to_be_bytes());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    /// AES-256-GCM and ChaCha20-Poly1305 for both versions (rustls makes
    /// only 32-byte `AeadKey`s outside itself; AES-128 is covered by the
    /// interop tests in tests/tls.rs).
    fn keys() -> Vec<(ProtocolVersion, ConnectionTrafficSecrets)> {
        let iv = || Iv::new(std::array::from_fn(|i| 0x10 + i as u8));
        let mut v = Vec::new();
        for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
            v.push((
                version,
                ConnectionTrafficSecrets::Aes256Gcm {
                    key: AeadKey::from([9u8; 32]),
                    iv: iv(),
                },
            ));
            v.push((
                version,
                ConnectionTrafficSecrets::Chacha20Poly1305 {
                    key: AeadKey::from([5u8; 32]),
                    iv: iv(),
                },
            ));
        }
        v
    }

    #[test]
    fn seal_then_open_and_tampering_is_caught() {
        for (version, secrets) in keys() {
            let k = RecordKey::new(version, &secrets).unwrap();
            for (typ, text) in [
                (APPLICATION_DATA, &b"GET / HTTP/1.1\r\n\r\n"[..]),
                (ALERT, &[1, 0][..]),
                (APPLICATION_DATA, &[][..]),
            ] {
                let mut buf = vec![0xAA; 3];
                buf.resize(3 + k.prefix(), 0);
                buf.extend_from_slice(text);
                k.seal(41, typ, &mut buf, 3, text.len());
                assert_eq!(buf.len(), 3 + text.len() + k.overhead(), "{version:?}");
                assert_eq!(k.complete(&buf[3..]).unwrap(), Some(buf.len() - 3));
                assert_eq!(k.complete(&buf[3..buf.len() - 1]).unwrap(), None);
                // Deterministic: the same record again, byte for byte.
                let mut again = vec![0xAA; 3];
                again.resize(3 + k.prefix(), 0);
                again.extend_from_slice(text);
                k.seal(41, typ, &mut again, 3, text.len());
                assert_eq!(again, buf);
                let mut rec = buf[3..].to_vec();
                let (t, r) = k.open(41, &mut rec).unwrap();
                assert_eq!((t, &rec[r]), (typ, text));
                // Another sequence number, or a flipped bit: refused.
                let mut rec = buf[3..].to_vec();
                assert!(k.open(42, &mut rec).is_err());
                let mut rec = buf[3..].to_vec();
                let last = rec.len() - 1;
                rec[last] ^= 1;
                assert!(k.open(41, &mut rec).is_err());
            }
        }
    }

    #[test]
    fn records_longer_than_tls_allows_are_refused() {
        let (version, secrets) = keys().remove(0);
        let k = RecordKey::new(version, &secrets).unwrap();
        let len = (MAX_BODY_13 + 1) as u16;
        let [hi, lo] = len.to_be_bytes();
        assert!(k.complete(&[23, 3, 3, hi, lo]).is_err());
    }
}
