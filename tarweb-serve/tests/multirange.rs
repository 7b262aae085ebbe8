//! Several ranges in one request (RFC 9110 §14.6): a `multipart/byteranges`
//! 206 whose bytes are checked exactly, over HTTP/1.1 and HTTP/2 with curl;
//! overlapping and adjacent ranges coalesced, the order asked kept, the
//! number of parts capped, any variant.

mod common;
use common::*;

type Got = Curled;

fn curl(args: &[&str]) -> Got {
    curl_response(args)
}

/// The body RFC 9110 §14.6 and RFC 2046 describe for these parts, byte
/// for byte: each part a delimiter (CRLF, `--`, boundary), its fields,
/// an empty line and its bytes; then the close delimiter.
fn expected(
    boundary: &str,
    ctype: &str,
    total: usize,
    file: &[u8],
    parts: &[(usize, usize)],
) -> Vec<u8> {
    let mut b = Vec::new();
    for &(first, last) in parts {
        b.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes {first}-{last}/{total}\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(&file[first..=last]);
    }
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

fn boundary(g: &Got) -> String {
    let ct = g.header("content-type").expect("a content-type");
    ct.strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {ct}"))
        .to_string()
}

fn check_multipart(g: &Got, ctype: &str, file: &[u8], parts: &[(usize, usize)]) {
    assert_eq!(g.status, 206);
    let b = boundary(g);
    assert!(!b.is_empty() && b.len() <= 70);
    let want = expected(&b, ctype, file.len(), file, parts);
    assert_eq!(
        g.header("content-length"),
        Some(want.len().to_string().as_str())
    );
    assert!(
        g.header("content-range").is_none(),
        "a multipart 206 has none at the top"
    );
    assert!(
        g.body == want,
        "multipart body differs from RFC 9110 §14.6's form"
    );
}

#[test]
fn several_ranges_over_http1_and_http2() {
    let s = Server::start(&[]);
    let site = site();
    let data = &site.files["/data.bin"];
    let url = s.url("/data.bin");
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        // Two parts, in the order asked (the later range first).
        let g = curl(&[proto, "-r", "500-999,10-19", &url]);
        check_multipart(
            &g,
            "application/octet-stream",
            data,
            &[(500, 999), (10, 19)],
        );
        // The stored fields are there, but Content-Type is the multipart one.
        assert!(g.header("etag").is_some() && g.header("last-modified").is_some());
        assert_eq!(
            g.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .count(),
            1
        );
        // Overlapping and adjacent ranges: coalesced, here into one part
        // (no multipart for a single range).
        let g = curl(&[proto, "-r", "0-9,5-19,20-29", &url]);
        assert_eq!(g.status, 206);
        assert_eq!(g.header("content-range"), Some("bytes 0-29/100000"));
        assert!(g.body == data[..30]);
        // Three asked, two after coalescing: the merged one where its
        // first member was.
        let g = curl(&[proto, "-r", "90000-90009,100-199,150-249,-10", &url]);
        check_multipart(
            &g,
            "application/octet-stream",
            data,
            &[(90000, 90009), (100, 249), (99990, 99999)],
        );
        // Unsatisfiable members drop out; all of them: 416.
        let g = curl(&[proto, "-r", "0-0,200000-300000", &url]);
        assert_eq!((g.status, g.body.len()), (206, 1));
        let g = curl(&[proto, "-r", "200000-300000,400000-", &url]);
        assert_eq!(g.status, 416);
        // More than 16 parts: the whole representation (amplification).
        let many: Vec<String> = (0..17)
            .map(|i| format!("{}-{}", i * 100, i * 100 + 1))
            .collect();
        let g = curl(&[proto, "-r", &many.join(","), &url]);
        assert_eq!(g.status, 200);
        assert!(g.body == *data);
        let sixteen = many[..16].join(",");
        let g = curl(&[proto, "-r", &sixteen, &url]);
        let parts: Vec<(usize, usize)> = (0..16).map(|i| (i * 100, i * 100 + 1)).collect();
        check_multipart(&g, "application/octet-stream", data, &parts);
    }
}

#[test]
fn large_parts_and_compressed_variants() {
    let s = Server::start(&[]);
    let site = site();
    let big = &site.files["/big.bin"];
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        // Parts far above the sendfile threshold, and over many DATA frames.
        let g = curl(&[proto, "-r", "0-99999,5000000-5300000", &s.url("/big.bin")]);
        check_multipart(
            &g,
            "application/octet-stream",
            big,
            &[(0, 99999), (5_000_000, 5_300_000)],
        );
        // The ranges of the gzip variant: its bytes, its ETag's boundary,
        // the representation's Content-Encoding and the parts' text type.
        let gz = curl(&[proto, "-H", "Accept-Encoding: gzip", &s.url("/mid.txt")]);
        let g = curl(&[
            proto,
            "-H",
            "Accept-Encoding: gzip",
            "-r",
            "0-9,30-39",
            &s.url("/mid.txt"),
        ]);
        assert_eq!(g.header("content-encoding"), Some("gzip"));
        check_multipart(&g, "text/plain", &gz.body, &[(0, 9), (30, 39)]);
        let etag = gz.header("etag").unwrap().trim_matches('"').to_string();
        assert_eq!(boundary(&g), etag);
    }
}
