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

/// Names a hosting platform reads from `_headers` as a feature of its own,
/// not as a response header, with what the feature is, for the features
/// tarweb does not implement: a line stored as a header would be sent to
/// every client, so `_headers` refuses them, naming the line. None today
/// (Netlify's `Basic-Auth` is implemented: [`Op::Auth`]); the list and why
/// a name would be on it (or, for the cache names other platforms strip,
/// why not) are in `format-spec.md` §4.4.
const PLATFORM_ONLY: &[(&str, &str)] = &[];

/// Netlify's password protection: `Basic-Auth: user:pass user2:pass2`.
const BASIC_AUTH: &str = "basic-auth";

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
    /// Basic-Auth credentials (`user`, `password`): when any, only a
    /// client sending one of them gets the response.
    pub auth: Vec<(String, String)>,
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
    /// `Basic-Auth: user:pass ...` (`! Basic-Auth` is a `Remove`).
    Auth(Vec<(String, String)>),
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
                let Some((_, raw, pattern, ops)) = current.as_mut() else {
                    return Err(anyhow!(
                        "_headers line {n}: header line before any path pattern"
                    ));
                };
                let op = parse_header_line(n, line)?;
                if matches!(op, Op::Auth(_)) && pattern.is_none() {
                    return Err(anyhow!(
                        "_headers line {n}: Basic-Auth in the host-specific rule `{raw}`, which is \
                         skipped: its paths would be served unprotected; write the rule for paths"
                    ));
                }
                ops.push(op);
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
                    Op::Remove(lower) if lower == BASIC_AUTH => out.auth.clear(),
                    Op::Remove(lower) => {
                        out.set.retain(|(n, _)| !n.eq_ignore_ascii_case(lower));
                        if !out.remove.contains(lower) {
                            out.remove.push(lower.clone());
                        }
                    }
                    Op::Auth(list) => {
                        for c in list {
                            if !out.auth.contains(c) {
                                out.auth.push(c.clone());
                            }
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
    if name.eq_ignore_ascii_case(BASIC_AUTH) {
        return basic_auth(n, value);
    }
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

/// `Basic-Auth`'s value: `user:password` pairs separated by spaces, as
/// Netlify reads it. Messages never repeat a credential.
fn basic_auth(n: usize, value: &str) -> anyhow::Result<Op> {
    let mut list = Vec::new();
    for item in value.split([' ', '\t']).filter(|i| !i.is_empty()) {
        match item.split_once(':') {
            Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
                list.push((user.to_string(), pass.to_string()))
            }
            _ => {
                return Err(anyhow!(
                    "_headers line {n}: Basic-Auth takes `user:password` pairs separated by \
                     spaces, each with a user and a password (pair {} is not one)",
                    list.len() + 1
                ))
            }
        }
    }
    if list.is_empty() {
        return Err(anyhow!(
            "_headers line {n}: Basic-Auth with no `user:password`"
        ));
    }
    Ok(Op::Auth(list))
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
    if let Some((_, what)) = PLATFORM_ONLY
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(name))
    {
        return Err(anyhow!(
            "_headers line {n}: `{name}` is {what}; remove the line (and protect the path some other way)"
        ));
    }
    if FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        return Err(anyhow!(
            "_headers line {n}: header `{name}` is controlled by the server and cannot be set or removed"
        ));
    }
    Ok(())
}

/// Whether a site may set or remove `name` (for the fuzz checks).
#[cfg(any(test, fuzzing))]
pub(super) fn allowed_name(name: &str) -> bool {
    !FORBIDDEN
        .iter()
        .chain(PLATFORM_ONLY.iter().map(|(n, _)| n))
        .any(|f| f.eq_ignore_ascii_case(name))
}

/// Checks the matcher against plain backtracking on `path`, for a pattern
/// that compiles and is small enough for backtracking (for the fuzz checks).
#[cfg(any(test, fuzzing))]
pub(super) fn check_matcher(raw: &str, path: &str) {
    fn naive(tokens: &[Token], t: &[u8]) -> bool {
        match tokens.split_first() {
            None => t.is_empty(),
            Some((Token::Lit(l), rest)) => t.starts_with(l) && naive(rest, &t[l.len()..]),
            Some((Token::Star, rest)) => (0..=t.len()).any(|k| naive(rest, &t[k..])),
            Some((Token::Segment, rest)) => (1..=t.len())
                .take_while(|&k| t[k - 1] != b'/')
                .any(|k| naive(rest, &t[k..])),
        }
    }
    let Ok(p) = Pattern::parse(raw) else { return };
    let wild = p.0.iter().filter(|t| !matches!(t, Token::Lit(_))).count();
    if wild <= 3 && path.len() <= 48 {
        assert_eq!(
            p.matches(path),
            naive(&p.0, path.as_bytes()),
            "pattern {raw:?} on {path:?}"
        );
    }
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
mod tests;
