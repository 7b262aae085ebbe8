//! Tests of the `_redirects` parser and matcher.

use super::*;

fn run(text: &str) -> (anyhow::Result<Vec<Redirect>>, Vec<String>) {
    let mut warnings = Vec::new();
    let r = parse(text, &mut |w| warnings.push(w));
    (r, warnings)
}

/// The rules (lines zeroed, so that tables need not count lines).
fn ok(text: &str) -> (Vec<Redirect>, Vec<String>) {
    let (r, w) = run(text);
    let mut r = r.unwrap();
    for x in &mut r {
        x.line = 0;
    }
    (r, w)
}

fn err(text: &str) -> String {
    run(text).0.unwrap_err().to_string()
}

fn rd(from: &str, to: &str, status: u16, force: bool) -> Redirect {
    Redirect {
        pattern: None,
        line: 0,
        from: from.to_string(),
        to: to.to_string(),
        status,
        force,
    }
}

#[test]
fn example_file() {
    let text = "# comment\n\
/old-page        /new-page\n\
/blog/post-1     /blog/2026/post-1/   308\n\
/external        https://example.org/x  302\n\
/force-me        /elsewhere   301!\n\
/pretty          /about/index.html   200\n";
    let (r, w) = ok(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        r,
        vec![
            rd("/old-page", "/new-page", 301, false),
            rd("/blog/post-1", "/blog/2026/post-1/", 308, false),
            rd("/external", "https://example.org/x", 302, false),
            rd("/force-me", "/elsewhere", 301, true),
            rd("/pretty", "/about/index.html", 200, false),
        ]
    );
    assert_eq!(r[4].rewrite_path().as_deref(), Some("/about/index.html"));
    assert_eq!(r[0].rewrite_path(), None);
}

#[test]
fn comments_blank_crlf_bom_tabs() {
    let text = "\u{feff}# c\r\n\r\n  # indented\r\n\t/a\t\t/b \t 302 \r\n   \r\n/c /d\r\n";
    let (r, w) = ok(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        r,
        vec![rd("/a", "/b", 302, false), rd("/c", "/d", 301, false)]
    );
}

#[test]
fn statuses() {
    let text = "/1 /x 301\n/2 /x 302\n/3 /x 303\n/7 /x 307\n/8 /x 308\n/0 /x 200\n/f /x 302!\n/g /x 200!\n";
    let (r, w) = ok(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        r,
        vec![
            rd("/1", "/x", 301, false),
            rd("/2", "/x", 302, false),
            rd("/3", "/x", 303, false),
            rd("/7", "/x", 307, false),
            rd("/8", "/x", 308, false),
            rd("/0", "/x", 200, false),
            rd("/f", "/x", 302, true),
            rd("/g", "/x", 200, true),
        ]
    );
}

#[test]
fn unsupported_statuses_fail_at_their_line() {
    let (r, w) = ok("/a /x.html 404\n/e /x 200\n");
    assert!(w.is_empty());
    assert_eq!(
        r,
        vec![rd("/a", "/x.html", 404, false), rd("/e", "/x", 200, false)]
    );
    for s in ["410!", "451", "99999", "500"] {
        let e = err(&format!("/ok /x\n/b /x {s}\n"));
        assert!(e.starts_with("_redirects line 2: status "), "{e}");
        assert!(e.contains("is not supported"), "{e}");
    }
}

#[test]
fn status_not_a_number() {
    for s in ["30x", "!", "301!!", "-301", "3O1"] {
        let e = err(&format!("/ok /x\n/a /b {s}\n"));
        assert_eq!(
            e,
            format!("_redirects line 2: status `{s}` is not a number")
        );
    }
}

#[test]
fn missing_target() {
    let e = err("# c\n/a\n");
    assert!(e.starts_with("_redirects line 2: missing target"), "{e}");
    let e = err("/a   \t\n");
    assert!(e.starts_with("_redirects line 1: missing target"), "{e}");
}

/// Splats and placeholders make dynamic rules; query and per-visitor
/// conditions cannot be precomputed and fail the pack at their line,
/// never silently dropped.
#[test]
fn dynamic_rules_and_refused_conditions() {
    let (r, w) = ok("/blog/* /news/:splat\n/users/:id/posts/:post /people/:id?p=:post 302\n/* /index.html 200\n/shop/* /shop/404.html 404\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        r[0].pattern,
        Some(vec![Seg::Lit("blog".into()), Seg::Splat])
    );
    assert_eq!(
        r[1].pattern,
        Some(vec![
            Seg::Lit("users".into()),
            Seg::Capture("id".into()),
            Seg::Lit("posts".into()),
            Seg::Capture("post".into())
        ])
    );
    use tarweb_format::dynamic::Token::*;
    let (p, t) = r[1].tokens().unwrap();
    assert_eq!(p[1], Capture(0));
    assert_eq!(
        t,
        [
            Lit(b"/people/".to_vec()),
            Capture(0),
            Lit(b"?p=".to_vec()),
            Capture(1)
        ]
    );
    for (line, want) in [
        ("/ /us 302 Country=us", "conditions"),
        ("/ /fr 302 Language=fr", "conditions"),
        ("/admin/x /login 302! Role=admin", "conditions"),
        ("/store id=:id /blog/:id 301", "conditions"),
        ("/q /b Country=us", "conditions"),
        ("/search?q=x /s", "query"),
        ("/a* /b", "a splat `*` must be a whole segment"),
        ("/*/a /b", "must be the last segment"),
        ("/:a/:a /b", "used twice"),
        ("/a /b/:splat", "the source has no `*`"),
        ("/s/* /s/:splat 404", "not `/s/:splat` with placeholders"),
        ("/x /y 302 extra", "too many fields"),
    ] {
        let e = err(&format!("/ok /x\n{line}\n"));
        assert!(e.starts_with("_redirects line 2: "), "{line}: {e}");
        assert!(e.contains(want), "{line}: {e}");
    }
}

#[test]
fn literal_colons_and_equals_are_not_conditions() {
    let (r, w) = ok("/a:b /x?y=1&z=2\n/c /d=e\n/e https://x.org/?a=b\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        r,
        vec![
            rd("/a:b", "/x?y=1&z=2", 301, false),
            rd("/c", "/d=e", 301, false),
            rd("/e", "https://x.org/?a=b", 301, false),
        ]
    );
}

#[test]
fn from_is_decoded_and_validated() {
    let (r, _) = ok("/file%20name.txt /x\n/caf%C3%A9 /y\n/café2 /z\n");
    assert_eq!(
        r,
        vec![
            rd("/file name.txt", "/x", 301, false),
            rd("/café", "/y", 301, false),
            rd("/café2", "/z", 301, false),
        ]
    );
    for (line, want) in [
        ("/a%zz /x", "invalid percent-encoding `%zz`"),
        ("/a%FF /x", "does not decode to UTF-8"),
        ("/a/../b /x", "'.' or '..' segment"),
        ("/a/./b /x", "'.' or '..' segment"),
        ("/a/.. /x", "'.' or '..' segment"),
        ("/a/%2E%2E/b /x", "'.' or '..' segment"),
        ("/a%0Ab /x", "control character"),
        ("/a#b /x", "contains '#'"),
        ("a /x", "must be a path starting with '/'"),
        (
            "https://example.com/a /x",
            "must be a path starting with '/'",
        ),
    ] {
        let e = err(&format!("/ok /x\n\n{line}\n"));
        assert!(e.starts_with("_redirects line 3: "), "{e}");
        assert!(e.contains(want), "{line:?}: {e}");
    }
    // Dots inside a segment are fine.
    let (r, _) = ok("/a/..b/.c /x\n");
    assert_eq!(r, vec![rd("/a/..b/.c", "/x", 301, false)]);
}

#[test]
fn from_and_rewrite_target_follow_the_formats_path_rule() {
    // What the blob writer would refuse is refused at the line that has
    // it (it used to get through here and fail late, naming no line).
    let long = format!("/{}", "x".repeat(4096));
    for (line, want) in [
        ("/a//b /x", "`/a//b` has an empty segment"),
        ("// /x", "`//` has an empty segment"),
        ("/a%2F%2Fb /x", "has an empty segment"),
        ("/a //b 200", "protocol-relative"),
        (
            "/a /b//c 200",
            "rewrite target `/b//c` has an empty segment",
        ),
        (
            &format!("{long} /x"),
            "is 4097 bytes, longer than the format's 4096-byte limit",
        ),
    ] {
        let e = err(&format!("/ok /x\n{line}\n"));
        assert!(e.starts_with("_redirects line 2: "), "{e}");
        assert!(e.contains(want), "{line:?}: {e}");
    }
    // A trailing '/' is the directory form; a redirect may point anywhere.
    let (r, _) = ok("/docs/ /x\n/a /b//c\n");
    assert_eq!(
        r,
        vec![
            rd("/docs/", "/x", 301, false),
            rd("/a", "/b//c", 301, false)
        ]
    );
}

#[test]
fn location_encoding() {
    let text = "\
/1 /new%20page\n\
/2 /café\n\
/3 /a\"<>\\^`{|}b\n\
/4 /100%.html\n\
/5 /a?q=ü#frag#more\n\
/6 https://example.org/a%20b/é?x=[1]#f\n\
/7 http://[::1]:8080/x\n\
/8 HTTPS://Example.org\n\
/9 /%e2%82%ac\n\
/10 /\\evil.org\n";
    let (r, w) = ok(text);
    assert!(w.is_empty(), "{w:?}");
    let to: Vec<&str> = r.iter().map(|r| r.to.as_str()).collect();
    assert_eq!(
        to,
        vec![
            "/new%20page",
            "/caf%C3%A9",
            "/a%22%3C%3E%5C%5E%60%7B%7C%7Db",
            "/100%25.html",
            "/a?q=%C3%BC#frag%23more",
            "https://example.org/a%20b/%C3%A9?x=%5B1%5D#f",
            "http://[::1]:8080/x",
            "HTTPS://Example.org",
            "/%e2%82%ac",
            "/%5Cevil.org",
        ]
    );
}

#[test]
fn invalid_targets() {
    for (line, want) in [
        (
            "/a new-page",
            "must be a local path starting with '/' or an http:// or https:// URL",
        ),
        ("/a ftp://x.org/", "must be a local path"),
        ("/a mailto:x@y.org", "must be a local path"),
        ("/a //evil.org/x", "protocol-relative"),
        ("/a https://", "has no host"),
        ("/a https:///x", "has no host"),
        ("/a https://exämple.org/", "invalid host"),
        ("/a https://ex\"ample.org/", "invalid host"),
        ("/a /b\u{7f}", "control character"),
        ("/a /b\u{85}", "control character"),
        ("/a /b\rc", "control character"),
        (
            "/a https://x.org/ 200",
            "200 rewrite needs a local target path",
        ),
        ("/a /b?x=1 200", "without query or fragment"),
        ("/a /b#x 200", "without query or fragment"),
        ("/a /b/../c 200", "'.' or '..' segment"),
        ("/a /b%FF 200", "does not decode to UTF-8"),
        ("/a /b%00 200", "control character"),
    ] {
        let e = err(&format!("/ok /x\n{line}\n"));
        assert!(e.starts_with("_redirects line 2: "), "{e}");
        assert!(e.contains(want), "{line:?}: {e}");
    }
    // Real redirects may point at `..` (the browser resolves it).
    let (r, _) = ok("/a /b/../c\n");
    assert_eq!(r, vec![rd("/a", "/b/../c", 301, false)]);
}

#[test]
fn rewrite_path_is_decoded() {
    let (r, _) = ok("/pretty /about%20us/caf\u{e9}.html 200\n");
    assert_eq!(
        r,
        vec![rd("/pretty", "/about%20us/caf%C3%A9.html", 200, false)]
    );
    assert_eq!(r[0].rewrite_path().as_deref(), Some("/about us/café.html"));
}

#[test]
fn duplicate_from_first_wins() {
    let (r, w) = ok("/a /first\n/b /x\n/a /second 302\n/a%20b /y\n/a%20b /z\n");
    assert_eq!(
        r,
        vec![
            rd("/a", "/first", 301, false),
            rd("/b", "/x", 301, false),
            rd("/a b", "/y", 301, false),
        ]
    );
    assert_eq!(
        w,
        vec![
            "_redirects line 3: duplicate rule for `/a` (the rule on line 1 wins; rule skipped)",
            "_redirects line 5: duplicate rule for `/a b` (the rule on line 4 wins; rule skipped)",
        ]
    );
}
