//! Format version 2's HTTP/2 header blocks: what the writer stores, read
//! back through the HPACK decoder and compared with the HTTP/1.1 heads; and
//! every rule the reader checks them by, each broken in a valid blob.

use tarweb_format::hpack::{encode_field, Decoder, Fields, HpackErrorKind};
use tarweb_format::layout::{self, variant};
use tarweb_format::rules::is_connection_specific;
use tarweb_format::{
    blob_to_vec, Blob, BlobSpec, Coding, FormatError, FormatErrorKind, H2Problem, InvalidKind,
    ResponseSpec, RouteSpec, SpecPart, Variant, VariantProblem, Verify, WriteError,
};

type List = Vec<(String, String)>;

fn pairs(p: &[(&str, &str)]) -> List {
    p.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn response(coding: Coding, body: &[u8], headers: List, etag: Option<&str>) -> ResponseSpec {
    let mut headers = headers;
    if coding != Coding::Identity {
        headers.push(("Content-Encoding".into(), coding.token().into()));
    }
    let etag = etag.map(|t| format!("\"{t}-{}\"", coding.token()));
    if let Some(t) = &etag {
        headers.push(("ETag".into(), t.clone()));
    }
    ResponseSpec {
        site_encoded: false,
        coding,
        headers,
        body: body.into(),
        not_modified: etag.as_ref().map(|t| {
            pairs(&[
                ("ETag", t),
                ("Cache-Control", "no-cache"),
                ("Vary", "Accept-Encoding"),
            ])
        }),
        etag,
    }
}

/// A 200 route whose ETags are `"<tag>-<coding>"`.
fn tagged(path: &str, tag: &str, headers: List, bodies: &[(Coding, &[u8])]) -> RouteSpec {
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 200,
        last_modified: 1_700_000_000,
        variants: bodies
            .iter()
            .map(|(c, b)| response(*c, b, headers.clone(), Some(tag)))
            .collect(),
    }
}

fn resource(path: &str, headers: List, bodies: &[(Coding, &[u8])]) -> RouteSpec {
    tagged(path, path, headers, bodies)
}

fn redirect(path: &str, status: u16, to: &str) -> RouteSpec {
    RouteSpec {
        auth: None,
        path: path.into(),
        status,
        last_modified: 0,
        variants: vec![response(
            Coding::Identity,
            b"",
            pairs(&[("Location", to), ("Cache-Control", "max-age=60")]),
            None,
        )],
    }
}

fn sample() -> BlobSpec {
    let css = pairs(&[
        ("Content-Type", "text/css; charset=utf-8"),
        ("Cache-Control", "public, max-age=3600"),
        ("X-Content-Type-Options", "nosniff"),
        (
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ),
    ]);
    // Fields HTTP/2 forbids are kept in the HTTP/1.1 head and left out of
    // the block; one value has whitespace an HTTP/1.1 reader strips.
    let odd = pairs(&[
        ("Content-Type", "text/plain"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("X-Padded", "\t spaced out \t"),
        ("Upgrade", "h2c"),
        ("Proxy-Connection", "keep-alive"),
        ("Transfer-Encoding", "identity"),
        ("X-Last", "ok"),
    ]);
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 13 % 251) as u8).collect();
    BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![
            resource(
                "/style.css",
                css,
                &[
                    (Coding::Identity, &b"body { color: red }".repeat(30)),
                    (Coding::Gzip, b"gz"),
                    (Coding::Br, b"b"),
                    (Coding::Zstd, b"zs"),
                ],
            ),
            resource("/odd.txt", odd, &[(Coding::Identity, b"odd")]),
            resource("/big.bin", pairs(&[]), &[(Coding::Identity, &big)]),
            resource("/empty", pairs(&[]), &[(Coding::Identity, b"")]),
            redirect("/a", 301, "/a/"),
            redirect("/b", 302, "https://example.com/b"),
            redirect("/c", 303, "/c/"),
            redirect("/d", 307, "/d/"),
            redirect("/e", 308, "/e/"),
        ],
        not_found: vec![
            response(
                Coding::Identity,
                b"<h1>not here</h1>",
                pairs(&[("Content-Type", "text/html; charset=utf-8")]),
                None,
            ),
            response(
                Coding::Gzip,
                b"gz",
                pairs(&[("Content-Type", "text/html; charset=utf-8")]),
                None,
            ),
        ],
    }
}

/// Decodes a stored block with a fresh decoder, as a client would on any
/// connection, and checks it left the dynamic table alone.
fn decode(block: &[u8]) -> List {
    let mut d = Decoder::new(4096);
    let mut f = Fields::new(layout::MAX_H2_LIST_SIZE, 1000);
    d.decode(block, &mut f).expect("a stored block decodes");
    assert_eq!((d.table_len(), d.table_max_size()), (0, 4096));
    f.iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

/// The fields an HTTP/2 block must hold for an HTTP/1.1 head: `:status`,
/// then each line's field with its name lower-cased and the whitespace
/// around its value gone, minus the connection-specific ones.
fn expected(head: &[u8]) -> List {
    let text = std::str::from_utf8(head).unwrap();
    let mut lines = text.strip_suffix("\r\n\r\n").unwrap().split("\r\n");
    let status = lines.next().unwrap()[9..12].to_string();
    let mut want = vec![(":status".to_string(), status)];
    for line in lines {
        let (n, v) = line.split_once(':').unwrap();
        if !is_connection_specific(n.as_bytes()) {
            want.push((
                n.to_ascii_lowercase(),
                v.trim_matches([' ', '\t']).to_string(),
            ));
        }
    }
    want
}

/// Checks a variant's block against its head, and its parts apart.
fn check_variant(v: &Variant) -> List {
    let block = v.h2_head();
    let got = decode(block);
    assert_eq!(got, expected(v.head()), "variant {}", v.index());
    let (s, l) = (v.h2_status_len(), v.h2_length_len());
    assert_eq!(decode(&block[..s]), got[..1]);
    assert_eq!(
        decode(&block[s..s + l]),
        [("content-length".to_string(), v.body_len().to_string())]
    );
    assert_eq!(decode(&block[s + l..]), got[2..]);
    let nm = v.not_modified();
    if let Some(nm) = nm {
        let nm_got = decode(nm.h2_head);
        assert_eq!(nm_got, expected(nm.head));
        assert_eq!(nm_got[0], (":status".to_string(), "304".to_string()));
        assert_eq!(decode(&nm.h2_head[..nm.h2_status_len]), nm_got[..1]);
        assert!(nm_got.iter().all(|(n, _)| n != "content-length"));
    }
    got
}

#[test]
fn every_block_holds_its_heads_fields() {
    let spec = sample();
    let (bytes, stats) = blob_to_vec(&spec).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    assert_eq!(&bytes[8..12], &2u32.to_le_bytes(), "version 2");
    for v in blob.all_variants().iter() {
        check_variant(&v);
        // Blocks are inside the data section.
        assert!(v.h2_off() >= blob.layout().data_off);
        assert!(v.h2_off() + v.h2_head().len() as u64 <= stats.file_size);
    }

    let css = blob.lookup(b"/style.css").unwrap();
    assert_eq!(css.variants().len(), 4);
    for v in css.variants().iter() {
        // `:status: 200` is one byte, the static table's index 8.
        assert_eq!((v.h2_status_len(), v.h2_head()[0]), (1, 0x88));
        let got = check_variant(&v);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let mut want = vec![
            ":status",
            "content-length",
            "content-type",
            "cache-control",
            "x-content-type-options",
            "strict-transport-security",
        ];
        if v.coding() != Coding::Identity {
            want.push("content-encoding");
        }
        want.push("etag");
        assert_eq!(names, want);
        let nm = v.not_modified().expect("a 200 variant with a 304 head");
        assert_eq!(
            decode(nm.h2_head),
            pairs(&[
                (":status", "304"),
                ("etag", std::str::from_utf8(v.etag().unwrap()).unwrap()),
                ("cache-control", "no-cache"),
                ("vary", "Accept-Encoding"),
            ])
        );
        assert_eq!((nm.h2_status_len, nm.h2_head[0]), (1, 0x8b));
    }

    // Connection-specific fields are left out; whitespace is trimmed.
    let odd = blob.lookup(b"/odd.txt").unwrap().variants().identity();
    assert!(std::str::from_utf8(odd.head())
        .unwrap()
        .contains("\r\nConnection: keep-alive\r\n"));
    assert_eq!(
        decode(odd.h2_head()),
        pairs(&[
            (":status", "200"),
            ("content-length", "3"),
            ("content-type", "text/plain"),
            ("x-padded", "spaced out"),
            ("x-last", "ok"),
            ("etag", "\"/odd.txt-identity\""),
        ])
    );

    // Redirects: the status, an empty body's length, the location.
    for (path, status, to) in [
        (&b"/a"[..], "301", "/a/"),
        (b"/b", "302", "https://example.com/b"),
        (b"/c", "303", "/c/"),
        (b"/d", "307", "/d/"),
        (b"/e", "308", "/e/"),
    ] {
        let v = blob.lookup(path).unwrap().variants().identity();
        assert_eq!(
            decode(v.h2_head()),
            pairs(&[
                (":status", status),
                ("content-length", "0"),
                ("location", to),
                ("cache-control", "max-age=60"),
            ])
        );
        assert!(v.not_modified().is_none());
    }

    // The 404 run: `:status: 404` is the static table's index 13.
    let nf = blob.not_found().unwrap();
    assert_eq!(nf.len(), 2);
    for v in nf.iter() {
        assert_eq!((v.h2_status_len(), v.h2_head()[0]), (1, 0x8d));
        let got = check_variant(&v);
        assert_eq!(got[1], ("content-length".into(), v.body_len().to_string()));
        assert!(v.not_modified().is_none());
    }
}

#[test]
fn identical_blocks_are_stored_once() {
    // Two resources with the same headers (the same ETag too, here) and
    // bodies of the same length: two variants, two heads with their bodies,
    // one HTTP/2 block and one HTTP/2 304 block.
    let mut spec = BlobSpec::default();
    let headers = pairs(&[("Content-Type", "text/plain")]);
    for (p, body) in [("/x", b"same"), ("/y", b"diff")] {
        spec.routes
            .push(tagged(p, "t", headers.clone(), &[(Coding::Identity, body)]));
    }
    let (bytes, stats) = blob_to_vec(&spec).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    let x = blob.lookup(b"/x").unwrap().variants().identity();
    let y = blob.lookup(b"/y").unwrap().variants().identity();
    assert_ne!(x.index(), y.index());
    assert_ne!(x.head_off(), y.head_off());
    assert_eq!(x.h2_head(), y.h2_head());
    assert_eq!(x.h2_off(), y.h2_off());
    let (xn, yn) = (x.not_modified().unwrap(), y.not_modified().unwrap());
    assert_eq!(xn.h2_off, yn.h2_off);
    // Heads and bodies twice, the 304 head once, each HTTP/2 block once.
    let want = 2 * (x.head().len() + 4) + xn.head.len() + x.h2_head().len() + xn.h2_head.len();
    assert_eq!(stats.data_bytes, want as u64);
}

#[test]
fn writer_refuses_a_list_over_the_bound() {
    let value = "v".repeat(layout::MAX_H2_LIST_SIZE);
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![redirect("/r", 301, &value)],
        not_found: vec![],
    };
    let e = blob_to_vec(&spec).unwrap_err();
    let WriteError::Invalid {
        at,
        kind: InvalidKind::H2ListTooLarge(n),
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(at, &SpecPart::Route("/r".into()));
    // :status 301, content-length 0, location, cache-control.
    assert_eq!(
        *n,
        (7 + 3 + 32) + (14 + 1 + 32) + (8 + value.len() + 32) + (13 + 10 + 32)
    );
    assert!(
        e.to_string().contains("headers too large for HTTP/2"),
        "{e}"
    );

    // The bound itself fits.
    let fits = layout::MAX_H2_LIST_SIZE - (n - value.len());
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![redirect("/r", 301, &value[..fits])],
        not_found: vec![],
    };
    let (bytes, _) = blob_to_vec(&spec).unwrap();
    Blob::parse(&bytes).unwrap();
}

#[test]
fn version_1_is_refused_with_what_to_do() {
    let (mut bytes, _) = blob_to_vec(&sample()).unwrap();
    bytes[layout::hdr::VERSION..layout::hdr::VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
    let e = Blob::parse(&bytes).unwrap_err();
    assert_eq!(e.kind, FormatErrorKind::UnsupportedVersion { version: 1 });
    assert_eq!(
        e.to_string(),
        "invalid blob at offset 8: format version 1, this reader knows only 2: \
         re-pack the site with this release's tarweb-pack"
    );
}

// ---- Each rule broken in a valid blob. ----

/// Offset of variant `i`'s entry.
fn entry(blob: &Blob, i: usize) -> usize {
    blob.layout().variants_off as usize + i * layout::VARIANT_ENTRY_SIZE
}

fn put(v: &mut [u8], at: usize, bytes: &[u8]) {
    v[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The variant problem the reader names, with the digest skipped (and, to
/// be sure the digest plays no part, also with it recomputed).
fn problem(v: &[u8]) -> (usize, VariantProblem) {
    let e: FormatError = Blob::parse_with(v, Verify::SkipDigest).expect_err("must fail");
    let mut sealed = v.to_vec();
    tarweb_format::reseal(&mut sealed);
    assert_eq!(Blob::parse(&sealed).unwrap_err(), e);
    assert!(!e.to_string().is_empty());
    match e.kind {
        FormatErrorKind::Variant { index, problem } => (index, problem),
        other => panic!("not a variant problem: {other}"),
    }
}

/// A valid blob of one route whose response has the extra field
/// `name: value` (both all `~`, so that HPACK stores them raw: `~` has a
/// 13-bit Huffman code), and the file offset of that field's representation:
/// `0x00, name_len, name, value_len, value` (for lengths below 127).
fn with_raw_field(name_len: usize, value_len: usize) -> (Vec<u8>, usize) {
    let (name, value) = ("~".repeat(name_len), "~".repeat(value_len));
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![resource(
            "/t",
            vec![(name.clone(), value.clone())],
            &[(Coding::Identity, b"body")],
        )],
        not_found: vec![],
    };
    let (bytes, _) = blob_to_vec(&spec).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    let v = blob.lookup(b"/t").unwrap().variants().identity();
    let mut rep = Vec::new();
    encode_field(&mut rep, name.as_bytes(), value.as_bytes());
    if value_len < 127 {
        let mut want = vec![0x00, name_len as u8];
        want.extend_from_slice(name.as_bytes());
        want.push(value_len as u8);
        want.extend_from_slice(value.as_bytes());
        assert_eq!(rep, want, "stored raw");
    }
    let at = v
        .h2_head()
        .windows(rep.len())
        .position(|w| w == rep)
        .expect("the field is in the block");
    (bytes.clone(), v.h2_off() as usize + at)
}

#[test]
fn entry_fields_break_their_rules() {
    let (good, _) = blob_to_vec(&sample()).unwrap();
    let blob = Blob::parse(&good).unwrap();
    let with_nm = blob.lookup(b"/odd.txt").unwrap().variants().identity();
    let without = blob.lookup(b"/a").unwrap().variants().identity();
    let (i, j) = (with_nm.index(), without.index());
    let (ei, ej) = (entry(&blob, i), entry(&blob, j));
    let size = good.len() as u64;

    // The new reserved bytes.
    let mut v = good.clone();
    v[ei + variant::RESERVED_C + 1] = 1;
    assert_eq!(problem(&v), (i, VariantProblem::Reserved));

    // The block outside the data section: past its end, before its start,
    // overflowing.
    for (off, len) in [
        (size, 1u32),
        (size - 2, 3),
        (blob.layout().data_off - 1, 2),
        (u64::MAX, 2),
    ] {
        let mut v = good.clone();
        put(&mut v, ei + variant::H2_OFF, &off.to_le_bytes());
        put(&mut v, ei + variant::H2_LEN, &len.to_le_bytes());
        assert_eq!(
            problem(&v),
            (
                i,
                VariantProblem::H2Outside {
                    off,
                    len: len.into()
                }
            )
        );
    }
    let mut v = good.clone();
    put(&mut v, ei + variant::H2_NM_OFF, &(size - 1).to_le_bytes());
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2NotModifiedOutside {
                off: size - 1,
                len: with_nm.not_modified().unwrap().h2_head.len() as u64
            }
        )
    );

    // No 304 block, but its other fields set.
    for field in [variant::H2_NM_OFF, variant::H2_NM_STATUS_LEN] {
        let mut v = good.clone();
        v[ej + field] = 1;
        assert_eq!(problem(&v), (j, VariantProblem::H2NotModifiedFieldsSet));
    }
    // A 304 head without a 304 block...
    let mut v = good.clone();
    put(&mut v, ei + variant::H2_NM_LEN, &[0; 4]);
    put(&mut v, ei + variant::H2_NM_OFF, &[0; 8]);
    put(&mut v, ei + variant::H2_NM_STATUS_LEN, &[0; 2]);
    assert_eq!(
        problem(&v),
        (i, VariantProblem::H2NotModifiedMismatch { has_head: true })
    );
    // ...and a 304 block (a valid one, borrowed) without a 304 head.
    let mut v = good.clone();
    let from = ei + variant::H2_NM_LEN;
    let nm_fields = good[from..from + 12].to_vec();
    put(&mut v, ej + variant::H2_NM_LEN, &nm_fields);
    let st = ei + variant::H2_NM_STATUS_LEN;
    let nm_status = good[st..st + 2].to_vec();
    put(&mut v, ej + variant::H2_NM_STATUS_LEN, &nm_status);
    assert_eq!(
        problem(&v),
        (j, VariantProblem::H2NotModifiedMismatch { has_head: false })
    );

    // Split points past the block's end.
    let mut v = good.clone();
    put(&mut v, ei + variant::H2_LENGTH_LEN, &u16::MAX.to_le_bytes());
    assert_eq!(
        problem(&v),
        (i, VariantProblem::H2Block(H2Problem::LengthsPastEnd))
    );
    let mut v = good.clone();
    put(
        &mut v,
        ei + variant::H2_NM_STATUS_LEN,
        &u16::MAX.to_le_bytes(),
    );
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2NotModifiedBlock(H2Problem::LengthsPastEnd)
        )
    );
    // A `:status` part that is empty, or swallows `content-length`.
    for status_len in [0u16, 1 + with_nm.h2_length_len() as u16] {
        let mut v = good.clone();
        put(
            &mut v,
            ei + variant::H2_STATUS_LEN,
            &status_len.to_le_bytes(),
        );
        assert_eq!(
            problem(&v).1,
            VariantProblem::H2Block(H2Problem::StatusField { expected: 200 }),
            "{status_len}"
        );
    }
    // A length part cut short: its string runs past the part's end.
    let mut v = good.clone();
    let l = with_nm.h2_length_len() as u16 - 1;
    put(&mut v, ei + variant::H2_LENGTH_LEN, &l.to_le_bytes());
    assert!(matches!(
        problem(&v).1,
        VariantProblem::H2Block(H2Problem::Hpack(e)) if e.kind == HpackErrorKind::StringPastEnd { len: 1 }
    ));
    // A block cut short by one byte.
    let mut v = good.clone();
    let l = with_nm.h2_head().len() as u32 - 1;
    put(&mut v, ei + variant::H2_LEN, &l.to_le_bytes());
    assert!(matches!(
        problem(&v).1,
        VariantProblem::H2Block(H2Problem::Hpack(_))
    ));
}

#[test]
fn block_bytes_break_their_rules() {
    let (good, _) = blob_to_vec(&sample()).unwrap();
    let blob = Blob::parse(&good).unwrap();
    let v200 = blob.lookup(b"/odd.txt").unwrap().variants().identity();
    let (i, h2) = (v200.index(), v200.h2_off() as usize);
    let nm = v200.not_modified().unwrap().h2_off as usize;

    // `:status: 200` (0x88) made 204 (0x89), or the 304's (0x8b) a 200.
    let mut v = good.clone();
    v[h2] = 0x89;
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2Block(H2Problem::StatusField { expected: 200 })
        )
    );
    let mut v = good.clone();
    v[nm] = 0x88;
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2NotModifiedBlock(H2Problem::StatusField { expected: 304 })
        )
    );
    // `content-length: 3` (raw "3", the part's last byte) made 4.
    let mut v = good.clone();
    let last = h2 + v200.h2_status_len() + v200.h2_length_len() - 1;
    assert_eq!(v[last], b'3');
    v[last] = b'4';
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2Block(H2Problem::LengthField { body_len: 3 })
        )
    );
    // The 404's status checked against its head: `:status: 404` (0x8d)
    // made `accept-charset:` (0x8f).
    let nf = blob.not_found().unwrap().identity();
    let mut v = good.clone();
    v[nf.h2_off() as usize] = 0x8f;
    assert_eq!(
        problem(&v),
        (
            nf.index(),
            VariantProblem::H2Block(H2Problem::StatusField { expected: 404 })
        )
    );

    // A table size update in place of the 304 block's `:status`.
    let mut v = good.clone();
    v[nm] = 0x20;
    assert_eq!(
        problem(&v),
        (
            i,
            VariantProblem::H2NotModifiedBlock(H2Problem::DynamicTable { offset: 0 })
        )
    );
    // A literal with incremental indexing: 0x00 (without indexing, new
    // name) made 0x40, which has the same layout.
    let (good, at) = with_raw_field(3, 3);
    let blob = Blob::parse(&good).unwrap();
    let t = blob.lookup(b"/t").unwrap().variants().identity();
    let mut v = good.clone();
    v[at] = 0x40;
    assert_eq!(
        problem(&v),
        (
            t.index(),
            VariantProblem::H2Block(H2Problem::DynamicTable {
                offset: at - t.h2_off() as usize
            })
        )
    );
    // A reference to the (empty) dynamic table: index 62, then the rest
    // of the representation's bytes as indexed static fields (0x8f).
    let mut v = good.clone();
    v[at] = 0x80 | 62;
    for b in &mut v[at + 1..at + 9] {
        *b = 0x8f;
    }
    let (_, p) = problem(&v);
    let VariantProblem::H2Block(H2Problem::Hpack(e)) = p else {
        panic!("{p:?}");
    };
    assert_eq!(e.kind, HpackErrorKind::IndexOutOfRange { index: 62 });
    assert_eq!(e.offset, at - t.h2_off() as usize);

    // Names and values: overwrite the raw field.
    for (name, value, want) in [
        (":path", "~~~", H2Problem::PseudoField),
        ("X-Up", "~~~", H2Problem::NameNotLowerToken),
        ("a b", "~~~", H2Problem::NameNotLowerToken),
        ("a/b", "~~~", H2Problem::NameNotLowerToken),
        ("connection", "~~~", H2Problem::ConnectionField),
        ("keep-alive", "~~~", H2Problem::ConnectionField),
        ("proxy-connection", "~~~", H2Problem::ConnectionField),
        ("transfer-encoding", "~~~", H2Problem::ConnectionField),
        ("upgrade", "~~~", H2Problem::ConnectionField),
        ("content-length", "~~~", H2Problem::ExtraContentLength),
        ("x", " ~~", H2Problem::ValueInvalid),
        ("x", "~~\t", H2Problem::ValueInvalid),
        ("x", "~\r~", H2Problem::ValueInvalid),
        ("x", "~\0~", H2Problem::ValueInvalid),
        ("x", "~\x7f~", H2Problem::ValueInvalid),
    ] {
        let (good, at) = with_raw_field(name.len(), value.len());
        let mut v = good.clone();
        put(&mut v, at + 2, name.as_bytes());
        put(&mut v, at + 3 + name.len(), value.as_bytes());
        assert_eq!(
            problem(&v).1,
            VariantProblem::H2Block(want),
            "{name}: {value:?}"
        );
        // The same bytes with a valid name and value pass.
        let mut v = good.clone();
        put(&mut v, at + 2, "x".repeat(name.len()).as_bytes());
        put(
            &mut v,
            at + 3 + name.len(),
            &"a\tb".repeat(3).as_bytes()[..value.len()],
        );
        Blob::parse_with(&v, Verify::SkipDigest).expect("a valid replacement");
    }

    // The header list bound: a field's bytes overwritten with indexed
    // `accept-charset:` (0x8f, 46 bytes of list size each): 2,000 of them
    // decode to 92,000 bytes, over 65,536.
    let (good, at) = with_raw_field(1, 2000);
    let blob = Blob::parse(&good).unwrap();
    let t = blob.lookup(b"/t").unwrap().variants().identity();
    let end = t.h2_off() as usize + t.h2_head().len();
    let mut v = good.clone();
    for b in &mut v[at..end] {
        *b = 0x8f;
    }
    assert_eq!(
        problem(&v),
        (t.index(), VariantProblem::H2Block(H2Problem::ListTooLarge))
    );
    assert!(Blob::parse_with(&v, Verify::SkipDigest)
        .unwrap_err()
        .to_string()
        .contains("header list is over 65536 bytes"));
}

#[test]
fn messages_say_which_block_and_rule() {
    let (good, _) = blob_to_vec(&sample()).unwrap();
    let blob = Blob::parse(&good).unwrap();
    let v200 = blob.lookup(b"/odd.txt").unwrap().variants().identity();
    let mut v = good.clone();
    v[v200.h2_off() as usize] = 0x89;
    let e = Blob::parse_with(&v, Verify::SkipDigest).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "invalid blob at offset {}: variant {}: HTTP/2 header block: its first field is not exactly `:status: 200`",
            entry(&blob, v200.index()),
            v200.index()
        )
    );
}
