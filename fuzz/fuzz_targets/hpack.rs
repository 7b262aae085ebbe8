//! The HPACK codec on arbitrary bytes.
//!
//! 1. Decoding: the input after its first byte is a run of blocks, each a
//!    length byte then that many bytes (a length of 255 instead lowers or
//!    raises the table limit to 16 × the next byte). Two decoders read them
//!    side by side: a small table (0 to 252 bytes, from the first byte) or
//!    4096, each once with tight output limits (4 fields, 64 to 316 bytes)
//!    and once with loose ones (256 fields, 64 KiB). Neither may panic; the tight one must find
//!    exactly the loose one's decoding errors, and otherwise keep its table
//!    the same (a limit of the output never costs table consistency); what
//!    it keeps is a prefix of the loose one's fields; no size goes over its
//!    bound.
//! 2. Encoding: the same bytes split at NUL into names and values, encoded
//!    static-only, must decode to the same fields (names lower-cased), add
//!    nothing to the table, and be the same bytes in a fixed buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarweb_format::hpack::{encode_field, encode_field_into, encoded_field_len, Decoder, Fields};

fn fields(f: &Fields) -> Vec<(&[u8], &[u8])> {
    f.iter().collect()
}

fn decode_side_by_side(ctl: u8, input: &[u8]) {
    let small = usize::from(ctl & 0x3f) * 4;
    let mut tight = Fields::new(64 + small, 4);
    let mut loose = Fields::new(1 << 16, 256);
    for capacity in [small, 4096] {
        let mut tight_d = Decoder::new(capacity);
        let mut loose_d = Decoder::new(capacity);
        let mut rest = input;
        while let Some((&len, tail)) = rest.split_first() {
            if len == 255 {
                let Some((&l, tail)) = tail.split_first() else {
                    break;
                };
                let limit = usize::from(l) * 16;
                let a = tight_d.set_limit(limit);
                let b = loose_d.set_limit(limit);
                assert_eq!(a, b);
                assert_eq!(a.is_ok(), limit <= capacity);
                rest = tail;
                continue;
            }
            let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
            rest = tail;
            let a = tight_d.decode(block, &mut tight);
            let b = loose_d.decode(block, &mut loose);
            for (d, f) in [(&tight_d, &tight), (&loose_d, &loose)] {
                assert!(d.table_size() <= d.table_max_size());
                assert!(d.table_max_size() <= d.capacity());
                assert!(d.table_len() * 32 <= d.table_size());
                assert!(f.list_size() <= f.max_list_size());
                assert!(f.len() <= f.max_fields());
                assert_eq!(f.iter().len(), f.len());
            }
            match &b {
                Err(e) if e.is_compression_error() => {
                    assert_eq!(a, b);
                    break; // The connection would end here.
                }
                _ => {
                    if let Err(e) = &a {
                        assert!(!e.is_compression_error(), "{e} (loose: {b:?})");
                    }
                    assert_eq!(tight_d.table_size(), loose_d.table_size());
                    assert_eq!(tight_d.table_len(), loose_d.table_len());
                    assert_eq!(tight_d.table_max_size(), loose_d.table_max_size());
                    let (t, l) = (fields(&tight), fields(&loose));
                    assert!(t.len() <= l.len() && t[..] == l[..t.len()]);
                    if a.is_ok() && b.is_ok() {
                        assert_eq!(t, l);
                    }
                }
            }
        }
    }
}

fn encode_round_trip(input: &[u8]) {
    let parts: Vec<&[u8]> = input.split(|&b| b == 0).collect();
    let pairs: Vec<(&[u8], &[u8])> = parts.chunks_exact(2).map(|c| (c[0], c[1])).collect();
    let mut block = Vec::new();
    let mut buf = [0u8; 512];
    for &(name, value) in &pairs {
        let start = block.len();
        encode_field(&mut block, name, value);
        let len = block.len() - start;
        assert_eq!(len, encoded_field_len(name, value));
        match encode_field_into(&mut buf, name, value) {
            Ok(n) => assert_eq!(&buf[..n], &block[start..]),
            Err(e) => assert!(e.needed == len && len > buf.len()),
        }
    }
    let mut d = Decoder::new(4096);
    // Exactly the room the list needs.
    let list_size = pairs.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
    let mut out = Fields::new(list_size, pairs.len());
    d.decode(&block, &mut out)
        .expect("the encoder's block decodes");
    assert_eq!(out.len(), pairs.len());
    for ((n, v), (name, value)) in out.iter().zip(&pairs) {
        assert_eq!(n, &name.to_ascii_lowercase()[..]);
        assert_eq!(v, *value);
    }
    assert_eq!(d.table_len(), 0);
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    decode_side_by_side(ctl, rest);
    encode_round_trip(rest);
});
