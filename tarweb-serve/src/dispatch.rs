//! Which response a request gets, decided without I/O and without writing
//! a byte: a parsed request and the site's blob in, a [`Plan`] out. The
//! order is RFC 9110's: method, target, route, then the conditionals
//! (§13.2.2), then Range (§14.2). HTTP/1.1 turns a plan into its bytes
//! (`proto::h1::response`); another protocol frames the same plan its
//! own way.

use crate::http::auth;
use crate::http::conditional::{self, Outcome};
use crate::http::negotiate::Prefs;
use crate::http::path::{self, Target};
use crate::http::range::{self, Range};
use crate::http::request::{Method, Request};
use tarweb_format::dynamic::{self, Captures, RuleKind};
use tarweb_format::{Blob, Route, Variant, VariantChecks, VariantProblem, Verdict};

/// What to answer.
#[derive(Clone, Copy)]
pub(crate) enum Plan<'b> {
    /// A stored response whole: a resource, a stored redirect, the site's
    /// own 404 page.
    Stored(Variant<'b>),
    /// 304 Not Modified for this variant (its stored 304 head).
    NotModified(Variant<'b>),
    /// 206: bytes `first..=last` of the variant's body.
    Partial {
        v: Variant<'b>,
        first: u64,
        last: u64,
    },
    /// 206 `multipart/byteranges`: `range`, the request's `Range` value,
    /// gives two or more parts of the variant's body. The writer parses it
    /// again (rare) so that a plan stays small on every request.
    Multipart { v: Variant<'b>, range: &'b [u8] },
    /// A dynamic `_redirects` redirect: `status` to the `Location` that
    /// `template` gives with what `pattern` takes from `path`
    /// ([`dyn_location`]; matched again by the writer, for the same reason).
    DynRedirect {
        status: u16,
        pattern: &'b [u8],
        template: &'b [u8],
        path: &'b [u8],
    },
    /// 416 for a body of `len` bytes (the selected variant's).
    Unsatisfiable { len: u64 },
    /// 204 to OPTIONS for a resource: `Allow`, and the `Access-Control-*`
    /// fields its stored head carries (a CORS preflight gets what the
    /// site's `_headers` allow for that path).
    Options(Variant<'b>),
    /// A response of the server's own, with no stored bytes: 204 (OPTIONS),
    /// 401 (a protected route, with `WWW-Authenticate`),
    /// 400, 404 (a site without a 404 page), 405, 412, 421.
    Builtin(u16),
    /// `--redirect-https`: 308 to `https://` + host + the server's HTTPS
    /// port + `target`.
    RedirectHttps { host: &'b [u8], target: &'b [u8] },
}

/// Where a request is answered from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'b> {
    /// A site's blob, and what is known of its variants' checks (a blob
    /// loaded lazily has each variant checked before its first use).
    Site(Blob<'b>, &'b VariantChecks),
    /// No site answers this host (and there is no default): 421.
    NoSite,
    /// A plain listener of a server with `--redirect-https`: `host` is
    /// the request's host name when this server serves it (a site, a
    /// certificate, `--redirect-host`), `None` otherwise.
    RedirectHttps { host: Option<&'b [u8]> },
}

/// Decides the response to `req` from `src`. `path_buf` holds the decoded
/// target in its first half and a rewrite's route path in its second (at
/// least `2 × (MAX_TARGET + 1)` bytes).
pub(crate) fn plan<'b>(req: &Request<'b>, src: Source<'b>, path_buf: &'b mut [u8]) -> Plan<'b> {
    let (path_buf, rewrite_buf) = path_buf.split_at_mut(path_buf.len() / 2);
    let (blob, checks) = match src {
        Source::Site(b, c) => (b, c),
        Source::NoSite => return Plan::Builtin(421),
        Source::RedirectHttps { host } => return redirect_https(req, host),
    };
    match req.method {
        Method::Other => return Plan::Builtin(405),
        Method::Options | Method::Get | Method::Head => {}
    }
    let path = match path::normalize(req.target, path_buf) {
        Ok(Target::Path(p)) => p,
        // `OPTIONS *`, and any OPTIONS target we would not serve: the
        // server's methods.
        _ if req.method == Method::Options => return Plan::Builtin(204),
        Ok(Target::Asterisk) | Err(_) => return Plan::Builtin(400),
    };
    if req.method == Method::Options {
        // The server's methods either way; a resource's CORS fields too.
        return match blob.lookup(path).filter(|r| r.status() == 200) {
            Some(r) => match checked(blob, checks, r.variants().identity(), 200, path) {
                Some(v) => Plan::Options(v),
                None => Plan::Builtin(500),
            },
            None => Plan::Builtin(204),
        };
    }
    let prefs = Prefs::parse(&req.accept_encoding);
    let route = match blob.lookup(path) {
        Some(r) => r,
        // A path the site does not list: its dynamic `_redirects` rules.
        None => match dynamic_rule(blob, path, rewrite_buf, &prefs) {
            Dynamic::Answer(p) => return p,
            Dynamic::Stored(v, status) => {
                return match checked(blob, checks, v, status, path) {
                    Some(v) => Plan::Stored(v),
                    None => Plan::Builtin(500),
                }
            }
            Dynamic::Rewrite(r) => r,
            Dynamic::None => {
                return match blob.not_found() {
                    Some(vs) => match checked(blob, checks, prefs.choose(vs), 404, path) {
                        Some(v) => Plan::Stored(v),
                        None => Plan::Builtin(500),
                    },
                    None => Plan::Builtin(404),
                }
            }
        },
    };
    if let Some(a) = route.auth() {
        // Before anything else of the route's (conditionals, ranges): a
        // client without the credential learns nothing of it.
        let mut buf = [0u8; auth::MAX_CREDENTIAL];
        let cred = req.authorization.and_then(|v| auth::basic(v, &mut buf));
        if !cred.is_some_and(|c| a.admits(c)) {
            return Plan::Builtin(401);
        }
    }
    let v = match checked(
        blob,
        checks,
        prefs.choose(route.variants()),
        route.status(),
        path,
    ) {
        Some(v) => v,
        None => return Plan::Builtin(500),
    };
    if route.status() != 200 {
        return Plan::Stored(v); // a stored redirect, or a 404 rule's page
    }
    let etag = v.etag().unwrap_or(b"");
    let lm = route.last_modified();
    match conditional::evaluate(req, etag, lm) {
        Outcome::PreconditionFailed => return Plan::Builtin(412),
        Outcome::NotModified => return Plan::NotModified(v),
        Outcome::Proceed => {}
    }
    if let (Method::Get, Some(r)) = (req.method, req.range) {
        let applies = req
            .if_range
            .is_none_or(|ir| conditional::if_range_holds(ir, etag, lm));
        if applies {
            match range::parse(r, v.body_len()) {
                Range::Ignore => {}
                Range::Unsatisfiable => return Plan::Unsatisfiable { len: v.body_len() },
                Range::Bytes { first, last } => return Plan::Partial { v, first, last },
                Range::Multi(_) => return Plan::Multipart { v, range: r },
            }
        }
    }
    Plan::Stored(v)
}

/// `v`, if it may be sent under a run of `status`: a lazily loaded blob's
/// variant is checked before its first use (`format-spec.md` §8); one
/// whose bytes fail is never sent (`None`: the caller answers 500), and
/// is logged once.
#[inline]
fn checked<'b>(
    blob: Blob<'b>,
    checks: &VariantChecks,
    v: Variant<'b>,
    status: u16,
    path: &[u8],
) -> Option<Variant<'b>> {
    match checks.verify(&blob, &v, status) {
        Verdict::Ok => Some(v),
        Verdict::Failed(problem) => {
            failed(blob, v, path, problem);
            None
        }
        Verdict::KnownBad => None,
    }
}

/// Says once that a variant failed its check.
#[cold]
#[inline(never)]
fn failed(blob: Blob<'_>, v: Variant<'_>, path: &[u8], problem: VariantProblem) {
    error!(
        "tarweb-serve: blob {}: variant {} (for {}) fails its check: {problem}; \
         it is answered 500 until a new blob is loaded",
        blob.digest_hex(),
        v.index(),
        String::from_utf8_lossy(path)
    );
}

/// What a path no route lists gets from the dynamic rules.
enum Dynamic<'b> {
    Answer(Plan<'b>),
    /// A rule's stored response (a fixed redirect, a 404 page), of a run
    /// of this status.
    Stored(Variant<'b>, u16),
    /// A rewrite: this route's response, as if asked for.
    Rewrite(Route<'b>),
    None,
}

/// The first dynamic rule matching `path` (`format-spec.md` §5.1): a
/// stored run (a redirect to a fixed target, a 404 page), a redirect whose
/// `Location` takes what the pattern captured, or a rewrite to the 200
/// route its template names (one that names none does not apply: the next
/// rule is tried). `buf` takes the rewrite's path.
fn dynamic_rule<'b>(blob: Blob<'b>, path: &'b [u8], buf: &mut [u8], prefs: &Prefs) -> Dynamic<'b> {
    let mut caps = Captures::default();
    for rule in blob.rules() {
        if !dynamic::matches(rule.pattern(), path, &mut caps) {
            continue;
        }
        if let Some(run) = rule.run() {
            return Dynamic::Stored(prefs.choose(run), rule.status());
        }
        match rule.kind() {
            RuleKind::Rewrite => {
                let Some(n) = dynamic::expand(rule.template(), path, &caps, false, buf) else {
                    continue;
                };
                if let Some(r) = blob.lookup(&buf[..n]).filter(|r| r.status() == 200) {
                    return Dynamic::Rewrite(r);
                }
            }
            RuleKind::Redirect | RuleKind::NotFound => {
                return Dynamic::Answer(Plan::DynRedirect {
                    status: rule.status(),
                    pattern: rule.pattern(),
                    template: rule.template(),
                    path,
                })
            }
        }
    }
    Dynamic::None
}

/// A dynamic redirect's `Location` (`Plan::DynRedirect`) into `out`:
/// what `pattern` takes from `path`, percent-encoded into `template`.
/// `None` when it does not fit (or, never for a plan's own fields, does not
/// match).
pub(crate) fn dyn_location(
    pattern: &[u8],
    template: &[u8],
    path: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let mut caps = Captures::default();
    dynamic::matches(pattern, path, &mut caps).then_some(())?;
    dynamic::expand(template, path, &caps, true, out)
}

/// 308 to the same host and target on HTTPS. A request without Host
/// (HTTP/1.0) has nowhere to go: 400; a host this server does not serve
/// is not redirected (a Location naming any host a client sends would
/// make the server an open redirector): 421.
fn redirect_https<'b>(req: &Request<'b>, served: Option<&'b [u8]>) -> Plan<'b> {
    if req.host.map(strip_port).is_none_or(<[u8]>::is_empty) {
        return Plan::Builtin(400);
    }
    let Some(host) = served else {
        return Plan::Builtin(421);
    };
    // Origin-form as sent (query included); absolute-form: its path part;
    // `*` (OPTIONS): the root.
    let target: &[u8] = if req.target.first() == Some(&b'/') {
        req.target
    } else if let Some(i) = req.target.windows(3).position(|w| w == b"://") {
        let rest = &req.target[i + 3..];
        match rest.iter().position(|&c| c == b'/' || c == b'?') {
            Some(j) if rest[j] == b'/' => &rest[j..],
            _ => b"/",
        }
    } else {
        b"/"
    };
    Plan::RedirectHttps { host, target }
}

/// `host[:port]` or `[v6][:port]` without the port.
fn strip_port(h: &[u8]) -> &[u8] {
    let end = if h.first() == Some(&b'[') {
        h.iter().position(|&c| c == b']').map_or(h.len(), |i| i + 1)
    } else {
        h.iter().position(|&c| c == b':').unwrap_or(h.len())
    };
    &h[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Lines, Version, MAX_TARGET};
    use std::sync::OnceLock;
    use tarweb_format::{blob_to_vec, BlobSpec, Coding, ResponseSpec, RouteSpec, Verify};

    const ETAG: &str = "\"id-identity\"";
    /// Sun, 06 Nov 1994 08:49:37 GMT
    const LM: i64 = 784111777;

    fn resp(coding: Coding, body: &[u8], resource: bool) -> ResponseSpec {
        let etag = format!("\"id-{}\"", coding.token());
        let mut headers = vec![("Content-Type".to_string(), "text/plain".to_string())];
        if resource {
            headers.push(("ETag".into(), etag.clone()));
        }
        ResponseSpec {
            site_encoded: false,
            coding,
            headers,
            body: body.into(),
            etag: resource.then_some(etag),
            not_modified: resource.then(Vec::new),
        }
    }

    /// `/a.txt` (identity, and a smaller gzip variant), a redirect `/old`,
    /// and a 404 page; the second blob has no 404 page.
    fn blobs() -> &'static (Vec<u8>, Vec<u8>) {
        static B: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
        B.get_or_init(|| {
            let a = RouteSpec {
                auth: None,
                path: "/a.txt".into(),
                status: 200,
                last_modified: LM,
                variants: vec![
                    resp(Coding::Identity, &[b'a'; 100], true),
                    resp(Coding::Gzip, &[b'g'; 40], true),
                ],
            };
            let old = RouteSpec {
                auth: None,
                path: "/old".into(),
                status: 301,
                last_modified: 0,
                variants: vec![ResponseSpec {
                    site_encoded: false,
                    headers: vec![("Location".into(), "/a.txt".into())],
                    ..resp(Coding::Identity, b"", false)
                }],
            };
            let with_404 = BlobSpec {
                encoder: [0; 8],
                rules: vec![],
                routes: vec![a.clone(), old.clone()],
                not_found: vec![resp(Coding::Identity, b"gone", false)],
            };
            let without = BlobSpec {
                encoder: [0; 8],
                rules: vec![],
                routes: vec![a, old],
                not_found: Vec::new(),
            };
            (
                blob_to_vec(&with_404).unwrap().0,
                blob_to_vec(&without).unwrap().0,
            )
        })
    }

    fn request(method: &'static [u8], target: &'static [u8]) -> Request<'static> {
        let mut r = Request::new(method, target, Version::Http11);
        r.host = Some(b"example.org:8080");
        r
    }

    /// A blob loaded as the server loads it: lazily, its variants checked
    /// before first use.
    fn site(bytes: &'static [u8]) -> Source<'static> {
        let blob = Blob::parse_with(bytes, Verify::Lazy(1)).unwrap();
        assert!(blob.deferred());
        Source::Site(blob, Box::leak(Box::new(VariantChecks::new(&blob))))
    }

    /// The plan for `req` from the blob with a 404 page, as text.
    fn plan_of(req: &Request<'static>) -> String {
        plan_in(req, site(&blobs().0))
    }

    fn plan_in(req: &Request<'static>, src: Source<'static>) -> String {
        let mut buf = vec![0u8; 2 * (MAX_TARGET + 1)];
        let v = |v: Variant<'_>| {
            let status = String::from_utf8_lossy(&v.status_line()[9..12]).into_owned();
            format!("{status} {:?}", v.coding())
        };
        match plan(req, src, &mut buf) {
            Plan::Stored(x) => format!("stored {} {}", &v(x), String::from_utf8_lossy(x.body())),
            Plan::NotModified(x) => format!("304 {}", v(x)),
            Plan::Partial { v: x, first, last } => format!("206 {} {first}-{last}", v(x)),
            Plan::Multipart { v: x, range } => match range::parse(range, x.body_len()) {
                Range::Multi(set) => format!("206 {} {:?}", v(x), set.ranges()),
                other => format!("206 {} {other:?}?", v(x)),
            },
            Plan::Unsatisfiable { len } => format!("416 {len}"),
            Plan::Builtin(s) => format!("builtin {s}"),
            Plan::Options(x) => format!("options {}", v(x)),
            Plan::DynRedirect { status, .. } => format!("dynamic {status}"),
            Plan::RedirectHttps { host, target } => format!(
                "308 {} {}",
                String::from_utf8_lossy(host),
                String::from_utf8_lossy(target)
            ),
        }
    }

    #[test]
    fn methods_and_targets() {
        assert_eq!(plan_of(&request(b"POST", b"/a.txt")), "builtin 405");
        assert_eq!(plan_of(&request(b"get", b"/a.txt")), "builtin 405");
        assert_eq!(plan_of(&request(b"OPTIONS", b"*")), "builtin 204");
        assert_eq!(
            plan_of(&request(b"OPTIONS", b"/a.txt")),
            "options 200 Identity"
        );
        assert_eq!(plan_of(&request(b"OPTIONS", b"/nope")), "builtin 204");
        assert_eq!(plan_of(&request(b"GET", b"*")), "builtin 400");
        assert_eq!(plan_of(&request(b"GET", b"/%00")), "builtin 400");
        let a = format!("stored 200 Identity {}", "a".repeat(100));
        assert_eq!(plan_of(&request(b"GET", b"/a.txt")), a);
        assert_eq!(plan_of(&request(b"HEAD", b"/x/../a.txt?q")), a);
        assert_eq!(plan_of(&request(b"GET", b"http://h/%61.txt")), a);
    }

    /// A variant whose bytes were damaged after packing is never sent: a
    /// 500 for it, every time; the blob's other responses are served.
    #[test]
    fn a_damaged_variant_is_answered_500() {
        let mut bytes = blobs().0.clone();
        let blob = Blob::parse(&blobs().0).unwrap();
        let v = blob.lookup(b"/a.txt").unwrap().variants().identity();
        bytes[v.body_off() as usize] ^= 1;
        let src = site(Box::leak(bytes.into_boxed_slice()));
        for _ in 0..2 {
            assert_eq!(plan_in(&request(b"GET", b"/a.txt"), src), "builtin 500");
            assert_eq!(plan_in(&request(b"OPTIONS", b"/a.txt"), src), "builtin 500");
        }
        let mut gz = request(b"GET", b"/a.txt");
        gz.accept_encoding = Lines::from_slice(&[b"gzip"]);
        assert_eq!(
            plan_in(&gz, src),
            format!("stored 200 Gzip {}", "g".repeat(40))
        );
        assert!(plan_in(&request(b"GET", b"/old"), src).starts_with("stored 301"));
    }

    #[test]
    fn routes_redirects_and_404s() {
        assert!(plan_of(&request(b"GET", b"/old")).starts_with("stored 301 Identity"));
        assert_eq!(
            plan_of(&request(b"GET", b"/nope")),
            "stored 404 Identity gone"
        );
        let bare = site(&blobs().1);
        assert_eq!(plan_in(&request(b"GET", b"/nope"), bare), "builtin 404");
        assert_eq!(
            plan_in(&request(b"GET", b"/a.txt"), Source::NoSite),
            "builtin 421"
        );
    }

    #[test]
    fn negotiation_picks_the_smallest_acceptable() {
        let mut r = request(b"GET", b"/a.txt");
        r.accept_encoding = Lines::from_slice(&[b"gzip, br"]);
        assert_eq!(plan_of(&r), format!("stored 200 Gzip {}", "g".repeat(40)));
        r.accept_encoding = Lines::from_slice(&[b"gzip;q=0, br"]);
        assert!(plan_of(&r).starts_with("stored 200 Identity"));
    }

    #[test]
    fn conditionals_come_before_range() {
        let mut r = request(b"GET", b"/a.txt");
        r.if_none_match = Lines::from_slice(&[ETAG.as_bytes()]);
        r.range = Some(b"bytes=0-9");
        assert_eq!(plan_of(&r), "304 200 Identity");
        let mut r = request(b"GET", b"/a.txt");
        r.if_match = Lines::from_slice(&[b"\"other\""]);
        assert_eq!(plan_of(&r), "builtin 412");
        let mut r = request(b"HEAD", b"/a.txt");
        r.if_modified_since = Some(b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(plan_of(&r), "304 200 Identity");
    }

    #[test]
    fn ranges() {
        let mut r = request(b"GET", b"/a.txt");
        r.range = Some(b"bytes=10-19");
        assert_eq!(plan_of(&r), "206 200 Identity 10-19");
        r.range = Some(b"bytes=-5");
        assert_eq!(plan_of(&r), "206 200 Identity 95-99");
        r.range = Some(b"bytes=100-");
        assert_eq!(plan_of(&r), "416 100");
        r.range = Some(b"bytes=0-1, 5-6");
        assert_eq!(plan_of(&r), "206 200 Identity [(0, 1), (5, 6)]");
        r.range = Some(b"bytes=0-1, 2-6");
        assert_eq!(plan_of(&r), "206 200 Identity 0-6", "coalesced: one part");
        // If-Range that does not hold: the whole body.
        r.range = Some(b"bytes=0-1");
        r.if_range = Some(b"\"stale\"");
        assert!(plan_of(&r).starts_with("stored"));
        r.if_range = Some(ETAG.as_bytes());
        assert_eq!(plan_of(&r), "206 200 Identity 0-1");
        // HEAD ignores Range.
        let mut h = request(b"HEAD", b"/a.txt");
        h.range = Some(b"bytes=0-1");
        assert!(plan_of(&h).starts_with("stored"));
    }

    #[test]
    fn redirect_to_https() {
        let served = Source::RedirectHttps {
            host: Some(b"example.org"),
        };
        let r = request(b"GET", b"/a?b");
        assert_eq!(plan_in(&r, served), "308 example.org /a?b");
        let r = request(b"GET", b"http://x.example/p?q");
        assert_eq!(plan_in(&r, served), "308 example.org /p?q");
        let r = request(b"OPTIONS", b"*");
        assert_eq!(plan_in(&r, served), "308 example.org /");
        // A host this server does not serve: no redirect (issue 15: it was
        // copied into Location, an open redirect).
        let other = Source::RedirectHttps { host: None };
        assert_eq!(plan_in(&request(b"GET", b"/a"), other), "builtin 421");
        let mut r = Request::new(b"GET", b"/", Version::Http10);
        r.host = None;
        assert_eq!(plan_in(&r, other), "builtin 400");
    }

    #[test]
    fn host_without_port() {
        assert_eq!(strip_port(b"example.org"), b"example.org");
        assert_eq!(strip_port(b"example.org:8080"), b"example.org");
        assert_eq!(strip_port(b"[::1]:8080"), b"[::1]");
        assert_eq!(strip_port(b"[::1]"), b"[::1]");
        assert_eq!(strip_port(b":80"), b"");
    }
}
