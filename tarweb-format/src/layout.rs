//! Byte layout of a `.twb` blob, version 1: every size, offset and field
//! position of `format-spec.md`, whose tables are the prose of this file.
//!
//! All integers are little-endian. All `*_off` fields of the header and of
//! variant entries are absolute file offsets, except those named "relative
//! to the strings section". Field constants are byte offsets inside their
//! structure ([`hdr`]: the header, [`route`]: a route entry, [`variant`]: a
//! variant entry); each says its width.

/// The first 8 bytes of every blob, `\x89TWB\r\n\x1a\n`. Like PNG's, it
/// catches text-mode and 7-bit mangling.
pub const MAGIC: [u8; 8] = [0x89, b'T', b'W', b'B', b'\r', b'\n', 0x1a, b'\n'];
/// The only format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Size of the header in bytes; the route table starts right after it.
pub const HEADER_SIZE: usize = 128;
/// The digest covers `[DIGEST_START, file_size)`: everything after the
/// digest field itself.
pub const DIGEST_START: usize = 48;
/// The page size the data section is aligned to: `data_off` is a multiple
/// of it, a block of a page or more starts on one, a smaller block never
/// crosses one.
pub const PAGE: u64 = 4096;
/// Size of one route table entry in bytes.
pub const ROUTE_ENTRY_SIZE: usize = 32;
/// Size of one variant table entry in bytes.
pub const VARIANT_ENTRY_SIZE: usize = 64;
/// Longest route path, in bytes (a request target is capped near 8 KiB, and
/// no file system needs more than PATH_MAX).
pub const MAX_PATH_LEN: usize = 4096;
/// A route has one variant per content coding, so at most this many.
pub const MAX_VARIANTS_PER_ROUTE: usize = 4;
/// The value of `not_found_first` when the blob has no 404 response.
pub const NONE_U32: u32 = u32::MAX;

/// Header field offsets (`format-spec.md` §2). The header is
/// [`HEADER_SIZE`] bytes.
pub mod hdr {
    /// `magic`, 8 bytes: [`MAGIC`](super::MAGIC).
    pub const MAGIC: usize = 0;
    /// `version`, u32: [`VERSION`](super::VERSION).
    pub const VERSION: usize = 8;
    /// `header_size`, u32: [`HEADER_SIZE`](super::HEADER_SIZE).
    pub const HEADER_SIZE: usize = 12;
    /// `digest`, 32 bytes: blake3 of the file from
    /// [`DIGEST_START`](super::DIGEST_START) to its end.
    pub const DIGEST: usize = 16;
    /// `file_size`, u64: the file's exact length.
    pub const FILE_SIZE: usize = 48;
    /// `route_count`, u32: number of route entries.
    pub const ROUTE_COUNT: usize = 56;
    /// `variant_count`, u32: number of variant entries.
    pub const VARIANT_COUNT: usize = 60;
    /// `routes_off`, u64: the route table's offset, always
    /// [`HEADER_SIZE`](super::HEADER_SIZE).
    pub const ROUTES_OFF: usize = 64;
    /// `variants_off`, u64: the variant table's offset, right after the
    /// route table.
    pub const VARIANTS_OFF: usize = 72;
    /// `strings_off`, u64: the strings section's offset, right after the
    /// variant table.
    pub const STRINGS_OFF: usize = 80;
    /// `strings_len`, u64: the strings section's length.
    pub const STRINGS_LEN: usize = 88;
    /// `data_off`, u64: the data section's offset, the end of the strings
    /// rounded up to a [`PAGE`](super::PAGE).
    pub const DATA_OFF: usize = 96;
    /// `not_found_first`, u32: index of the 404's first variant, or
    /// [`NONE_U32`](super::NONE_U32).
    pub const NOT_FOUND_FIRST: usize = 104;
    /// `not_found_count`, u16: number of 404 variants, 0 for none.
    pub const NOT_FOUND_COUNT: usize = 108;
    /// Reserved, 18 bytes (110 to 128): must be zero.
    pub const RESERVED: usize = 110;
}

/// Route entry field offsets (`format-spec.md` §3). An entry is
/// [`ROUTE_ENTRY_SIZE`] bytes.
pub mod route {
    /// `path_off`, u32: the path, relative to the strings section.
    pub const PATH_OFF: usize = 0;
    /// `path_len`, u16: the path's length, 1 to
    /// [`MAX_PATH_LEN`](super::MAX_PATH_LEN).
    pub const PATH_LEN: usize = 4;
    /// `status`, u16: 200, or 301, 302, 303, 307, 308 for a redirect.
    pub const STATUS: usize = 6;
    /// `first_variant`, u32: index of the route's first variant.
    pub const FIRST_VARIANT: usize = 8;
    /// `variant_count`, u16: number of the route's variants, 1 to
    /// [`MAX_VARIANTS_PER_ROUTE`](super::MAX_VARIANTS_PER_ROUTE).
    pub const VARIANT_COUNT: usize = 12;
    /// Flags, u16: must be zero.
    pub const FLAGS: usize = 14;
    /// `last_modified`, i64: seconds since the Unix epoch (0 for redirects).
    pub const LAST_MODIFIED: usize = 16;
    /// Reserved, 8 bytes (24 to 32): must be zero.
    pub const RESERVED: usize = 24;
}

/// Variant entry field offsets (`format-spec.md` §4). An entry is
/// [`VARIANT_ENTRY_SIZE`] bytes.
pub mod variant {
    /// `coding`, u8: a [`Coding`](super::Coding).
    pub const CODING: usize = 0;
    /// Flags, u8: must be zero.
    pub const FLAGS: usize = 1;
    /// `status_len`, u16: bytes of the head's status line, CRLF included.
    pub const STATUS_LEN: usize = 2;
    /// `length_len`, u16: bytes of the `Content-Length` line after it.
    pub const LENGTH_LEN: usize = 4;
    /// Reserved, 2 bytes: must be zero.
    pub const RESERVED_A: usize = 6;
    /// `head_off`, u64: the head, in the data section.
    pub const HEAD_OFF: usize = 8;
    /// `head_len`, u32: the head's length, through its empty line.
    pub const HEAD_LEN: usize = 16;
    /// `nm_len`, u32: the 304 head's length, 0 for none.
    pub const NM_LEN: usize = 20;
    /// `nm_off`, u64: the 304 head, in the data section (0 for none).
    pub const NM_OFF: usize = 24;
    /// `body_off`, u64: the body, in the data section.
    pub const BODY_OFF: usize = 32;
    /// `body_len`, u64: the body's length.
    pub const BODY_LEN: usize = 40;
    /// `etag_off`, u32: the ETag, relative to the strings section (0 for
    /// none).
    pub const ETAG_OFF: usize = 48;
    /// `etag_len`, u16: the ETag's length, quotes included; 0 for none.
    pub const ETAG_LEN: usize = 52;
    /// `nm_status_len`, u16: bytes of the 304 head's status line (0 for
    /// none).
    pub const NM_STATUS_LEN: usize = 54;
    /// Reserved, 8 bytes (56 to 64): must be zero.
    pub const RESERVED_B: usize = 56;
}

/// A content coding of a variant (RFC 9110 §8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
///
/// The discriminant is the `coding` byte of a variant entry; the order is
/// also the tie-break between variants of equal body length.
#[repr(u8)]
pub enum Coding {
    /// 0: the bytes as they are.
    Identity = 0,
    /// 1: `gzip`.
    Gzip = 1,
    /// 2: `br` (brotli).
    Br = 2,
    /// 3: `zstd`.
    Zstd = 3,
}

impl Coding {
    /// Every coding, in byte order (`ALL[c as usize] == c`).
    pub const ALL: [Coding; 4] = [Coding::Identity, Coding::Gzip, Coding::Br, Coding::Zstd];

    /// The coding stored as `b`, `None` for an unknown byte.
    pub fn from_u8(b: u8) -> Option<Coding> {
        Coding::ALL.get(usize::from(b)).copied()
    }

    /// The token used in `Accept-Encoding` / `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Br => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// `x` rounded up to a multiple of `to`.
pub(crate) fn align_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// Little-endian integers at `at` (callers have checked the bounds).
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
