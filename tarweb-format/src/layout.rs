//! Byte layout of a `.twb` blob, version 1. `format-spec.md` is the prose of this file.
//!
//! All integers are little-endian. All `*_off` fields of the header and of
//! variant entries are absolute file offsets, except those named "relative
//! to the strings section".

/// The first 8 bytes. Like PNG's, it catches text-mode and 7-bit mangling.
pub const MAGIC: [u8; 8] = [0x89, b'T', b'W', b'B', b'\r', b'\n', 0x1a, b'\n'];
/// The only version this crate reads and writes.
pub const VERSION: u32 = 1;
pub const HEADER_SIZE: usize = 128;
/// The digest covers `[DIGEST_START, file_size)`: everything after it.
pub const DIGEST_START: usize = 48;
pub const PAGE: u64 = 4096;
pub const ROUTE_ENTRY_SIZE: usize = 32;
pub const VARIANT_ENTRY_SIZE: usize = 64;
/// Longest route path, in bytes (a request target is capped near 8 KiB, and
/// no file system needs more than PATH_MAX).
pub const MAX_PATH_LEN: usize = 4096;
/// A route has one variant per content coding, so at most this many.
pub const MAX_VARIANTS_PER_ROUTE: usize = 4;
/// `not_found_first` / route fields meaning "none".
pub const NONE_U32: u32 = u32::MAX;

/// Header field offsets.
pub mod hdr {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const HEADER_SIZE: usize = 12;
    pub const DIGEST: usize = 16;
    pub const FILE_SIZE: usize = 48;
    pub const ROUTE_COUNT: usize = 56;
    pub const VARIANT_COUNT: usize = 60;
    pub const ROUTES_OFF: usize = 64;
    pub const VARIANTS_OFF: usize = 72;
    pub const STRINGS_OFF: usize = 80;
    pub const STRINGS_LEN: usize = 88;
    pub const DATA_OFF: usize = 96;
    pub const NOT_FOUND_FIRST: usize = 104;
    pub const NOT_FOUND_COUNT: usize = 108;
    /// Bytes 110..128 are reserved and must be zero.
    pub const RESERVED: usize = 110;
}

/// Route entry field offsets (32 bytes an entry).
pub mod route {
    pub const PATH_OFF: usize = 0;
    pub const PATH_LEN: usize = 4;
    pub const STATUS: usize = 6;
    pub const FIRST_VARIANT: usize = 8;
    pub const VARIANT_COUNT: usize = 12;
    pub const FLAGS: usize = 14;
    pub const LAST_MODIFIED: usize = 16;
    /// Bytes 24..32 are reserved and must be zero.
    pub const RESERVED: usize = 24;
}

/// Variant entry field offsets (64 bytes an entry).
pub mod variant {
    pub const CODING: usize = 0;
    pub const FLAGS: usize = 1;
    pub const STATUS_LEN: usize = 2;
    pub const LENGTH_LEN: usize = 4;
    pub const RESERVED_A: usize = 6;
    pub const HEAD_OFF: usize = 8;
    pub const HEAD_LEN: usize = 16;
    pub const NM_LEN: usize = 20;
    pub const NM_OFF: usize = 24;
    pub const BODY_OFF: usize = 32;
    pub const BODY_LEN: usize = 40;
    pub const ETAG_OFF: usize = 48;
    pub const ETAG_LEN: usize = 52;
    pub const NM_STATUS_LEN: usize = 54;
    /// Bytes 56..64 are reserved and must be zero.
    pub const RESERVED_B: usize = 56;
}

/// A content coding of a variant (RFC 9110 §8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Coding {
    Identity = 0,
    Gzip = 1,
    Br = 2,
    Zstd = 3,
}

impl Coding {
    pub const ALL: [Coding; 4] = [Coding::Identity, Coding::Gzip, Coding::Br, Coding::Zstd];

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
