//! A `multipart/byteranges` body (RFC 9110 §14.6), for a 206 answering
//! several ranges: for each range a part head (boundary, the
//! representation's `Content-Type`, its `Content-Range`) and that range of
//! the stored body, then the closing boundary. Nothing is copied or
//! allocated: the body is a sequence of [`Piece`]s, fixed bytes, numbers
//! and slices of the blob, that each protocol turns into its own writes
//! (HTTP/1.1 all at once, HTTP/2 a DATA frame at a time).

use super::range::Set;
use super::stored;
use tarweb_format::Variant;

/// The boundary: the representation's ETag (32 hex digits of the blake3 of
/// its bytes), so it cannot occur in them unless they contain their own
/// hash, and the same response gets the same bytes every time.
const BOUNDARY_MAX: usize = 40;

/// One piece of the body, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    /// A number in decimal.
    Num(u64),
    /// `len` bytes of the blob from file offset `off`; `body`: a range of
    /// the representation (a protocol may send it by sendfile), else a
    /// `Content-Type` value.
    Blob {
        off: u64,
        len: u64,
        body: bool,
    },
}

/// What a multipart response needs, small enough to keep in a stream.
#[derive(Debug, Clone, Copy)]
pub struct Multipart {
    boundary: [u8; BOUNDARY_MAX],
    boundary_len: u8,
    /// The stored `Content-Type` value, as (file offset, length).
    ctype: Option<(u64, u64)>,
    body_off: u64,
    total: u64,
    set: Set,
}

/// File offset of a variant's field lines.
pub fn fields_off(v: &Variant<'_>) -> u64 {
    v.head_off() + (v.head().len() - v.fields().len()) as u64
}

impl Multipart {
    /// For `range`, a `Range` value that gives `v` several parts (as the
    /// dispatch found).
    pub fn from_range(v: &Variant<'_>, range: &[u8]) -> Multipart {
        match super::range::parse(range, v.body_len()) {
            super::range::Range::Multi(set) => Multipart::new(v, set),
            other => unreachable!("dispatch planned a multipart for {other:?}"),
        }
    }

    pub fn new(v: &Variant<'_>, set: Set) -> Multipart {
        let tag = v.etag().unwrap_or(b"\"tarweb\"");
        let tag = tag.strip_prefix(b"\"").unwrap_or(tag);
        let tag = tag.strip_suffix(b"\"").unwrap_or(tag);
        let mut boundary = [0u8; BOUNDARY_MAX];
        // An ETag's bytes are VCHARs; a boundary allows fewer: keep the
        // ones it allows (hex digits always are).
        let mut n = 0;
        for &c in tag {
            if n < BOUNDARY_MAX && (c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c)) {
                boundary[n] = c;
                n += 1;
            }
        }
        if n == 0 {
            boundary[..6].copy_from_slice(b"tarweb");
            n = 6;
        }
        let fields = v.fields();
        let ctype = stored::find(fields, b"content-type")
            .map(|l| (fields_off(v) + l.value_at as u64, l.value.len() as u64));
        Multipart {
            boundary,
            boundary_len: n as u8,
            ctype,
            body_off: v.body_off(),
            total: v.body_len(),
            set,
        }
    }

    pub fn boundary(&self) -> &[u8] {
        &self.boundary[..usize::from(self.boundary_len)]
    }

    /// Calls `f` with every piece of the body, in order.
    pub fn pieces<'s>(&'s self, mut f: impl FnMut(Piece<'s>)) {
        use Piece::*;
        for &(first, last) in self.set.ranges() {
            f(Bytes(b"\r\n--"));
            f(Bytes(self.boundary()));
            if let Some((off, len)) = self.ctype {
                f(Bytes(b"\r\nContent-Type: "));
                f(Blob {
                    off,
                    len,
                    body: false,
                });
            }
            f(Bytes(b"\r\nContent-Range: bytes "));
            f(Num(first));
            f(Bytes(b"-"));
            f(Num(last));
            f(Bytes(b"/"));
            f(Num(self.total));
            f(Bytes(b"\r\n\r\n"));
            f(Blob {
                off: self.body_off + first,
                len: last - first + 1,
                body: true,
            });
        }
        f(Bytes(b"\r\n--"));
        f(Bytes(self.boundary()));
        f(Bytes(b"--\r\n"));
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        let mut n = 0;
        self.pieces(|p| n += piece_len(p));
        n
    }
}

/// Decimal digits of `n`, into the end of `buf`.
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

pub fn piece_len(p: Piece<'_>) -> u64 {
    match p {
        Piece::Bytes(b) => b.len() as u64,
        Piece::Num(n) => decimal(n, &mut [0; 20]).len() as u64,
        Piece::Blob { len, .. } => len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let mut b = [0; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(u64::MAX, &mut b), b"18446744073709551615");
    }
}
