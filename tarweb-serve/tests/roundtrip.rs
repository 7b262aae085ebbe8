//! What pack writes, serve reads: a site whose file names and `_redirects`
//! paths need percent-encoding is packed by the tarweb-pack binary, and
//! every route of the blob is then requested the way a browser writes its
//! URL (every byte outside the unreserved set and `/` as `%XX`), and, for
//! the names a client may send bare, unencoded. Each must be found with
//! its own status and body: the two binaries agree on how a URL path maps
//! to a route (`tarweb_format::rules`).

mod common;
use common::*;
use std::path::Path;

/// Browser-style: unreserved bytes and '/' as they are, the rest `%XX`.
fn encode(path: &[u8]) -> String {
    let mut s = String::new();
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

const FILES: &[&str] = &[
    "index.html",
    "a b.txt",
    "100%.txt",
    "%41.txt",
    "x+y.txt",
    "semi;colon.txt",
    "q?mark.txt",
    "hash#tag.txt",
    "caf\u{e9}.html",
    "dir with space/index.html",
    "\u{fc}n\u{ef}code/\u{f1}.txt",
    "tilde~/a.txt",
];

#[test]
fn every_route_pack_writes_is_found_by_its_url() {
    let dir = tempdir("roundtrip");
    let site = dir.join("site");
    for (i, f) in FILES.iter().enumerate() {
        let p = site.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("file {i}: {f}\n")).unwrap();
    }
    std::fs::write(
        site.join("_redirects"),
        "/old%20page /a%20b.txt 301\n/caf%C3%A9-old /caf%C3%A9.html 308\n",
    )
    .unwrap();
    let blob = dir.join("site.twb");
    pack(&site, &blob);
    let bytes = std::fs::read(&blob).unwrap();
    let b = tarweb_format::Blob::parse(&bytes).unwrap();
    // Every file became a route, and the redirects too.
    for f in FILES {
        let route = format!("/{f}");
        assert!(b.lookup(route.as_bytes()).is_some(), "no route {route:?}");
    }
    for r in ["/old page", "/caf\u{e9}-old"] {
        assert!(b.lookup(r.as_bytes()).is_some(), "no route {r:?}");
    }
    let s = Server::start_with(&blob, &[]);
    let mut c = s.client();
    let mut checked = 0;
    for route in b.routes() {
        let path = route.path();
        let url = encode(path);
        let r = c.get(&url, "");
        assert_eq!(r.status, route.status(), "{url} for {path:?}");
        if route.status() == 200 {
            assert_eq!(r.body, route.variants().identity().body(), "{url}");
        }
        // Bytes a client may send unencoded in a request target (RFC 3986
        // pchar, no '%', '?' or '#'): the same route.
        let bare = path
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b));
        if bare {
            let r2 = c.get(std::str::from_utf8(path).unwrap(), "");
            assert_eq!(r2.status, route.status(), "bare {path:?}");
        }
        checked += 1;
    }
    assert!(checked >= FILES.len() + 2, "{checked} routes");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
