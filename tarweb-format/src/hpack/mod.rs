//! HPACK, the header compression of HTTP/2 (RFC 7541): what `tarweb-pack`
//! needs to store a response's header block, and what `tarweb-serve` needs
//! to read a request's.
//!
//! # Encoding: static-only blocks
//!
//! [`encode_field`] writes a field in a form that uses the static table
//! ([`STATIC_TABLE`], Appendix A) and never the dynamic table: the indexed
//! field when the table has the name and the value (`:status: 200` is one
//! byte), else a literal *without indexing* that names the static entry
//! when it has the name (`content-type`), else a literal with a literal
//! name; each string Huffman-coded (Appendix B) when that is shorter. Such
//! a block changes no state on either side, so it is the same bytes on
//! every connection: it can be computed at pack time and stored beside the
//! HTTP/1.1 head. [`encode_field_into`] writes one field into a caller's
//! buffer without allocating, for what a server adds per response (`date`,
//! `content-range`); [`encode_size_update`] is the one piece of table
//! state a static-only encoder may owe a peer (§4.2).
//!
//! ```
//! use tarweb_format::hpack::{encode_field, Decoder, Fields};
//! let mut block = Vec::new();
//! encode_field(&mut block, b":status", b"200");
//! encode_field(&mut block, b"content-type", b"text/html; charset=utf-8");
//! encode_field(&mut block, b"etag", b"\"3f1a\"");
//! encode_field(&mut block, b"x-frame-options", b"DENY");
//!
//! let mut decoder = Decoder::new(4096);
//! let mut fields = Fields::new(16 * 1024, 128);
//! decoder.decode(&block, &mut fields)?;
//! assert_eq!(fields.get(0), Some((&b":status"[..], &b"200"[..])));
//! assert_eq!(fields.get(3), Some((&b"x-frame-options"[..], &b"DENY"[..])));
//! assert_eq!(decoder.table_len(), 0); // nothing was added to the table
//! # Ok::<(), tarweb_format::hpack::HpackError>(())
//! ```
//!
//! # Decoding: request blocks
//!
//! A [`Decoder`] holds one connection's dynamic table in storage allocated
//! once, in [`Decoder::new`], for the `SETTINGS_HEADER_TABLE_SIZE` the
//! server advertises; [`Decoder::decode`] reads one whole header block
//! into a [`Fields`], the caller's fixed-capacity output with its two
//! limits (`SETTINGS_MAX_HEADER_LIST_SIZE` and a number of fields).
//! Nothing is allocated while decoding. Huffman-coded strings are decoded
//! four bits per table look-up, from a state machine built at compile time.
//!
//! Every refusal is an [`HpackError`] whose [`HpackErrorKind`] a caller
//! can match: each decoding error RFC 7541 names (Huffman padding longer
//! than 7 bits or not all ones, EOS in a string, a string past the end of
//! its block, an index out of range, a misplaced or too large table size
//! update, an integer overflow), which ends the connection; and the two
//! limits of the [`Fields`], after which the decoder still applies the
//! whole block to its table so that only the stream need be refused
//! ([`HpackError::is_compression_error`]).
//!
//! No input makes the decoder panic; the `hpack` fuzz target (in `fuzz/`)
//! checks it, and that every block the encoder writes decodes back to its
//! fields.

mod cursor;
mod decode;
mod encode;
mod error;
mod huffman;
mod integer;
mod span;
mod static_table;
mod table;

pub(crate) use decode::first_table_change;
pub use decode::{Decoder, Fields, FieldsIter};
pub use encode::{encode_field, encode_field_into, encode_size_update, encoded_field_len};
pub use error::{BufferTooSmall, HpackError, HpackErrorKind, LimitAboveCapacity};
pub use span::field_span;
pub use static_table::STATIC_TABLE;

#[cfg(test)]
mod tests;
