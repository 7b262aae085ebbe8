//! `Authorization: Basic` (RFC 7617) for routes a site protects with
//! `_headers`' `Basic-Auth`: the credential a client sends, decoded into
//! a buffer of the caller's (no allocation), for the blob's digests to
//! judge (`tarweb_format::Auth::admits`).

use base64::Engine;

/// Longest credential read (`user:password`); longer ones never match.
pub const MAX_CREDENTIAL: usize = 512;

/// The `user:password` of an `Authorization: Basic <base64>` value, into
/// `buf`; `None` for another scheme, bad base64 or a credential over
/// [`MAX_CREDENTIAL`] bytes.
pub fn basic<'b>(value: &[u8], buf: &'b mut [u8; MAX_CREDENTIAL]) -> Option<&'b [u8]> {
    let value = value.trim_ascii();
    let (scheme, token) = value.split_at(value.iter().position(|&c| c == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let token = token.trim_ascii();
    if token.len() > MAX_CREDENTIAL * 4 / 3 + 4 {
        return None;
    }
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(token, buf)
        .ok()?;
    Some(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials() {
        let mut b = [0; MAX_CREDENTIAL];
        // RFC 7617 §2's example.
        assert_eq!(
            basic(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &mut b),
            Some(&b"Aladdin:open sesame"[..])
        );
        assert_eq!(basic(b"basic   YTpi ", &mut b), Some(&b"a:b"[..]));
        assert_eq!(basic(b"Bearer YTpi", &mut b), None);
        assert_eq!(basic(b"Basic", &mut b), None);
        assert_eq!(basic(b"Basic !!!", &mut b), None);
        let long = format!("Basic {}", "QUFB".repeat(200));
        assert_eq!(basic(long.as_bytes(), &mut b), None);
    }
}
