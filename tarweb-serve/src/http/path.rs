//! Request target → the decoded, normalised path looked up in the blob.
//!
//! Order: take the path of an origin-form or absolute-form target, drop
//! the query, percent-decode, then remove dot segments and merge repeated
//! slashes. `..` never climbs above `/` (it is clamped there, as RFC 3986
//! §5.2.4 does). `%2F` decodes to `/` *before* dot-segment removal, so
//! `..%2F..%2Fx` is just `../../x`, clamped to `/x`: it cannot escape, and
//! the blob holds nothing outside the site anyway. `%00` is refused (400).
//! The result is always a route path as `tarweb_format::rules` defines it
//! (tested below), so the blob lookup compares like with like.

use super::request::MAX_TARGET;
use tarweb_format::rules;

#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Path(&'a [u8]),
    /// `*` (OPTIONS only).
    Asterisk,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadTarget;

/// Normalises `target`, into `out` (which must hold MAX_TARGET bytes)
/// unless its path is already normal (the common case: then the result is
/// the path itself, nothing copied).
pub fn normalize<'o>(target: &'o [u8], out: &'o mut [u8]) -> Result<Target<'o>, BadTarget> {
    if target == b"*" {
        return Ok(Target::Asterisk);
    }
    let path = if target.first() == Some(&b'/') {
        target
    } else {
        // absolute-form: scheme "://" authority path
        let rest = strip_prefix_ci(target, b"http://")
            .or_else(|| strip_prefix_ci(target, b"https://"))
            .ok_or(BadTarget)?;
        let end = rest
            .iter()
            .position(|&c| c == b'/' || c == b'?')
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(BadTarget); // empty authority
        }
        match rest[end..].first() {
            Some(b'/') => &rest[end..],
            _ => b"/".as_slice(), // no path: "/"
        }
    };
    let (path, normal) = scan(path)?;
    if path.len() > MAX_TARGET || out.len() < path.len().max(1) {
        return Err(BadTarget);
    }
    if normal {
        return Ok(Target::Path(path));
    }
    decode_and_clean(path, out).map(Target::Path)
}

/// One pass over a path (starting with '/'): where it ends (at '?'), and
/// whether `normalize` would return it unchanged (no escape, no empty
/// segment but a last one, i.e. a trailing '/', no dot segment). A '#'
/// before the query is refused.
fn scan(p: &[u8]) -> Result<(&[u8], bool), BadTarget> {
    let mut normal = true;
    let mut seg = 1;
    let mut end = p.len();
    for (i, &c) in p.iter().enumerate().skip(1) {
        match c {
            b'?' => {
                end = i;
                break;
            }
            b'#' => return Err(BadTarget),
            b'%' => normal = false,
            b'/' => {
                normal &= !matches!(&p[seg..i], b"" | b"." | b"..");
                seg = i + 1;
            }
            _ => {}
        }
    }
    normal &= !matches!(&p[seg.min(end)..end], b"." | b"..");
    Ok((&p[..end], normal))
}

/// The long way: percent-decodes `path` (starting with '/') into `out`,
/// then removes dot segments and empty segments there.
fn decode_and_clean<'o>(path: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], BadTarget> {
    // Percent-decode (the rule pack decodes `_redirects` paths with).
    let n = rules::percent_decode_into(path, out).map_err(|_| BadTarget)?;
    if out[..n].contains(&0) {
        return Err(BadTarget);
    }
    // Remove dot segments and empty segments, in place (w <= r always).
    let mut w = 0; // out[..w] is the result so far: "" or "/seg/seg"
    let mut r = 0;
    let mut trailing = false;
    while r < n {
        // out[r] is '/' (the decoded path starts with '/').
        let s = r + 1;
        let e = out[s..n]
            .iter()
            .position(|&c| c == b'/')
            .map_or(n, |p| s + p);
        let seg_len = e - s;
        let (is_dot, is_dotdot) = (
            seg_len == 1 && out[s] == b'.',
            seg_len == 2 && out[s] == b'.' && out[s + 1] == b'.',
        );
        if is_dotdot {
            w = out[..w].iter().rposition(|&c| c == b'/').unwrap_or(0);
            trailing = true;
        } else if is_dot || seg_len == 0 {
            trailing = true;
        } else {
            out[w] = b'/';
            out.copy_within(s..e, w + 1);
            w += 1 + seg_len;
            trailing = false;
        }
        r = e;
    }
    if w == 0 || trailing {
        out[w] = b'/';
        w += 1;
    }
    Ok(&out[..w])
}

fn strip_prefix_ci<'a>(s: &'a [u8], p: &[u8]) -> Option<&'a [u8]> {
    (s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)).then(|| &s[p.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(t: &str) -> Result<String, BadTarget> {
        let mut out = vec![0u8; MAX_TARGET];
        match normalize(t.as_bytes(), &mut out)? {
            Target::Path(p) => Ok(String::from_utf8_lossy(p).into_owned()),
            Target::Asterisk => Ok("*".into()),
        }
    }

    #[test]
    fn normalisation() {
        let cases = [
            ("/", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("/a/b/../c", "/a/c"),
            ("/a/./b", "/a/b"),
            ("/a/.", "/a/"),
            ("/a/..", "/"),
            ("/a/b/..", "/a/"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/..", "/"),
            ("/a//b", "/a/b"),
            ("//a", "/a"),
            ("/a?x=/../..", "/a"),
            ("/%61%62", "/ab"),
            ("/a%2Fb", "/a/b"),
            ("/..%2F..%2Fetc", "/etc"),
            ("/%2e%2e/x", "/x"),
            ("/%2E%2E%2f%2e%2e%2fx", "/x"),
            ("/caf%C3%A9", "/café"),
            ("/a%20b", "/a b"),
            ("http://example.com/x/y?q", "/x/y"),
            ("HTTP://example.com", "/"),
            ("https://example.com?q", "/"),
            ("*", "*"),
            ("/.../", "/.../"),
            ("/a/..b", "/a/..b"),
        ];
        for (t, want) in cases {
            assert_eq!(norm(t).as_deref(), Ok(want), "{t}");
        }
    }

    /// What the server looks up is always a path the blob can hold: for
    /// any target that normalises, the result passes the format's route
    /// path rule (or is longer than any route).
    #[test]
    fn results_are_route_paths() {
        let alphabet = b"/./..%2F%2e%00aZ~ ?#:@!";
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = vec![0u8; MAX_TARGET];
        let mut checked = 0;
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            let mut t = vec![b'/'];
            t.extend((0..len).map(|_| alphabet[(next() as usize) % alphabet.len()]));
            if let Ok(Target::Path(p)) = normalize(&t, &mut out) {
                checked += 1;
                let r = rules::check_route_path(p);
                assert!(r.is_ok(), "{:?} -> {:?}: {r:?}", t, p);
            }
        }
        assert!(checked > 10_000, "only {checked} targets normalised");
        let long = format!("/{}", "a".repeat(5000));
        match normalize(long.as_bytes(), &mut out) {
            Ok(Target::Path(p)) => assert!(p.len() > tarweb_format::MAX_PATH_LEN),
            other => panic!("{other:?}"),
        }
    }

    /// The shortcut for paths that are already normal returns what the
    /// full normalisation would.
    #[test]
    fn the_shortcut_agrees() {
        let alphabet = b"/./.a%2";
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut out = vec![0u8; MAX_TARGET];
        let mut taken = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t: Vec<u8> = std::iter::once(b'/')
                .chain((0..(x % 12)).map(|k| alphabet[((x >> (4 + 3 * k)) % 7) as usize]))
                .collect();
            if scan(&t) == Ok((&t[..], true)) {
                taken += 1;
                assert_eq!(decode_and_clean(&t, &mut out), Ok(&t[..]), "{t:?}");
            }
        }
        assert!(taken > 1_000, "{taken}");
    }

    #[test]
    fn refusals() {
        for t in [
            "/%00",
            "/a%0",
            "/%zz",
            "/%",
            "a/b",
            "ftp://x/",
            "http:///x",
            "/a#b",
            "",
        ] {
            assert_eq!(norm(t), Err(BadTarget), "{t}");
        }
    }
}
