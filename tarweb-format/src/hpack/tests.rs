//! The codec as a whole: RFC 7541 Appendix C byte for byte, every refusal,
//! the limits, and random round trips against a model of the dynamic table.
//!
//! Over 600 lines on purpose: RFC 7541's examples and the decoder's table of errors, one test each.

use super::*;
use std::collections::VecDeque;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type List = Vec<(Vec<u8>, Vec<u8>)>;

fn list(fields: &Fields) -> List {
    fields
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> List {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn big_fields() -> Fields {
    Fields::new(1 << 20, 1000)
}

/// One step of an Appendix C example: a block, the header list it decodes
/// to, and the dynamic table after it, newest first, with its size.
struct Step<'a> {
    block: &'a str,
    fields: &'a [(&'a str, &'a str)],
    table: &'a [(&'a str, &'a str)],
    size: usize,
}

fn run(capacity: usize, steps: &[Step<'_>]) {
    let mut d = Decoder::new(capacity);
    let mut out = big_fields();
    for (i, s) in steps.iter().enumerate() {
        d.decode(&hex(s.block), &mut out).unwrap();
        assert_eq!(list(&out), owned(s.fields), "step {i}");
        assert_eq!(d.table_entries(), owned(s.table), "step {i}");
        assert_eq!(d.table_size(), s.size, "step {i}");
        let want_size: usize = s.table.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        assert_eq!(want_size, s.size, "the RFC's sizes, step {i}");
        assert_eq!(
            out.list_size(),
            s.fields.iter().map(|(n, v)| n.len() + v.len() + 32).sum()
        );
    }
}

#[test]
fn c2_field_representations() {
    // Each example starts with an empty table.
    run(
        4096,
        &[Step {
            block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            fields: &[("custom-key", "custom-header")],
            table: &[("custom-key", "custom-header")],
            size: 55,
        }],
    );
    run(
        4096,
        &[Step {
            block: "040c 2f73 616d 706c 652f 7061 7468",
            fields: &[(":path", "/sample/path")],
            table: &[],
            size: 0,
        }],
    );
    run(
        4096,
        &[Step {
            block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
            fields: &[("password", "secret")],
            table: &[],
            size: 0,
        }],
    );
    run(
        4096,
        &[Step {
            block: "82",
            fields: &[(":method", "GET")],
            table: &[],
            size: 0,
        }],
    );
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQ_TABLES: [&[(&str, &str)]; 3] = [
    &[(":authority", "www.example.com")],
    &[
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ],
    &[
        ("custom-key", "custom-value"),
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ],
];

fn requests(blocks: [&str; 3]) {
    let fields = [REQ1, REQ2, REQ3];
    let sizes = [57, 110, 164];
    let steps: Vec<Step<'_>> = (0..3)
        .map(|i| Step {
            block: blocks[i],
            fields: fields[i],
            table: REQ_TABLES[i],
            size: sizes[i],
        })
        .collect();
    run(4096, &steps);
}

#[test]
fn c3_requests_without_huffman() {
    requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
}

#[test]
fn c4_requests_with_huffman() {
    requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
}

const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOC: &str = "https://www.example.com";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

fn responses(blocks: [&str; 3]) {
    let r1 = [
        (":status", "302"),
        ("cache-control", "private"),
        ("date", DATE1),
        ("location", LOC),
    ];
    let r2 = [
        (":status", "307"),
        ("cache-control", "private"),
        ("date", DATE1),
        ("location", LOC),
    ];
    let r3 = [
        (":status", "200"),
        ("cache-control", "private"),
        ("date", DATE2),
        ("location", LOC),
        ("content-encoding", "gzip"),
        ("set-cookie", COOKIE),
    ];
    let t1 = [
        ("location", LOC),
        ("date", DATE1),
        ("cache-control", "private"),
        (":status", "302"),
    ];
    // ":status: 302" is evicted to make room for ":status: 307".
    let t2 = [
        (":status", "307"),
        ("location", LOC),
        ("date", DATE1),
        ("cache-control", "private"),
    ];
    let t3 = [
        ("set-cookie", COOKIE),
        ("content-encoding", "gzip"),
        ("date", DATE2),
    ];
    run(
        256,
        &[
            Step {
                block: blocks[0],
                fields: &r1,
                table: &t1,
                size: 222,
            },
            Step {
                block: blocks[1],
                fields: &r2,
                table: &t2,
                size: 222,
            },
            Step {
                block: blocks[2],
                fields: &r3,
                table: &t3,
                size: 215,
            },
        ],
    );
}

#[test]
fn c5_responses_without_huffman() {
    responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
}

#[test]
fn c6_responses_with_huffman() {
    responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
}

fn refuse(d: &mut Decoder, block: &[u8]) -> HpackError {
    d.decode(block, &mut big_fields()).unwrap_err()
}

fn refused(block: &[u8]) -> HpackError {
    refuse(&mut Decoder::new(4096), block)
}

#[test]
fn every_decoding_error_the_rfc_names() {
    use HpackErrorKind::*;
    let at = |offset, kind| HpackError { offset, kind };
    // Huffman: padding longer than 7 bits, padding with a zero, EOS.
    assert_eq!(
        refused(b"\x82\x04\x82\x1f\xff"),
        at(1, HuffmanPaddingTooLong)
    );
    assert_eq!(refused(b"\x04\x81\x1e"), at(0, HuffmanPaddingNotOnes));
    assert_eq!(refused(b"\x04\x84\xff\xff\xff\xff"), at(0, HuffmanEos));
    // A Huffman-coded name is checked as well.
    assert_eq!(refused(b"\x00\x81\xff\x00"), at(0, HuffmanPaddingTooLong));
    // A string longer than its block, in a name and in a value.
    assert_eq!(refused(b"\x40\x0acustom"), at(0, StringPastEnd { len: 10 }));
    assert_eq!(
        refused(b"\x40\x01a\x05abcd"),
        at(0, StringPastEnd { len: 5 })
    );
    let mut huge = vec![0x04];
    int(&mut huge, u32::MAX as usize, 7, 0);
    assert_eq!(refused(&huge), at(0, StringPastEnd { len: u32::MAX }));
    // Indices: 0, past the static table with an empty dynamic one, past both.
    assert_eq!(refused(b"\x80"), at(0, IndexZero));
    assert_eq!(refused(b"\x82\xbe"), at(1, IndexOutOfRange { index: 62 }));
    assert_eq!(refused(b"\x7e\x01a"), at(0, IndexOutOfRange { index: 62 }));
    assert_eq!(
        refused(b"\x0f\x2f\x01a"),
        at(0, IndexOutOfRange { index: 62 })
    );
    assert_eq!(
        refused(b"\x41\x01a\xbe\xbf"),
        at(4, IndexOutOfRange { index: 63 })
    );
    // Table size updates: after a field, above the limit.
    assert_eq!(refused(b"\x82\x20"), at(1, SizeUpdateNotAtStart));
    assert_eq!(
        refused(b"\x20\x82\x3f\xe1\x1f"),
        at(2, SizeUpdateNotAtStart)
    );
    assert_eq!(
        refused(b"\x3f\xe2\x1f"),
        at(
            0,
            SizeUpdateTooLarge {
                size: 4097,
                limit: 4096
            }
        )
    );
    // Integers: above u32, too many octets.
    assert_eq!(refused(b"\xff\xff\xff\xff\xff\x7f"), at(0, IntegerOverflow));
    assert_eq!(refused(b"\x3f\xff\xff\xff\xff\x7f"), at(0, IntegerOverflow));
    assert_eq!(
        refused(b"\x40\x7f\xff\xff\xff\xff\x7f"),
        at(0, IntegerOverflow)
    );
    assert_eq!(
        refused(b"\xff\x80\x80\x80\x80\x80\x00"),
        at(0, IntegerOverflow)
    );
    // Cut short: in an index, before a name, before a value.
    assert_eq!(refused(b"\x82\xff"), at(1, Truncated));
    assert_eq!(refused(b"\x40"), at(0, Truncated));
    assert_eq!(refused(b"\x40\x01a"), at(0, Truncated));
    assert_eq!(refused(b"\x04"), at(0, Truncated));
    // All of these end the connection.
    assert!(refused(b"\x80").is_compression_error());
    assert_eq!(
        refused(b"\x80").to_string(),
        "header block refused at byte 0: index 0"
    );
}

#[test]
fn an_error_leaves_the_fields_before_it() {
    let mut out = big_fields();
    let e = Decoder::new(4096)
        .decode(b"\x82\x87\x80", &mut out)
        .unwrap_err();
    assert_eq!(e.offset, 2);
    assert_eq!(
        list(&out),
        owned(&[(":method", "GET"), (":scheme", "https")])
    );
}

#[test]
fn empty_blocks_and_empty_strings() {
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    d.decode(b"", &mut out).unwrap();
    assert!(out.is_empty());
    // Empty name and value, raw and Huffman-coded (a zero-length Huffman
    // string has no padding at all).
    d.decode(b"\x40\x00\x00\x00\x80\x80", &mut out).unwrap();
    assert_eq!(list(&out), owned(&[("", ""), ("", "")]));
    assert_eq!((d.table_len(), d.table_size()), (1, 32));
    d.decode(b"\xbe", &mut out).unwrap();
    assert_eq!(list(&out), owned(&[("", "")]));
}

#[test]
fn size_update_to_zero_and_back() {
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    d.decode(
        &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        &mut out,
    )
    .unwrap();
    assert_eq!(d.table_len(), 1);
    // To 0: the table empties, and a new entry is not kept.
    d.decode(b"\x20\x41\x01a", &mut out).unwrap();
    assert_eq!(
        (d.table_len(), d.table_size(), d.table_max_size()),
        (0, 0, 0)
    );
    assert_eq!(list(&out), owned(&[(":authority", "a")]));
    assert_eq!(
        refuse(&mut d, b"\xbe").kind,
        HpackErrorKind::IndexOutOfRange { index: 62 }
    );
    // Still 0 in the next block, without an update.
    d.decode(b"\x41\x01b", &mut out).unwrap();
    assert_eq!(d.table_len(), 0);
    // 0, then back to 4096, in one block: two updates at the start.
    d.decode(b"\x20\x3f\xe1\x1f\x41\x01c\xbe", &mut out)
        .unwrap();
    assert_eq!(
        list(&out),
        owned(&[(":authority", "c"), (":authority", "c")])
    );
    assert_eq!((d.table_len(), d.table_max_size()), (1, 4096));
    // An update to the size it has, and an empty block of updates, are fine.
    d.decode(b"\x3f\xe1\x1f", &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(d.table_len(), 1);
}

#[test]
fn size_updates_evict_oldest_first() {
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    // Three entries of 34 bytes of size each.
    d.decode(
        b"\x40\x01a\x01\x31\x40\x01b\x01\x32\x40\x01c\x01\x33",
        &mut out,
    )
    .unwrap();
    assert_eq!(d.table_size(), 102);
    // An update to 70 keeps the two newest.
    d.decode(b"\x3f\x27", &mut out).unwrap();
    assert_eq!(d.table_entries(), owned(&[("c", "3"), ("b", "2")]));
    assert_eq!(d.table_max_size(), 70);
    // A new entry evicts "b".
    d.decode(b"\x40\x01d\x01\x34", &mut out).unwrap();
    assert_eq!(d.table_entries(), owned(&[("d", "4"), ("c", "3")]));
    // An entry naming the one it evicts (§4.4): "c" is index 63, the
    // oldest, evicted to make room, but its name is read first.
    d.decode(b"\x7f\x00\x01\x35", &mut out).unwrap();
    assert_eq!(list(&out), owned(&[("c", "5")]));
    assert_eq!(d.table_entries(), owned(&[("c", "5"), ("d", "4")]));
}

#[test]
fn set_limit_requires_an_update() {
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    d.decode(b"\x41\x01a", &mut out).unwrap();
    assert_eq!(
        d.set_limit(4097),
        Err(LimitAboveCapacity {
            limit: 4097,
            capacity: 4096
        })
    );
    d.set_limit(1024).unwrap();
    assert_eq!(d.limit(), 1024);
    // A block without an update, an empty block, an update too large.
    use HpackErrorKind::*;
    assert_eq!(
        refuse(&mut d, b"\x82").kind,
        SizeUpdateMissing { limit: 1024 }
    );
    assert_eq!(refuse(&mut d, b"").kind, SizeUpdateMissing { limit: 1024 });
    assert_eq!(
        refuse(&mut d, b"\x3f\xe2\x0f").kind,
        SizeUpdateTooLarge {
            size: 2049,
            limit: 1024
        }
    );
    // An update to 2048 is too large; to 1024 acknowledges the limit.
    d.decode(b"\x3f\xe1\x07\x82", &mut out).unwrap();
    assert_eq!(d.table_max_size(), 1024);
    assert_eq!(d.table_len(), 1);
    d.decode(b"\x82", &mut out).unwrap();
    // Raising the limit needs no update; a peer may then grow its table.
    d.set_limit(4096).unwrap();
    d.decode(b"\x82", &mut out).unwrap();
    d.decode(b"\x3f\xe1\x1f\x82", &mut out).unwrap();
    assert_eq!(d.table_max_size(), 4096);
    // Lowered twice before a block: the smallest must be acknowledged,
    // then the table may grow up to the final limit (§4.2).
    d.set_limit(100).unwrap();
    d.set_limit(2048).unwrap();
    assert_eq!(
        refuse(&mut d, b"\x3f\xe1\x0f\x82").kind,
        SizeUpdateMissing { limit: 100 }
    );
    d.decode(b"\x3f\x45\x3f\xe1\x0f\x82", &mut out).unwrap();
    assert_eq!(d.table_max_size(), 2048);
}

#[test]
fn too_many_fields_keeps_the_table_consistent() {
    // C.3.3 into room for 2 fields: the third and later are dropped, the
    // table still gets "custom-key: custom-value".
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    d.decode(
        &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        &mut out,
    )
    .unwrap();
    d.decode(&hex("8286 84be 5808 6e6f 2d63 6163 6865"), &mut out)
        .unwrap();
    let mut small = Fields::new(4096, 2);
    let block = hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
    let e = d.decode(&block, &mut small).unwrap_err();
    assert_eq!(
        e,
        HpackError {
            offset: 2,
            kind: HpackErrorKind::TooManyFields
        }
    );
    assert!(!e.is_compression_error());
    assert_eq!(
        list(&small),
        owned(&[(":method", "GET"), (":scheme", "https")])
    );
    assert_eq!(d.table_entries(), owned(REQ_TABLES[2]));
    // And the connection goes on: the next block sees the same table.
    d.decode(b"\xbe\xc0", &mut out).unwrap();
    assert_eq!(
        list(&out),
        owned(&[
            ("custom-key", "custom-value"),
            (":authority", "www.example.com")
        ])
    );
}

#[test]
fn header_list_too_large_keeps_the_table_consistent() {
    // Limits of 0 to 300 bytes of list size on the same 3-block sequence:
    // whatever the limit, the table ends as without one.
    let blocks = [
        hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        hex("8286 84be 5886 a8eb 1064 9cbf"),
        hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    ];
    for max in 0..300 {
        let mut d = Decoder::new(4096);
        let mut out = Fields::new(max, 100);
        for (i, block) in blocks.iter().enumerate() {
            let full = [REQ1, REQ2, REQ3][i];
            let total: usize = full.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
            match d.decode(block, &mut out) {
                Ok(()) => {
                    assert!(total <= max);
                    assert_eq!(list(&out), owned(full));
                }
                Err(e) => {
                    assert!(total > max, "{max}");
                    assert_eq!(e.kind, HpackErrorKind::HeaderListTooLarge);
                    // What was kept is a prefix of the list, within the limit.
                    assert!(out.list_size() <= max);
                    assert_eq!(list(&out), owned(&full[..out.len()]));
                    assert_eq!(e.offset, block_offset(block, out.len()));
                }
            }
            assert_eq!(d.table_entries(), owned(REQ_TABLES[i]), "{max} {i}");
        }
    }
}

/// The offset of representation `i` in a block of one-byte indexed fields
/// and literals (enough for the Appendix C requests).
fn block_offset(block: &[u8], i: usize) -> usize {
    let mut pos = 0;
    for _ in 0..i {
        let b = block[pos];
        pos += 1;
        if b & 0x80 == 0 {
            if b & 0x3f == 0 {
                pos += 1 + usize::from(block[pos] & 0x7f);
            }
            pos += 1 + usize::from(block[pos] & 0x7f);
        }
    }
    pos
}

#[test]
fn a_decoding_error_after_a_limit_wins() {
    let mut d = Decoder::new(4096);
    let mut out = Fields::new(4096, 1);
    // Two fields for room for one, then an index out of range.
    let e = d.decode(b"\x82\x86\xff\x00", &mut out).unwrap_err();
    assert_eq!(e.kind, HpackErrorKind::IndexOutOfRange { index: 127 });
    assert!(e.is_compression_error());
    // A bad Huffman string in a field past the limit is found too, added
    // to the table or not.
    for block in [&b"\x82\x86\x04\x81\x1e"[..], b"\x82\x86\x44\x81\x1e"] {
        let e = d.decode(block, &mut out).unwrap_err();
        assert_eq!(e.kind, HpackErrorKind::HuffmanPaddingNotOnes);
    }
}

#[test]
fn hpack_bomb_is_bounded() {
    // A 4000-byte entry, then a block referencing it 10,000 times: refused
    // at the limit, in one pass, without growing anything.
    let mut d = Decoder::new(4096);
    let mut out = Fields::new(16 * 1024, 128);
    let mut first = vec![0x40, 0x01, b'x', 0x7f];
    first.extend(encode_int_7(4000 - 127));
    first.extend(std::iter::repeat_n(b'y', 4000));
    d.decode(&first, &mut out).unwrap();
    let bomb = vec![0xbe; 10_000];
    let e = d.decode(&bomb, &mut out).unwrap_err();
    assert_eq!(e.kind, HpackErrorKind::HeaderListTooLarge);
    assert_eq!(out.len(), 4); // 4 × 4033 fit in 16 KiB, 5 do not.
    assert_eq!(e.offset, 4);
    assert_eq!(d.table_len(), 1);
}

fn encode_int_7(mut rest: usize) -> Vec<u8> {
    let mut v = Vec::new();
    while rest >= 0x80 {
        v.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    v.push(rest as u8);
    v
}

#[test]
fn table_size_abuse() {
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    // An update above the limit is refused.
    let mut huge = Vec::new();
    int(&mut huge, u32::MAX as usize, 5, 0x20);
    assert_eq!(
        refuse(&mut d, &huge).kind,
        HpackErrorKind::SizeUpdateTooLarge {
            size: u32::MAX,
            limit: 4096
        }
    );
    // Entries of every size up to twice the capacity: the table never
    // holds more than its maximum, and one larger empties it.
    for len in (0..8200).step_by(37) {
        let mut block = vec![0x40, 0x01, b'n', 0x7f];
        block.extend(encode_int_7(len - len.min(127)));
        block.truncate(if len < 127 { 3 } else { block.len() });
        if len < 127 {
            block.push(len as u8);
        }
        block.extend(std::iter::repeat_n(b'v', len));
        d.decode(&block, &mut out).unwrap();
        assert!(d.table_size() <= 4096);
        let fits = 1 + len + 32 <= 4096;
        assert_eq!(d.table_len() >= 1, fits, "{len}");
    }
    // Thousands of size updates in one block: linear, and the last counts.
    let mut block = Vec::new();
    for _ in 0..5000 {
        block.extend([0x3f, 0xe1, 0x1f, 0x20]);
    }
    block.extend([0x3f, 0xe1, 0x0f]);
    d.decode(&block, &mut out).unwrap();
    assert_eq!((d.table_max_size(), d.table_len()), (2048, 0));
    // A table of 0 capacity never keeps anything, and refuses any update
    // but to 0.
    let mut d = Decoder::new(0);
    d.decode(b"\x20\x40\x01a\x01b\x40\x00\x00", &mut out)
        .unwrap();
    assert_eq!((d.table_len(), d.table_size()), (0, 0));
    assert_eq!(list(&out), owned(&[("a", "b"), ("", "")]));
    assert!(matches!(
        refuse(&mut d, b"\x21").kind,
        HpackErrorKind::SizeUpdateTooLarge { size: 1, limit: 0 }
    ));
}

#[test]
fn encoder_output_decodes_to_its_fields() {
    let fields = [
        (":status", "200"),
        (":status", "304"),
        (":status", "302"),
        ("Content-Type", "text/html; charset=utf-8"),
        ("content-length", "1234"),
        ("ETag", "\"AbCdEf0123456789\""),
        ("last-modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ("cache-control", "no-cache"),
        ("vary", "accept-encoding"),
        ("content-encoding", "br"),
        ("accept-ranges", "bytes"),
        ("X-Frame-Options", "DENY"),
        ("x-empty", ""),
        ("x-bin", "\u{1}\u{7f}\u{ff}"),
    ];
    let mut block = Vec::new();
    for (n, v) in fields {
        encode_field(&mut block, n.as_bytes(), v.as_bytes());
    }
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    // Twice: a static-only block leaves the table empty.
    for _ in 0..2 {
        d.decode(&block, &mut out).unwrap();
        let want: List = fields
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase().into_bytes(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(list(&out), want);
        assert_eq!(d.table_len(), 0);
    }
}

/// xorshift64*: deterministic random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        // Mostly text, sometimes any byte.
        let any = self.below(4) == 0;
        (0..len)
            .map(|_| {
                if any {
                    self.next() as u8
                } else {
                    b"abcdefghijklmnopqrstuvwxyz0123456789-/.:; ="[self.below(43)]
                }
            })
            .collect()
    }
}

#[test]
fn random_static_only_round_trips() {
    let mut rng = Rng(0x5eed_0001);
    let mut d = Decoder::new(4096);
    let mut out = big_fields();
    let mut fixed = vec![0u8; 8192];
    for _ in 0..2000 {
        let mut block = Vec::new();
        let mut want = List::new();
        for _ in 0..rng.below(30) {
            let (name, value) = match rng.below(3) {
                0 => {
                    let (n, v) = STATIC_TABLE[rng.below(61)];
                    (n.to_vec(), v.to_vec())
                }
                1 => (STATIC_TABLE[rng.below(61)].0.to_vec(), rng.bytes(300)),
                _ => (rng.bytes(40), rng.bytes(300)),
            };
            let n = encode_field_into(&mut fixed, &name, &value).unwrap();
            let start = block.len();
            encode_field(&mut block, &name, &value);
            assert_eq!(&block[start..], &fixed[..n]);
            want.push((name.to_ascii_lowercase(), value));
        }
        d.decode(&block, &mut out).unwrap();
        assert_eq!(list(&out), want);
        assert_eq!(d.table_len(), 0);
    }
}

/// A test encoder that uses every representation, against a model of the
/// dynamic table written from RFC 7541 §4 as plainly as possible.
struct Model {
    entries: VecDeque<(Vec<u8>, Vec<u8>)>,
    max_size: usize,
}

impl Model {
    fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|(n, v)| n.len() + v.len() + 32)
            .sum()
    }
    fn evict(&mut self) {
        while self.size() > self.max_size {
            self.entries.pop_back();
        }
    }
    fn insert(&mut self, n: Vec<u8>, v: Vec<u8>) {
        if n.len() + v.len() + 32 > self.max_size {
            self.entries.clear();
        } else {
            self.entries.push_front((n, v));
            self.evict();
        }
    }
    fn get(&self, index: usize) -> (Vec<u8>, Vec<u8>) {
        if index <= 61 {
            let (n, v) = STATIC_TABLE[index - 1];
            (n.to_vec(), v.to_vec())
        } else {
            self.entries[index - 62].clone()
        }
    }
}

fn int(out: &mut Vec<u8>, v: usize, prefix: u8, flags: u8) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(flags | v as u8);
    } else {
        out.push(flags | max as u8);
        out.extend(encode_int_7(v - max));
    }
}

fn string(out: &mut Vec<u8>, s: &[u8], rng: &mut Rng) {
    if rng.below(2) == 0 {
        let mut coded = vec![0; super::huffman::encoded_len(s, false)];
        super::huffman::encode(&mut super::cursor::Cursor::new(&mut coded), s, false);
        int(out, coded.len(), 7, 0x80);
        out.extend(coded);
    } else {
        int(out, s.len(), 7, 0);
        out.extend(s);
    }
}

#[test]
fn random_round_trips_through_the_dynamic_table() {
    for (seed, capacity) in [(1, 4096), (2, 256), (3, 100), (4, 0), (5, 65536)] {
        let mut rng = Rng(0x5eed_1000 + seed);
        let mut d = Decoder::new(capacity);
        let mut model = Model {
            entries: VecDeque::new(),
            max_size: capacity,
        };
        let mut out = big_fields();
        for round in 0..1500 {
            let mut block = Vec::new();
            let mut want = List::new();
            for _ in 0..rng.below(3) {
                if rng.below(4) == 0 {
                    let size = rng.below(capacity + 1);
                    int(&mut block, size, 5, 0x20);
                    model.max_size = size;
                    model.evict();
                }
            }
            for _ in 0..rng.below(20) {
                let dynamic = model.entries.len();
                let any_index = |rng: &mut Rng| 1 + rng.below(61 + dynamic);
                let (name, value) = match rng.below(6) {
                    // Indexed.
                    0 => {
                        let i = any_index(&mut rng);
                        int(&mut block, i, 7, 0x80);
                        model.get(i)
                    }
                    // Literal name, or indexed name, then a value; added
                    // to the table, not, or never.
                    r => {
                        let (prefix, flags) = [(6, 0x40), (4, 0x00), (4, 0x10)][r % 3];
                        let name = if r < 3 {
                            let i = any_index(&mut rng);
                            int(&mut block, i, prefix, flags);
                            model.get(i).0
                        } else {
                            block.push(flags);
                            let n = rng.bytes(30);
                            string(&mut block, &n, &mut rng);
                            n
                        };
                        let max = if rng.below(10) == 0 { 3000 } else { 60 };
                        let value = rng.bytes(max);
                        string(&mut block, &value, &mut rng);
                        if flags == 0x40 {
                            model.insert(name.clone(), value.clone());
                        }
                        (name, value)
                    }
                };
                want.push((name, value));
            }
            d.decode(&block, &mut out)
                .unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"));
            assert_eq!(list(&out), want, "seed {seed} round {round}");
            let entries: List = model.entries.iter().cloned().collect();
            assert_eq!(d.table_entries(), entries, "seed {seed} round {round}");
            assert_eq!(d.table_size(), model.size());
            assert!(d.table_size() <= capacity);
        }
    }
}

#[test]
fn fields_accessors() {
    let mut out = Fields::new(100, 3);
    assert_eq!((out.max_list_size(), out.max_fields()), (100, 3));
    Decoder::new(4096).decode(b"\x82\x87", &mut out).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out.get(1), Some((&b":scheme"[..], &b"https"[..])));
    assert_eq!(out.get(2), None);
    assert_eq!(out.iter().len(), 2);
    assert_eq!((&out).into_iter().count(), 2);
    assert_eq!(out.list_size(), 7 + 3 + 32 + 7 + 5 + 32);
    assert_eq!(format!("{out:?}"), r#"[":method: GET", ":scheme: https"]"#);
    let mut d = Decoder::new(4096);
    d.decode(b"\x41\x01a", &mut out).unwrap();
    assert_eq!(
        format!("{d:?}"),
        "Decoder { capacity: 4096, limit: 4096, pending_limit: None, table_len: 1, \
         table_size: 43, table_max_size: 4096 }"
    );
    out.clear();
    assert!(out.is_empty() && out.get(0).is_none());
    // A field of exactly the room left fits.
    let mut out = Fields::new(42, 3);
    Decoder::new(0).decode(b"\x82", &mut out).unwrap();
    let mut out = Fields::new(41, 3);
    let e = Decoder::new(0).decode(b"\x82", &mut out).unwrap_err();
    assert_eq!(e.kind, HpackErrorKind::HeaderListTooLarge);
}

#[test]
fn table_changes_are_found_without_decoding() {
    // C.2: with incremental indexing changes the table; without and
    // never indexed do not, nor does an indexed field.
    let with = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    assert_eq!(first_table_change(&with), Ok(Some(0)));
    for block in [
        "040c 2f73 616d 706c 652f 7061 7468",
        "1008 7061 7373 776f 7264 0673 6563 7265 74",
        "82",
        "",
    ] {
        assert_eq!(first_table_change(&hex(block)), Ok(None), "{block}");
    }
    // C.4.1: three indexed fields, then `:authority` with indexing, its
    // value Huffman-coded.
    let c41 = hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
    assert_eq!(first_table_change(&c41), Ok(Some(3)));
    // A size update, at the start or later (0x3f e1 1f: 4096).
    assert_eq!(first_table_change(&hex("20 88")), Ok(Some(0)));
    assert_eq!(first_table_change(&hex("88 3fe11f")), Ok(Some(1)));
    // Everything the encoder writes is free of them.
    let mut block = Vec::new();
    for (n, v) in [
        (":status", "302"),
        ("content-type", "text/html"),
        ("x-custom-name", "some value that is long enough"),
        ("etag", "\"3f1a\""),
        ("x-raw", "\u{7f}\u{7f}\u{7f}"),
    ] {
        encode_field(&mut block, n.as_bytes(), v.as_bytes());
        assert_eq!(first_table_change(&block), Ok(None), "{n}");
    }
    // A representation cut short is refused where it starts, like decode.
    for cut in 1..block.len() {
        let r = first_table_change(&block[..cut]);
        if let Err(e) = r {
            assert_eq!(e, refused(&block[..cut]), "cut at {cut}");
        }
    }
    assert_eq!(
        first_table_change(&hex("0f")),
        Err(HpackError {
            offset: 0,
            kind: HpackErrorKind::Truncated
        })
    );
    assert_eq!(
        first_table_change(&hex("0005 6162")),
        Err(HpackError {
            offset: 0,
            kind: HpackErrorKind::StringPastEnd { len: 5 }
        })
    );
}
