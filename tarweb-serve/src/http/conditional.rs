//! Conditional requests (RFC 9110 §13.2.2), evaluated against the selected
//! variant (each variant has its own strong ETag).

use super::request::{Lines, Request};
use crate::date::parse_http_date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

/// Entity-tags of a list: (weak, opaque-tag with quotes); `*` is reported
/// as `None`. Parsing stops at the first malformed member.
fn tags<'a>(v: &'a [u8]) -> impl Iterator<Item = Option<(bool, &'a [u8])>> + 'a {
    let mut rest = v;
    std::iter::from_fn(move || {
        while let [b' ' | b'\t' | b',', r @ ..] = rest {
            rest = r;
        }
        if rest.is_empty() {
            return None;
        }
        if let [b'*', r @ ..] = rest {
            rest = r;
            return Some(None);
        }
        let (weak, r) = match rest {
            [b'W', b'/', r @ ..] => (true, r),
            r => (false, r),
        };
        if r.first() != Some(&b'"') {
            rest = b"";
            return None;
        }
        let end = r[1..].iter().position(|&c| c == b'"')? + 2;
        let tag = &r[..end];
        rest = &r[end..];
        Some(Some((weak, tag)))
    })
}

/// Does any member of the field match `etag`? Weak comparison ignores W/.
pub fn list_matches(lines: &Lines<'_>, etag: &[u8], weak_ok: bool) -> bool {
    lines.as_slice().iter().any(|l| {
        tags(l).any(|t| match t {
            None => true,
            Some((weak, tag)) => (weak_ok || !weak) && tag == etag,
        })
    })
}

/// §13.2.2 steps 1–4 for a GET or HEAD of an existing resource.
pub fn evaluate(req: &Request<'_>, etag: &[u8], last_modified: i64) -> Outcome {
    if req.if_match.is_present() {
        if !list_matches(&req.if_match, etag, false) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(t) = req.if_unmodified_since.and_then(parse_http_date) {
        if last_modified > t {
            return Outcome::PreconditionFailed;
        }
    }
    if req.if_none_match.is_present() {
        if list_matches(&req.if_none_match, etag, true) {
            return Outcome::NotModified;
        }
    } else if let Some(t) = req.if_modified_since.and_then(parse_http_date) {
        if last_modified <= t {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// If-Range (§13.1.5): a strong ETag equal to ours, or a date equal to
/// Last-Modified. Anything else: send the whole representation.
pub fn if_range_holds(v: &[u8], etag: &[u8], last_modified: i64) -> bool {
    let v = v.trim_ascii();
    if v.starts_with(b"\"") {
        return v == etag;
    }
    if v.starts_with(b"W/") {
        return false;
    }
    parse_http_date(v) == Some(last_modified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Version;

    const TAG: &[u8] = b"\"abc\"";
    const LM: i64 = 1_700_000_000; // Tue, 14 Nov 2023 22:13:20 GMT

    /// `extra`: field lines (`Name: value\r\n`) of a GET.
    fn eval(extra: &str) -> Outcome {
        let mut r = Request::new(b"GET", b"/", Version::Http11);
        for line in extra.split_terminator("\r\n") {
            let (name, value) = line.split_once(": ").unwrap();
            let v = value.as_bytes();
            match name {
                "If-None-Match" => r.if_none_match.push(v).unwrap(),
                "If-Match" => r.if_match.push(v).unwrap(),
                "If-Modified-Since" => r.if_modified_since = Some(v),
                "If-Unmodified-Since" => r.if_unmodified_since = Some(v),
                _ => panic!("{name}"),
            }
        }
        evaluate(&r, TAG, LM)
    }

    #[test]
    fn none_match() {
        use Outcome::*;
        assert_eq!(eval(""), Proceed);
        assert_eq!(eval("If-None-Match: \"abc\"\r\n"), NotModified);
        assert_eq!(eval("If-None-Match: W/\"abc\"\r\n"), NotModified);
        assert_eq!(eval("If-None-Match: \"x\", \"abc\"\r\n"), NotModified);
        assert_eq!(
            eval("If-None-Match: \"x\"\r\nIf-None-Match: \"abc\"\r\n"),
            NotModified
        );
        assert_eq!(eval("If-None-Match: *\r\n"), NotModified);
        assert_eq!(eval("If-None-Match: \"x\"\r\n"), Proceed);
        assert_eq!(eval("If-None-Match: abc\r\n"), Proceed);
        // INM takes precedence over IMS.
        assert_eq!(
            eval("If-None-Match: \"x\"\r\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n"),
            Proceed
        );
    }

    #[test]
    fn dates() {
        use Outcome::*;
        assert_eq!(
            eval("If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n"),
            NotModified
        );
        assert_eq!(
            eval("If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n"),
            Proceed
        );
        assert_eq!(eval("If-Modified-Since: garbage\r\n"), Proceed);
        assert_eq!(
            eval("If-Unmodified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n"),
            PreconditionFailed
        );
        assert_eq!(
            eval("If-Unmodified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n"),
            Proceed
        );
    }

    #[test]
    fn match_() {
        use Outcome::*;
        assert_eq!(eval("If-Match: \"abc\"\r\n"), Proceed);
        assert_eq!(eval("If-Match: *\r\n"), Proceed);
        assert_eq!(
            eval("If-Match: W/\"abc\"\r\n"),
            PreconditionFailed,
            "strong comparison"
        );
        assert_eq!(eval("If-Match: \"x\"\r\n"), PreconditionFailed);
        // If-Match wins over If-Unmodified-Since.
        assert_eq!(
            eval("If-Match: \"abc\"\r\nIf-Unmodified-Since: Tue, 14 Nov 2000 22:13:19 GMT\r\n"),
            Proceed
        );
        // 412 before 304.
        assert_eq!(
            eval("If-Match: \"x\"\r\nIf-None-Match: \"abc\"\r\n"),
            PreconditionFailed
        );
    }

    #[test]
    fn if_range() {
        assert!(if_range_holds(b"\"abc\"", TAG, LM));
        assert!(!if_range_holds(b"W/\"abc\"", TAG, LM));
        assert!(!if_range_holds(b"\"abd\"", TAG, LM));
        assert!(if_range_holds(b"Tue, 14 Nov 2023 22:13:20 GMT", TAG, LM));
        assert!(!if_range_holds(b"Tue, 14 Nov 2023 22:13:21 GMT", TAG, LM));
    }
}
