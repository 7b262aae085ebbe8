//! curl as a real client: bodies byte-exact for every variant after
//! decompression, HEAD, ranges, redirects, 404.

mod common;
use common::*;
use std::process::Command;

struct CurlOut {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl CurlOut {
    fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
}

fn curl(args: &[&str]) -> CurlOut {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let id = format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let hfile = dir.join(format!("h-{id}"));
    let bfile = dir.join(format!("b-{id}"));
    let st = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-D"])
        .arg(&hfile)
        .arg("-o")
        .arg(&bfile)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "curl {args:?} failed");
    let head = std::fs::read_to_string(&hfile).unwrap();
    let body = std::fs::read(&bfile).unwrap_or_default();
    let _ = std::fs::remove_file(&hfile);
    let _ = std::fs::remove_file(&bfile);
    // With -L, the last head is the final response's.
    let last = head
        .split("\r\n\r\n")
        .filter(|h| !h.is_empty())
        .last()
        .unwrap();
    let mut lines = last.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (a, b) = l.split_once(':').unwrap();
            (a.to_string(), b.trim().to_string())
        })
        .collect();
    CurlOut {
        status,
        headers,
        body,
    }
}

#[test]
fn every_variant_byte_exact() {
    let s = Server::start(&["--threads", "2"]);
    let site = site();
    for path in [
        "/",
        "/index.html",
        "/about/",
        "/style.css",
        "/app.js",
        "/mid.txt",
        "/data.bin",
        "/empty.txt",
    ] {
        let want = &site.files[path];
        for ae in ["identity", "gzip", "br", "zstd", "gzip, br, zstd"] {
            let r = curl(&["-H", &format!("Accept-Encoding: {ae}"), &s.url(path)]);
            assert_eq!(r.status, 200, "{path} {ae}");
            let ce = r.header("Content-Encoding").unwrap_or("");
            assert_eq!(
                r.header("Content-Length")
                    .unwrap()
                    .parse::<usize>()
                    .unwrap(),
                r.body.len()
            );
            assert_eq!(&decompress(ce, &r.body), want, "{path} {ae} ce={ce}");
            if ae != "gzip, br, zstd" && !ce.is_empty() {
                assert_eq!(ce, ae, "{path}: only the asked coding");
            }
        }
        // curl's own decoding.
        let r = curl(&["--compressed", &s.url(path)]);
        assert_eq!(&r.body, want, "{path} --compressed");
    }
}

#[test]
fn big_file_and_ranges() {
    let s = Server::start(&[]);
    let site = site();
    let big = &site.files["/big.bin"];
    let r = curl(&[&s.url("/big.bin")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), BIG_LEN);
    assert!(&r.body == big);
    let r = curl(&["-r", "1000-2999", &s.url("/big.bin")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("Content-Range"),
        Some(format!("bytes 1000-2999/{BIG_LEN}").as_str())
    );
    assert!(r.body == big[1000..3000]);
    let r = curl(&["-r", "-100", &s.url("/data.bin")]);
    assert_eq!(r.status, 206);
    assert!(r.body == site.files["/data.bin"][100_000 - 100..]);
    let r = curl(&["-r", "5000000-", &s.url("/big.bin")]);
    assert_eq!(r.status, 206);
    assert!(r.body == big[5_000_000..]);
    let r = curl(&["-r", "200000-", &s.url("/data.bin")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */100000"));
    // Range on a compressed variant: bytes of that variant (#471).
    let r = curl(&[
        "-H",
        "Accept-Encoding: gzip",
        "-r",
        "0-9",
        &s.url("/mid.txt"),
    ]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    let gz = curl(&["-H", "Accept-Encoding: gzip", &s.url("/mid.txt")]);
    assert_eq!(r.body, gz.body[..10]);
}

#[test]
fn head_redirect_404() {
    let s = Server::start(&[]);
    let r = curl(&["-I", &s.url("/style.css")]);
    assert_eq!(r.status, 200);
    // curl -I writes the head, and nothing else, to its output.
    assert!(r.body.starts_with(b"HTTP/1.1 200 OK\r\n") && r.body.ends_with(b"\r\n\r\n"));
    assert_eq!(
        r.header("Content-Length"),
        Some(site().files["/style.css"].len().to_string().as_str())
    );
    let r = curl(&[&s.url("/about")]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/about/"));
    let r = curl(&["-L", &s.url("/about")]);
    assert_eq!(r.status, 200);
    let r = curl(&["--compressed", &s.url("/nope")]);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, site().files["404"]);
    let r = curl(&[&s.url("/caf%C3%A9.txt")]);
    assert_eq!(r.status, 200);
    let r = curl(&[&s.url("/dir/a%20b.txt")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site().files["/dir/a b.txt"]);
}
