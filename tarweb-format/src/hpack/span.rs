//! Where a field is in a static-only header block, found without decoding
//! the values: a server that sends a stored block with one field replaced
//! (a multipart 206's `content-type`) leaves out exactly that field's
//! bytes, and keeps the rest as stored.

use super::{huffman, integer, static_table};

/// The byte range, in `block`, of the first field representation whose
/// name is `name` (lower case, at most 64 bytes), if `block` is a valid
/// static-only block (indexed static fields, literals without indexing or
/// never indexed; as `format-spec.md` §4.5 stores). `None` when no field
/// has that name, or when the block is anything else (then it cannot be
/// cut safely).
pub fn field_span(block: &[u8], name: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut pos = 0;
    while pos < block.len() {
        let start = pos;
        let b = block[pos];
        let named = if b & 0x80 != 0 {
            let i = integer::decode(block, &mut pos, 7).ok()?;
            static_table::get(i)?.0 == name
        } else if b & 0xe0 == 0 {
            // 0000xxxx without indexing, 0001xxxx never indexed.
            let i = integer::decode(block, &mut pos, 4).ok()?;
            let is = if i == 0 {
                string_is(block, &mut pos, name)?
            } else {
                static_table::get(i)?.0 == name
            };
            string_is(block, &mut pos, b"")?; // the value, skipped
            is
        } else {
            return None; // a table change: not a static-only block
        };
        if named {
            return Some(start..pos);
        }
    }
    None
}

/// Moves `pos` past the string literal there; whether it equals `want`
/// (compared only when `want` is not empty).
fn string_is(block: &[u8], pos: &mut usize, want: &[u8]) -> Option<bool> {
    let huff = block.get(*pos)? & 0x80 != 0;
    let len = integer::decode(block, pos, 7).ok()? as usize;
    let s = block.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    if want.is_empty() {
        return Some(false);
    }
    if !huff {
        return Some(s == want);
    }
    let mut buf = [0u8; 65];
    let n = huffman::decode(s, &mut buf).ok()?;
    Some(n == want.len() && buf[..n] == *want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::encode_field;

    #[test]
    fn finds_a_field_whatever_its_form() {
        let mut block = Vec::new();
        encode_field(&mut block, b":status", b"200"); // indexed
        encode_field(&mut block, b"content-length", b"1234"); // static name
        let at = block.len();
        encode_field(&mut block, b"content-type", b"text/html; charset=utf-8");
        let end = block.len();
        encode_field(&mut block, b"x-custom", b"v"); // literal name
        assert_eq!(field_span(&block, b"content-type"), Some(at..end));
        assert_eq!(field_span(&block, b":status"), Some(0..1));
        assert_eq!(field_span(&block, b"x-custom"), Some(end..block.len()));
        assert_eq!(field_span(&block, b"etag"), None);
        // A literal name, raw rather than Huffman-coded.
        let mut raw = vec![0x00, 12];
        raw.extend_from_slice(b"content-type");
        raw.extend_from_slice(&[0x02, b'a', b'b']);
        assert_eq!(field_span(&raw, b"content-type"), Some(0..raw.len()));
        // Not static-only (incremental indexing), or cut short: no answer.
        assert_eq!(field_span(&[0x40, 1, b'a', 1, b'b'], b"a"), None);
        assert_eq!(field_span(&block[..at + 2], b"content-type"), None);
    }
}
