//! Dynamic `_redirects` rules (`format-spec.md` §5.1): the rules whose
//! source has a splat (`*`) or placeholders (`:name`), which no route can
//! hold. A server tries them, in order, on a path no route has; the first
//! that matches answers. Matching is one pass over the pattern's segments
//! against the path's (no regex, no backtracking, no allocation): a literal
//! segment equals one path segment, a placeholder takes one non-empty
//! segment, a splat (last) takes the rest.

/// Most dynamic rules in a blob.
pub const MAX_RULES: usize = 1024;
/// Most placeholders in one pattern.
pub const MAX_CAPTURES: usize = 16;
/// Bytes of a rule record before its pattern and template.
pub const RECORD_HEAD: usize = 14;

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RuleKind {
    /// 301, 302, 303, 307, 308 to the template's `Location` (or, for a
    /// template without captures, a stored run of redirect responses).
    Redirect = 1,
    /// 200: the response of the route the template names.
    Rewrite = 2,
    /// 404 with a stored body (a run of 404 responses).
    NotFound = 3,
}

impl RuleKind {
    pub(crate) fn from_u8(b: u8) -> Option<RuleKind> {
        match b {
            1 => Some(RuleKind::Redirect),
            2 => Some(RuleKind::Rewrite),
            3 => Some(RuleKind::NotFound),
            _ => None,
        }
    }
}

/// One dynamic rule of a blob.
#[derive(Clone, Copy)]
pub struct Rule<'a> {
    pub(crate) blob: crate::Blob<'a>,
    pub(crate) head: &'a [u8],
    pub(crate) pattern: &'a [u8],
    pub(crate) template: &'a [u8],
    pub(crate) len: usize,
}

impl<'a> Rule<'a> {
    /// What it does.
    pub fn kind(&self) -> RuleKind {
        RuleKind::from_u8(self.head[0]).expect("validated kind")
    }
    /// Its status: 301-308, 200 (a rewrite) or 404.
    pub fn status(&self) -> u16 {
        crate::layout::u16_at(self.head, 2)
    }
    /// The stored responses it answers with (a redirect to a fixed target,
    /// a 404 body), if any.
    pub fn run(&self) -> Option<crate::Variants<'a>> {
        let count = usize::from(crate::layout::u16_at(self.head, 8));
        (count > 0).then(|| crate::Variants {
            blob: self.blob,
            first: crate::layout::u32_at(self.head, 4) as usize,
            count,
        })
    }
    /// The encoded pattern.
    pub fn pattern(&self) -> &'a [u8] {
        self.pattern
    }
    /// The encoded template: a `Location` (redirect) or a route path
    /// (rewrite); empty when the rule has a run.
    pub fn template(&self) -> &'a [u8] {
        self.template
    }
}

/// A token of a pattern or template, as the writer takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Pattern: one whole path segment with these (decoded) bytes.
    /// Template: these bytes.
    Lit(Vec<u8>),
    /// Pattern: a placeholder, one non-empty segment (numbered from 0 in
    /// order). Template: the bytes placeholder `n` took.
    Capture(u8),
    /// Pattern: the rest of the path (last). Template: what it took.
    Splat,
}

const LIT: u8 = 0;
const CAPTURE: u8 = 1;
const SPLAT: u8 = 2;

/// The bytes of a token list (`format-spec.md` §5.1).
pub fn encode(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        match t {
            Token::Lit(b) => {
                out.push(LIT);
                out.extend_from_slice(&(b.len() as u16).to_le_bytes());
                out.extend_from_slice(b);
            }
            Token::Capture(n) => out.extend_from_slice(&[CAPTURE, *n]),
            Token::Splat => out.push(SPLAT),
        }
    }
    out
}

/// One encoded token at the start of `b`: the token (a literal borrowed)
/// and its length; `None` when `b` is not a valid token.
fn next(b: &[u8]) -> Option<(Tok<'_>, usize)> {
    match *b.first()? {
        LIT => {
            let len = usize::from(u16::from_le_bytes([*b.get(1)?, *b.get(2)?]));
            Some((Tok::Lit(b.get(3..3 + len)?), 3 + len))
        }
        CAPTURE => Some((Tok::Capture(*b.get(1)?), 2)),
        SPLAT => Some((Tok::Splat, 1)),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Tok<'a> {
    Lit(&'a [u8]),
    Capture(u8),
    Splat,
}

fn tokens(b: &[u8]) -> impl Iterator<Item = Tok<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let (t, n) = next(&b[at..])?;
        at += n;
        Some(t)
    })
}

/// Why a rule record is refused (the reader's check).
pub(crate) fn check_pattern(p: &[u8]) -> bool {
    let (mut at, mut captures, mut splat) = (0, 0u8, false);
    while at < p.len() {
        let Some((t, n)) = next(&p[at..]) else {
            return false;
        };
        if splat {
            return false; // a splat is last
        }
        match t {
            Tok::Lit(l) if l.contains(&b'/') => return false,
            Tok::Lit(_) => {}
            Tok::Capture(c) if c != captures || usize::from(c) >= MAX_CAPTURES => return false,
            Tok::Capture(_) => captures += 1,
            Tok::Splat => splat = true,
        }
        at += n;
    }
    at > 0
}

/// The number of placeholders of a valid pattern, and whether it ends in a
/// splat.
pub(crate) fn shape(p: &[u8]) -> (u8, bool) {
    let (mut c, mut s) = (0, false);
    for t in tokens(p) {
        match t {
            Tok::Capture(_) => c += 1,
            Tok::Splat => s = true,
            Tok::Lit(_) => {}
        }
    }
    (c, s)
}

/// Whether a template is valid for a pattern of this shape: its captures
/// exist, its literals hold no control byte.
pub(crate) fn check_template(t: &[u8], (captures, splat): (u8, bool)) -> bool {
    let mut at = 0;
    while at < t.len() {
        let Some((tok, n)) = next(&t[at..]) else {
            return false;
        };
        let ok = match tok {
            Tok::Lit(l) => !l.iter().any(|&c| c < 0x20 || c == 0x7f),
            Tok::Capture(c) => c < captures,
            Tok::Splat => splat,
        };
        if !ok {
            return false;
        }
        at += n;
    }
    true
}

/// What a pattern took from a path: byte ranges of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captures {
    n: usize,
    spans: [(u32, u32); MAX_CAPTURES],
    splat: (u32, u32),
}

impl Default for Captures {
    fn default() -> Self {
        Captures {
            n: 0,
            spans: [(0, 0); MAX_CAPTURES],
            splat: (0, 0),
        }
    }
}

/// Whether `pattern` (valid) matches the whole of `path` (a decoded route
/// path, starting with '/'), filling `caps`. One pass: each token looks at
/// the next path segment once.
pub fn matches(pattern: &[u8], path: &[u8], caps: &mut Captures) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    caps.n = 0;
    // `at`: where the next segment starts, or None past the last one.
    let mut at = Some(1usize);
    for t in tokens(pattern) {
        let seg = |a: usize| {
            let end = path[a..]
                .iter()
                .position(|&c| c == b'/')
                .map_or(path.len(), |i| a + i);
            let next = (end < path.len()).then_some(end + 1);
            (a, end, next)
        };
        match t {
            Tok::Splat => {
                let a = at.unwrap_or(path.len());
                caps.splat = (a as u32, path.len() as u32);
                return true;
            }
            Tok::Lit(l) => {
                let Some(a) = at else { return false };
                let (s, e, n) = seg(a);
                if &path[s..e] != l {
                    return false;
                }
                at = n;
            }
            Tok::Capture(_) => {
                let Some(a) = at else { return false };
                let (s, e, n) = seg(a);
                if s == e || caps.n == MAX_CAPTURES {
                    return false;
                }
                caps.spans[caps.n] = (s as u32, e as u32);
                caps.n += 1;
                at = n;
            }
        }
    }
    at.is_none()
}

/// The bytes `template` gives for a path and what the pattern took from it,
/// into `out`; `None` when they do not fit. `encode`: captured bytes
/// percent-encoded for a `Location` (all but unreserved characters, sub-
/// delimiters, ':', '@' and '/'); else as they are (a decoded path).
pub fn expand(
    template: &[u8],
    path: &[u8],
    caps: &Captures,
    encode: bool,
    out: &mut [u8],
) -> Option<usize> {
    let mut w = 0;
    let mut put = |b: &[u8], enc: bool, w: &mut usize| -> Option<()> {
        for &c in b {
            let plain = !enc || c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c);
            if plain {
                *out.get_mut(*w)? = c;
                *w += 1;
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                let e = [b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]];
                out.get_mut(*w..*w + 3)?.copy_from_slice(&e);
                *w += 3;
            }
        }
        Some(())
    };
    for t in tokens(template) {
        match t {
            Tok::Lit(l) => put(l, false, &mut w)?,
            Tok::Capture(c) => {
                let (s, e) = *caps.spans[..caps.n].get(usize::from(c))?;
                put(&path[s as usize..e as usize], encode, &mut w)?;
            }
            Tok::Splat => {
                let (s, e) = caps.splat;
                put(&path[s as usize..e as usize], encode, &mut w)?;
            }
        }
    }
    Some(w)
}

/// Whether `p` is a pattern the reader accepts.
pub fn valid_pattern(p: &[u8]) -> bool {
    check_pattern(p)
}

/// Whether `t` is a template the reader accepts for the pattern `p`.
pub fn valid_template(t: &[u8], p: &[u8]) -> bool {
    check_pattern(p) && check_template(t, shape(p))
}

/// Whether a template has no captures (its bytes are fixed).
pub fn is_fixed(template: &[u8]) -> bool {
    tokens(template).all(|t| matches!(t, Tok::Lit(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn pat(t: &[Token]) -> Vec<u8> {
        let p = encode(t);
        assert!(check_pattern(&p));
        p
    }

    fn m(p: &[u8], path: &str) -> Option<Vec<String>> {
        let mut c = Captures::default();
        matches(p, path.as_bytes(), &mut c).then(|| {
            let mut v: Vec<String> = c.spans[..c.n]
                .iter()
                .map(|&(s, e)| path[s as usize..e as usize].to_string())
                .collect();
            v.push(path[c.splat.0 as usize..c.splat.1 as usize].to_string());
            v
        })
    }

    #[test]
    fn patterns_match_whole_segments() {
        let blog = pat(&[Lit(b"blog".to_vec()), Splat]);
        assert_eq!(m(&blog, "/blog/2004/01/x"), Some(vec!["2004/01/x".into()]));
        assert_eq!(m(&blog, "/blog/"), Some(vec!["".into()]));
        assert_eq!(m(&blog, "/blog"), Some(vec!["".into()]));
        assert_eq!(m(&blog, "/blogs/x"), None);
        assert_eq!(m(&blog, "/"), None);
        let ymd = pat(&[Capture(0), Capture(1), Lit(b"x".to_vec())]);
        assert_eq!(
            m(&ymd, "/2024/05/x"),
            Some(vec!["2024".into(), "05".into(), "".into()])
        );
        assert_eq!(
            m(&ymd, "/2024//x"),
            None,
            "a placeholder takes a non-empty segment"
        );
        assert_eq!(m(&ymd, "/2024/05/x/"), None);
        assert_eq!(m(&ymd, "/2024/05"), None);
        let root = pat(&[Lit(vec![])]);
        assert_eq!(m(&root, "/"), Some(vec!["".into()]));
        assert_eq!(m(&root, "/a"), None);
        let all = pat(&[Splat]);
        assert_eq!(m(&all, "/any/thing"), Some(vec!["any/thing".into()]));
        // Invalid patterns: a splat not last, captures out of order, a
        // literal with a slash, nothing.
        assert!(!check_pattern(&encode(&[Splat, Lit(b"a".to_vec())])));
        assert!(!check_pattern(&encode(&[Capture(1)])));
        assert!(!check_pattern(&encode(&[Lit(b"a/b".to_vec())])));
        assert!(!check_pattern(&[]));
        assert!(!check_pattern(&[LIT, 5, 0, b'a']));
    }

    #[test]
    fn templates_expand_encoded_or_not() {
        let p = pat(&[Lit(b"news".to_vec()), Capture(0), Splat]);
        let path = b"/news/caf\xc3\xa9 2/a b/c";
        let mut c = Captures::default();
        assert!(matches(&p, path, &mut c));
        let t = encode(&[
            Lit(b"/blog/".to_vec()),
            Capture(0),
            Lit(b"/".to_vec()),
            Splat,
        ]);
        assert!(check_template(&t, shape(&p)));
        let mut out = [0u8; 64];
        let n = expand(&t, path, &c, true, &mut out).unwrap();
        assert_eq!(&out[..n], b"/blog/caf%C3%A9%202/a%20b/c");
        let n = expand(&t, path, &c, false, &mut out).unwrap();
        assert_eq!(&out[..n], "/blog/café 2/a b/c".as_bytes());
        assert_eq!(expand(&t, path, &c, true, &mut [0u8; 8]), None);
        assert!(!check_template(&encode(&[Capture(1)]), shape(&p)));
        assert!(!check_template(&encode(&[Splat]), (0, false)));
        assert!(!check_template(
            &encode(&[Lit(b"a\r\n".to_vec())]),
            (0, false)
        ));
        assert!(is_fixed(&encode(&[Lit(b"/x".to_vec())])) && !is_fixed(&t));
    }
}
