//! HPACK, the header compression of HTTP/2 (RFC 7541).

mod cursor;
mod encode;
mod error;
mod huffman;
mod integer;
mod static_table;

pub use encode::{encode_field, encode_field_into, encode_size_update, encoded_field_len};
pub use error::{BufferTooSmall, HpackError, HpackErrorKind, LimitAboveCapacity};
pub use static_table::STATIC_TABLE;
