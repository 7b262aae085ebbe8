//! Accept-Encoding (RFC 9110 §12.5.3) → which stored variant to send.
//!
//! Choices made here:
//! - q-values are parsed exactly as the grammar says (`0`, `0.5`, `0.500`,
//!   `1`, `1.000`; at most 3 decimals) into thousandths, never as floats. A
//!   member with an invalid q-value (`q=1.5`, `q=0.1234`, `q=abc`) or an
//!   unknown parameter is ignored, as if absent.
//! - The highest q wins; among equal q, the smallest body (variants are
//!   sorted by length, so the first one found).
//! - identity not mentioned (and no `*`) is acceptable as a last resort:
//!   ranked below any listed coding.
//! - No header at all: identity (RFC 9110 allows any coding then, but a
//!   client that sent none, e.g. plain curl, expects plain bytes).
//! - Nothing acceptable (e.g. `identity;q=0, gzip;q=0` or `*;q=0`): identity
//!   anyway, as §12.5.3 permits, rather than a 406 that no browser shows
//!   usefully.

use super::request::{list_items, Lines};
use tarweb_format::{Coding, Variant, Variants};

/// Per-coding weights, in thousandths; `None` = not mentioned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefs {
    present: bool,
    q: [Option<u16>; 4],
    star: Option<u16>,
}

/// Rank of unlisted-but-acceptable identity: below any q > 0.
const IDENTITY_DEFAULT: u16 = 0;

pub fn parse_q(v: &[u8]) -> Option<u16> {
    match v {
        [b'0'] => Some(0),
        [b'1'] => Some(1000),
        [b'0', b'.', frac @ ..] if frac.len() <= 3 && frac.iter().all(u8::is_ascii_digit) => {
            let mut n = 0u16;
            for i in 0..3 {
                n = n * 10 + frac.get(i).map_or(0, |&d| u16::from(d - b'0'));
            }
            Some(n)
        }
        [b'1', b'.', frac @ ..] if frac.len() <= 3 && frac.iter().all(|&d| d == b'0') => Some(1000),
        _ => None,
    }
}

/// One member: `coding [ OWS ; OWS q=qvalue ]` → (coding, q).
fn member(m: &[u8]) -> Option<(&[u8], u16)> {
    let mut parts = m.splitn(2, |&c| c == b';');
    let coding = trim(parts.next()?);
    if coding.is_empty() {
        return None;
    }
    let q = match parts.next() {
        None => 1000,
        Some(p) => {
            let p = trim(p);
            let v = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q="))?;
            parse_q(v)?
        }
    };
    Some((coding, q))
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', r @ ..] = v {
        v = r;
    }
    while let [r @ .., b' ' | b'\t'] = v {
        v = r;
    }
    v
}

impl Prefs {
    pub fn parse(lines: &Lines<'_>) -> Prefs {
        let mut p = Prefs {
            present: lines.is_present(),
            ..Prefs::default()
        };
        for line in lines.as_slice() {
            for m in list_items(line) {
                let Some((c, q)) = member(m) else { continue };
                let slot = if c == b"*" {
                    &mut p.star
                } else if c.eq_ignore_ascii_case(b"identity") {
                    &mut p.q[Coding::Identity as usize]
                } else if c.eq_ignore_ascii_case(b"gzip") || c.eq_ignore_ascii_case(b"x-gzip") {
                    &mut p.q[Coding::Gzip as usize]
                } else if c.eq_ignore_ascii_case(b"br") {
                    &mut p.q[Coding::Br as usize]
                } else if c.eq_ignore_ascii_case(b"zstd") {
                    &mut p.q[Coding::Zstd as usize]
                } else {
                    continue;
                };
                // The first mention of a coding counts.
                slot.get_or_insert(q);
            }
        }
        p
    }

    /// Weight of `c`: `None` = not acceptable; identity unlisted ranks 0.
    pub fn weight(&self, c: Coding) -> Option<u16> {
        if !self.present {
            return (c == Coding::Identity).then_some(IDENTITY_DEFAULT);
        }
        let q = self.q[c as usize].or(self.star);
        match (q, c) {
            (Some(0), _) => None,
            (Some(q), _) => Some(q),
            (None, Coding::Identity) => Some(IDENTITY_DEFAULT),
            (None, _) => None,
        }
    }

    /// The variant to send: highest weight, then smallest.
    pub fn choose<'a>(&self, vs: Variants<'a>) -> Variant<'a> {
        if !self.present {
            return vs.identity(); // no Accept-Encoding: only identity weighs
        }
        let mut best: Option<(u16, Variant<'a>)> = None;
        for v in vs.iter() {
            if let Some(w) = self.weight(v.coding()) {
                if best.as_ref().is_none_or(|(bw, _)| w > *bw) {
                    best = Some((w, v));
                }
            }
        }
        best.map_or_else(|| vs.identity(), |(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(v: &str) -> Prefs {
        Prefs::parse(&Lines::from_slice(&[v.as_bytes()]))
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_q(b"0"), Some(0));
        assert_eq!(parse_q(b"0.000"), Some(0));
        assert_eq!(parse_q(b"0.5"), Some(500));
        assert_eq!(parse_q(b"0.50"), Some(500));
        assert_eq!(parse_q(b"0.500"), Some(500));
        assert_eq!(parse_q(b"0.001"), Some(1));
        assert_eq!(parse_q(b"1"), Some(1000));
        assert_eq!(parse_q(b"1.0"), Some(1000));
        assert_eq!(parse_q(b"1.000"), Some(1000));
        assert_eq!(parse_q(b"1."), Some(1000));
        for bad in [
            &b"1.5"[..],
            b"0.1234",
            b"2",
            b"abc",
            b"",
            b".5",
            b"-0",
            b"0,5",
            b"1.001",
        ] {
            assert_eq!(parse_q(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn weights() {
        use Coding::*;
        let p = prefs("gzip;q=1.0, br;q=0.9");
        assert_eq!(p.weight(Gzip), Some(1000));
        assert_eq!(p.weight(Br), Some(900));
        assert_eq!(p.weight(Zstd), None);
        assert_eq!(p.weight(Identity), Some(0));
        let p = prefs("gzip;q=0.5, br;q=0.50");
        assert_eq!(p.weight(Gzip), p.weight(Br));
        let p = prefs("*;q=0");
        assert_eq!(p.weight(Identity), None);
        assert_eq!(p.weight(Gzip), None);
        let p = prefs("identity;q=0, *");
        assert_eq!(p.weight(Identity), None);
        assert_eq!(p.weight(Zstd), Some(1000));
        let p = prefs("br;q=1.5, gzip");
        assert_eq!(p.weight(Br), None, "invalid q: member ignored");
        assert_eq!(p.weight(Gzip), Some(1000));
        let p = prefs("GZIP ; q=0.2 ,, BR;Q=0.3");
        assert_eq!(p.weight(Gzip), Some(200));
        assert_eq!(p.weight(Br), Some(300));
        let p = prefs("x-gzip");
        assert_eq!(p.weight(Gzip), Some(1000));
        let p = prefs("gzip;level=1");
        assert_eq!(p.weight(Gzip), None);
        let p = Prefs::parse(&Lines::default());
        assert_eq!(p.weight(Identity), Some(0));
        assert_eq!(p.weight(Br), None);
        let p = prefs("");
        assert_eq!(p.weight(Identity), Some(0));
        assert_eq!(p.weight(Gzip), None);
    }
}
