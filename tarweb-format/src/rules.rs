//! Rules the packer, the blob reader and writer, and the server share, kept
//! here once so that what `tarweb-pack` writes is what `tarweb-serve` reads:
//!
//! - [`is_tchar`]: which bytes an HTTP field name (a token) may contain;
//! - [`is_connection_specific`]: the fields HTTP/2 forbids;
//! - [`reason_phrase`] and [`status_line`]: the status lines of every status
//!   the two binaries send;
//! - [`check_route_path`]: what a route path of the blob may be
//!   (`format-spec.md` §3, "Path rules"), with [`percent_decode_into`] and
//!   [`hex_value`] to get from a URL path to one.
//!
//! Nothing here allocates.

use crate::layout::MAX_PATH_LEN;
use std::fmt;

/// An RFC 9110 `tchar` (§5.6.2): the bytes a token, such as a field name or
/// a method, is made of.
///
/// ```
/// use tarweb_format::rules::is_tchar;
/// assert!(b"Content-Type".iter().all(|&b| is_tchar(b)));
/// assert!(!is_tchar(b':') && !is_tchar(b' ') && !is_tchar(0x80));
/// ```
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// The connection-specific fields RFC 9113 §8.2.2 forbids in HTTP/2
/// (`connection`, `keep-alive`, `proxy-connection`, `transfer-encoding`,
/// `upgrade`), by name in any case: the writer leaves them out of a stored
/// HTTP/2 header block, and the reader refuses a block that has one.
///
/// ```
/// use tarweb_format::rules::is_connection_specific;
/// assert!(is_connection_specific(b"Transfer-Encoding"));
/// assert!(is_connection_specific(b"keep-alive"));
/// assert!(!is_connection_specific(b"content-type"));
/// ```
pub fn is_connection_specific(name: &[u8]) -> bool {
    const FIELDS: [&[u8]; 5] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ];
    FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// One table, so a status's phrase and its status line cannot disagree.
macro_rules! statuses {
    ($($code:literal $phrase:literal,)*) => {
        /// The reason phrase of `status`, as RFC 9110 §15 names it (431 is
        /// RFC 6585's), for every status `tarweb-pack` stores or
        /// `tarweb-serve` sends; `None` for any other.
        ///
        /// ```
        /// use tarweb_format::rules::reason_phrase;
        /// assert_eq!(reason_phrase(413), Some("Content Too Large"));
        /// assert_eq!(reason_phrase(418), None);
        /// ```
        pub const fn reason_phrase(status: u16) -> Option<&'static str> {
            match status {
                $($code => Some($phrase),)*
                _ => None,
            }
        }

        /// The whole status line of `status`, CRLF included, e.g.
        /// `b"HTTP/1.1 404 Not Found\r\n"`: a static, nothing is formatted.
        /// `None` where [`reason_phrase`] is `None`.
        ///
        /// ```
        /// use tarweb_format::rules::status_line;
        /// assert_eq!(status_line(404), Some(&b"HTTP/1.1 404 Not Found\r\n"[..]));
        /// ```
        pub const fn status_line(status: u16) -> Option<&'static [u8]> {
            match status {
                $($code => Some(concat!("HTTP/1.1 ", $code, " ", $phrase, "\r\n").as_bytes()),)*
                _ => None,
            }
        }

        #[cfg(test)]
        const KNOWN_STATUSES: &[u16] = &[$($code),*];
    };
}

statuses! {
    200 "OK",
    204 "No Content",
    206 "Partial Content",
    301 "Moved Permanently",
    302 "Found",
    303 "See Other",
    304 "Not Modified",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    401 "Unauthorized",
    404 "Not Found",
    405 "Method Not Allowed",
    408 "Request Timeout",
    411 "Length Required",
    412 "Precondition Failed",
    413 "Content Too Large",
    414 "URI Too Long",
    416 "Range Not Satisfiable",
    421 "Misdirected Request",
    431 "Request Header Fields Too Large",
    500 "Internal Server Error",
    501 "Not Implemented",
    505 "HTTP Version Not Supported",
}

/// Whether a route of the blob may have this status: 200 (a resource), a
/// redirect the packer can precompute (301, 302, 303, 307, 308), or 404
/// (a path a `_redirects` 404 rule answers with a page of the site).
pub const fn is_route_status(status: u16) -> bool {
    matches!(status, 200 | 301 | 302 | 303 | 307 | 308 | 404)
}

/// Why [`check_route_path`] refused a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoutePathError {
    /// The path is empty or does not start with `/`.
    NoLeadingSlash,
    /// The path is longer than [`MAX_PATH_LEN`] bytes.
    TooLong {
        /// The path's length in bytes.
        len: usize,
    },
    /// The path contains a NUL byte.
    Nul,
    /// A segment other than the last is empty (`/a//b`, `//`).
    EmptySegment,
    /// A segment is `.` or `..`.
    DotSegment,
}

impl fmt::Display for RoutePathError {
    /// Reads after the path: "`/a//b` has an empty segment".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutePathError::NoLeadingSlash => f.write_str("does not start with '/'"),
            RoutePathError::TooLong { len } => write!(
                f,
                "is {len} bytes, longer than the format's {MAX_PATH_LEN}-byte limit"
            ),
            RoutePathError::Nul => f.write_str("contains a NUL byte"),
            RoutePathError::EmptySegment => {
                f.write_str("has an empty segment ('//'; only the last segment may be empty)")
            }
            RoutePathError::DotSegment => f.write_str("contains a '.' or '..' segment"),
        }
    }
}

impl std::error::Error for RoutePathError {}

/// Checks a route path, the *decoded* URL path a route answers
/// (`format-spec.md` §3, "Path rules"): it starts with `/`, is at most
/// [`MAX_PATH_LEN`] bytes, contains no NUL byte, and no segment between
/// slashes is `.` or `..` or empty, except the last one, which may be empty
/// (`/docs/` is the directory form).
///
/// Any other byte is allowed: UTF-8 is what sites use, but the format does
/// not require it.
///
/// ```
/// use tarweb_format::rules::{check_route_path, RoutePathError};
/// assert_eq!(check_route_path(b"/docs/r\xc3\xa9sum\xc3\xa9 final.txt"), Ok(()));
/// assert_eq!(check_route_path(b"/docs/"), Ok(()));
/// assert_eq!(check_route_path(b"/a//b"), Err(RoutePathError::EmptySegment));
/// assert_eq!(check_route_path(b"/a/../b"), Err(RoutePathError::DotSegment));
/// ```
pub fn check_route_path(p: &[u8]) -> Result<(), RoutePathError> {
    let Some(rest) = p.strip_prefix(b"/") else {
        return Err(RoutePathError::NoLeadingSlash);
    };
    if p.len() > MAX_PATH_LEN {
        return Err(RoutePathError::TooLong { len: p.len() });
    }
    if p.contains(&0) {
        return Err(RoutePathError::Nul);
    }
    let mut segments = rest.split(|&c| c == b'/').peekable();
    while let Some(s) = segments.next() {
        if s.is_empty() && segments.peek().is_some() {
            return Err(RoutePathError::EmptySegment);
        }
        if s == b"." || s == b".." {
            return Err(RoutePathError::DotSegment);
        }
    }
    Ok(())
}

/// The value of an ASCII hex digit (either case).
///
/// ```
/// use tarweb_format::rules::hex_value;
/// assert_eq!((hex_value(b'7'), hex_value(b'b'), hex_value(b'F')), (Some(7), Some(11), Some(15)));
/// assert_eq!(hex_value(b'g'), None);
/// ```
pub const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A `%` not followed by two hex digits, found by [`percent_decode_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BadEscape {
    /// Index of the `%` in the source.
    pub at: usize,
}

impl fmt::Display for BadEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid percent-encoding at byte {}: '%' is not followed by two hex digits",
            self.at
        )
    }
}

impl std::error::Error for BadEscape {}

/// Decodes the `%XX` escapes of `src` into `out` and returns the decoded
/// length. Every other byte, `+` included, is copied as it is; a `%` not
/// followed by two hex digits is an error. Nothing is allocated, and the
/// result is not checked further (it may hold any byte, e.g. NUL from `%00`,
/// or `/` from `%2F`, or not be UTF-8).
///
/// The decoded text is never longer than `src`, so `out` must have at least
/// `src.len()` bytes.
///
/// # Panics
///
/// If `out` is shorter than `src`.
///
/// ```
/// use tarweb_format::rules::{percent_decode_into, BadEscape};
/// let mut buf = [0u8; 64];
/// let n = percent_decode_into(b"/file%20name.txt", &mut buf).unwrap();
/// assert_eq!(&buf[..n], b"/file name.txt");
/// assert_eq!(percent_decode_into(b"/a%2", &mut buf), Err(BadEscape { at: 2 }));
/// ```
pub fn percent_decode_into(src: &[u8], out: &mut [u8]) -> Result<usize, BadEscape> {
    assert!(
        out.len() >= src.len(),
        "percent_decode_into: out ({} bytes) is shorter than src ({} bytes)",
        out.len(),
        src.len()
    );
    let (mut i, mut n) = (0, 0);
    while i < src.len() {
        if src[i] == b'%' {
            let digit = |at: usize| src.get(at).and_then(|&b| hex_value(b));
            let (Some(hi), Some(lo)) = (digit(i + 1), digit(i + 2)) else {
                return Err(BadEscape { at: i });
            };
            out[n] = hi << 4 | lo;
            i += 3;
        } else {
            out[n] = src[i];
            i += 1;
        }
        n += 1;
    }
    Ok(n)
}

/// The digest a blob stores for one Basic-Auth credential (`user:password`,
/// as a client sends it before base64): blake3 over the route's salt then
/// the credential. The blob never holds the password itself; a reader
/// compares a client's credential by this digest
/// ([`Auth::admits`](crate::Auth::admits)).
pub fn basic_auth_digest(salt: &[u8; crate::layout::AUTH_SALT_LEN], credential: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(salt);
    h.update(credential);
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_rfc_9110s_set() {
        let specials = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || specials.contains(&b);
            assert_eq!(is_tchar(b), want, "byte {b:#04x}");
        }
        // Delimiters, space, controls and non-ASCII are not token bytes.
        for &b in b"\"(),/:;<=>?@[\\]{} \t\r\n\x00\x7f\x80\xff" {
            assert!(!is_tchar(b), "{b:#04x}");
        }
    }

    #[test]
    fn every_status_line_is_its_phrase() {
        for &s in KNOWN_STATUSES {
            let phrase = reason_phrase(s).unwrap();
            let line = status_line(s).unwrap();
            assert_eq!(line, format!("HTTP/1.1 {s} {phrase}\r\n").as_bytes());
        }
        // Every status either binary uses is known.
        for s in [
            200, 204, 206, 301, 302, 303, 304, 307, 308, 400, 404, 405, 408, 411, 412, 413, 414,
            416, 421, 431, 500, 501, 505,
        ] {
            assert!(KNOWN_STATUSES.contains(&s), "{s}");
        }
        // RFC 9110 §15's names, where older ones differ.
        assert_eq!(reason_phrase(413), Some("Content Too Large"));
        assert_eq!(reason_phrase(416), Some("Range Not Satisfiable"));
        assert_eq!(reason_phrase(421), Some("Misdirected Request"));
        assert_eq!(status_line(200), Some(&b"HTTP/1.1 200 OK\r\n"[..]));
        for s in [0, 100, 201, 305, 402, 418, 599, 1000, u16::MAX] {
            assert_eq!((reason_phrase(s), status_line(s)), (None, None), "{s}");
        }
    }

    #[test]
    fn route_statuses() {
        for s in 0..=u16::MAX {
            let want = [200, 301, 302, 303, 307, 308, 404].contains(&s);
            assert_eq!(is_route_status(s), want, "{s}");
            // A route status always has a status line to store.
            assert!(!want || status_line(s).is_some());
        }
    }

    #[test]
    fn route_paths() {
        use RoutePathError::*;
        for ok in [
            &b"/"[..],
            b"/a",
            b"/docs/",
            b"/a/b/c.html",
            b"/.well-known/x",
            b"/a/..b/.c/...",
            b"/files/r\xc3\xa9sum\xc3\xa9 final.txt",
            b"/not-utf8-\xff",
            b"/%2e%2e",
        ] {
            assert_eq!(
                check_route_path(ok),
                Ok(()),
                "{:?}",
                String::from_utf8_lossy(ok)
            );
        }
        for (bad, want) in [
            (&b""[..], NoLeadingSlash),
            (b"a/b", NoLeadingSlash),
            (b"\0/", NoLeadingSlash),
            (b"/a\0b", Nul),
            (b"//", EmptySegment),
            (b"/a//b", EmptySegment),
            (b"/a//", EmptySegment),
            (b"/.", DotSegment),
            (b"/..", DotSegment),
            (b"/a/./b", DotSegment),
            (b"/a/../", DotSegment),
        ] {
            assert_eq!(check_route_path(bad), Err(want), "{bad:?}");
        }
        let max = format!("/{}", "x".repeat(MAX_PATH_LEN - 1));
        assert_eq!(check_route_path(max.as_bytes()), Ok(()));
        let long = format!("/{}", "x".repeat(MAX_PATH_LEN));
        assert_eq!(
            check_route_path(long.as_bytes()),
            Err(TooLong {
                len: MAX_PATH_LEN + 1
            })
        );
        assert_eq!(
            TooLong { len: 4097 }.to_string(),
            "is 4097 bytes, longer than the format's 4096-byte limit"
        );
        assert!(EmptySegment.to_string().contains("empty segment"));
        assert!(DotSegment.to_string().contains("'.' or '..' segment"));
    }

    #[test]
    fn hex_values() {
        for b in 0..=255u8 {
            let want = (b as char).to_digit(16).map(|d| d as u8);
            assert_eq!(hex_value(b), want, "{b:#04x}");
        }
    }

    fn decode(src: &[u8]) -> Result<Vec<u8>, BadEscape> {
        let mut out = vec![0xAA; src.len()];
        let n = percent_decode_into(src, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"/a/b").unwrap(), b"/a/b");
        assert_eq!(decode(b"/file%20name.txt").unwrap(), b"/file name.txt");
        assert_eq!(decode(b"/caf%C3%A9").unwrap(), "/café".as_bytes());
        assert_eq!(decode(b"/caf%c3%a9").unwrap(), "/café".as_bytes());
        assert_eq!(decode(b"/a+b").unwrap(), b"/a+b");
        assert_eq!(decode(b"%25%2F%00%ff").unwrap(), b"%/\0\xff");
        // Decoded once: `%2541` is `%41`, not `A`.
        assert_eq!(decode(b"%2541").unwrap(), b"%41");
        for (bad, at) in [
            (&b"%"[..], 0),
            (b"/a%", 2),
            (b"/a%2", 2),
            (b"/a%zz", 2),
            (b"/a%2g", 2),
            (b"/a%%41", 2),
            (b"%41%4", 3),
            ("/a%é".as_bytes(), 2),
        ] {
            assert_eq!(decode(bad), Err(BadEscape { at }), "{bad:?}");
        }
        // `out` longer than needed is fine; only the decoded part is written.
        let mut out = [0u8; 8];
        assert_eq!(percent_decode_into(b"%41", &mut out), Ok(1));
        assert_eq!(out, [b'A', 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    #[should_panic(expected = "shorter than src")]
    fn percent_decoding_needs_room() {
        let _ = percent_decode_into(b"/abc", &mut [0u8; 3]);
    }
}
