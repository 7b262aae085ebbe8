//! `_headers`' `Basic-Auth` for real: tarweb-pack packs a site whose
//! private paths need a credential, tarweb-serve answers curl over
//! HTTP/1.1 and HTTP/2: 401 with `WWW-Authenticate` and nothing of the
//! resource without one (not its ETag, not a 304, not a range), the file
//! with one.

mod common;
use common::*;

/// (status, headers lower-cased, body).
fn curl(args: &[&str]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let r = curl_response(args);
    (r.status, r.headers, r.body)
}

fn get<'a>(h: &'a [(String, String)], n: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())
}

#[test]
fn protected_paths_need_a_listed_credential() {
    let dir = std::env::temp_dir().join(format!("tarweb-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("private")).unwrap();
    let secret = "<p>the private page</p>\n".repeat(40);
    std::fs::write(site.join("private/index.html"), &secret).unwrap();
    std::fs::write(site.join("index.html"), "<p>public</p>\n").unwrap();
    std::fs::write(
        site.join("_headers"),
        "/private/*\n  Basic-Auth: alice:s3cret-pass bob:hunter2hunter2\n",
    )
    .unwrap();
    let blob = dir.join("site.twb");
    pack(&site, &blob);
    let s = Server::start_with(&blob, &[]);
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        for path in ["/private/", "/private/index.html"] {
            let url = s.url(path);
            // No credential, a wrong one, another user's password, another
            // scheme: 401 with the challenge and nothing of the page.
            for extra in [
                &[][..],
                &["-u", "alice:wrong"][..],
                &["-u", "bob:s3cret-pass"][..],
                &["-H", "Authorization: Bearer YWxpY2U6czNjcmV0LXBhc3M="][..],
            ] {
                let mut args = vec![proto];
                args.extend_from_slice(extra);
                args.push(&url);
                let (status, h, body) = curl(&args);
                assert_eq!(status, 401, "{proto} {path} {extra:?}");
                assert_eq!(
                    get(&h, "www-authenticate"),
                    Some("Basic realm=\"protected\", charset=\"UTF-8\"")
                );
                assert_eq!(body, b"401 Unauthorized\n");
                assert!(get(&h, "etag").is_none() && get(&h, "last-modified").is_none());
            }
            // Each listed credential opens it.
            for user in ["alice:s3cret-pass", "bob:hunter2hunter2"] {
                let (status, h, body) = curl(&[proto, "-u", user, &url]);
                assert_eq!(status, 200, "{proto} {path} {user}");
                assert_eq!(body, secret.as_bytes());
                assert!(get(&h, "etag").is_some());
            }
        }
        // Conditionals and ranges without the credential: still 401 (a
        // 304 or a 206 would confirm the ETag or leak bytes).
        let url = s.url("/private/index.html");
        let (_, h, _) = curl(&[proto, "-u", "alice:s3cret-pass", &url]);
        let etag = get(&h, "etag").unwrap().to_string();
        let (status, _, _) = curl(&[proto, "-H", &format!("If-None-Match: {etag}"), &url]);
        assert_eq!(status, 401);
        let (status, _, body) = curl(&[proto, "-r", "0-5", &url]);
        assert_eq!((status, body.as_slice()), (401, &b"401 Unauthorized\n"[..]));
        let (status, _, _) = curl(&[
            proto,
            "-u",
            "alice:s3cret-pass",
            "-H",
            &format!("If-None-Match: {etag}"),
            &url,
        ]);
        assert_eq!(status, 304);
        // HEAD: the 401's head (curl -I prints it as its output).
        let (status, _, out) = curl(&[proto, "-I", &url]);
        assert_eq!(status, 401);
        assert!(!String::from_utf8_lossy(&out).contains("401 Unauthorized\n"));
        // Other paths need nothing.
        let (status, _, body) = curl(&[proto, &s.url("/")]);
        assert_eq!((status, body.as_slice()), (200, &b"<p>public</p>\n"[..]));
    }
    // HEAD over HTTP/1.1, read raw: the head, then the next response.
    let mut c = s.client();
    c.send(
        b"HEAD /private/index.html HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let r = c.read_response(true).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("Content-Length"), Some("17"));
    assert_eq!(c.read_response(false).unwrap().status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
