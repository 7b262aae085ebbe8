//! Tests of the `_headers` parser and matcher.

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
        auth: vec![],
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
    let text =
        "\u{feff}# top\r\n\r\n/a\r\n  # indented comment\r\n\tX-A:\t1 \r\n\r\n   \r\n  X-B: b\r\n";
    let r = HeaderRules::parse(text).unwrap();
    assert!(r.warnings().is_empty());
    assert_eq!(r.for_paths(&["/a"]), hs(&[("X-A", "1"), ("X-B", "b")], &[]));
}

#[test]
fn value_may_contain_colon_and_is_trimmed() {
    let r =
        HeaderRules::parse("/a\n  Link:   <https://x.org/a>; rel=preload  \n  X-Empty:\n").unwrap();
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
    let text = "/*\n  X-A: 1\n  Cache-Control: no-cache\n/a\n  ! x-a\n  !Content-Type\n  X-C: c\n";
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

/// Netlify's `Basic-Auth`: credentials for the matching paths, never a
/// header; bad lines refused at their line without repeating them; a
/// host-specific rule (skipped) with it is an error, as its paths would go
/// unprotected. Cache fields other platforms read from an origin pass.
#[test]
fn basic_auth_protects_paths_and_is_never_a_header() {
    let r = HeaderRules::parse(
        "/*\n  X-Ok: 1\n/private/*\n  Basic-Auth: admin:hunter2   editor:s3cret\n  X-P: 2\n\
         /private/open.html\n  ! Basic-Auth\n/private/more/*\n  basic-auth: eve:pw admin:hunter2\n",
    )
    .unwrap();
    let s = r.for_paths(&["/private/a.html"]);
    assert_eq!(
        s.auth,
        [
            ("admin".into(), "hunter2".into()),
            ("editor".into(), "s3cret".into())
        ]
    );
    assert!(s
        .set
        .iter()
        .all(|(n, _)| !n.eq_ignore_ascii_case("basic-auth")));
    assert!(s.remove.is_empty());
    assert!(r.for_paths(&["/public.html"]).auth.is_empty());
    assert!(
        r.for_paths(&["/private/open.html"]).auth.is_empty(),
        "! Basic-Auth"
    );
    // Rules add credentials, in order, each once.
    assert_eq!(r.for_paths(&["/private/more/x"]).auth.len(), 3);
    for (line, what) in [
        ("  Basic-Auth: admin", "pair 1"),
        ("  Basic-Auth: admin:hunter2 :nouser", "pair 2"),
        ("  Basic-Auth: admin:", "pair 1"),
        ("  Basic-Auth:", "no `user:password`"),
    ] {
        let e = err(&format!("/*\n  X-Ok: 1\n/private/*\n{line}\n"));
        assert!(e.starts_with("_headers line 4: "), "{e}");
        assert!(e.contains(what), "{e}");
        assert!(!e.contains("hunter2"), "credentials are not repeated: {e}");
    }
    let e = err("https://example.com/*\n  Basic-Auth: a:b\n");
    assert!(
        e.starts_with("_headers line 2: ") && e.contains("unprotected"),
        "{e}"
    );
    let r = HeaderRules::parse(
        "/*\n  CDN-Cache-Control: max-age=60\n  Cloudflare-CDN-Cache-Control: max-age=60\n  Cache-Tag: a,b\n  Netlify-Vary: query\n",
    )
    .unwrap();
    assert_eq!(r.for_paths(&["/x"]).set.len(), 4);
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
