//! HTTP semantics end to end: negotiation (with the static-web-server bugs
//! turned into tests), conditionals, ranges, keep-alive, headers.

mod common;
use common::*;

fn ce(r: &Response) -> &str {
    r.header("Content-Encoding").unwrap_or("identity")
}

#[test]
fn sws_452_zstd_content_encoding() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    for path in ["/app.js", "/", "/mid.txt"] {
        let r = c.get(path, "Accept-Encoding: zstd\r\n");
        assert_eq!(ce(&r), "zstd", "{path}");
        assert_eq!(decompress("zstd", &r.body), site().files[path]);
    }
    // A route without a zstd variant never claims zstd.
    let r = c.get("/style.css", "Accept-Encoding: zstd\r\n");
    assert_eq!(ce(&r), "identity");
    assert_eq!(r.body, site().files["/style.css"]);
}

#[test]
fn sws_453_vary_exactly_once() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    let etag = c
        .get("/", "Accept-Encoding: gzip\r\n")
        .header("ETag")
        .unwrap()
        .to_string();
    for extra in [
        "".to_string(),
        "Accept-Encoding: gzip\r\n".into(),
        "Accept-Encoding: br, zstd\r\n".into(),
        format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
        "Accept-Encoding: br\r\nRange: bytes=0-5\r\n".into(),
    ] {
        let r = c.get("/", &extra);
        assert_eq!(
            r.count("Vary"),
            1,
            "{extra:?}: {}",
            String::from_utf8_lossy(&r.head)
        );
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(r.count("Date"), 1);
        assert_eq!(r.count("Content-Length"), usize::from(r.status != 304));
    }
    assert_eq!(
        c.get("/data.bin", "").count("Vary"),
        0,
        "single variant: no Vary"
    );
}

#[test]
fn sws_471_two_features_meet() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    // 304 + compression: the 304 of the gzip variant carries its ETag.
    let gz = c.get("/mid.txt", "Accept-Encoding: gzip\r\n");
    let etag = gz.header("ETag").unwrap().to_string();
    let r = c.get(
        "/mid.txt",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    assert!(r.header("Content-Encoding").is_none());
    assert!(r.body.is_empty());
    // The same ETag does not match the br variant: full 200 in br.
    let r = c.get(
        "/mid.txt",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!((r.status, ce(&r)), (200, "br"));
    // Range + compression: bytes of the compressed variant, still labelled.
    let r = c.get(
        "/mid.txt",
        "Accept-Encoding: gzip\r\nRange: bytes=10-29\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(ce(&r), "gzip");
    assert_eq!(r.body, gz.body[10..30]);
    assert_eq!(r.header("Content-Length"), Some("20"));
    assert_eq!(
        r.header("Content-Range").unwrap(),
        format!("bytes 10-29/{}", gz.body.len())
    );
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    // Range + If-Range with the variant's ETag.
    let r = c.get(
        "/mid.txt",
        &format!("Accept-Encoding: gzip\r\nRange: bytes=0-0\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((r.status, r.body.len()), (206, 1));
}

#[test]
fn sws_722_precompressed_length_is_its_own() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    let orig = &site().files["/mid.txt"];
    for coding in ["gzip", "br", "zstd"] {
        let r = c.get("/mid.txt", &format!("Accept-Encoding: {coding}\r\n"));
        assert_eq!(ce(&r), coding);
        let len: usize = r.header("Content-Length").unwrap().parse().unwrap();
        assert_eq!(len, r.body.len());
        assert!(len < orig.len());
        assert_eq!(&decompress(coding, &r.body), orig);
    }
    let r = c.get("/mid.txt", "");
    assert_eq!(&r.body, orig);
}

#[test]
fn sws_739_qvalues() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    // The sizes decide ties: smallest first.
    let sizes: Vec<(String, usize)> = ["identity", "gzip", "br", "zstd"]
        .iter()
        .map(|&k| {
            (
                k.to_string(),
                c.get("/", &format!("Accept-Encoding: {k}\r\n")).body.len(),
            )
        })
        .collect();
    let smallest = sizes
        .iter()
        .filter(|(k, _)| k != "identity")
        .min_by_key(|(_, n)| *n)
        .unwrap()
        .0
        .clone();
    let cases: Vec<(&str, String)> = vec![
        ("gzip;q=1.0, br;q=0.9", "gzip".into()),
        ("br;q=0.9, gzip;q=1.0", "gzip".into()),
        ("gzip;q=0.5, br;q=0.50, zstd;q=0.500", smallest.clone()),
        ("gzip;q=0.51, br;q=0.5, zstd;q=0.500", "gzip".into()),
        ("gzip;q=0.001, br;q=0", "gzip".into()),
        (
            "zstd;q=1, gzip;q=1.000, br;q=0.999",
            if smallest == "br" {
                "zstd".into()
            } else {
                smallest.clone()
            },
        ),
        ("br;q=1.5, gzip", "gzip".into()),
        ("br;q=0.1234, gzip;q=0.2", "gzip".into()),
        ("*", smallest.clone()),
        (
            "*;q=0.5, gzip;q=0",
            if smallest == "gzip" {
                "br".into()
            } else {
                smallest.clone()
            },
        ),
        ("gzip;q=0, br;q=0, zstd;q=0", "identity".into()),
        ("identity;q=0", "identity".into()),
        ("*;q=0", "identity".into()),
        ("", "identity".into()),
        ("identity", "identity".into()),
        ("GZIP", "gzip".into()),
        ("x-gzip", "gzip".into()),
        ("gzip ; q=0.8 , br ; q=0.9", "br".into()),
    ];
    for (ae, want) in cases {
        let r = c.get("/", &format!("Accept-Encoding: {ae}\r\n"));
        assert_eq!(ce(&r), want, "Accept-Encoding: {ae}");
        assert_eq!(&decompress(ce(&r), &r.body), &site().files["/"]);
    }
    // No Accept-Encoding at all: identity.
    assert_eq!(ce(&c.get("/", "")), "identity");
    // Several field lines are one list.
    let r = c.get(
        "/",
        "Accept-Encoding: gzip;q=0.1\r\nAccept-Encoding: zstd\r\n",
    );
    assert_eq!(ce(&r), "zstd");
}

#[test]
fn conditionals() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    let full = c.get("/style.css", "");
    let etag = full.header("ETag").unwrap().to_string();
    let weak = format!("W/{etag}");
    let get = |c: &mut Client, h: String| c.get("/style.css", &h);
    let lm = LAST_MODIFIED_STR;
    let earlier = "Tue, 14 Nov 2023 22:13:19 GMT";
    let table: Vec<(String, u16)> = vec![
        (format!("If-None-Match: {etag}\r\n"), 304),
        (format!("If-None-Match: {weak}\r\n"), 304),
        (format!("If-None-Match: \"x\", {etag}\r\n"), 304),
        ("If-None-Match: *\r\n".into(), 304),
        ("If-None-Match: \"x\"\r\n".into(), 200),
        (format!("If-Modified-Since: {lm}\r\n"), 304),
        (format!("If-Modified-Since: {earlier}\r\n"), 200),
        ("If-Modified-Since: not a date\r\n".into(), 200),
        (
            format!("If-None-Match: \"x\"\r\nIf-Modified-Since: {lm}\r\n"),
            200,
        ),
        (format!("If-Match: {etag}\r\n"), 200),
        ("If-Match: *\r\n".into(), 200),
        ("If-Match: \"x\"\r\n".into(), 412),
        (format!("If-Match: {weak}\r\n"), 412),
        (format!("If-Unmodified-Since: {earlier}\r\n"), 412),
        (format!("If-Unmodified-Since: {lm}\r\n"), 200),
        (format!("If-Match: \"x\"\r\nIf-None-Match: {etag}\r\n"), 412),
        (format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"), 206),
        (format!("Range: bytes=0-9\r\nIf-Range: {weak}\r\n"), 200),
        ("Range: bytes=0-9\r\nIf-Range: \"x\"\r\n".into(), 200),
        (format!("Range: bytes=0-9\r\nIf-Range: {lm}\r\n"), 206),
        (format!("Range: bytes=0-9\r\nIf-Range: {earlier}\r\n"), 200),
        ("Range: bytes=0-9,5-6\r\n".into(), 206),
        ("Range: bytes=99999-\r\n".into(), 416),
        ("Range: bytes=-0\r\n".into(), 416),
        ("Range: items=0-1\r\n".into(), 200),
        ("Range: bytes=5-1\r\n".into(), 200),
    ];
    for (h, want) in table {
        let r = get(&mut c, h.clone());
        assert_eq!(r.status, want, "{h:?}");
        match want {
            304 => {
                assert!(r.body.is_empty());
                assert_eq!(r.header("ETag"), Some(etag.as_str()));
                assert_eq!(r.header("Last-Modified"), Some(lm));
                assert!(r.header("Cache-Control").is_some());
                assert!(r.header("Date").is_some());
            }
            200 => assert_eq!(r.body, full.body),
            206 => assert_eq!(r.body, full.body[..10]),
            416 => assert_eq!(
                r.header("Content-Range").unwrap(),
                format!("bytes */{}", full.body.len())
            ),
            _ => {}
        }
    }
    // HEAD ignores Range; empty file: any range is 416.
    c.send(b"HEAD /style.css HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n");
    assert_eq!(c.read_response(true).unwrap().status, 200);
    let r = c.get("/empty.txt", "Range: bytes=0-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */0"));
    // Conditionals do not apply to 404 and redirects.
    assert_eq!(c.get("/nope", "If-None-Match: *\r\n").status, 404);
    assert_eq!(c.get("/about", "If-Match: \"x\"\r\n").status, 301);
}

#[test]
fn keep_alive_limits_and_server_header() {
    let s = Server::start(&[
        "--threads",
        "1",
        "--max-requests-per-connection",
        "3",
        "--server-header",
        "demo/1",
    ]);
    let mut c = s.client();
    for i in 1..=3 {
        let r = c.get("/empty.txt", "");
        assert_eq!(r.header("Server"), Some("demo/1"));
        assert_eq!(
            r.header("Connection"),
            (i == 3).then_some("close"),
            "request {i}"
        );
    }
    assert!(c.is_closed());
    drop(s);
    let s = Server::start(&["--threads", "1", "--server-header", "off"]);
    let mut c = s.client();
    let r = c.get("/empty.txt", "");
    assert!(r.header("Server").is_none());
    assert_eq!(r.header("Content-Length"), Some("0"));
    // HTTP/1.0 keep-alive is echoed.
    c.send(b"GET /empty.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.read_response(false).unwrap();
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    assert_eq!(c.get("/empty.txt", "").status, 200);
}

#[test]
fn dual_stack_and_several_listeners() {
    let s = Server::start(&["--threads", "2", "--listen", "[::]:0"]);
    assert_eq!(s.addrs.len(), 2);
    let port = s.addrs[1].port();
    for a in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        s.addrs[0].to_string(),
    ] {
        let mut c = Client::connect(a.parse().unwrap());
        assert_eq!(c.get("/style.css", "").status, 200, "{a}");
    }
}

#[test]
fn builtin_404_when_the_site_has_none() {
    use tarweb_format::{BlobSpec, Coding, ResponseSpec, RouteSpec};
    let etag = "\"one\"".to_string();
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![RouteSpec {
            auth: None,
            path: "/only".into(),
            status: 200,
            last_modified: LAST_MODIFIED,
            variants: vec![ResponseSpec {
                site_encoded: false,
                coding: Coding::Identity,
                headers: vec![
                    ("Content-Type".into(), "text/plain".into()),
                    ("ETag".into(), etag.clone()),
                ],
                body: "only\n".into(),
                etag: Some(etag),
                not_modified: None,
            }],
        }],
        not_found: vec![],
    };
    let (bytes, _) = tarweb_format::blob_to_vec(&spec).unwrap();
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("no404-{}.twb", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let s = Server::start_with(&path, &["--threads", "1"]);
    let mut c = s.client();
    let r = c.get("/nope", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"404 Not Found\n");
    c.send(b"HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    let h = c.read_response(true).unwrap();
    assert_eq!(h.head_without_date(), r.head_without_date());
    let r = c.get("/only", "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"only\n"[..]));
    // No stored 304 block: a minimal 304 with the ETag.
    let r = c.get("/only", "If-None-Match: \"one\"\r\n");
    assert_eq!((r.status, r.header("ETag")), (304, Some("\"one\"")));
    assert_eq!(
        c.get("/only", "").status,
        200,
        "framing intact after the 304"
    );
    let _ = std::fs::remove_file(&path);
}
