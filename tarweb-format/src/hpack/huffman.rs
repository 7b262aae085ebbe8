//! The Huffman code of RFC 7541 Appendix B: encoding, and a decoder that
//! reads four bits per table look-up from a state machine built at compile
//! time (the approach of nghttp2 and others).
//!
//! The code is canonical: within one length, codes go up with the symbol,
//! and each length's first code follows the last shorter one. So the 257
//! lengths of Appendix B determine every code; [`CODES`] is computed from
//! [`LENGTHS`], and the build fails if they do not make a complete prefix
//! code (a test checks the codes against Appendix C and a reference
//! encoding of every byte).
//!
//! Decoding: the code tree has 257 leaves and so 256 inner nodes. A state
//! is an inner node (0 is the root, where every symbol starts); [`DECODE`]
//! says, for each state and each 4-bit nibble, the state after the nibble,
//! and the symbol completed on the way, if any (codes are 5 bits or longer,
//! so a nibble completes at most one). Reaching EOS sets a flag. Where a
//! string ends, its padding is the path from the root to the state: valid
//! only if it is all ones and at most 7 bits long ([`PAD`]).

use super::cursor::Cursor;
use super::HpackErrorKind;

/// Code length in bits of each symbol: bytes 0 to 255, then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

/// EOS, the symbol after the 256 bytes.
const EOS: usize = 256;

/// (code, length) of every symbol, the code in the low `length` bits
/// (a `const` to build [`TREE`] from, a `static` for the encoder to read:
/// a `const` array indexed at run time may be copied per use).
const CODES: [(u32, u8); 257] = canonical_codes();
static CODE_TABLE: [(u32, u8); 257] = CODES;

const fn canonical_codes() -> [(u32, u8); 257] {
    let mut codes = [(0u32, 0u8); 257];
    let mut code = 0u32;
    let mut prev_len = 0u8;
    let mut first = true;
    let mut len = 1u8;
    while len <= 30 {
        let mut sym = 0;
        while sym < 257 {
            if LENGTHS[sym] == len {
                if first {
                    first = false;
                } else {
                    code = (code + 1) << (len - prev_len);
                }
                prev_len = len;
                codes[sym] = (code, len);
            }
            sym += 1;
        }
        len += 1;
    }
    codes
}

/// The code tree: `TREE[node][bit]` is an inner node (below 256) or
/// `256 + symbol` (a leaf).
const TREE: [[u16; 2]; 256] = build_tree();

const fn build_tree() -> [[u16; 2]; 256] {
    // 0 means "no child yet": the root is nobody's child.
    let mut tree = [[0u16; 2]; 256];
    let mut next = 1u16;
    let mut sym = 0;
    while sym < 257 {
        let (code, len) = CODES[sym];
        assert!(len >= 5 && len <= 30);
        let mut node = 0usize;
        let mut bit_at = len - 1;
        while bit_at > 0 {
            let bit = ((code >> bit_at) & 1) as usize;
            if tree[node][bit] == 0 {
                assert!(next < 256, "more than 256 inner nodes: not a prefix code");
                tree[node][bit] = next;
                next += 1;
            }
            assert!(
                tree[node][bit] < 256,
                "a code extends another: not a prefix code"
            );
            node = tree[node][bit] as usize;
            bit_at -= 1;
        }
        let bit = (code & 1) as usize;
        assert!(tree[node][bit] == 0, "two codes are equal");
        tree[node][bit] = 256 + sym as u16;
        sym += 1;
    }
    // 257 leaves and 256 inner nodes, every child set: a complete code.
    assert!(next == 256, "the code is not complete");
    let mut node = 0;
    while node < 256 {
        assert!(
            tree[node][0] != 0 && tree[node][1] != 0,
            "the code is not complete"
        );
        node += 1;
    }
    tree
}

/// A [`Step`] completes a symbol: [`Step::sym`] is it.
const EMIT: u8 = 1;
/// A [`Step`] reaches EOS: the string is invalid.
const FAIL: u8 = 2;

/// One transition of the decoder: from a state, on one nibble.
#[derive(Clone, Copy)]
struct Step {
    /// The state after the nibble.
    state: u8,
    /// The symbol completed, if `flags` has [`EMIT`] (else 0, unused).
    sym: u8,
    /// [`EMIT`] and [`FAIL`].
    flags: u8,
}

/// `DECODE[state << 4 | nibble]`, 4096 steps of 3 bytes (12 KiB).
static DECODE: [Step; 4096] = build_decode();

const fn build_decode() -> [Step; 4096] {
    let mut steps = [Step {
        state: 0,
        sym: 0,
        flags: 0,
    }; 4096];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let (mut sym, mut flags) = (0u8, 0u8);
            let mut bit_at = 4;
            while bit_at > 0 {
                bit_at -= 1;
                let child = TREE[node][(nibble >> bit_at) & 1] as usize;
                if child < 256 {
                    node = child;
                } else {
                    if child - 256 == EOS {
                        flags |= FAIL;
                    } else {
                        flags |= EMIT;
                        sym = (child - 256) as u8;
                    }
                    node = 0;
                }
            }
            steps[state << 4 | nibble] = Step {
                state: node as u8,
                sym,
                flags,
            };
            nibble += 1;
        }
        state += 1;
    }
    steps
}

/// A string may end in this state: its padding is 0 to 7 one bits.
const PAD_OK: u8 = 0;
/// The path to this state is all ones but longer than 7 bits.
const PAD_TOO_LONG: u8 = 1;
/// The path to this state has a zero bit.
const PAD_NOT_ONES: u8 = 2;

/// What ending a string in each state means.
static PAD: [u8; 256] = build_pad();

const fn build_pad() -> [u8; 256] {
    // Inner nodes are numbered in creation order, parents before children,
    // so one pass from the root sees each parent's class first.
    let mut pad = [PAD_NOT_ONES; 256];
    let mut depth = [0u8; 256];
    let mut ones = [false; 256];
    ones[0] = true;
    pad[0] = PAD_OK;
    let mut node = 0;
    while node < 256 {
        let mut bit = 0;
        while bit < 2 {
            let child = TREE[node][bit] as usize;
            if child < 256 {
                depth[child] = depth[node] + 1;
                ones[child] = ones[node] && bit == 1;
                pad[child] = if !ones[child] {
                    PAD_NOT_ONES
                } else if depth[child] <= 7 {
                    PAD_OK
                } else {
                    PAD_TOO_LONG
                };
            }
            bit += 1;
        }
        node += 1;
    }
    pad
}

/// The Huffman-coded length in bytes of `src` (ASCII-lower-cased if `lower`).
pub(crate) fn encoded_len(src: &[u8], lower: bool) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| {
            let b = if lower { b.to_ascii_lowercase() } else { b };
            usize::from(CODE_TABLE[usize::from(b)].1)
        })
        .sum();
    bits.div_ceil(8)
}

/// Pushes the Huffman coding of `src` (ASCII-lower-cased if `lower`),
/// padded with ones to a whole byte.
pub(crate) fn encode(out: &mut Cursor<'_>, src: &[u8], lower: bool) {
    // Pending bits in the low `bits` bits; at most 7 + 30 of them.
    let (mut acc, mut bits) = (0u64, 0u32);
    for &b in src {
        let b = if lower { b.to_ascii_lowercase() } else { b };
        let (code, len) = CODE_TABLE[usize::from(b)];
        acc = acc << len | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        out.push((acc << (8 - bits)) as u8 | 0xff >> bits);
    }
}

/// Decodes `src` into `dst`, returning the decoded length.
///
/// The whole of `src` is always read and checked. A length above
/// `dst.len()` means the string did not fit: then only a prefix of it is in
/// `dst`. `dst` may be written one byte past the decoded length.
#[inline]
pub(crate) fn decode(src: &[u8], dst: &mut [u8]) -> Result<usize, HpackErrorKind> {
    let (mut state, mut n, mut flags) = (0usize, 0usize, 0u8);
    for &b in src {
        for nibble in [b >> 4, b & 0x0f] {
            let step = DECODE[(state << 4 | usize::from(nibble)) & 0xfff];
            // Written whether or not a symbol is completed: the next one
            // overwrites a byte that is not one. No branch on the data.
            if let Some(slot) = dst.get_mut(n) {
                *slot = step.sym;
            }
            n += usize::from(step.flags & EMIT);
            flags |= step.flags;
            state = usize::from(step.state);
        }
    }
    if flags & FAIL != 0 {
        return Err(HpackErrorKind::HuffmanEos);
    }
    match PAD[state & 0xff] {
        PAD_OK => Ok(n),
        PAD_TOO_LONG => Err(HpackErrorKind::HuffmanPaddingTooLong),
        _ => Err(HpackErrorKind::HuffmanPaddingNotOnes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn enc(src: &[u8]) -> Vec<u8> {
        let mut v = vec![0; encoded_len(src, false)];
        let mut c = Cursor::new(&mut v);
        encode(&mut c, src, false);
        assert_eq!(c.pos(), v.len());
        v
    }

    fn dec(src: &[u8]) -> Result<Vec<u8>, HpackErrorKind> {
        let mut v = vec![0; src.len() * 8 / 5 + 1];
        let n = decode(src, &mut v)?;
        v.truncate(n);
        Ok(v)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn codes_from_appendix_b() {
        assert_eq!(CODES[0], (0x1ff8, 13));
        assert_eq!(CODES[usize::from(b' ')], (0x14, 6));
        assert_eq!(CODES[usize::from(b'0')], (0x0, 5));
        assert_eq!(CODES[usize::from(b'a')], (0x3, 5));
        assert_eq!(CODES[usize::from(b'z')], (0x7b, 7));
        assert_eq!(CODES[usize::from(b'~')], (0x1ffd, 13));
        assert_eq!(CODES[255], (0x3ffffee, 26));
        assert_eq!(CODES[EOS], (0x3fffffff, 30));
    }

    /// Every byte 0 to 255 in order, Huffman-coded by an independent
    /// implementation (Python's `hpack` 4.2.0).
    const ALL_BYTES: &str = "\
        ffc7fffd8fffffe2fffffe3fffffe4fffffe5fffffe6fffffe7fffffe8ffffeafffffff3\
        fffffa7fffffabffffffdfffffebfffffecfffffedfffffeefffffefffffff0ffffff1ff\
        ffff2fffffffbfffffcffffffd3fffffd7fffffdbfffffdffffffe3fffffe7fffffebfff\
        ffed4fe3f9ffaffcabf1febfafefe7fdfd2cbb00089969b71d79fb9f7fff20ffbff3ff50\
        ddbd7f061c58f265cd9f469d5af66dddbf871e5f9cff7ff7fffc3ff9ffe45fff4719242c\
        b34e6e9d68a6a3d7dac426defe3cfaf7fffbfe7ffbffdffffffcfffe6ffff4bfff9ffffa\
        3fffd3ffff53fffd5ffffb3fffeb7fffdaffffb7ffff73fffeeffffdeffffebffffbffff\
        fd9ffffdbfffebffffe0ffffeeffffc3ffff8bffff1ffffe4fffee7fffb1ffff97fffd9f\
        fffcdffff9fffffbffffdafffeeffff4ffffb7fffee7fffe8ffffd3fffdeffffd5fffeef\
        fffbdffffe1fffdfffff7fffff5ffffecffff07fff87fffe0ffff17fffedffff87ffff77\
        fffeffffeaffff8bfffe3ffff93ffff87fffcbffff37ffff1fffff83ffffe1fffebfffe3\
        ffff3fffff2ffffa3ffffd9fffff17ffffc7fffff27ffffdefffffbffffff2fffff8ffff\
        fb7fff97fff8fffffe6fffffc1fffff87ffffe7fffffc5ffffe5fffe4ffff2fffffd1fff\
        ff4ffffffefffffe3fffffc9fffff97fffb3ffffcffffb7fffcdffff4ffff9ffffd1ffff\
        cffffeaffffafffffddffffeffffff4fffff5fffffabffffa7ffffd7fffff9bffffecfff\
        ffb7fffff3fffffe8fffffd3fffffabfffff5fffffff7ffffecfffffdbfffffbbfffff7f\
        fffff0fffffbbf";

    #[test]
    fn every_byte_as_a_reference_encodes_it() {
        let all: Vec<u8> = (0..=255).collect();
        let want = hex(ALL_BYTES);
        assert_eq!(enc(&all), want);
        assert_eq!(dec(&want).unwrap(), all);
    }

    #[test]
    fn appendix_c_strings() {
        for (text, coded) in [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("private", "aec3 771a 4b"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            ),
            (
                "https://www.example.com",
                "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
            ),
            ("gzip", "9bd9 ab"),
        ] {
            assert_eq!(enc(text.as_bytes()), hex(coded), "{text}");
            assert_eq!(dec(&hex(coded)).unwrap(), text.as_bytes(), "{text}");
        }
        assert_eq!(enc(b""), b"");
        assert_eq!(dec(b"").unwrap(), b"");
    }

    #[test]
    fn lower_casing_while_encoding() {
        let mut v = vec![0; encoded_len(b"Content-Type", true)];
        encode(&mut Cursor::new(&mut v), b"Content-Type", true);
        assert_eq!(v, enc(b"content-type"));
    }

    #[test]
    fn padding_rules() {
        use HpackErrorKind::*;
        // 'a' is 00011: then three bits of padding, all ones.
        assert_eq!(dec(&[0b0001_1111]).unwrap(), b"a");
        // 'A' is 100001: two bits of padding.
        assert_eq!(dec(&[0b1000_0111]).unwrap(), b"A");
        // Padding with a zero in it.
        assert_eq!(dec(&[0b0001_1110]), Err(HuffmanPaddingNotOnes));
        assert_eq!(dec(&[0b0001_1011]), Err(HuffmanPaddingNotOnes));
        // 1111111 0 is the start of a 10-bit code, not padding.
        assert_eq!(dec(&[0b1111_1110]), Err(HuffmanPaddingNotOnes));
        // 'a' then 11 bits of ones; a lone byte of ones; '0' (00000) then 11.
        assert_eq!(dec(&[0b0001_1111, 0xff]), Err(HuffmanPaddingTooLong));
        assert_eq!(dec(&[0xff]), Err(HuffmanPaddingTooLong));
        assert_eq!(dec(&[0b0000_0111, 0xff]), Err(HuffmanPaddingTooLong));
        assert_eq!(dec(&[0xff, 0xff]), Err(HuffmanPaddingTooLong));
    }

    #[test]
    fn eos_inside_a_string() {
        // EOS is 30 ones: four bytes of ones hold it, whatever follows.
        assert_eq!(dec(&[0xff; 4]), Err(HpackErrorKind::HuffmanEos));
        let mut s = enc(b"ok");
        // "ok" is 00111 1110100 + 4 bits of padding; EOS after it needs the
        // padding ones and 26 more, then padding.
        s.extend([0xff, 0xff, 0xff, 0xff]);
        assert_eq!(dec(&s), Err(HpackErrorKind::HuffmanEos));
        // EOS followed by valid symbols is still refused.
        let mut s = vec![0xff; 4];
        s.extend(enc(b"abc"));
        assert_eq!(dec(&s), Err(HpackErrorKind::HuffmanEos));
    }

    #[test]
    fn too_small_a_buffer_still_checks_and_measures() {
        let coded = enc(b"www.example.com");
        let mut small = [0u8; 4];
        assert_eq!(decode(&coded, &mut small), Ok(15));
        assert_eq!(&small, b"www.");
        assert_eq!(decode(&coded, &mut []), Ok(15));
        assert_eq!(decode(&[0xff; 4], &mut []), Err(HpackErrorKind::HuffmanEos));
    }

    #[test]
    fn every_short_string_round_trips() {
        // Every string of one and two bytes.
        for a in 0..=255u8 {
            assert_eq!(dec(&enc(&[a])).unwrap(), [a]);
            for b in 0..=255u8 {
                assert_eq!(dec(&enc(&[a, b])).unwrap(), [a, b]);
            }
        }
    }

    #[test]
    fn every_state_and_nibble_is_accounted_for() {
        // A decoder state never leaves the 256 inner nodes, and only
        // 30-bit-deep all-ones paths reach EOS: on every other path no FAIL.
        let mut fails = 0;
        for (i, s) in DECODE.iter().enumerate() {
            if s.flags & FAIL != 0 {
                fails += 1;
                assert_eq!(s.flags & EMIT, 0, "{i}");
            }
        }
        // EOS is reached from the all-ones states 26 to 29 bits deep, on
        // the nibbles that start with the 4, 3, 2 or 1 ones it lacks.
        assert_eq!(fails, 8 + 4 + 2 + 1);
        assert_eq!(PAD.iter().filter(|&&p| p == PAD_OK).count(), 8);
    }
}
