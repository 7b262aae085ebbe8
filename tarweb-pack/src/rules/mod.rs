//! The site's `_headers` and `_redirects` files (Netlify / Cloudflare Pages syntax).
//!
//! This module stands alone: it uses nothing of the crate outside it (only
//! `tarweb-format` and `anyhow`), because the fuzz crate compiles it by
//! itself with `#[path]` to fuzz the two parsers (`fuzzing.rs`).

#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod headers;
pub mod redirects;

use tarweb_format::rules::{percent_decode_into, BadEscape};

/// Decodes `%XX` escapes in a URL path (e.g. `/file%20name.txt` →
/// `/file name.txt`) with the format's [`percent_decode_into`]. The decoded
/// bytes must be valid UTF-8. A `%` not followed by two hex digits is an
/// error, as is a result that is not UTF-8. Everything else (including `+`)
/// is kept as is.
///
/// Errors carry no file or line: callers add them.
pub fn percent_decode_path(s: &str) -> anyhow::Result<String> {
    let mut out = vec![0; s.len()];
    let n = percent_decode_into(s.as_bytes(), &mut out).map_err(|BadEscape { at }| {
        // `at` is a '%', so a char boundary; the 2 bytes after it may not be.
        let shown = s.get(at..s.len().min(at + 3)).unwrap_or(&s[at..]);
        anyhow::anyhow!("invalid percent-encoding `{shown}` in `{s}`")
    })?;
    out.truncate(n);
    String::from_utf8(out)
        .map_err(|_| anyhow::anyhow!("percent-encoding in `{s}` does not decode to UTF-8"))
}

/// Splits a rules file into `(line number, line)`, 1-based, without a
/// leading UTF-8 BOM and without `\n` / `\r\n` line endings.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

/// Whether a line is blank or a `#` comment (first non-space char is '#').
pub(crate) fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_plain_and_escaped() {
        assert_eq!(percent_decode_path("/a/b").unwrap(), "/a/b");
        assert_eq!(
            percent_decode_path("/file%20name.txt").unwrap(),
            "/file name.txt"
        );
        assert_eq!(percent_decode_path("/caf%C3%A9").unwrap(), "/café");
        assert_eq!(percent_decode_path("/caf%c3%a9").unwrap(), "/café");
        assert_eq!(percent_decode_path("/a+b").unwrap(), "/a+b");
        assert_eq!(percent_decode_path("/café").unwrap(), "/café");
    }

    #[test]
    fn decode_invalid() {
        let e = percent_decode_path("/a%zz").unwrap_err().to_string();
        assert!(e.contains("invalid percent-encoding `%zz`"), "{e}");
        let e = percent_decode_path("/a%2").unwrap_err().to_string();
        assert!(e.contains("invalid percent-encoding `%2`"), "{e}");
        let e = percent_decode_path("/a%").unwrap_err().to_string();
        assert!(e.contains("invalid percent-encoding `%`"), "{e}");
        // `%` followed by a multi-byte char: no panic on the char boundary.
        let e = percent_decode_path("/a%é").unwrap_err().to_string();
        assert!(e.contains("invalid percent-encoding"), "{e}");
        let e = percent_decode_path("/a%FF").unwrap_err().to_string();
        assert!(e.contains("does not decode to UTF-8"), "{e}");
    }

    #[test]
    fn lines_strip_bom_and_crlf() {
        let v: Vec<_> = numbered_lines("\u{feff}a\r\nb\n\nc").collect();
        assert_eq!(v, vec![(1, "a"), (2, "b"), (3, ""), (4, "c")]);
        assert!(is_blank_or_comment("  # x"));
        assert!(is_blank_or_comment(" \t "));
        assert!(!is_blank_or_comment(" a # x"));
    }
}
