//! Integers with an N-bit prefix (RFC 7541 §5.1).

use super::cursor::Cursor;
use super::HpackErrorKind;

/// The most continuation octets a decoded integer may have: 5 × 7 bits
/// hold any `u32` after any prefix. Longer encodings, zero-padded ones
/// included, are refused, as §5.1 allows ("exceed implementation limits
/// -- in value or octet length").
const MAX_CONTINUATIONS: u32 = 5;

/// Pushes `value` with a `prefix_bits`-bit prefix (1 to 8) in a first octet
/// whose other, high bits are `flags`.
pub(crate) fn encode(out: &mut Cursor<'_>, value: u64, prefix_bits: u8, flags: u8) {
    let max = (1u64 << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Decodes the integer at `*pos` with a `prefix_bits`-bit prefix (1 to 8),
/// moving `*pos` past it.
#[inline]
pub(crate) fn decode(
    block: &[u8],
    pos: &mut usize,
    prefix_bits: u8,
) -> Result<u32, HpackErrorKind> {
    let max = (1u32 << prefix_bits) - 1;
    let first = *block.get(*pos).ok_or(HpackErrorKind::Truncated)?;
    *pos += 1;
    let prefix = u32::from(first) & max;
    if prefix < max {
        return Ok(prefix);
    }
    let mut value = u64::from(prefix);
    for i in 0..MAX_CONTINUATIONS {
        let b = *block.get(*pos).ok_or(HpackErrorKind::Truncated)?;
        *pos += 1;
        value += u64::from(b & 0x7f) << (7 * i);
        if value > u64::from(u32::MAX) {
            return Err(HpackErrorKind::IntegerOverflow);
        }
        if b & 0x80 == 0 {
            return Ok(value as u32);
        }
    }
    Err(HpackErrorKind::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: u64, prefix: u8, flags: u8) -> Vec<u8> {
        let mut c = Cursor::new(&mut []);
        encode(&mut c, value, prefix, flags);
        let mut v = vec![0; c.pos()];
        encode(&mut Cursor::new(&mut v), value, prefix, flags);
        v
    }

    fn dec(block: &[u8], prefix: u8) -> Result<(u32, usize), HpackErrorKind> {
        let mut pos = 0;
        decode(block, &mut pos, prefix).map(|v| (v, pos))
    }

    #[test]
    fn rfc_7541_c1_examples() {
        // C.1.1: 10 with a 5-bit prefix.
        assert_eq!(enc(10, 5, 0), [0x0a]);
        assert_eq!(dec(&[0x0a], 5), Ok((10, 1)));
        // C.1.2: 1337 with a 5-bit prefix.
        assert_eq!(enc(1337, 5, 0), [0x1f, 0x9a, 0x0a]);
        assert_eq!(dec(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        // C.1.3: 42 starting at an octet boundary.
        assert_eq!(enc(42, 8, 0), [0x2a]);
        assert_eq!(dec(&[0x2a], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_are_kept_and_ignored() {
        assert_eq!(enc(3, 4, 0x10), [0x13]);
        assert_eq!(enc(15, 4, 0x10), [0x1f, 0x00]);
        // The bits above the prefix are not part of the value.
        assert_eq!(dec(&[0xff, 0x00], 4), Ok((15, 2)));
        assert_eq!(dec(&[0xf3], 4), Ok((3, 1)));
    }

    #[test]
    fn round_trips_at_every_prefix() {
        let mut values = vec![0u64, 1, 126, 127, 128, 254, 255, 256, 16383, 16384];
        values.extend([u64::from(u32::MAX) - 1, u64::from(u32::MAX)]);
        values.extend((0..32).map(|s| 1u64 << s));
        for prefix in 1..=8 {
            for &v in &values {
                let b = enc(v, prefix, 0);
                assert_eq!(dec(&b, prefix), Ok((v as u32, b.len())), "{v} /{prefix}");
                // Cut short anywhere: truncated.
                for cut in 0..b.len() {
                    assert_eq!(dec(&b[..cut], prefix), Err(HpackErrorKind::Truncated));
                }
            }
        }
    }

    #[test]
    fn overflow_is_refused() {
        for prefix in 1..=8 {
            let b = enc(u64::from(u32::MAX) + 1, prefix, 0);
            assert_eq!(
                dec(&b, prefix),
                Err(HpackErrorKind::IntegerOverflow),
                "/{prefix}"
            );
            let b = enc(u64::MAX, prefix, 0);
            assert_eq!(
                dec(&b, prefix),
                Err(HpackErrorKind::IntegerOverflow),
                "/{prefix}"
            );
        }
        // Six continuation octets, even of zeros, are past the octet limit.
        assert_eq!(
            dec(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(HpackErrorKind::IntegerOverflow)
        );
        // Five, with zero padding, are still fine.
        assert_eq!(dec(&[0x1f, 0x81, 0x80, 0x80, 0x80, 0x00], 5), Ok((32, 6)));
        // An endless run of continuation octets stops at the limit.
        let endless = [0xffu8; 64];
        assert_eq!(dec(&endless, 7), Err(HpackErrorKind::IntegerOverflow));
    }
}
