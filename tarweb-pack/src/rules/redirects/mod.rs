//! `_redirects`: `from to [status][!]` lines.
//!
//! ```text
//! # comment
//! /old-page        /new-page
//! /external        https://example.org/x  302
//! /force-me        /elsewhere   301!
//! /pretty          /about/index.html   200
//! ```
//!
//! Splats (`/news/* /blog/:splat`) and placeholders (`/:year/:slug
//! /posts/:slug`) make a *dynamic* rule, which the blob stores as a pattern
//! and a template (`format-spec.md` §5.1); the others name one path each.
//! Statuses: 301, 302, 303, 307, 308, 200 (a rewrite: another path's
//! response) and 404 (a page of the site with status 404). Query and
//! country/language/role conditions, and other statuses, cannot be
//! precomputed: they fail the pack, naming the line, rather than being
//! dropped.

use std::collections::HashMap;
use tarweb_format::dynamic::Token;

use anyhow::anyhow;
use tarweb_format::rules::{check_route_path, hex_value};

use super::{is_blank_or_comment, numbered_lines, percent_decode_path};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// Decoded URL path, starting with '/' (for a dynamic rule, the
    /// pattern as written, for messages).
    pub from: String,
    /// A dynamic rule's source, segment by segment; `None` for a rule that
    /// names one path.
    pub pattern: Option<Vec<Seg>>,
    /// Its line in `_redirects`.
    pub line: usize,
    /// Target, ready for a `Location` header (percent-encoded where needed).
    pub to: String,
    /// 301, 302, 303, 307, 308, or 200 (a rewrite to a local path).
    pub status: u16,
    /// `!` suffix: applies even when a file exists at `from`.
    pub force: bool,
}

/// A segment of a dynamic rule's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A whole segment, decoded.
    Lit(String),
    /// `:name`: one non-empty segment.
    Capture(String),
    /// `*`, last: the rest of the path.
    Splat,
}

impl Redirect {
    /// For a 200 rewrite, the decoded site path whose file is served at
    /// `from` (e.g. `to` `/about%20us/index.html` → `/about us/index.html`).
    /// `None` for real redirects. Rewrite targets are checked at parse time
    /// to be plain local paths that decode to UTF-8 without `.`/`..`
    /// segments or control characters.
    pub fn rewrite_path(&self) -> Option<String> {
        if self.status == 200 {
            percent_decode_path(&self.to).ok()
        } else {
            None
        }
    }
}

/// Statuses that can be precomputed.
const ALLOWED_STATUSES: &[u16] = &[301, 302, 303, 307, 308, 200, 404];

/// Parses a `_redirects` file. Errors name the line (`_redirects line 3: ...`);
/// duplicate rules are reported through `warn`, one line each.
/// Rules are returned in file order; a `from` appears at most once (the first
/// rule for it wins, as in Netlify).
pub fn parse(text: &str, warn: &mut dyn FnMut(String)) -> anyhow::Result<Vec<Redirect>> {
    let mut out = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (n, line) in numbered_lines(text) {
        if is_blank_or_comment(line) {
            continue;
        }
        let fields: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        let r = parse_rule(n, &fields)?;
        if r.pattern.is_some() {
            out.push(r);
            continue;
        }
        if let Some(first) = first_line.get(&r.from) {
            warn(format!(
                "_redirects line {n}: duplicate rule for `{}` (the rule on line {first} wins; rule skipped)",
                r.from
            ));
            continue;
        }
        first_line.insert(r.from.clone(), n);
        out.push(r);
    }
    Ok(out)
}

/// One non-blank line, split into fields.
fn parse_rule(n: usize, fields: &[&str]) -> anyhow::Result<Redirect> {
    let err = |msg: String| anyhow!("_redirects line {n}: {msg}");
    let from_raw = fields[0];
    let Some(&to_raw) = fields.get(1) else {
        return Err(err(format!(
            "missing target for `{from_raw}` (expected `from to [status]`)"
        )));
    };
    if !from_raw.starts_with('/') {
        return Err(err(format!(
            "`{from_raw}` must be a path starting with '/'"
        )));
    }

    if from_raw.contains('?') || fields[1..].iter().any(|f| is_condition(f)) {
        return Err(err(
            "query parameters and Country/Language/Role conditions cannot be precomputed \
             (tarweb answers a path the same way for everyone): remove the rule or its conditions"
                .into(),
        ));
    }
    if fields.len() > 3 {
        return Err(err(format!(
            "too many fields (expected `from to [status][!]`, got {})",
            fields.len()
        )));
    }

    let (status, force) = match fields.get(2) {
        None => (301, false),
        Some(s) => {
            let (num, force) = match s.strip_suffix('!') {
                Some(num) => (num, true),
                None => (*s, false),
            };
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("status `{s}` is not a number")));
            }
            match num.parse::<u16>() {
                Ok(status) if ALLOWED_STATUSES.contains(&status) => (status, force),
                _ => {
                    return Err(err(format!(
                        "status {num} is not supported (301, 302, 303, 307, 308, 200, 404)"
                    )))
                }
            }
        }
    };

    if from_raw.contains('#') {
        return Err(err(format!(
            "`{from_raw}` contains '#' (a fragment is never sent to the server; write %23 for a literal '#')"
        )));
    }
    let pattern = if has_splat_or_placeholder(from_raw) {
        Some(parse_pattern(from_raw).map_err(|e| err(format!("`{from_raw}`: {e}")))?)
    } else {
        None
    };
    let from = match &pattern {
        Some(_) => from_raw.to_string(),
        None => {
            let from = percent_decode_path(from_raw).map_err(|e| err(e.to_string()))?;
            check_path(&from).map_err(|e| err(format!("`{from_raw}` {e}")))?;
            from
        }
    };

    let to = location(to_raw).map_err(|e| err(e.to_string()))?;
    let names = template_names(&to, pattern.as_deref());
    if let Some(bad) =
        to_placeholders(&to).find(|w| *w == "splat" && !names.iter().any(|x| x == "splat"))
    {
        return Err(err(format!(
            "`:{bad}` in the target, but the source has no `*`"
        )));
    }
    if status == 404 && !names.is_empty() {
        return Err(err(format!(
            "a 404 rule's target is a page of the site, not `{to_raw}` with placeholders"
        )));
    }
    if status == 404 && (!to.starts_with('/') || to.contains(['?', '#'])) {
        return Err(err(format!(
            "a 404 rule's target is a page of the site (a local path), not `{to_raw}`"
        )));
    }
    if status == 200 && pattern.is_some() {
        if !to.starts_with('/') || to.contains(['?', '#']) {
            return Err(err(format!(
                "a 200 rewrite needs a local target path without query or fragment, not `{to_raw}`"
            )));
        }
    } else if status == 200 {
        if !to.starts_with('/') {
            return Err(err(format!(
                "a 200 rewrite needs a local target path, not `{to_raw}`"
            )));
        }
        if to.contains(['?', '#']) {
            return Err(err(format!(
                "a 200 rewrite target must be a plain path without query or fragment, not `{to_raw}`"
            )));
        }
        let path = percent_decode_path(&to).map_err(|e| err(e.to_string()))?;
        check_path(&path).map_err(|e| err(format!("rewrite target `{to_raw}` {e}")))?;
    }
    Ok(Redirect {
        from,
        pattern,
        line: n,
        to,
        status,
        force,
    })
}

impl Redirect {
    /// A dynamic rule's pattern and template as the blob stores them
    /// (`format-spec.md` §5.1). A rewrite's template literals are decoded
    /// (it names a route path), a redirect's stay encoded (a `Location`).
    pub fn tokens(&self) -> Option<(Vec<Token>, Vec<Token>)> {
        let p = self.pattern.as_ref()?;
        let mut names = Vec::new();
        let pattern = p
            .iter()
            .map(|s| match s {
                Seg::Lit(l) => Token::Lit(l.clone().into_bytes()),
                Seg::Capture(n) => {
                    names.push(n.as_str());
                    Token::Capture((names.len() - 1) as u8)
                }
                Seg::Splat => Token::Splat,
            })
            .collect();
        let splat = p.contains(&Seg::Splat);
        let mut template = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, template: &mut Vec<Token>| {
            if !lit.is_empty() {
                let bytes = if self.status == 200 {
                    percent_decode_path(&format!("/{lit}"))
                        .map(|d| d.as_bytes()[1..].to_vec())
                        .unwrap_or_else(|_| lit.as_bytes().to_vec())
                } else {
                    lit.as_bytes().to_vec()
                };
                template.push(Token::Lit(bytes));
                lit.clear();
            }
        };
        let to = &self.to;
        let mut i = 0;
        while i < to.len() {
            let word = to[i..]
                .strip_prefix(':')
                .map(|r| {
                    let end = r
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(r.len());
                    &r[..end]
                })
                .unwrap_or("");
            let token = if word == "splat" && splat {
                Some(Token::Splat)
            } else {
                names
                    .iter()
                    .position(|n| *n == word)
                    .map(|k| Token::Capture(k as u8))
            };
            match token {
                Some(t) if !word.is_empty() => {
                    flush(&mut lit, &mut template);
                    template.push(t);
                    i += 1 + word.len();
                }
                _ => {
                    let c = to[i..].chars().next().expect("in bounds");
                    lit.push(c);
                    i += c.len_utf8();
                }
            }
        }
        flush(&mut lit, &mut template);
        Some((pattern, template))
    }
}

/// A dynamic source, segment by segment: `*` only as the whole last
/// segment, `:name` as a whole segment, names distinct; other segments
/// percent-decoded.
fn parse_pattern(raw: &str) -> Result<Vec<Seg>, String> {
    let segs: Vec<&str> = raw[1..].split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        if *seg == "*" {
            if i + 1 != segs.len() {
                return Err("a splat `*` must be the last segment".into());
            }
            out.push(Seg::Splat);
        } else if let Some(name) = seg.strip_prefix(':').filter(|n| is_name(n)) {
            if name == "splat" || out.contains(&Seg::Capture(name.to_string())) {
                return Err(format!("placeholder `:{name}` used twice (or named splat)"));
            }
            out.push(Seg::Capture(name.to_string()));
        } else if seg.contains('*') {
            return Err("a splat `*` must be a whole segment (the last)".into());
        } else {
            let d = percent_decode_path(&format!("/{seg}")).map_err(|e| e.to_string())?;
            if d[1..].contains('/') || d.chars().any(|c| c.is_control()) || d == "/." || d == "/.."
            {
                return Err(format!("segment `{seg}` is not a plain path segment"));
            }
            out.push(Seg::Lit(d[1..].to_string()));
        }
    }
    if out.iter().filter(|s| matches!(s, Seg::Capture(_))).count() > 16 {
        return Err("more than 16 placeholders".into());
    }
    Ok(out)
}

fn is_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `:word`s of a target, in order (a word after ':' of name bytes).
pub fn to_placeholders(to: &str) -> impl Iterator<Item = &str> {
    to.match_indices(':').filter_map(move |(i, _)| {
        let rest = &to[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

/// The names a target may use: the source's placeholders, and `splat`
/// when it has a `*`; those of them the target uses.
fn template_names(to: &str, pattern: Option<&[Seg]>) -> Vec<String> {
    let Some(p) = pattern else { return vec![] };
    let known = |w: &str| {
        p.iter().any(|s| match s {
            Seg::Capture(n) => n == w,
            Seg::Splat => w == "splat",
            Seg::Lit(_) => false,
        })
    };
    to_placeholders(to)
        .filter(|w| known(w))
        .map(str::to_string)
        .collect()
}

/// A `*` anywhere, or a `:name` segment.
fn has_splat_or_placeholder(from: &str) -> bool {
    from.contains('*')
        || from.split('/').any(|seg| {
            seg.strip_prefix(':')
                .and_then(|rest| rest.bytes().next())
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// A `key=value` field (query parameter or `Country=`/`Language=`/`Role=`
/// condition) rather than a target path/URL or status.
fn is_condition(field: &str) -> bool {
    field.contains('=') && !field.starts_with('/') && !is_http_url(field)
}

fn is_http_url(s: &str) -> bool {
    let lower = |n: usize| s.get(..n).map(|p| p.to_ascii_lowercase());
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// A decoded path must have no control characters (checked here, to name
/// the character), then be a route path the format can store
/// ([`check_route_path`]: no `.`/`..` or inner empty segment, at most 4096
/// bytes), so a path the writer would refuse is refused at its line.
fn check_path(path: &str) -> Result<(), String> {
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(format!("contains a control character ({c:?})"));
    }
    check_route_path(path.as_bytes()).map_err(|e| e.to_string())
}

/// Validates a redirect target and percent-encodes it for a `Location`
/// header: spaces, non-ASCII bytes (as UTF-8), `"<>\^`{|}`, `[`/`]` outside
/// the host, a '%' not starting a valid `%XX`, and any '#' after the first.
/// Valid `%XX` escapes are kept as they are.
fn location(to: &str) -> anyhow::Result<String> {
    if let Some(c) = to.chars().find(|c| c.is_control()) {
        anyhow::bail!("target `{to}` contains a control character ({c:?})");
    }
    // Where the part that may be percent-encoded starts: after the authority
    // of an absolute URL, at 0 for a local path.
    let rest_start = if to.starts_with("//") {
        anyhow::bail!(
            "target `{to}` is a protocol-relative URL; write a local path or an http(s):// URL"
        );
    } else if to.starts_with('/') {
        0
    } else if is_http_url(to) {
        let auth_start = to.find("://").map_or(0, |i| i + 3);
        let auth_end = to[auth_start..]
            .find(['/', '?', '#'])
            .map_or(to.len(), |i| i + auth_start);
        check_authority(to, &to[auth_start..auth_end])?;
        auth_end
    } else {
        anyhow::bail!(
            "target `{to}` must be a local path starting with '/' or an http:// or https:// URL"
        );
    };

    let bytes = to.as_bytes();
    let mut out = String::with_capacity(to.len());
    let mut seen_hash = false;
    for (i, &b) in bytes.iter().enumerate() {
        let in_rest = i >= rest_start;
        let keep = match b {
            b'%' => {
                bytes.get(i + 1).and_then(|&b| hex_value(b)).is_some()
                    && bytes.get(i + 2).and_then(|&b| hex_value(b)).is_some()
            }
            b'#' if in_rest => !std::mem::replace(&mut seen_hash, true),
            b'[' | b']' => !in_rest,
            b' ' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' => false,
            _ => b.is_ascii(),
        };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// A target as `parse` returns it is final: encoding it again changes
/// nothing (for the fuzz checks).
#[cfg(any(test, fuzzing))]
pub(super) fn check_location_is_final(to: &str) {
    assert_eq!(
        location(to).ok().as_deref(),
        Some(to),
        "encoding {to:?} again"
    );
}

/// The host (and optional userinfo/port) of an absolute target: non-empty,
/// RFC 3986 characters only (no spaces, no raw non-ASCII: use punycode).
fn check_authority(to: &str, auth: &str) -> anyhow::Result<()> {
    if auth.is_empty() {
        anyhow::bail!("target `{to}` has no host");
    }
    let b = auth.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@[]".contains(&c)
            || (c == b'%'
                && b.get(i + 1).and_then(|&x| hex_value(x)).is_some()
                && b.get(i + 2).and_then(|&x| hex_value(x)).is_some());
        if !ok {
            anyhow::bail!(
                "target `{to}` has an invalid host `{auth}` (non-ASCII hosts must be written in punycode)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
