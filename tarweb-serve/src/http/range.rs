//! `Range: bytes=...` (RFC 9110 §14.2). One range gets a 206 with that
//! part; several get a `multipart/byteranges` 206 (§14.6), as nginx sends.
//! Ranges that overlap or touch are coalesced into one (§14.2 allows it,
//! and it keeps a client from asking for the same bytes many times); the
//! others keep the order they were asked in. More than [`MAX_SPECS`]
//! ranges asked, or more than [`MAX_PARTS`] after coalescing, and the
//! field is ignored (the whole representation, 200), which §14.2 allows
//! for exactly this reason: many small ranges amplify a request. Syntax we
//! do not understand is ignored the same way; a well-formed set none of
//! whose ranges is satisfiable gets 416.

/// Most parts of a multipart response: each costs about 120 bytes of part
/// header and two output segments.
pub const MAX_PARTS: usize = 16;
/// Most ranges read from one field.
pub const MAX_SPECS: usize = 64;

// A ~280-byte value once per request, on the stack: boxing the range
// set would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Serve the whole representation.
    Ignore,
    /// Inclusive byte positions.
    Bytes {
        first: u64,
        last: u64,
    },
    /// Two to [`MAX_PARTS`] ranges, none overlapping or touching another,
    /// in the order asked.
    Multi(Set),
    Unsatisfiable,
}

/// Ranges (inclusive byte positions), held without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set {
    n: usize,
    r: [(u64, u64); MAX_PARTS],
}

impl Set {
    /// The ranges, in the order they were asked (a coalesced range where
    /// its first member was).
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.r[..self.n]
    }
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

/// One range-spec against a representation of `len` bytes: `None` when
/// its syntax is invalid, `Some(None)` when it is unsatisfiable.
fn spec(spec: &[u8], len: u64) -> Option<Option<(u64, u64)>> {
    let dash = spec.iter().position(|&c| c == b'-')?;
    let (a, b) = (&spec[..dash], &spec[dash + 1..]);
    if a.is_empty() {
        // suffix-range
        let n = num(b)?;
        if n == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some((len - n.min(len), len - 1)));
    }
    let first = num(a)?;
    let last = if b.is_empty() {
        u64::MAX
    } else {
        // RFC 9110 §14.1.1: a last-pos below the first-pos is invalid,
        // compared as written, not as saturated values.
        match num(b) {
            Some(l) if !below(b, a) => l,
            _ => return None,
        }
    };
    if first >= len {
        return Some(None);
    }
    Some(Some((first, last.min(len - 1))))
}

/// Whether two ranges overlap or are adjacent (one could be sent as both).
fn touch(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 <= b.1.saturating_add(1) && b.0 <= a.1.saturating_add(1)
}

pub fn parse(v: &[u8], len: u64) -> Range {
    let v = v.trim_ascii();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"bytes=") {
        return Range::Ignore;
    }
    // The satisfiable ranges, coalesced as they come: each new one absorbs
    // every range it touches (repeatedly, as it grows) and takes the place
    // of the first of them.
    let mut got = [(0u64, 0u64); MAX_SPECS];
    let (mut n, mut specs) = (0, 0);
    for s in v[6..].split(|&c| c == b',').map(<[u8]>::trim_ascii) {
        if s.is_empty() {
            continue; // list syntax allows empty elements
        }
        specs += 1;
        if specs > MAX_SPECS {
            return Range::Ignore;
        }
        let Some(r) = spec(s, len) else {
            return Range::Ignore;
        };
        let Some(mut r) = r else { continue };
        let mut at = n;
        let mut i = 0;
        while i < n {
            if touch(got[i], r) {
                r = (r.0.min(got[i].0), r.1.max(got[i].1));
                got.copy_within(i + 1..n, i);
                n -= 1;
                at = at.min(i);
                i = 0; // the grown range may touch one passed before
            } else {
                i += 1;
            }
        }
        got.copy_within(at..n, at + 1);
        got[at] = r;
        n += 1;
    }
    match n {
        _ if specs == 0 => Range::Ignore,
        0 => Range::Unsatisfiable,
        1 => Range::Bytes {
            first: got[0].0,
            last: got[0].1,
        },
        n if n > MAX_PARTS => Range::Ignore,
        n => {
            let mut set = Set {
                n,
                r: [(0, 0); MAX_PARTS],
            };
            set.r[..n].copy_from_slice(&got[..n]);
            Range::Multi(set)
        }
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

    fn multi(r: &[(u64, u64)]) -> Range {
        let mut set = Set {
            n: r.len(),
            r: [(0, 0); MAX_PARTS],
        };
        set.r[..r.len()].copy_from_slice(r);
        Multi(set)
    }

    #[test]
    fn several_ranges() {
        // RFC 9110 §14.1.2's examples on a 10,000-byte representation.
        assert_eq!(
            parse(b"bytes=500-600,601-999", 10000),
            Bytes {
                first: 500,
                last: 999
            },
            "adjacent: one range, one part"
        );
        assert_eq!(
            parse(b"bytes=500-700,601-999", 10000),
            Bytes {
                first: 500,
                last: 999
            }
        );
        assert_eq!(
            parse(b"bytes=0-0,-1", 10000),
            multi(&[(0, 0), (9999, 9999)])
        );
        // §14.6's example: two parts, in the order asked.
        assert_eq!(
            parse(b"bytes=500-999,7000-7999", 8000),
            multi(&[(500, 999), (7000, 7999)])
        );
        assert_eq!(
            parse(b"bytes=7000-7999,500-999", 8000),
            multi(&[(7000, 7999), (500, 999)])
        );
        // Unsatisfiable members drop out; all of them: 416.
        assert_eq!(
            parse(b"bytes=0-1,200-300", 100),
            Bytes { first: 0, last: 1 }
        );
        assert_eq!(parse(b"bytes=200-300,400-", 100), Unsatisfiable);
        assert_eq!(parse(b"bytes=5-6, ,8-9,", 100), multi(&[(5, 6), (8, 9)]));
        // One bad member: the whole field is ignored.
        assert_eq!(parse(b"bytes=0-1,x-2", 100), Ignore);
        assert_eq!(parse(b"bytes=0-1,5-3", 100), Ignore);
        // Coalescing takes the place of the first member, and a grown
        // range absorbs one it passed before: 20-30 joins 10-19 and
        // 31-40; 0-5 stays first.
        assert_eq!(
            parse(b"bytes=0-5,31-40,50-60,10-19,20-30", 100),
            multi(&[(0, 5), (10, 40), (50, 60)])
        );
        assert_eq!(
            parse(b"bytes=50-60,0-5,10-19,31-40,20-30", 100),
            multi(&[(50, 60), (0, 5), (10, 40)])
        );
        // The same bytes many times: one part.
        let same = format!("bytes={}", vec!["0-99"; 60].join(","));
        assert_eq!(parse(same.as_bytes(), 100), Bytes { first: 0, last: 99 });
        // Caps: MAX_PARTS parts pass, one more is ignored; more than
        // MAX_SPECS ranges are ignored even when they coalesce.
        let parts = |k: usize| {
            let v: Vec<String> = (0..k)
                .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
                .collect();
            format!("bytes={}", v.join(","))
        };
        assert!(
            matches!(parse(parts(MAX_PARTS).as_bytes(), 1000), Multi(s) if s.ranges().len() == MAX_PARTS)
        );
        assert_eq!(parse(parts(MAX_PARTS + 1).as_bytes(), 1000), Ignore);
        let many = format!("bytes={}", vec!["0-1"; MAX_SPECS + 1].join(","));
        assert_eq!(parse(many.as_bytes(), 100), Ignore);
        let most = format!("bytes={}", vec!["0-1"; MAX_SPECS].join(","));
        assert_eq!(parse(most.as_bytes(), 100), Bytes { first: 0, last: 1 });
    }
}
