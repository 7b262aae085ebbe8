//! Entry points for the fuzz targets in `fuzz/`: each runs one parser of
//! bytes that come from the network on arbitrary input and panics when one
//! of its invariants breaks, so each target is one line. The parsers stay
//! `pub(crate)`; this module is the only way in, compiled with the
//! `fuzzing` feature (which only the fuzz crate turns on) and in this
//! crate's tests, which run every entry point on a few inputs so that it
//! cannot rot between fuzzing runs.
//!
//! Nothing here is used by the server.
//!
//! Over 600 lines on purpose: every fuzz entry point beside the reference implementation it is checked against.

use crate::http::negotiate::{parse_q, Prefs};
use crate::http::path::{normalize, Target};
use crate::http::range::{self, Range};
use crate::http::request::{Lines, MAX_REPEAT, MAX_TARGET};
use crate::proto::h1::parse::{self, reference, Error, Head};
use std::sync::OnceLock;
use tarweb_format::rules::check_route_path;
use tarweb_format::{Blob, Coding, MAX_PATH_LEN};

/// What a parse answered, in a form that compares: the outcome, and for a
/// head every field the server reads.
fn outcome(r: &Result<Head<'_>, Error>) -> String {
    match r {
        Err(e) => format!("{e:?}"),
        Ok(h) => {
            let q = &h.req;
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {} {} {}",
                q.method,
                q.method_bytes,
                q.target,
                q.version,
                q.host,
                q.accept_encoding.as_slice(),
                q.if_none_match.as_slice(),
                q.if_match.as_slice(),
                (q.if_modified_since, q.if_unmodified_since),
                q.range,
                q.if_range,
                q.user_agent,
                q.referer,
                q.authorization,
                h.conn_close,
                h.conn_keep_alive,
                h.content_length,
                h.chunked,
                h.head_len
            )
        }
    }
}

/// Where to cut an input of `n` bytes: everywhere when it is short, a few
/// hundred places spread over it (and at both ends) when it is long, so a
/// 40 KB input costs milliseconds, not seconds.
fn cuts(n: usize) -> impl Iterator<Item = usize> {
    let step = if n <= 1024 { 1 } else { n / 512 };
    (0..=n).filter(move |&k| step == 1 || k % step == 0 || k < 64 || n - k < 64)
}

/// The HTTP/1.x request-head parser (`proto/h1/parse`).
///
/// - It answers as the reference parser (`parse/reference.rs`, the one it
///   replaced) does.
/// - Where a read cuts the bytes never changes the answer: for every cut,
///   the first read's answer when it is final, else the answer resumed with
///   `parse_from(buf, scanned)`, equals the answer to the whole; and so does
///   a head trickled in one byte per read.
/// - A head that parses ends with its empty line within the input, and is
///   self-contained: the same bytes alone parse to the same head. Its
///   fields then go through every parser that reads them.
pub fn request(data: &[u8]) {
    let whole = parse::parse_from(data, 0);
    let want = outcome(&whole);
    assert_eq!(
        want,
        outcome(&reference::parse(data)),
        "the reference parser disagrees"
    );
    for k in cuts(data.len()) {
        let first = parse::parse_from(&data[..k], 0);
        let got = match first {
            Err(Error::Incomplete) => outcome(&parse::parse_from(data, k)),
            _ => outcome(&first),
        };
        assert_eq!(got, want, "cut after {k} bytes");
    }
    if data.len() <= 512 {
        trickle(data);
    }
    let Ok(h) = whole else { return };
    assert!(h.head_len <= data.len());
    assert!(data[..h.head_len].ends_with(b"\r\n\r\n"));
    assert_eq!(
        outcome(&parse::parse_from(&data[..h.head_len], 0)),
        want,
        "a head alone"
    );
    let r = &h.req;
    assert!(!r.target.is_empty() && r.target.iter().all(|&b| b > 0x20 && b < 0x7f));
    assert!(r.target.len() <= MAX_TARGET);
    let mut out = vec![0u8; MAX_TARGET];
    let _ = normalize(r.target, &mut out);
    let prefs = Prefs::parse(&r.accept_encoding);
    let _ = prefs.choose(test_blob().routes().next().expect("one route").variants());
    if let Some(v) = r.range {
        for len in [0, 1, 100, u64::MAX] {
            check_range(v, len);
        }
    }
    let _ = crate::http::conditional::evaluate(r, b"\"a\"", 784111777);
}

/// The bytes arrive one per read: each call sees one more byte and
/// `scanned` the bytes before it; the first final answer must be the one
/// the bytes so far get in one piece.
fn trickle(data: &[u8]) {
    for i in 1..=data.len() {
        let r = parse::parse_from(&data[..i], i - 1);
        if !matches!(r, Err(Error::Incomplete)) {
            assert_eq!(
                outcome(&r),
                outcome(&parse::parse_from(&data[..i], 0)),
                "trickled, answered at byte {i}"
            );
            return;
        }
    }
}

/// `Range: bytes=` (`http/range.rs`). Input: 8 bytes of representation
/// length (little-endian), then the field value.
///
/// - A range it returns lies within the representation; several are
///   two to `MAX_PARTS`, none touching another.
/// - Whether the value is ignored depends on its syntax alone, never on
///   the length, unless it asks for more than `MAX_PARTS` ranges (then
///   the length decides how many are left after coalescing).
/// - It answers as a reference written from RFC 9110 §14.1.2 with
///   arbitrary-precision positions, merging by sorting.
pub fn range(data: &[u8]) {
    let Some((len, v)) = data.split_first_chunk::<8>() else {
        return;
    };
    let len = u64::from_le_bytes(*len);
    let ignored = range::parse(v, 0) == Range::Ignore;
    let few = v.split(|&c| c == b',').count() <= range::MAX_PARTS;
    for len in [len, len % 4096, 0, 1, u64::MAX] {
        check_range(v, len);
        if few {
            assert_eq!(range::parse(v, len) == Range::Ignore, ignored, "len {len}");
        }
    }
}

fn check_range(v: &[u8], len: u64) {
    let got = range::parse(v, len);
    if let Range::Bytes { first, last } = got {
        assert!(first <= last && last < len, "{got:?} of {len}");
    }
    if let Range::Multi(set) = got {
        let r = set.ranges();
        assert!(r.len() >= 2 && r.len() <= range::MAX_PARTS);
        for (i, &(a, b)) in r.iter().enumerate() {
            assert!(a <= b && b < len, "{got:?} of {len}");
            for &(c, d) in &r[i + 1..] {
                assert!(
                    b.saturating_add(1) < c || d.saturating_add(1) < a,
                    "{got:?} touch"
                );
            }
        }
    }
    assert_eq!(got, reference_range(v, len), "len {len}");
}

/// A decimal number of any length, compared as digits: `None` unless all
/// digits. Leading zeros dropped.
fn digits(s: &[u8]) -> Option<&[u8]> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let z = s.iter().take_while(|&&d| d == b'0').count();
    Some(&s[z.min(s.len() - 1)..])
}

fn less(a: &[u8], b: &[u8]) -> bool {
    (a.len(), a) < (b.len(), b)
}

/// `n` clamped to `u64::MAX`.
fn value(n: &[u8]) -> u64 {
    if n.len() > 20 {
        return u64::MAX;
    }
    std::str::from_utf8(n)
        .ok()
        .and_then(|s| s.parse::<u128>().ok())
        .map_or(u64::MAX, |v| u64::try_from(v).unwrap_or(u64::MAX))
}

/// One range-spec by RFC 9110 §14.1.2, positions of any length: `None`
/// for invalid syntax, `Some(None)` for unsatisfiable.
fn reference_spec(spec: &[u8], len: u64) -> Option<Option<(u64, u64)>> {
    let dash = spec.iter().position(|&c| c == b'-')?;
    let (a, b) = (&spec[..dash], &spec[dash + 1..]);
    if a.is_empty() {
        let n = value(digits(b)?);
        if n == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some((len - n.min(len), len - 1)));
    }
    let first = digits(a)?;
    let last = if b.is_empty() {
        None
    } else {
        match digits(b) {
            // §14.1.1: last-pos below first-pos makes the range invalid.
            Some(l) if !less(l, first) => Some(value(l)),
            _ => return None,
        }
    };
    let first = value(first);
    if first >= len {
        return Some(None);
    }
    Some(Some((first, last.unwrap_or(u64::MAX).min(len - 1))))
}

/// The answer written the plain way: all specs, the satisfiable ones
/// merged by sorting (overlapping or adjacent), each merged range placed
/// by the earliest spec it holds.
fn reference_range(v: &[u8], len: u64) -> Range {
    let v = v.trim_ascii();
    let Some(specs) = v
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case(b"bytes="))
        .map(|_| &v[6..])
    else {
        return Range::Ignore;
    };
    let specs: Vec<&[u8]> = specs
        .split(|&c| c == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|s| !s.is_empty())
        .collect();
    if specs.is_empty() || specs.len() > range::MAX_SPECS {
        return Range::Ignore;
    }
    let mut ok: Vec<(u64, u64, usize)> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        match reference_spec(s, len) {
            None => return Range::Ignore,
            Some(None) => {}
            Some(Some((a, b))) => ok.push((a, b, i)),
        }
    }
    ok.sort();
    let mut merged: Vec<(u64, u64, usize)> = Vec::new();
    for (a, b, i) in ok {
        match merged.last_mut() {
            Some(m) if u128::from(a) <= u128::from(m.1) + 1 => {
                m.1 = m.1.max(b);
                m.2 = m.2.min(i);
            }
            _ => merged.push((a, b, i)),
        }
    }
    merged.sort_by_key(|m| m.2);
    match merged.len() {
        0 => Range::Unsatisfiable,
        1 => Range::Bytes {
            first: merged[0].0,
            last: merged[0].1,
        },
        n if n > range::MAX_PARTS => Range::Ignore,
        _ => {
            let ranges: Vec<(u64, u64)> = merged.iter().map(|m| (m.0, m.1)).collect();
            // Built through the parser's own type: a value-level compare.
            match range::parse(v, len) {
                Range::Multi(set) if set.ranges() == &ranges[..] => Range::Multi(set),
                other => panic!("reference {ranges:?}, parser {other:?}"),
            }
        }
    }
}

/// Request target → path (`http/path.rs`), for targets as the request
/// parser delivers them (VCHAR bytes; others are skipped).
///
/// - The result starts with '/', has no `.` or `..` segment and no empty
///   segment but a last one: it never climbs above the root, and it is a
///   route path the format allows (`check_route_path`) whenever it is
///   short enough to be one.
/// - It equals a reference written from RFC 3986 §5.2.4 (decode, then
///   remove dot segments with a stack) with the merging of empty segments.
/// - Normalising is idempotent: the result, percent-encoded back into a
///   target, normalises to itself; one with nothing to encode is taken as
///   it is.
pub fn path(data: &[u8]) {
    // Only targets the request parser lets through: VCHAR bytes.
    if !data.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return;
    }
    let mut out = vec![0u8; MAX_TARGET];
    let got = normalize(data, &mut out);
    let p = match &got {
        Ok(Target::Asterisk) => {
            assert_eq!(data, b"*");
            return;
        }
        Ok(Target::Path(p)) => p.to_vec(),
        Err(_) => {
            assert_eq!(reference_path(data), None, "refused");
            return;
        }
    };
    assert_eq!(Some(&p), reference_path(data).as_ref());
    assert_eq!(p[0], b'/');
    let segs: Vec<&[u8]> = p[1..].split(|&c| c == b'/').collect();
    for (i, s) in segs.iter().enumerate() {
        assert!(*s != b"." && *s != b"..", "{p:?}");
        assert!(!s.is_empty() || i == segs.len() - 1, "{p:?}");
    }
    if p.len() <= MAX_PATH_LEN {
        assert_eq!(check_route_path(&p), Ok(()), "{p:?}");
    }
    let mut again = vec![0u8; MAX_TARGET];
    let encoded = encode(&p);
    if encoded.len() <= MAX_TARGET {
        match normalize(&encoded, &mut again) {
            Ok(Target::Path(q)) => assert_eq!(q, &p[..], "normalising {encoded:?} again"),
            other => panic!("{encoded:?}: {other:?}"),
        }
    }
    if encoded == p {
        match normalize(&p, &mut again) {
            Ok(Target::Path(q)) => assert!(std::ptr::eq(q, &p[..]), "taken as it is"),
            other => panic!("{p:?}: {other:?}"),
        }
    }
}

/// A path percent-encoded into a target: '%', '?', '#' and anything that is
/// not VCHAR.
fn encode(p: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(p.len());
    for &b in p {
        if b <= 0x20 || b >= 0x7f || matches!(b, b'%' | b'?' | b'#') {
            t.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            t.push(b);
        }
    }
    t
}

fn reference_path(t: &[u8]) -> Option<Vec<u8>> {
    let path = if t.first() == Some(&b'/') {
        t
    } else {
        let lower = t.to_ascii_lowercase();
        let skip = if lower.starts_with(b"http://") {
            7
        } else if lower.starts_with(b"https://") {
            8
        } else {
            return None;
        };
        let rest = &t[skip..];
        let end = rest
            .iter()
            .position(|&c| c == b'/' || c == b'?')
            .unwrap_or(rest.len());
        if end == 0 {
            return None; // no authority
        }
        if rest.get(end) == Some(&b'/') {
            &rest[end..]
        } else {
            b"/" // no path
        }
    };
    let path = &path[..path.iter().position(|&c| c == b'?').unwrap_or(path.len())];
    if path.contains(&b'#') || path.len() > MAX_TARGET {
        return None;
    }
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            let hex = std::str::from_utf8(path.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(path[i]);
            i += 1;
        }
    }
    if decoded.contains(&0) {
        return None;
    }
    let segs: Vec<&[u8]> = decoded[1..].split(|&c| c == b'/').collect();
    let mut stack: Vec<&[u8]> = Vec::new();
    for s in &segs {
        match *s {
            b".." => {
                stack.pop();
            }
            b"." | b"" => {}
            s => stack.push(s),
        }
    }
    let mut out = Vec::new();
    for s in &stack {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    let last = segs.last().copied().unwrap_or(b"");
    if stack.is_empty() || matches!(last, b"" | b"." | b"..") {
        out.push(b'/');
    }
    Some(out)
}

/// A blob with one route in every coding (bodies of different sizes:
/// br 30, zstd 35, gzip 40, identity 100 bytes), for `choose`.
fn test_blob() -> &'static Blob<'static> {
    static B: OnceLock<Blob<'static>> = OnceLock::new();
    B.get_or_init(|| {
        use tarweb_format::{blob_to_vec, BlobSpec, ResponseSpec, RouteSpec};
        let variant = |coding: Coding, len: usize| {
            let etag = format!("\"{}\"", coding.token());
            ResponseSpec {
                site_encoded: false,
                coding,
                headers: vec![("ETag".into(), etag.clone())],
                body: vec![b'x'; len].into(),
                etag: Some(etag),
                not_modified: Some(Vec::new()),
            }
        };
        let spec = BlobSpec {
            encoder: [0; 8],
            rules: vec![],
            routes: vec![RouteSpec {
                auth: None,
                path: "/".into(),
                status: 200,
                last_modified: 0,
                variants: vec![
                    variant(Coding::Identity, 100),
                    variant(Coding::Gzip, 40),
                    variant(Coding::Br, 30),
                    variant(Coding::Zstd, 35),
                ],
            }],
            not_found: Vec::new(),
        };
        let bytes: &'static [u8] = Vec::leak(blob_to_vec(&spec).expect("a valid spec").0);
        Blob::parse(bytes).expect("a valid blob")
    })
}

/// Accept-Encoding (`http/negotiate.rs`). Input: up to `MAX_REPEAT` field
/// lines, separated by '\n'.
///
/// - Weights are thousandths (0-1000); a coding weighted 0 is not
///   acceptable, and only identity is acceptable when unlisted.
/// - Several field lines mean what they mean joined with commas.
/// - Every q-value parses as a reference written from RFC 9110 §12.4.2
///   does, and one that parses prints back to the same weight.
/// - The chosen variant has the highest weight of the acceptable ones and
///   among those the smallest body; identity when none is acceptable.
pub fn encoding(data: &[u8]) {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').take(MAX_REPEAT).collect();
    let mut l = Lines::default();
    for line in &lines {
        l.push(line).expect("at most MAX_REPEAT");
    }
    let prefs = Prefs::parse(&l);
    let joined = lines.join(&b","[..]);
    let mut one = Lines::default();
    one.push(&joined).expect("one line");
    assert_eq!(Prefs::parse(&one), prefs, "joined with commas");

    for c in Coding::ALL {
        if let Some(w) = prefs.weight(c) {
            assert!(w <= 1000 && (w > 0 || c == Coding::Identity), "{c:?} {w}");
        }
    }
    for member in joined.split(|&b| b == b',') {
        for param in member.split(|&b| b == b';').skip(1) {
            let p = param.trim_ascii();
            if let Some(v) = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")) {
                let q = parse_q(v);
                assert_eq!(q, reference_q(v), "{v:?}");
                if let Some(q) = q {
                    let printed = format!("{}.{:03}", q / 1000, q % 1000);
                    assert_eq!(parse_q(printed.as_bytes()), Some(q), "{printed}");
                }
            }
        }
    }

    let vs = test_blob().routes().next().expect("one route").variants();
    let chosen = prefs.choose(vs);
    let best = vs.iter().filter_map(|v| prefs.weight(v.coding())).max();
    match best {
        None => assert_eq!(chosen.coding(), Coding::Identity),
        Some(w) => {
            assert_eq!(prefs.weight(chosen.coding()), Some(w), "{prefs:?}");
            let smallest = vs
                .iter()
                .filter(|v| prefs.weight(v.coding()) == Some(w))
                .map(|v| v.body_len())
                .min();
            assert_eq!(Some(chosen.body_len()), smallest, "{prefs:?}");
        }
    }
}

fn reference_q(v: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(v).ok()?;
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The PROXY protocol header parser (`proto/proxy.rs`), v1 and v2.
///
/// - A final answer never depends on where reads cut the bytes: for every
///   cut, the first part is `Incomplete` or gets the answer the whole gets.
/// - It waits only while a header could still come within `MAX_HEADER`
///   bytes: `Incomplete` only for fewer.
/// - A header is within the input and the cap, and self-contained: its own
///   bytes alone get the same answer, whatever followed.
/// - The client address equals one read from the header's bytes by hand:
///   v1's third and fifth words; v2's source address and port for a PROXY
///   command over IPv4 or IPv6 (TCP or UDP).
pub fn proxy(data: &[u8]) {
    use crate::proto::proxy::{parse, Parsed, MAX_HEADER};
    let whole = parse(data);
    for k in cuts(data.len()) {
        let part = parse(&data[..k]);
        assert!(
            part == Parsed::Incomplete || part == whole,
            "cut at {k}: {part:?}, whole: {whole:?}"
        );
    }
    match whole {
        Parsed::Incomplete => assert!(data.len() < MAX_HEADER),
        Parsed::Invalid => {}
        Parsed::Header { len, client } => {
            assert!(len <= data.len() && len <= MAX_HEADER);
            assert_eq!(parse(&data[..len]), whole, "not self-contained");
            assert_eq!(client, reference_proxy_client(&data[..len]));
        }
    }
}

fn reference_proxy_client(h: &[u8]) -> Option<std::net::SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    if let Some(line) = h.strip_prefix(b"PROXY ") {
        let line = std::str::from_utf8(line).expect("a v1 header is ASCII");
        let words: Vec<&str> = line.trim_end_matches("\r\n").split(' ').collect();
        return match words[0] {
            "TCP4" | "TCP6" => Some(SocketAddr::new(
                words[1].parse().expect("a source address"),
                words[3].parse().expect("a source port"),
            )),
            _ => None,
        };
    }
    let port = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    match (h[12], h[13]) {
        (0x21, 0x11 | 0x12) => {
            let ip: [u8; 4] = h[16..20].try_into().unwrap();
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port(24)))
        }
        (0x21, 0x21 | 0x22) => {
            let ip: [u8; 16] = h[16..32].try_into().unwrap();
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port(48)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    /// Each entry point on a few inputs, valid and not: the fuzz targets
    /// call them, so they must compile and hold on ordinary input.
    #[test]
    fn entry_points_hold_on_ordinary_input() {
        for r in [
            &b"GET /a%20b?q HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0.5, br\r\nRange: bytes=0-5\r\n\r\n"[..],
            b"\r\nHEAD http://h/x/../y HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"",
        ] {
            super::request(r);
        }
        for r in [
            &b"\x64\0\0\0\0\0\0\0bytes=0-9"[..],
            b"\x64\0\0\0\0\0\0\0bytes=-5",
            b"\x64\0\0\0\0\0\0\0bytes=5-1",
            b"\0\0\0\0\0\0\0\0bytes=0-",
        ] {
            super::range(r);
        }
        for p in [
            &b"/"[..],
            b"/a/../../b/./c//d/",
            b"/%2e%2E/x%2Fy?q#f",
            b"http://h",
            b"https://h?x",
            b"*",
            b"/a%3Fb%23c%25d",
            b"/%00",
        ] {
            super::path(p);
        }
        for e in [
            &b"gzip;q=0.5, br;q=0.500\nzstd;q=1.0, identity;q=0"[..],
            b"*;q=0",
            b"GZIP ; q=0.2 ,, BR;Q=0.3",
            b"br;q=1.001",
            b"",
        ] {
            super::encoding(e);
        }
        for p in [
            &b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\nGET / HTTP/1.1\r\n"[..],
            b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n",
            b"PROXY UNKNOWN\r\n",
            b"PROXY TCP4 192.0.2.7",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c\xc0\0\x02\x07\x0a\0\0\x01\x9c\x40\x01\xbb\x16\x03",
            b"\r\n\r\n\0\r\nQUIT\n\x20\0\0\0",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff",
            b"GET / HTTP/1.1\r\n",
        ] {
            super::proxy(p);
        }
    }
}
