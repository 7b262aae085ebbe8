//! Request target → the decoded, normalised path looked up in the blob.
//!
//! Order: take the path of an origin-form or absolute-form target, drop
//! the query, percent-decode, then remove dot segments and merge repeated
//! slashes. `..` never climbs above `/` (it is clamped there, as RFC 3986
//! §5.2.4 does). `%2F` decodes to `/` *before* dot-segment removal, so
//! `..%2F..%2Fx` is just `../../x`, clamped to `/x`: it cannot escape, and
//! the blob holds nothing outside the site anyway. `%00` is refused (400).

use super::request::MAX_TARGET;

#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Path(&'a [u8]),
    /// `*` (OPTIONS only).
    Asterisk,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadTarget;

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Normalises `target` into `out` (which must hold MAX_TARGET bytes).
pub fn normalize<'o>(target: &[u8], out: &'o mut [u8]) -> Result<Target<'o>, BadTarget> {
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
    let path = &path[..path.iter().position(|&c| c == b'?').unwrap_or(path.len())];
    if path.contains(&b'#') || path.len() > MAX_TARGET || out.len() < path.len().max(1) {
        return Err(BadTarget);
    }
    // Percent-decode.
    let mut n = 0;
    let mut i = 0;
    while i < path.len() {
        let c = path[i];
        let d = if c == b'%' {
            let hi = path.get(i + 1).and_then(|&c| hex(c)).ok_or(BadTarget)?;
            let lo = path.get(i + 2).and_then(|&c| hex(c)).ok_or(BadTarget)?;
            i += 3;
            hi << 4 | lo
        } else {
            i += 1;
            c
        };
        if d == 0 {
            return Err(BadTarget);
        }
        out[n] = d;
        n += 1;
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
    Ok(Target::Path(&out[..w]))
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
