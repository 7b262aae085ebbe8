//! The encoder for static-only header blocks: representations that use the
//! static table and never touch the dynamic table, so the bytes of a field
//! are the same on every connection, and a block can be computed once, at
//! pack time.

use super::cursor::Cursor;
use super::static_table::{self, Match};
use super::{huffman, integer, BufferTooSmall};

/// Writes one field: indexed if the static table has it whole, else a
/// literal without indexing, with the static name's index if it has that.
fn field(out: &mut Cursor<'_>, name: &[u8], value: &[u8]) {
    match static_table::find(name, value) {
        // §6.1: 1xxxxxxx, the index in 7 bits.
        Match::Field(index) => integer::encode(out, index.into(), 7, 0x80),
        // §6.2.2: 0000xxxx, the name's index in 4 bits, then the value.
        Match::Name(index) => {
            integer::encode(out, index.into(), 4, 0x00);
            string(out, value, false);
        }
        // §6.2.2 with a new name: 0x00, the name, the value.
        Match::None => {
            out.push(0x00);
            string(out, name, true);
            string(out, value, false);
        }
    }
}

/// Writes a string literal (§5.2), Huffman-coded when that is shorter
/// (ASCII-lower-cased if `lower`).
fn string(out: &mut Cursor<'_>, s: &[u8], lower: bool) {
    let coded = huffman::encoded_len(s, lower);
    if coded < s.len() {
        integer::encode(out, coded as u64, 7, 0x80);
        huffman::encode(out, s, lower);
    } else {
        integer::encode(out, s.len() as u64, 7, 0x00);
        out.extend(s, lower);
    }
}

/// Appends one header field to `out`, in a form that uses no dynamic-table
/// state: the same bytes on every connection.
///
/// - The static table has the name and the value: the indexed field
///   (`:status: 200` is the byte `0x88`).
/// - It has the name (`content-type`, `:status: 302`): a literal without
///   indexing (§6.2.2) that refers to the name's static index.
/// - Otherwise: a literal without indexing with a literal name.
///
/// Each string is Huffman-coded when that makes it shorter. The name is
/// lower-cased (ASCII), as HTTP/2 requires (RFC 9113 §8.2.1), so
/// `Content-Type` and `content-type` give the same bytes; the value is
/// written as it is (the caller checks that it is a valid field value).
///
/// ```
/// use tarweb_format::hpack::encode_field;
/// let mut block = Vec::new();
/// encode_field(&mut block, b":status", b"200");
/// assert_eq!(block, [0x88]);
/// encode_field(&mut block, b"Content-Type", b"text/plain");
/// assert_eq!(block[1..3], [0x0f, 0x10]); // literal, static name 31
/// ```
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let start = out.len();
    out.resize(start + encoded_field_len(name, value), 0);
    field(&mut Cursor::new(&mut out[start..]), name, value);
}

/// The length in bytes of [`encode_field`]'s encoding of a field.
pub fn encoded_field_len(name: &[u8], value: &[u8]) -> usize {
    let mut measure = Cursor::new(&mut []);
    field(&mut measure, name, value);
    measure.pos()
}

/// Writes one header field at the start of `buf`, as [`encode_field`] does,
/// and returns its length; for fields a server adds to a stored block per
/// response (`date`, `content-range`): nothing is allocated.
///
/// ```
/// use tarweb_format::hpack::{encode_field_into, BufferTooSmall};
/// let mut buf = [0u8; 64];
/// let n = encode_field_into(&mut buf, b"date", b"Mon, 21 Oct 2013 20:13:21 GMT")?;
/// assert_eq!(buf[0], 0x0f); // literal without indexing, static name 33...
/// assert_eq!(buf[1], 33 - 15); // ...whose index takes a second byte
/// assert_eq!(n, 2 + 1 + 22); // name, value length, 22 Huffman-coded bytes
/// assert_eq!(
///     encode_field_into(&mut [0u8; 8], b"date", b"Mon, 21 Oct 2013 20:13:21 GMT"),
///     Err(BufferTooSmall { needed: 25 })
/// );
/// # Ok::<(), BufferTooSmall>(())
/// ```
pub fn encode_field_into(
    buf: &mut [u8],
    name: &[u8],
    value: &[u8],
) -> Result<usize, BufferTooSmall> {
    let mut out = Cursor::new(buf);
    field(&mut out, name, value);
    if out.fitted() {
        Ok(out.pos())
    } else {
        Err(BufferTooSmall { needed: out.pos() })
    }
}

/// Appends a dynamic table size update (§6.3) to `out`.
///
/// A static-only encoder never adds to the peer's table, but when the peer
/// lowers its `SETTINGS_HEADER_TABLE_SIZE`, the first block it receives
/// after acknowledging must start with an update to at most the new size
/// (§4.2): a size update to 0 (the byte `0x20`) before a stored block
/// always satisfies it.
///
/// ```
/// use tarweb_format::hpack::encode_size_update;
/// let mut block = Vec::new();
/// encode_size_update(&mut block, 0);
/// assert_eq!(block, [0x20]);
/// ```
pub fn encode_size_update(out: &mut Vec<u8>, size: u32) {
    let start = out.len();
    let mut measure = Cursor::new(&mut []);
    integer::encode(&mut measure, size.into(), 5, 0x20);
    out.resize(start + measure.pos(), 0);
    integer::encode(&mut Cursor::new(&mut out[start..]), size.into(), 5, 0x20);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(name: &str, value: &str) -> Vec<u8> {
        let mut v = Vec::new();
        encode_field(&mut v, name.as_bytes(), value.as_bytes());
        assert_eq!(
            v.len(),
            encoded_field_len(name.as_bytes(), value.as_bytes())
        );
        let mut buf = vec![0u8; v.len() + 8];
        let n = encode_field_into(&mut buf, name.as_bytes(), value.as_bytes()).unwrap();
        assert_eq!(&buf[..n], &v[..]);
        v
    }

    #[test]
    fn forms() {
        // Whole static entries.
        assert_eq!(enc(":status", "200"), [0x88]);
        assert_eq!(enc(":status", "404"), [0x8d]);
        assert_eq!(enc(":method", "GET"), [0x82]);
        assert_eq!(enc("accept-encoding", "gzip, deflate"), [0x90]);
        // A static name, 4-bit prefix: 8 fits, 31 takes a second byte.
        // "302" is shorter Huffman-coded (C.6.1: 6402).
        assert_eq!(enc(":status", "302"), [0x08, 0x82, 0x64, 0x02]);
        assert_eq!(enc("content-type", "a"), [0x0f, 0x10, 0x01, b'a']);
        assert_eq!(enc("Content-Type", "a"), [0x0f, 0x10, 0x01, b'a']);
        // "gzip" Huffman-coded is 3 bytes (C.6.3: 9bd9ab).
        assert_eq!(
            enc("content-encoding", "gzip"),
            [0x0f, 0x0b, 0x83, 0x9b, 0xd9, 0xab]
        );
        // A new name, lower-cased: "x-a" is as long Huffman-coded (x: 7
        // bits, -: 6, a: 5 = 18 bits, 3 bytes): raw.
        assert_eq!(enc("X-A", "1"), [0x00, 0x03, b'x', b'-', b'a', 0x01, b'1']);
        // Case matters in values: "get" is not GET.
        assert_eq!(enc(":method", "get")[0], 0x02);
        // Empty values of names the table has without one: indexed.
        assert_eq!(enc("date", ""), [0x80 | 33]);
    }

    #[test]
    fn huffman_only_when_shorter() {
        // Digits are 5 or 6 bits: 8 of them take 5 or 6 bytes instead of 8.
        let v = enc("content-length", "12345678");
        assert_eq!(v[0..2], [0x0f, 28 - 15]);
        assert_eq!(v[2] & 0x80, 0x80);
        // Bytes with long codes stay raw.
        let v = enc("x-bin", "\u{7f}\u{7f}");
        assert_eq!(v[v.len() - 3..], [0x02, 0x7f, 0x7f]);
    }

    #[test]
    fn long_strings_take_multi_byte_lengths() {
        let value = "\u{1}".repeat(300);
        let v = enc("x-long", &value);
        // 0x00, name (raw or Huffman), then a 7-bit-prefix length of 300:
        // 0x7f then 300 - 127 = 173 = 0xad 0x01.
        let tail = &v[v.len() - 303..];
        assert_eq!(tail[..3], [0x7f, 0xad, 0x01]);
        assert!(tail[3..].iter().all(|&b| b == 1));
    }

    #[test]
    fn fixed_buffer_too_small() {
        let need = encoded_field_len(b"content-range", b"bytes 0-99/1000");
        let mut buf = vec![0u8; need];
        assert_eq!(
            encode_field_into(&mut buf, b"content-range", b"bytes 0-99/1000"),
            Ok(need)
        );
        for short in 0..need {
            assert_eq!(
                encode_field_into(&mut buf[..short], b"content-range", b"bytes 0-99/1000"),
                Err(BufferTooSmall { needed: need })
            );
        }
    }

    #[test]
    fn size_updates() {
        let mut v = Vec::new();
        encode_size_update(&mut v, 0);
        encode_size_update(&mut v, 4096);
        // 4096 - 31 = 4065 = 0x0fe1: e1 | 0x80, 0x1f.
        assert_eq!(v, [0x20, 0x3f, 0xe1, 0x1f]);
    }
}
