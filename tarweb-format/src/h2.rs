//! The HTTP/2 header blocks stored beside the heads (`format-spec.md`
//! §4.5): how the writer builds one from a response's fields, and the checks
//! the reader applies to one.
//!
//! A block is HPACK (RFC 7541) that uses the static table only: no literal
//! with incremental indexing, no table size update, no reference to the
//! dynamic table. It changes no state on either side, so the same bytes are
//! right on every connection, whatever the client's table holds.

use crate::head::decimal;
use crate::hpack::{self, encode_field, Decoder, Fields, HpackError, HpackErrorKind};
use crate::layout::MAX_H2_LIST_SIZE;
use crate::read_error::H2Problem;
use crate::rules::{is_connection_specific, is_tchar};

/// The per-field overhead of the header list size (RFC 9113 §6.5.2).
const FIELD_OVERHEAD: usize = 32;

/// A header block as the writer builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct H2Block {
    /// The whole block.
    pub(crate) bytes: Vec<u8>,
    /// Bytes of its first field, `:status`.
    pub(crate) status_len: u16,
    /// Bytes of its second field, `content-length` (0 for a 304 block).
    pub(crate) length_len: u16,
    /// Its header list size: name + value + 32 per field.
    pub(crate) list_size: usize,
}

/// SP and HTAB: what HTTP/1.1 strips around a field value, and HTTP/2
/// forbids there (RFC 9113 §8.2.1).
fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `v` without leading and trailing SP and HTAB.
fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&c| !is_ows(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|&c| !is_ows(c)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// The block of a response: `:status`, then `content-length` when
/// `body_len` is given (not for a 304), then `fields` in order, each name
/// lower-cased, each value without the whitespace around it (an HTTP/1.1
/// client strips it from the stored head's line too), and without the
/// connection-specific fields HTTP/2 forbids. The caller has checked the
/// fields as the HTTP/1.1 head needs them (token names, no control bytes,
/// no `Content-Length`), and the list size against [`MAX_H2_LIST_SIZE`].
pub(crate) fn build_h2_block(
    status: u16,
    body_len: Option<u64>,
    fields: &[(String, String)],
) -> H2Block {
    let mut bytes = Vec::new();
    let mut digits = [0u8; 20];
    let status_digits = decimal(u64::from(status), &mut digits);
    encode_field(&mut bytes, b":status", status_digits);
    let mut list_size = b":status".len() + status_digits.len() + FIELD_OVERHEAD;
    let status_len = bytes.len();
    if let Some(n) = body_len {
        let d = decimal(n, &mut digits);
        encode_field(&mut bytes, b"content-length", d);
        list_size += b"content-length".len() + d.len() + FIELD_OVERHEAD;
    }
    let length_len = bytes.len() - status_len;
    for (n, v) in fields {
        if is_connection_specific(n.as_bytes()) {
            continue;
        }
        let v = trim_ows(v.as_bytes());
        // `encode_field` lower-cases the name, as HTTP/2 requires.
        encode_field(&mut bytes, n.as_bytes(), v);
        list_size += n.len() + v.len() + FIELD_OVERHEAD;
    }
    H2Block {
        bytes,
        // `:status` with three digits takes at most 5 bytes, and
        // `content-length` with up to 20 at most 2 + 1 + 20.
        status_len: status_len as u16,
        length_len: length_len as u16,
        list_size,
    }
}

/// What the reader decodes blocks with, allocated once per parse: a decoder
/// without dynamic-table storage (a valid block never uses any), and a
/// [`Fields`] that holds [`MAX_H2_LIST_SIZE`] of header list.
pub(crate) struct H2Reader {
    decoder: Decoder,
    fields: Fields,
}

impl H2Reader {
    pub(crate) fn new() -> H2Reader {
        H2Reader {
            decoder: Decoder::new(0),
            // Every field costs at least 32 bytes of list size: that many
            // fields can never be the limit that is hit first.
            fields: Fields::new(MAX_H2_LIST_SIZE, MAX_H2_LIST_SIZE / FIELD_OVERHEAD),
        }
    }

    /// Decodes `block[from..to]` into `self.fields`, an error's offset made
    /// relative to the whole block.
    fn decode(&mut self, block: &[u8], from: usize, to: usize) -> Result<(), H2Problem> {
        self.decoder
            .decode(&block[from..to], &mut self.fields)
            .map_err(|e| match e.kind {
                HpackErrorKind::TooManyFields | HpackErrorKind::HeaderListTooLarge => {
                    H2Problem::ListTooLarge
                }
                kind => H2Problem::Hpack(HpackError {
                    offset: from + e.offset,
                    kind,
                }),
            })
    }

    /// The decoded part is exactly one field, `name: value`?
    fn is_one(&self, name: &[u8], value: &[u8]) -> bool {
        self.fields.len() == 1 && self.fields.get(0) == Some((name, value))
    }

    /// Checks `block` (`format-spec.md` §4.4): static-only HPACK that
    /// decodes whole; its first `status_len` bytes are exactly the field
    /// `:status: <status>`; then, when `length` is `(length_len, body_len)`,
    /// `length_len` bytes are exactly `content-length: <body_len>`; then
    /// fields with lower-case token names, no pseudo-field, no
    /// connection-specific field, no second `content-length`, values without
    /// control bytes or whitespace around them; the whole list at most
    /// [`MAX_H2_LIST_SIZE`].
    ///
    /// Decoding the three parts apart is decoding the block whole: a block
    /// without table changes carries no state from one field to the next,
    /// and a part that cut a representation would not decode.
    pub(crate) fn check(
        &mut self,
        block: &[u8],
        status_len: usize,
        length: Option<(usize, u64)>,
        status: u16,
    ) -> Result<(), H2Problem> {
        if let Some(offset) = hpack::first_table_change(block).map_err(H2Problem::Hpack)? {
            return Err(H2Problem::DynamicTable { offset });
        }
        let length_len = length.map_or(0, |(len, _)| len);
        let Some(rest) = status_len
            .checked_add(length_len)
            .filter(|&end| end <= block.len())
        else {
            return Err(H2Problem::LengthsPastEnd);
        };
        let mut digits = [0u8; 20];
        self.decode(block, 0, status_len)?;
        if !self.is_one(b":status", decimal(u64::from(status), &mut digits)) {
            return Err(H2Problem::StatusField { expected: status });
        }
        let mut list_size = self.fields.list_size();
        if let Some((_, body_len)) = length {
            self.decode(block, status_len, rest)?;
            if !self.is_one(b"content-length", decimal(body_len, &mut digits)) {
                return Err(H2Problem::LengthField { body_len });
            }
            list_size += self.fields.list_size();
        }
        self.decode(block, rest, block.len())?;
        for (name, value) in &self.fields {
            if name.first() == Some(&b':') {
                return Err(H2Problem::PseudoField);
            }
            if name.is_empty() || !name.iter().all(|&c| is_tchar(c) && !c.is_ascii_uppercase()) {
                return Err(H2Problem::NameNotLowerToken);
            }
            if is_connection_specific(name) {
                return Err(H2Problem::ConnectionField);
            }
            if name == b"content-length" {
                return Err(H2Problem::ExtraContentLength);
            }
            if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
                || value.first().is_some_and(|&c| is_ows(c))
                || value.last().is_some_and(|&c| is_ows(c))
            {
                return Err(H2Problem::ValueInvalid);
            }
        }
        list_size += self.fields.list_size();
        if list_size > MAX_H2_LIST_SIZE {
            return Err(H2Problem::ListTooLarge);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn decoded(block: &[u8]) -> Vec<(String, String)> {
        let mut r = H2Reader::new();
        r.decoder.decode(block, &mut r.fields).unwrap();
        r.fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn blocks_are_status_length_then_lower_cased_fields() {
        let b = build_h2_block(
            200,
            Some(1383),
            &fields(&[
                ("Content-Type", "text/css"),
                ("Connection", "close"),
                ("ETag", "\"x\""),
                ("Transfer-Encoding", "chunked"),
                ("X-Spaced", " \ta b\t "),
                ("Keep-Alive", "5"),
                ("Upgrade", "h2c"),
                ("Proxy-Connection", "x"),
            ]),
        );
        assert_eq!(
            decoded(&b.bytes),
            fields(&[
                (":status", "200"),
                ("content-length", "1383"),
                ("content-type", "text/css"),
                ("etag", "\"x\""),
                ("x-spaced", "a b"),
            ])
        );
        // `:status: 200` is one byte of the static table.
        assert_eq!((b.status_len, b.bytes[0]), (1, 0x88));
        assert_eq!(decoded(&b.bytes[..1]), fields(&[(":status", "200")]));
        let length = &b.bytes[1..1 + usize::from(b.length_len)];
        assert_eq!(decoded(length), fields(&[("content-length", "1383")]));
        let want: usize = decoded(&b.bytes)
            .iter()
            .map(|(n, v)| n.len() + v.len() + 32)
            .sum();
        assert_eq!(b.list_size, want);
        assert_eq!(
            H2Reader::new().check(&b.bytes, 1, Some((length.len(), 1383)), 200),
            Ok(())
        );

        // A 304: no content-length.
        let nm = build_h2_block(304, None, &fields(&[("ETag", "\"x\"")]));
        assert_eq!(nm.length_len, 0);
        assert_eq!(
            decoded(&nm.bytes),
            fields(&[(":status", "304"), ("etag", "\"x\"")])
        );
        let s = usize::from(nm.status_len);
        assert_eq!(H2Reader::new().check(&nm.bytes, s, None, 304), Ok(()));
        // Whitespace-only values become empty.
        let b = build_h2_block(404, Some(0), &fields(&[("X-Empty", " ")]));
        assert_eq!(decoded(&b.bytes)[2], ("x-empty".into(), "".into()));
    }

    /// A block of `pairs`, each encoded by `encode_field` (which lower-cases
    /// names, so upper-case ones are written raw here).
    fn block(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in pairs {
            if n.iter().any(u8::is_ascii_uppercase) {
                b.push(0x00);
                b.push(n.len() as u8);
                b.extend_from_slice(n);
                b.push(v.len() as u8);
                b.extend_from_slice(v);
            } else {
                encode_field(&mut b, n, v);
            }
        }
        b
    }

    #[test]
    fn bad_blocks_name_the_problem() {
        use H2Problem::*;
        let check =
            |b: &[u8], status_len, length| H2Reader::new().check(b, status_len, length, 200);
        let head: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-length", b"5")];
        // `content-length: 5` is 0x0f 0x0d (static name 28), then a raw
        // "5" with its length: 4 bytes.
        let cl = block(&head[1..]).len();
        assert_eq!(cl, 4);
        let with = |more: &[(&[u8], &[u8])]| {
            let mut all = head.to_vec();
            all.extend_from_slice(more);
            check(&block(&all), 1, Some((cl, 5)))
        };
        assert_eq!(with(&[(b"x", b"1")]), Ok(()));
        assert_eq!(with(&[(b":path", b"/")]), Err(PseudoField));
        assert_eq!(with(&[(b"X-Up", b"1")]), Err(NameNotLowerToken));
        assert_eq!(with(&[(b"a b", b"1")]), Err(NameNotLowerToken));
        assert_eq!(with(&[(b"", b"1")]), Err(NameNotLowerToken));
        assert_eq!(
            with(&[(b"transfer-encoding", b"chunked")]),
            Err(ConnectionField)
        );
        assert_eq!(with(&[(b"content-length", b"5")]), Err(ExtraContentLength));
        for v in [&b" a"[..], b"a\t", b"a\rb", b"a\x00", b"\x7f"] {
            assert_eq!(with(&[(b"x", v)]), Err(ValueInvalid), "{v:?}");
        }
        assert_eq!(with(&[(b"x", b"a\tb")]), Ok(()));

        let good = block(&head);
        // Wrong split points, wrong fields, wrong values.
        assert_eq!(
            check(&good, 1, Some((cl, 6))),
            Err(LengthField { body_len: 6 })
        );
        assert_eq!(
            check(&good, 1, Some((cl - 1, 5))),
            Err(Hpack(HpackError {
                offset: 1,
                kind: HpackErrorKind::StringPastEnd { len: 1 }
            }))
        );
        assert_eq!(check(&good, 1, Some((cl + 1, 5))), Err(LengthsPastEnd));
        assert_eq!(
            check(&good, 0, Some((cl, 5))),
            Err(StatusField { expected: 200 })
        );
        assert_eq!(
            check(&good, 1 + cl, Some((0, 5))),
            Err(StatusField { expected: 200 })
        );
        assert_eq!(
            H2Reader::new().check(&good, 1, Some((cl, 5)), 404),
            Err(StatusField { expected: 404 })
        );
        let swapped = block(&[(b"content-length", b"5"), (b":status", b"200")]);
        assert_eq!(
            check(&swapped, cl, Some((1, 5))),
            Err(StatusField { expected: 200 })
        );
        let twice = block(&[
            (b":status", b"200"),
            (b":status", b"200"),
            (b"content-length", b"5"),
        ]);
        assert_eq!(
            check(&twice, 2, Some((cl, 5))),
            Err(StatusField { expected: 200 })
        );
        // Table changes: a size update, a literal with indexing.
        let mut b = vec![0x20];
        b.extend_from_slice(&good);
        assert_eq!(check(&b, 2, Some((cl, 5))), Err(DynamicTable { offset: 0 }));
        let mut b = good.clone();
        b.extend_from_slice(&[0x40, 0x01, b'x', 0x01, b'1']);
        assert_eq!(
            check(&b, 1, Some((cl, 5))),
            Err(DynamicTable { offset: 1 + cl })
        );
        // A reference to the (empty) dynamic table.
        let mut b = good.clone();
        b.push(0x80 | 62);
        assert_eq!(
            check(&b, 1, Some((cl, 5))),
            Err(Hpack(HpackError {
                offset: 1 + cl,
                kind: HpackErrorKind::IndexOutOfRange { index: 62 }
            }))
        );
        // The list bound: a list of exactly 64 KiB passes...
        let big = vec![b'a'; MAX_H2_LIST_SIZE];
        let mut b = good.clone();
        let rest = MAX_H2_LIST_SIZE - (7 + 3 + 32) - (14 + 1 + 32) - 32 - 1;
        encode_field(&mut b, b"x", &big[..rest]);
        assert_eq!(check(&b, 1, Some((cl, 5))), Ok(()));
        // ...and one byte more is too much, whether the whole list or the
        // part after the length crosses it.
        let mut b = good.clone();
        encode_field(&mut b, b"x", &big[..rest + 1]);
        assert_eq!(check(&b, 1, Some((cl, 5))), Err(ListTooLarge));
        let mut b = good.clone();
        encode_field(&mut b, b"x", &big);
        assert_eq!(check(&b, 1, Some((cl, 5))), Err(ListTooLarge));
    }
}
