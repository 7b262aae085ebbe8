//! HPACK, the header compression of HTTP/2 (RFC 7541).

mod cursor;
mod error;
mod huffman;
mod integer;
mod static_table;

pub use error::{BufferTooSmall, HpackError, HpackErrorKind, LimitAboveCapacity};
pub use static_table::STATIC_TABLE;
