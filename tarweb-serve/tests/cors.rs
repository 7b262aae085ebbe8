//! A CORS preflight (OPTIONS with `Origin` and
//! `Access-Control-Request-Method`) gets the `Access-Control-*` fields the
//! site's `_headers` gives that path, over HTTP/1.1 and HTTP/2, with curl;
//! other paths get none.

mod common;
use common::*;

/// (status, headers lower-cased, in order) of a preflight.
fn options(proto: &str, url: &str) -> (u16, Vec<(String, String)>) {
    let r = curl_response(&[
        proto,
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://app.example",
        "-H",
        "Access-Control-Request-Method: GET",
        url,
    ]);
    (r.status, r.headers)
}

fn get(h: &[(String, String)], n: &str) -> Option<String> {
    h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
}

#[test]
fn preflight_gets_the_paths_cors_fields() {
    let dir = std::env::temp_dir().join(format!("tarweb-cors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("api")).unwrap();
    std::fs::write(site.join("api/data.json"), b"{\"a\": 1}\n").unwrap();
    std::fs::write(
        site.join("index.html"),
        b"<!doctype html><title>x</title>\n",
    )
    .unwrap();
    std::fs::write(
        site.join("_headers"),
        "/api/*\n  Access-Control-Allow-Origin: https://app.example\n  \
         Access-Control-Allow-Methods: GET, HEAD, OPTIONS\n  \
         Access-Control-Allow-Headers: X-Token\n  Access-Control-Max-Age: 600\n  \
         X-Other: not for a preflight\n",
    )
    .unwrap();
    let blob = dir.join("site.twb");
    pack(&site, &blob);
    let s = Server::start_with(&blob, &[]);
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        let (status, h) = options(proto, &s.url("/api/data.json"));
        assert_eq!(status, 204, "{proto}");
        assert_eq!(get(&h, "allow").as_deref(), Some("GET, HEAD, OPTIONS"));
        assert_eq!(
            get(&h, "access-control-allow-origin").as_deref(),
            Some("https://app.example"),
            "{proto}: {h:?}"
        );
        assert_eq!(
            get(&h, "access-control-allow-methods").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(
            get(&h, "access-control-allow-headers").as_deref(),
            Some("X-Token")
        );
        assert_eq!(get(&h, "access-control-max-age").as_deref(), Some("600"));
        // Only the CORS fields: not the resource's others, no body fields.
        assert_eq!(get(&h, "x-other"), None);
        assert_eq!(get(&h, "etag"), None);
        assert_eq!(get(&h, "content-type"), None);
        // A path the rule does not cover, one that does not exist, `*`.
        let (status, h) = options(proto, &s.url("/index.html"));
        assert_eq!(status, 204);
        assert_eq!(get(&h, "access-control-allow-origin"), None);
        let (status, h) = options(proto, &s.url("/api/missing.json"));
        assert_eq!(status, 204);
        assert_eq!(get(&h, "access-control-allow-origin"), None);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
