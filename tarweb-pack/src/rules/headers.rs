//! `_headers`: path patterns followed by indented `Name: value` lines.
//!
//! ```text
//! # comment
//! /*
//!   X-Frame-Options: DENY
//! /blog/:slug/index.html
//!   ! X-Frame-Options
//! ```
//!
//! Patterns are percent-decoded URL paths where `*` matches any sequence
//! (including '/' and the empty string) and `:name` (at the start of a
//! segment) matches one non-empty segment. Matching is on the whole path and
//! runs in O(pattern × path) time.

use anyhow::anyhow;
use tarweb_format::rules::is_tchar;

use super::{is_blank_or_comment, numbered_lines, percent_decode_path};

/// Header names the server controls itself (framing, encoding, validators):
/// `_headers` may neither set nor detach them.
const FORBIDDEN: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "content-encoding",
    "content-range",
    "accept-ranges",
    "date",
    "etag",
    "last-modified",
];

/// Parsed `_headers` rules, in file order.
#[derive(Debug, Default, Clone)]
pub struct HeaderRules {
    rules: Vec<Rule>,
    warnings: Vec<String>,
}

/// What the rules matching one response add or remove.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderSet {
    /// Headers to set, in a deterministic order; names as written in `_headers`.
    pub set: Vec<(String, String)>,
    /// Lower-cased names to remove (Cloudflare's `! Name` syntax).
    pub remove: Vec<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// `Name: value`.
    Set(String, String),
    /// `! Name`, lower-cased.
    Remove(String),
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(Vec<Token>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Decoded literal bytes.
    Lit(Vec<u8>),
    /// `*`: any byte sequence, possibly empty, '/' included.
    Star,
    /// `:name`: one or more bytes other than '/'.
    Segment,
}

impl HeaderRules {
    /// Parses a `_headers` file. Errors name the line (`_headers line 7: ...`);
    /// non-fatal problems are collected in [`HeaderRules::warnings`].
    pub fn parse(text: &str) -> anyhow::Result<HeaderRules> {
        let mut rules = Vec::new();
        let mut warnings = Vec::new();
        // The rule being filled: its line, its pattern (None when the rule
        // is skipped) and its header lines.
        let mut current: Option<(usize, String, Option<Pattern>, Vec<Op>)> = None;

        let finish = |current: Option<(usize, String, Option<Pattern>, Vec<Op>)>,
                      rules: &mut Vec<Rule>,
                      warnings: &mut Vec<String>| {
            // Skipped (host-specific) rules have no pattern and were
            // already reported.
            if let Some((line, raw, Some(pattern), ops)) = current {
                if ops.is_empty() {
                    warnings.push(format!(
                        "_headers line {line}: pattern `{raw}` has no header lines"
                    ));
                } else {
                    rules.push(Rule { pattern, ops });
                }
            }
        };

        for (n, line) in numbered_lines(text) {
            if is_blank_or_comment(line) {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, _, _, ops)) = current.as_mut() else {
                    return Err(anyhow!(
                        "_headers line {n}: header line before any path pattern"
                    ));
                };
                ops.push(parse_header_line(n, line)?);
            } else {
                finish(current.take(), &mut rules, &mut warnings);
                let raw = line.trim_end_matches([' ', '\t']);
                if raw.contains("://") {
                    warnings.push(format!(
                        "_headers line {n}: host-specific pattern `{raw}` is not supported (rule skipped)"
                    ));
                    current = Some((n, raw.to_string(), None, Vec::new()));
                } else {
                    let pattern =
                        Pattern::parse(raw).map_err(|e| anyhow!("_headers line {n}: {e}"))?;
                    current = Some((n, raw.to_string(), Some(pattern), Vec::new()));
                }
            }
        }
        finish(current.take(), &mut rules, &mut warnings);
        Ok(HeaderRules { rules, warnings })
    }

    /// Non-fatal problems found by [`HeaderRules::parse`], one line each,
    /// naming the line (`_headers line 3: ...`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The headers for a response reachable under any of `paths` (URL paths,
    /// decoded, starting with '/', e.g. `["/docs/", "/docs/index.html"]`).
    ///
    /// Matching rules apply in file order, their lines in order: a header set
    /// several times is joined with `", "` under its first spelling; `! Name`
    /// drops what earlier lines set and lists the lower-cased name in
    /// `remove`. A name is never in both `set` and `remove`: setting it again
    /// after `! Name` takes it out of `remove` (the new value replaces the
    /// caller's default anyway).
    pub fn for_paths(&self, paths: &[&str]) -> HeaderSet {
        let mut out = HeaderSet::default();
        for rule in &self.rules {
            if !paths.iter().any(|p| rule.pattern.matches(p)) {
                continue;
            }
            for op in &rule.ops {
                match op {
                    Op::Set(name, value) => {
                        out.remove.retain(|r| !r.eq_ignore_ascii_case(name));
                        match out
                            .set
                            .iter_mut()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        {
                            Some((_, v)) => {
                                v.push_str(", ");
                                v.push_str(value);
                            }
                            None => out.set.push((name.clone(), value.clone())),
                        }
                    }
                    Op::Remove(lower) => {
                        out.set.retain(|(n, _)| !n.eq_ignore_ascii_case(lower));
                        if !out.remove.contains(lower) {
                            out.remove.push(lower.clone());
                        }
                    }
                }
            }
        }
        out
    }
}

/// Parses an indented `Name: value` or `! Name` line.
fn parse_header_line(n: usize, line: &str) -> anyhow::Result<Op> {
    let line = line.trim_matches([' ', '\t']);
    if let Some(rest) = line.strip_prefix('!') {
        let name = rest.trim_matches([' ', '\t']);
        check_name(n, name)?;
        return Ok(Op::Remove(name.to_ascii_lowercase()));
    }
    let Some((name, value)) = line.split_once(':') else {
        return Err(anyhow!(
            "_headers line {n}: expected `Name: value` or `! Name`, got `{line}`"
        ));
    };
    let name = name.trim_end_matches([' ', '\t']);
    check_name(n, name)?;
    let value = value.trim_matches([' ', '\t']);
    for c in value.chars() {
        if c == '\t' || (' '..='~').contains(&c) {
            continue;
        }
        let what = if c.is_control() {
            "a control character"
        } else {
            "a non-ASCII character"
        };
        return Err(anyhow!(
            "_headers line {n}: value of header `{name}` contains {what} ({c:?})"
        ));
    }
    Ok(Op::Set(name.to_string(), value.to_string()))
}

/// Checks that `name` is an RFC 9110 token the site may control.
fn check_name(n: usize, name: &str) -> anyhow::Result<()> {
    if name.is_empty() {
        return Err(anyhow!("_headers line {n}: empty header name"));
    }
    if let Some(c) = name.chars().find(|&c| !(c.is_ascii() && is_tchar(c as u8))) {
        return Err(anyhow!(
            "_headers line {n}: invalid header name `{name}` ({c:?} is not allowed)"
        ));
    }
    if FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        return Err(anyhow!(
            "_headers line {n}: header `{name}` is controlled by the server and cannot be set or removed"
        ));
    }
    Ok(())
}

impl Pattern {
    /// Compiles a raw (still percent-encoded) pattern. `*` and `:name` are
    /// recognised before decoding, so `%2A` is a literal '*'. A ':' is a
    /// placeholder only right after a '/' and followed by `[A-Za-z0-9_]+`;
    /// the rest of the segment after the name is literal.
    fn parse(raw: &str) -> anyhow::Result<Pattern> {
        if !raw.starts_with('/') {
            anyhow::bail!(
                "path pattern `{raw}` must start with '/' (header lines must be indented)"
            );
        }
        let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let bytes = raw.as_bytes();
        let mut tokens = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        let flush = |tokens: &mut Vec<Token>, lit: &str| -> anyhow::Result<()> {
            if !lit.is_empty() {
                let decoded = percent_decode_path(lit)?;
                if let Some(c) = decoded.chars().find(|c| c.is_control()) {
                    anyhow::bail!("path pattern `{raw}` contains a control character ({c:?})");
                }
                tokens.push(Token::Lit(decoded.into_bytes()));
            }
            Ok(())
        };
        while i < bytes.len() {
            if bytes[i] == b'*' {
                flush(&mut tokens, &raw[lit_start..i])?;
                tokens.push(Token::Star);
                i += 1;
                lit_start = i;
            } else if bytes[i] == b':'
                && i > 0
                && bytes[i - 1] == b'/'
                && bytes.get(i + 1).is_some_and(|&b| is_name(b))
            {
                flush(&mut tokens, &raw[lit_start..i])?;
                tokens.push(Token::Segment);
                i += 1;
                while bytes.get(i).is_some_and(|&b| is_name(b)) {
                    i += 1;
                }
                lit_start = i;
            } else {
                i += 1;
            }
        }
        flush(&mut tokens, &raw[lit_start..])?;
        Ok(Pattern(tokens))
    }

    /// Whether the pattern matches the whole of `path`. Dynamic programming
    /// over path positions: O(pattern tokens × path length), no backtracking.
    fn matches(&self, path: &str) -> bool {
        let t = path.as_bytes();
        let n = t.len();
        // cur[j]: the tokens so far can match exactly t[..j].
        let mut cur = vec![false; n + 1];
        cur[0] = true;
        let mut next = vec![false; n + 1];
        for token in &self.0 {
            next.fill(false);
            match token {
                Token::Lit(lit) => {
                    for j in 0..=n.saturating_sub(lit.len()) {
                        if cur[j] && t[j..].starts_with(lit) {
                            next[j + lit.len()] = true;
                        }
                    }
                }
                Token::Star => {
                    let mut any = false;
                    for j in 0..=n {
                        any |= cur[j];
                        next[j] = any;
                    }
                }
                Token::Segment => {
                    let mut run = false;
                    for j in 0..n {
                        run = (run || cur[j]) && t[j] != b'/';
                        next[j + 1] = run;
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
            if !cur.contains(&true) {
                return false;
            }
        }
        cur[n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn hs(pairs: &[(&str, &str)], remove: &[&str]) -> HeaderSet {
        HeaderSet {
            set: set(pairs),
            remove: strs(remove),
        }
    }

    fn err(text: &str) -> String {
        HeaderRules::parse(text).unwrap_err().to_string()
    }

    fn pat(p: &str, path: &str) -> bool {
        Pattern::parse(p).unwrap().matches(path)
    }

    const EXAMPLE: &str = concat!(
        "# comment\n",
        "/*\n",
        "  X-Frame-Options: DENY\n",
        "  Strict-Transport-Security: max-age=63072000\n",
        "/assets/*\n",
        "  Cache-Control: public, max-age=31536000, immutable\n",
        "/blog/:slug/index.html\n",
        "  X-Robots-Tag: noindex\n",
        "  ! X-Frame-Options\n",
    );

    #[test]
    fn example_file() {
        let r = HeaderRules::parse(EXAMPLE).unwrap();
        assert!(r.warnings().is_empty());
        assert_eq!(
            r.for_paths(&["/"]),
            hs(
                &[
                    ("X-Frame-Options", "DENY"),
                    ("Strict-Transport-Security", "max-age=63072000")
                ],
                &[]
            )
        );
        assert_eq!(
            r.for_paths(&["/assets/app.js"]),
            hs(
                &[
                    ("X-Frame-Options", "DENY"),
                    ("Strict-Transport-Security", "max-age=63072000"),
                    ("Cache-Control", "public, max-age=31536000, immutable"),
                ],
                &[]
            )
        );
        assert_eq!(
            r.for_paths(&["/blog/hello/", "/blog/hello/index.html"]),
            hs(
                &[
                    ("Strict-Transport-Security", "max-age=63072000"),
                    ("X-Robots-Tag", "noindex"),
                ],
                &["x-frame-options"]
            )
        );
        // `:slug` is one segment only.
        assert_eq!(
            r.for_paths(&["/blog/a/b/index.html"]),
            hs(
                &[
                    ("X-Frame-Options", "DENY"),
                    ("Strict-Transport-Security", "max-age=63072000")
                ],
                &[]
            )
        );
    }

    #[test]
    fn empty_file_and_no_match() {
        let r = HeaderRules::parse("").unwrap();
        assert_eq!(r.for_paths(&["/"]), HeaderSet::default());
        let r = HeaderRules::parse("/a\n  X-A: 1\n").unwrap();
        assert_eq!(r.for_paths(&["/b", "/a/"]), HeaderSet::default());
        assert_eq!(r.for_paths(&[]), HeaderSet::default());
    }

    #[test]
    fn comments_blank_crlf_bom_tabs() {
        let text = "\u{feff}# top\r\n\r\n/a\r\n  # indented comment\r\n\tX-A:\t1 \r\n\r\n   \r\n  X-B: b\r\n";
        let r = HeaderRules::parse(text).unwrap();
        assert!(r.warnings().is_empty());
        assert_eq!(r.for_paths(&["/a"]), hs(&[("X-A", "1"), ("X-B", "b")], &[]));
    }

    #[test]
    fn value_may_contain_colon_and_is_trimmed() {
        let r = HeaderRules::parse("/a\n  Link:   <https://x.org/a>; rel=preload  \n  X-Empty:\n")
            .unwrap();
        assert_eq!(
            r.for_paths(&["/a"]),
            hs(
                &[("Link", "<https://x.org/a>; rel=preload"), ("X-Empty", "")],
                &[]
            )
        );
    }

    #[test]
    fn repeated_headers_are_merged_in_file_order() {
        let text = "/*\n  Vary: Accept\n  x-a: 1\n/a\n  VARY: Origin\n  X-A: 2\n  X-B: b\n/a\n  vary: Cookie\n";
        let r = HeaderRules::parse(text).unwrap();
        assert_eq!(
            r.for_paths(&["/a"]),
            hs(
                &[
                    ("Vary", "Accept, Origin, Cookie"),
                    ("x-a", "1, 2"),
                    ("X-B", "b")
                ],
                &[]
            )
        );
        assert_eq!(
            r.for_paths(&["/b"]),
            hs(&[("Vary", "Accept"), ("x-a", "1")], &[])
        );
    }

    #[test]
    fn detach_removes_earlier_and_records_name() {
        let text =
            "/*\n  X-A: 1\n  Cache-Control: no-cache\n/a\n  ! x-a\n  !Content-Type\n  X-C: c\n";
        let r = HeaderRules::parse(text).unwrap();
        assert_eq!(
            r.for_paths(&["/a"]),
            hs(
                &[("Cache-Control", "no-cache"), ("X-C", "c")],
                &["x-a", "content-type"]
            )
        );
    }

    #[test]
    fn set_after_detach() {
        let text = "/*\n  X-A: 1\n/a\n  ! X-A\n  ! X-A\n/a\n  x-a: 2\n/*\n  X-B: 1\n  ! X-B\n";
        let r = HeaderRules::parse(text).unwrap();
        // Re-set after removal: new value, new position, no longer in `remove`.
        assert_eq!(r.for_paths(&["/a"]), hs(&[("x-a", "2")], &["x-b"]));
        // Removal within the same rule also applies.
        assert_eq!(r.for_paths(&["/b"]), hs(&[("X-A", "1")], &["x-b"]));
    }

    #[test]
    fn rule_applies_if_any_path_matches() {
        let r = HeaderRules::parse("/docs/\n  X-A: 1\n/docs/index.html\n  X-B: 2\n").unwrap();
        assert_eq!(
            r.for_paths(&["/docs/", "/docs/index.html"]),
            hs(&[("X-A", "1"), ("X-B", "2")], &[])
        );
        assert_eq!(r.for_paths(&["/docs/"]), hs(&[("X-A", "1")], &[]));
    }

    #[test]
    fn star_matching() {
        assert!(pat("/*", "/"));
        assert!(pat("/*", "/a/b/c.html"));
        assert!(!pat("/*", ""));
        assert!(pat("/assets/*", "/assets/"));
        assert!(pat("/assets/*", "/assets/x/y.js"));
        assert!(!pat("/assets/*", "/assets"));
        assert!(!pat("/assets/*", "/other/assets/x"));
        assert!(pat("/*.css", "/a/b.css"));
        assert!(!pat("/*.css", "/a/b.css.map"));
        assert!(pat("/a*b*c", "/abc"));
        assert!(pat("/a*b*c", "/aXbYbZc"));
        assert!(!pat("/a*b*c", "/aXbYcZ"));
        assert!(pat("/**", "/x"));
    }

    #[test]
    fn placeholder_matching() {
        assert!(pat("/blog/:slug", "/blog/hello"));
        assert!(!pat("/blog/:slug", "/blog/"));
        assert!(!pat("/blog/:slug", "/blog/a/b"));
        assert!(pat("/blog/:slug/", "/blog/a/"));
        assert!(pat("/:a/:b", "/x/y"));
        assert!(!pat("/:a/:b", "/x/y/z"));
        assert!(pat("/:lang/*", "/en/"));
        assert!(pat("/api/:v.json", "/api/v1.json"));
        assert!(!pat("/api/:v.json", "/api/.json"));
        assert!(!pat("/api/:v.json", "/api/a/b.json"));
        // ':' not at a segment start, or not followed by a name, is literal.
        assert!(pat("/a:b", "/a:b"));
        assert!(!pat("/a:b", "/ab"));
        assert!(pat("/:", "/:"));
        assert!(!pat("/:", "/x"));
        assert!(pat("/:-x", "/:-x"));
    }

    #[test]
    fn literal_patterns() {
        assert!(pat("/", "/"));
        assert!(!pat("/", "/index.html"));
        assert!(pat("/index.html", "/index.html"));
        assert!(!pat("/index.html", "/index.htm"));
        assert!(!pat("/index.html", "/index.html/"));
        assert!(!pat("/index.htm", "/index.html"));
        assert!(!pat("/a", "/A"));
        assert!(pat("/café", "/café"));
    }

    #[test]
    fn percent_decoded_patterns() {
        let r = HeaderRules::parse("/file%20name.txt\n  X-A: 1\n/caf%C3%A9/*\n  X-B: 2\n").unwrap();
        assert_eq!(r.for_paths(&["/file name.txt"]), hs(&[("X-A", "1")], &[]));
        assert_eq!(r.for_paths(&["/file%20name.txt"]), HeaderSet::default());
        assert_eq!(r.for_paths(&["/café/x"]), hs(&[("X-B", "2")], &[]));
        // An encoded '*' is a literal star.
        assert!(pat("/a%2A", "/a*"));
        assert!(!pat("/a%2A", "/ab"));
        let e = err("/a\n  X-A: 1\n/b%zz\n  X-B: 2\n");
        assert!(e.starts_with("_headers line 3: "), "{e}");
        assert!(e.contains("invalid percent-encoding `%zz`"), "{e}");
        let e = err("/b%FF\n  X-B: 2\n");
        assert!(e.starts_with("_headers line 1: "), "{e}");
        let e = err("/b%0A\n  X-B: 2\n");
        assert!(e.starts_with("_headers line 1: "), "{e}");
        assert!(e.contains("control character"), "{e}");
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let long = format!("/{}", "a".repeat(20_000));
        assert!(!pat("/*a*a*a*a*b", &long));
        assert!(!pat("/*a*a*a*a*a*a*a*a*a*a*a*a*b", &long));
        assert!(pat("/*a*a*a*a*a", &long));
        let slashes = format!("/{}", "a/".repeat(10_000));
        assert!(!pat("/:a*:b*:c*:d*x", &slashes));
    }

    #[test]
    fn warnings_for_empty_and_host_patterns() {
        let text = "/empty\n# c\n\nhttps://example.com/*\n  X-A: 1\n/ok\n  X-B: 2\n/last\n";
        let r = HeaderRules::parse(text).unwrap();
        assert_eq!(
            r.warnings(),
            &strs(&[
                "_headers line 1: pattern `/empty` has no header lines",
                "_headers line 4: host-specific pattern `https://example.com/*` is not supported (rule skipped)",
                "_headers line 8: pattern `/last` has no header lines",
            ])[..]
        );
        assert_eq!(r.for_paths(&["/ok"]), hs(&[("X-B", "2")], &[]));
        assert_eq!(r.for_paths(&["/empty", "/", "/x"]), HeaderSet::default());
    }

    #[test]
    fn header_before_pattern_is_error() {
        let e = err("# c\n\n  X-A: 1\n/a\n  X-B: 2\n");
        assert_eq!(e, "_headers line 3: header line before any path pattern");
    }

    #[test]
    fn pattern_must_start_with_slash() {
        let e = err("/a\n  X-A: 1\nX-B: 2\n");
        assert!(e.starts_with("_headers line 3: "), "{e}");
        assert!(e.contains("must start with '/'"), "{e}");
    }

    #[test]
    fn forbidden_headers() {
        for name in [
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "TE",
            "Trailer",
            "Proxy-Connection",
            "Content-Encoding",
            "Content-Range",
            "Accept-Ranges",
            "Date",
            "ETag",
            "Last-Modified",
        ] {
            for line in [
                format!("  {name}: x"),
                format!("  {}: x", name.to_lowercase()),
                format!("  ! {name}"),
            ] {
                let text = format!("# c\n/a\n  X-Ok: 1\n{line}\n");
                let e = err(&text);
                assert!(e.starts_with("_headers line 4: "), "{e}");
                assert!(
                    e.to_lowercase()
                        .contains(&format!("`{}`", name.to_lowercase())),
                    "{e}"
                );
                assert!(e.contains("controlled by the server"), "{e}");
            }
        }
    }

    #[test]
    fn allowed_overrides() {
        let r = HeaderRules::parse(
            "/a\n  Content-Type: text/plain; charset=utf-8\n  Cache-Control: no-store\n  Vary: Accept\n  Content-Security-Policy: default-src 'self'\n",
        )
        .unwrap();
        assert_eq!(
            r.for_paths(&["/a"]),
            hs(
                &[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Cache-Control", "no-store"),
                    ("Vary", "Accept"),
                    ("Content-Security-Policy", "default-src 'self'"),
                ],
                &[]
            )
        );
    }

    #[test]
    fn invalid_names() {
        for (line, want) in [
            ("  X A: 1", "invalid header name `X A`"),
            ("  X(A): 1", "invalid header name `X(A)`"),
            ("  Xé: 1", "invalid header name `Xé`"),
            ("  : 1", "empty header name"),
            ("  !", "empty header name"),
            ("  ! X/A", "invalid header name `X/A`"),
            ("  NoColon", "expected `Name: value` or `! Name`"),
        ] {
            let e = err(&format!("/a\n{line}\n"));
            assert!(e.starts_with("_headers line 2: "), "{e}");
            assert!(e.contains(want), "{line:?}: {e}");
        }
        // Every tchar is accepted (a leading '!' would be `! Name`).
        let r = HeaderRules::parse("/a\n  X!#$%&'*+-.^_`|~09azAZ: v\n").unwrap();
        assert_eq!(
            r.for_paths(&["/a"]),
            hs(&[("X!#$%&'*+-.^_`|~09azAZ", "v")], &[])
        );
    }

    #[test]
    fn invalid_values() {
        for (line, want) in [
            ("  X-A: a\u{0}b", "contains a control character"),
            ("  X-A: a\rb", "contains a control character"),
            ("  X-A: a\u{1b}b", "contains a control character"),
            ("  X-A: a\u{7f}b", "contains a control character"),
            ("  X-A: café", "contains a non-ASCII character"),
            ("  X-A: \u{a0}", "contains a non-ASCII character"),
        ] {
            let e = err(&format!("/a\n  X-Ok: 1\n{line}\n"));
            assert!(e.starts_with("_headers line 3: "), "{e}");
            assert!(e.contains("`X-A`"), "{e}");
            assert!(e.contains(want), "{line:?}: {e}");
        }
        let r = HeaderRules::parse("/a\n  X-A: a\tb ~\n").unwrap();
        assert_eq!(r.for_paths(&["/a"]), hs(&[("X-A", "a\tb ~")], &[]));
    }
}
