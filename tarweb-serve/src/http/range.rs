//! `Range: bytes=...` (RFC 9110 §14.2). One range only: a request for
//! several ranges gets the whole representation (200), which §14.2 allows
//! ("a server MAY ignore the Range header field"), and which spares us
//! multipart/byteranges. Syntax we do not understand is ignored the same
//! way; a well-formed range that is not satisfiable gets 416.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Serve the whole representation.
    Ignore,
    /// Inclusive byte positions.
    Bytes {
        first: u64,
        last: u64,
    },
    Unsatisfiable,
}

fn num(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Saturate: a position past any length is simply out of range.
    Some(v.iter().fold(0u64, |a, &d| {
        a.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Whether decimal digits `a` stand for a smaller number than `b`, at any
/// length (the values saturate; the order must not).
fn below(a: &[u8], b: &[u8]) -> bool {
    let trim = |d: &[u8]| -> usize { d.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    (a.len(), a) < (b.len(), b)
}

pub fn parse(v: &[u8], len: u64) -> Range {
    let v = v.trim_ascii();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"bytes=") {
        return Range::Ignore;
    }
    let mut specs = v[6..]
        .split(|&c| c == b',')
        .map(|s| s.trim_ascii())
        .filter(|s| !s.is_empty());
    let Some(spec) = specs.next() else {
        return Range::Ignore;
    };
    if specs.next().is_some() {
        return Range::Ignore; // several ranges: full 200
    }
    let Some(dash) = spec.iter().position(|&c| c == b'-') else {
        return Range::Ignore;
    };
    let (a, b) = (&spec[..dash], &spec[dash + 1..]);
    if a.is_empty() {
        // suffix-range
        let Some(n) = num(b) else {
            return Range::Ignore;
        };
        if n == 0 || len == 0 {
            return Range::Unsatisfiable;
        }
        return Range::Bytes {
            first: len - n.min(len),
            last: len - 1,
        };
    }
    let Some(first) = num(a) else {
        return Range::Ignore;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        // RFC 9110 §14.1.1: a last-pos below the first-pos is invalid,
        // compared as written, not as saturated values.
        match num(b) {
            Some(l) if !below(b, a) => l,
            _ => return Range::Ignore,
        }
    };
    if first >= len {
        return Range::Unsatisfiable;
    }
    Range::Bytes {
        first,
        last: last.min(len - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Range::*;

    #[test]
    fn ranges() {
        let b = |first, last| Bytes { first, last };
        assert_eq!(parse(b"bytes=0-9", 100), b(0, 9));
        assert_eq!(parse(b"bytes=10-", 100), b(10, 99));
        assert_eq!(parse(b"bytes=-10", 100), b(90, 99));
        assert_eq!(parse(b"bytes=-1000", 100), b(0, 99));
        assert_eq!(parse(b"bytes=90-1000", 100), b(90, 99));
        assert_eq!(parse(b"BYTES=0-0", 100), b(0, 0));
        assert_eq!(parse(b"bytes= 5-6 ", 100), b(5, 6));
        assert_eq!(parse(b"bytes=99-99", 100), b(99, 99));
        assert_eq!(parse(b"bytes=0-99999999999999999999999", 100), b(0, 99));
        assert_eq!(parse(b"bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse(b"bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse(b"bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse(b"bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse(b"bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse(b"bytes=99999999999999999999999-", 100), Unsatisfiable);
        assert_eq!(parse(b"bytes=0-1,5-6", 100), Ignore);
        assert_eq!(parse(b"bytes=5-1", 100), Ignore);
        assert_eq!(parse(b"bytes=a-b", 100), Ignore);
        assert_eq!(parse(b"bytes=-", 100), Ignore);
        assert_eq!(parse(b"items=0-1", 100), Ignore);
        assert_eq!(parse(b"bytes=", 100), Ignore);
        assert_eq!(parse(b"bytes=1", 100), Ignore);
        assert_eq!(parse(b"bytes=0-1,", 100), b(0, 1));
        // Found by the `range` fuzz target: both ends past u64::MAX, the
        // last below the first. Invalid (ignored), not unsatisfiable.
        let huge = b"bytes=88988888888888888888888888888888888-8888888888888888888888888888889";
        assert_eq!(parse(huge, 822), Ignore);
        assert_eq!(
            parse(b"bytes=99999999999999999999-099999999999999999999", 5),
            Unsatisfiable
        );
        assert_eq!(parse(b"bytes=007-0010", 100), b(7, 10));
        assert_eq!(parse(b"bytes=010-007", 100), Ignore);
    }
}
