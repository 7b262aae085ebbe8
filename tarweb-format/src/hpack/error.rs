//! The codec's errors: [`HpackError`] for a header block the decoder
//! refuses, [`BufferTooSmall`] for an encoding that does not fit a caller's
//! buffer, [`LimitAboveCapacity`] for a table limit the decoder cannot hold.

use std::fmt;

/// Why [`Decoder::decode`](super::Decoder::decode) refused a header block:
/// the offset in the block of the representation (or, for
/// [`HpackErrorKind::SizeUpdateMissing`] on an empty block, of its end)
/// where the rule is broken, and which rule.
///
/// Displays as `header block refused at byte N: <what>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpackError {
    /// Offset in the block of the first byte of the offending representation.
    pub offset: usize,
    /// The rule the block breaks.
    pub kind: HpackErrorKind,
}

impl HpackError {
    /// Whether the connection must end with a `COMPRESSION_ERROR` (RFC 9113
    /// §4.3): see [`HpackErrorKind::is_compression_error`].
    pub const fn is_compression_error(&self) -> bool {
        self.kind.is_compression_error()
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "header block refused at byte {}: {}",
            self.offset, self.kind
        )
    }
}

impl std::error::Error for HpackError {}

/// Every refusal of the decoder: the decoding errors RFC 7541 names, and two
/// limits of the caller's ([`TooManyFields`](Self::TooManyFields),
/// [`HeaderListTooLarge`](Self::HeaderListTooLarge)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HpackErrorKind {
    /// The block ends inside a representation: in an integer, or where a
    /// string's length was due.
    Truncated,
    /// A string literal's length goes past the end of the block.
    StringPastEnd {
        /// The string's length, as its prefix says.
        len: u32,
    },
    /// An integer above `u32::MAX`, or encoded in more than 5 continuation
    /// octets (§5.1 lets a decoder refuse both, as "implementation limits").
    IntegerOverflow,
    /// A Huffman-coded string ends in more than 7 bits of padding (§5.2).
    HuffmanPaddingTooLong,
    /// A Huffman-coded string ends in padding that is not the most
    /// significant bits of EOS, that is, not all ones: an incomplete code (§5.2).
    HuffmanPaddingNotOnes,
    /// A Huffman-coded string contains the EOS symbol (§5.2).
    HuffmanEos,
    /// An index of 0 (§6.1).
    IndexZero,
    /// An index past the static and the dynamic table (§2.3.3).
    IndexOutOfRange {
        /// The index.
        index: u32,
    },
    /// A dynamic table size update after the first field of a block (§4.2).
    SizeUpdateNotAtStart,
    /// A dynamic table size update above the limit the decoder advertised
    /// (§6.3).
    SizeUpdateTooLarge {
        /// The size asked for.
        size: u32,
        /// The decoder's limit.
        limit: usize,
    },
    /// The decoder's limit was lowered ([`Decoder::set_limit`]), and the
    /// block does not start with a size update at or below it (§4.2).
    ///
    /// [`Decoder::set_limit`]: super::Decoder::set_limit
    SizeUpdateMissing {
        /// The lowered limit.
        limit: usize,
    },
    /// More fields than the [`Fields`](super::Fields) holds.
    TooManyFields,
    /// The decoded header list is larger than the
    /// [`Fields`](super::Fields)' maximum (RFC 9113 §6.5.2: the sum of
    /// name + value + 32 over the fields).
    HeaderListTooLarge,
}

impl HpackErrorKind {
    /// Whether the block could not be decoded, so the decoder's dynamic
    /// table no longer matches the peer's and the connection must end with a
    /// `COMPRESSION_ERROR` (RFC 9113 §4.3).
    ///
    /// `false` only for [`TooManyFields`](Self::TooManyFields) and
    /// [`HeaderListTooLarge`](Self::HeaderListTooLarge): the decoder went on
    /// to the end of the block, updating its table as the block says, and
    /// found nothing wrong, so the connection can go on and only the stream
    /// is refused (HTTP 431, or `RST_STREAM`).
    pub const fn is_compression_error(&self) -> bool {
        !matches!(self, Self::TooManyFields | Self::HeaderListTooLarge)
    }
}

impl fmt::Display for HpackErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HpackErrorKind::*;
        match self {
            Truncated => f.write_str("the block ends inside a representation"),
            StringPastEnd { len } => {
                write!(f, "a {len}-byte string goes past the end of the block")
            }
            IntegerOverflow => f.write_str("an integer above 2^32-1 or longer than 5 octets"),
            HuffmanPaddingTooLong => f.write_str("Huffman padding longer than 7 bits"),
            HuffmanPaddingNotOnes => f.write_str("Huffman padding that is not all ones"),
            HuffmanEos => f.write_str("the EOS symbol inside a Huffman-coded string"),
            IndexZero => f.write_str("index 0"),
            IndexOutOfRange { index } => write!(f, "index {index} is past both tables"),
            SizeUpdateNotAtStart => f.write_str("a table size update after a field"),
            SizeUpdateTooLarge { size, limit } => {
                write!(
                    f,
                    "a table size update to {size}, above the limit of {limit}"
                )
            }
            SizeUpdateMissing { limit } => write!(
                f,
                "no table size update to at most {limit} at the start of the block"
            ),
            TooManyFields => f.write_str("more fields than allowed"),
            HeaderListTooLarge => f.write_str("the header list is larger than allowed"),
        }
    }
}

/// An encoding did not fit the caller's buffer (`needed` bytes); what the
/// buffer holds then is unspecified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// The encoding's length in bytes.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the HPACK encoding needs {} bytes", self.needed)
    }
}

impl std::error::Error for BufferTooSmall {}

/// [`Decoder::set_limit`](super::Decoder::set_limit) was asked for a limit
/// above the table storage the decoder was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitAboveCapacity {
    /// The limit asked for.
    pub limit: usize,
    /// The decoder's capacity.
    pub capacity: usize,
}

impl fmt::Display for LimitAboveCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a dynamic table limit of {} bytes is above the decoder's capacity of {}",
            self.limit, self.capacity
        )
    }
}

impl std::error::Error for LimitAboveCapacity {}
