//! `_redirects` with splats, placeholders, rewrites, 404 rules and force,
//! packed by tarweb-pack and answered by tarweb-serve to curl over
//! HTTP/1.1 and HTTP/2. The table is the behaviour Netlify's redirect
//! documentation gives for each kind of rule: the first rule that matches
//! wins, a file at the path shadows a rule unless it is forced (`!`),
//! `:splat` is what `*` took, `:name` what its placeholder took.

mod common;
use common::*;
use std::process::Command;

/// (status, Location, body).
fn curl(proto: &str, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = curl_response(&[proto, url]);
    (r.status, r.header("location").map(str::to_string), r.body)
}

const RULES: &str = "\
# the Netlify forms, one per line
/news/*                      /blog/:splat
/news2/:year/:month/:slug    /blog/:year/:month/:slug  302
/old-shop/*                  /shop/:splat              307
/shop/*                      /shop/404.html            404
/app/*                       /other.html               200!
/spa/*                       /index.html               200
/users/:id                   https://example.com/u/:id 308
/fixed/*                     /about.html               301
/about.html                  /elsewhere                301
/forced.html                 /elsewhere                301!
/first/*                     /one                      302
/first/*                     /two                      302
/p/:name                     /pages/:name.html         200
";

#[test]
fn netlify_rules_answer_as_documented() {
    let dir = std::env::temp_dir().join(format!("tarweb-redirects-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    let page = |p: &str| format!("<p>{p}</p>\n");
    for p in [
        "index.html",
        "about.html",
        "404.html",
        "other.html",
        "forced.html",
        "shop/item.html",
        "shop/404.html",
        "app/x.html",
        "pages/alpha.html",
    ] {
        let f = site.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, page(p)).unwrap();
    }
    std::fs::write(site.join("_redirects"), RULES).unwrap();
    let blob = dir.join("site.twb");
    pack(&site, &blob);
    let s = Server::start_with(&blob, &[]);
    let body = |p: &str| page(p).into_bytes();
    type Want = (
        &'static str,
        u16,
        Option<&'static str>,
        Option<&'static str>,
    );
    let table: &[Want] = &[
        // `:splat`: what `*` took, slashes and all; nothing at all too.
        (
            "/news/2004/01/10/my-story",
            301,
            Some("/blog/2004/01/10/my-story"),
            None,
        ),
        ("/news", 301, Some("/blog/"), None),
        ("/news/", 301, Some("/blog/"), None),
        // Captured bytes are percent-encoded into the Location.
        (
            "/news/caf%C3%A9%20au%20lait",
            301,
            Some("/blog/caf%C3%A9%20au%20lait"),
            None,
        ),
        // Placeholders, each one segment.
        (
            "/news2/2024/05/hello",
            302,
            Some("/blog/2024/05/hello"),
            None,
        ),
        ("/old-shop/a/b", 307, Some("/shop/a/b"), None),
        ("/users/42", 308, Some("https://example.com/u/42"), None),
        // A fixed target: the stored redirect.
        ("/fixed/anything/here", 301, Some("/about.html"), None),
        // 404 with the site's own page for that section; a file there
        // shadows the rule.
        ("/shop/missing", 404, None, Some("shop/404.html")),
        ("/shop/item.html", 200, None, Some("shop/item.html")),
        // Forced rewrite: even over a file; and for any path below.
        ("/app/x.html", 200, None, Some("other.html")),
        ("/app/deep/link", 200, None, Some("other.html")),
        // A single-page app's fallback.
        ("/spa/route/42", 200, None, Some("index.html")),
        // A rule naming a file: shadowed unless forced.
        ("/about.html", 200, None, Some("about.html")),
        ("/forced.html", 301, Some("/elsewhere"), None),
        // The first matching rule wins.
        ("/first/x", 302, Some("/one"), None),
        // A rewrite with a placeholder: the page it names; none there,
        // the rule does not apply and the site's 404 answers.
        ("/p/alpha", 200, None, Some("pages/alpha.html")),
        ("/p/zzz", 404, None, Some("404.html")),
        ("/nothing/here", 404, None, Some("404.html")),
    ];
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        for &(path, status, location, page_of) in table {
            let (got, loc, b) = curl(proto, &s.url(path));
            assert_eq!(got, status, "{proto} {path}");
            assert_eq!(loc.as_deref(), location, "{proto} {path}");
            if let Some(p) = page_of {
                assert_eq!(b, body(p), "{proto} {path}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rules_that_cannot_be_precomputed_fail_the_pack_at_their_line() {
    let dir = std::env::temp_dir().join(format!("tarweb-redirects-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "x").unwrap();
    for (rules, want) in [
        (
            "/a /b\n/store id=:id /blog/:id 301\n",
            "_redirects line 2: query parameters",
        ),
        (
            "/ /us 302 Country=us\n",
            "_redirects line 1: query parameters and Country",
        ),
        (
            "/a /b 410\n",
            "_redirects line 1: status 410 is not supported",
        ),
        (
            "/s/* /missing.html 404\n",
            "_redirects line 1: the 404 page /missing.html",
        ),
    ] {
        std::fs::write(site.join("_redirects"), rules).unwrap();
        let o = Command::new(tarweb_pack())
            .arg(&site)
            .arg("-q")
            .arg("-o")
            .arg(dir.join("x.twb"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{rules}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{rules}: {e}");
        assert!(!dir.join("x.twb").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
