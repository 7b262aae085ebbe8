//! Entry points for the `headers` and `redirects` fuzz targets (`fuzz/`):
//! each parses arbitrary bytes as a site's rules file and panics when an
//! invariant breaks, so each target is one line.
//!
//! Compiled under `cfg(fuzzing)` (cargo-fuzz sets it) and in tests, which
//! run both entry points on a few files so they cannot rot. The fuzz crate
//! compiles this whole `rules` module on its own with `#[path]` (pack is a
//! binary crate, and `rules` needs nothing of it but `tarweb-format` and
//! `anyhow`), so nothing here may reach outside `rules`.

use super::headers::{self, HeaderRules, HeaderSet};
use super::redirects;
use tarweb_format::dynamic;
use tarweb_format::rules::{check_route_path, is_tchar};

/// Bytes as a rules file: UTF-8, as pack reads it (anything else is
/// refused before parsing).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// An error or warning names a line of the file: `_headers line N: …`
/// with N within it.
fn names_a_line(msg: &str, file: &str, text: &str) {
    let rest = msg
        .strip_prefix(file)
        .and_then(|r| r.strip_prefix(" line "))
        .unwrap_or_else(|| panic!("{msg:?} names no line"));
    let n: usize = rest
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{msg:?}"));
    assert!(n >= 1 && n <= text.lines().count(), "{msg:?}");
}

/// `_headers`.
///
/// - It parses, or fails naming a line; warnings name a line.
/// - For any path, what the rules set is a list of distinct fields the
///   writer accepts (token names, values of printable ASCII and HTAB) that
///   are neither the server's own nor a platform's feature; what they remove
///   is lower-case and not also set.
/// - The pattern matcher (dynamic programming) agrees with a plain
///   backtracking one, on paths made from the file's own patterns.
pub fn headers(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let rules = match HeaderRules::parse(text) {
        Ok(r) => r,
        Err(e) => return names_a_line(&e.to_string(), "_headers", text),
    };
    for w in rules.warnings() {
        names_a_line(w, "_headers", text);
    }
    let patterns: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches([' ', '\t']))
        .filter(|l| l.starts_with('/'))
        .take(16)
        .collect();
    let mut paths: Vec<String> = ["/", "/index.html", "/a/b", "/a/b/", "/x"]
        .into_iter()
        .map(String::from)
        .collect();
    for p in &patterns {
        for fill in ["", "x", "a/b"] {
            paths.push(instance(p, fill));
        }
        for path in &paths[paths.len() - 3..] {
            headers::check_matcher(p, path);
        }
        headers::check_matcher(p, p);
    }
    for p in &paths {
        check_set(&rules.for_paths(&[p]));
    }
    let all: Vec<&str> = paths.iter().map(String::as_str).collect();
    check_set(&rules.for_paths(&all));
}

/// A path a pattern should match: `*` and `:name` replaced by `fill` (a
/// placeholder by "s" when `fill` is empty or has a '/').
fn instance(pattern: &str, fill: &str) -> String {
    let seg = if fill.is_empty() || fill.contains('/') {
        "s"
    } else {
        fill
    };
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        if c == '*' {
            out.push_str(fill);
        } else if c == ':'
            && prev == '/'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_')
        {
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_')
            {
                chars.next();
            }
            out.push_str(seg);
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn check_set(s: &HeaderSet) {
    for (i, (name, value)) in s.set.iter().enumerate() {
        assert!(!name.is_empty() && name.bytes().all(is_tchar), "{name:?}");
        assert!(
            headers::allowed_name(name),
            "{name:?} may not be set by a site"
        );
        assert!(
            value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
            "{name}: {value:?}"
        );
        assert!(
            !s.set[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)),
            "{name} set twice"
        );
        assert!(
            !s.remove.iter().any(|r| r.eq_ignore_ascii_case(name)),
            "{name} both set and removed"
        );
    }
    for r in &s.remove {
        assert_eq!(*r, r.to_ascii_lowercase());
        assert!(headers::allowed_name(r), "{r:?} may not be removed");
    }
}

/// `_redirects`.
///
/// - It parses, or fails naming a line; every warning names a line.
/// - Each rule's `from` is a route path the format can store, with no
///   control character, and appears once.
/// - Each `to` is a `Location` value the writer accepts (printable ASCII,
///   no space), a local path or an http(s) URL, already in the form the
///   parser makes of it (encoding it again changes nothing).
/// - Statuses are the storable ones; a 200 rewrite's target decodes to a
///   route path.
pub fn redirects(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut warnings = Vec::new();
    let rules = match redirects::parse(text, &mut |w| warnings.push(w)) {
        Ok(r) => r,
        Err(e) => return names_a_line(&e.to_string(), "_redirects", text),
    };
    for w in &warnings {
        names_a_line(w, "_redirects", text);
    }
    for (i, r) in rules.iter().enumerate() {
        assert!(r.from.starts_with('/'), "{r:?}");
        assert!(!r.from.chars().any(char::is_control), "{r:?}");
        if let Some((p, t)) = r.tokens() {
            // A dynamic rule: what the blob stores is valid (the format's
            // writer checks it the reader's way).
            let (p, t) = (dynamic::encode(&p), dynamic::encode(&t));
            assert!(dynamic::valid_pattern(&p), "{r:?}");
            assert!(dynamic::valid_template(&t, &p), "{r:?}");
            continue;
        }
        assert_eq!(check_route_path(r.from.as_bytes()), Ok(()), "{r:?}");
        assert!(
            !rules[..i]
                .iter()
                .any(|o| o.pattern.is_none() && o.from == r.from),
            "{r:?} twice"
        );
        assert!(
            !r.to.is_empty() && r.to.bytes().all(|b| b.is_ascii_graphic()),
            "{r:?}"
        );
        let lower = r.to.to_ascii_lowercase();
        assert!(
            r.to.starts_with('/') || lower.starts_with("http://") || lower.starts_with("https://"),
            "{r:?}"
        );
        redirects::check_location_is_final(&r.to);
        assert!(
            [301, 302, 303, 307, 308, 200, 404].contains(&r.status),
            "{r:?}"
        );
        match r.rewrite_path() {
            Some(p) => {
                assert_eq!(r.status, 200, "{r:?}");
                assert_eq!(check_route_path(p.as_bytes()), Ok(()), "{r:?}");
            }
            None => assert_ne!(r.status, 200, "{r:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_hold_on_ordinary_files() {
        for t in [
            &b"# c\n/*\n  X-Frame-Options: DENY\n/blog/:slug/*.html\n  ! X-Frame-Options\n  Cache-Control: no-store\n/a%20b\n  X: 1\n"[..],
            b"https://h/*\n  X: 1\n/empty\n",
            b"  X: before any pattern\n",
            b"/*\n  Content-Length: 1\n",
            b"/*\n  Basic-Auth: a:b\n",
            b"\xff",
        ] {
            super::headers(t);
        }
        for t in [
            &b"/old /new\n/ext https://example.org/x?y#z 302\n/f /elsewhere 301!\n/p /about/index.html 200\n/old /dup\n"[..],
            b"/a/* /b 301\n/c /d 404\n/q?x=1 /r\n",
            b"/a\n",
            b"/a //evil.example/ 301\n",
            b"/a /b c d e\n",
            b"/x /caf\xc3\xa9 [1] %zz #a#b 302\n",
        ] {
            super::redirects(t);
        }
    }
}
