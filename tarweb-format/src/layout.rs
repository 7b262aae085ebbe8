//! Byte layout of a `.twb` blob, version 2: every size, offset and field
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
pub const VERSION: u32 = 2;
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
pub const VARIANT_ENTRY_SIZE: usize = 96;
/// Longest route path, in bytes (a request target is capped near 8 KiB, and
/// no file system needs more than PATH_MAX).
pub const MAX_PATH_LEN: usize = 4096;
/// A route has one variant per content coding, so at most this many.
pub const MAX_VARIANTS_PER_ROUTE: usize = 4;
/// The most HPACK header list size (RFC 9113 §6.5.2: name + value + 32 per
/// field) a stored HTTP/2 header block may decode to: 64 KiB. It bounds what
/// the reader decodes per block, and what a client is asked to accept.
pub const MAX_H2_LIST_SIZE: usize = 64 * 1024;
/// The value of `not_found_first` when the blob has no 404 response.
pub const NONE_U32: u32 = u32::MAX;

/// Length of a Basic-Auth salt (`format-spec.md` §3).
pub const AUTH_SALT_LEN: usize = 16;
/// Length of a Basic-Auth credential digest.
pub const AUTH_DIGEST_LEN: usize = 32;
/// Most credentials one route accepts.
pub const MAX_AUTH: usize = 64;

/// Variant flag (bit 0 of `flags`): the body's encoding is the site's own
/// (a precompressed file beside the original), not the writer's encoder's.
/// Never set on an `identity` variant.
pub const SITE_ENCODED: u8 = 1;

/// Header flag: the blob can be checked a variant at a time
/// (`format-spec.md` §2, §8): the strings section ends with the index
/// digest ([`INDEX_DIGEST_LEN`] bytes: blake3 of the bytes from
/// [`DIGEST_START`] to it) and every variant entry carries its `check`.
/// A reader may then verify the index at load and each variant before its
/// first use, instead of hashing the whole file.
pub const INDEXED: u16 = 1;

/// Length of the index digest at the end of an [`INDEXED`] blob's strings
/// section.
pub const INDEX_DIGEST_LEN: usize = 32;

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
    /// `flags`, u16: bit 0 [`INDEXED`](super::INDEXED); other bits zero.
    pub const FLAGS: usize = 110;
    /// `encoder`, 8 bytes: who compressed the variants the writer encoded
    /// itself, and how (an id of the compressors and their settings; all
    /// zero for "not said"). A packer may copy a variant from an older blob
    /// only when this is its own id: it is what makes the copy the bytes a
    /// fresh compression would give.
    pub const ENCODER: usize = 112;
    /// `rules_off`, u32: the dynamic `_redirects` rules (§5.1), relative
    /// to the strings section; 0 without.
    pub const RULES_OFF: usize = 120;
    /// `rules_count`, u16: how many.
    pub const RULES_COUNT: usize = 124;
    /// Reserved, 2 bytes (126 to 128): must be zero.
    pub const RESERVED_B: usize = 126;
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
    /// `auth_off`, u32: the route's Basic-Auth credentials (a salt, then
    /// digests), relative to the strings section; 0 without.
    pub const AUTH_OFF: usize = 24;
    /// `auth_count`, u16: number of credential digests; 0 for a route
    /// anyone may read.
    pub const AUTH_COUNT: usize = 28;
    /// Reserved, 2 bytes (30 to 32): must be zero.
    pub const RESERVED: usize = 30;
}

/// Variant entry field offsets (`format-spec.md` §4). An entry is
/// [`VARIANT_ENTRY_SIZE`] bytes.
pub mod variant {
    /// `coding`, u8: a [`Coding`](super::Coding).
    pub const CODING: usize = 0;
    /// Flags, u8: [`SITE_ENCODED`](super::SITE_ENCODED) or zero.
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
    /// `check`, u64: in an [`INDEXED`](super::INDEXED) blob, the first 8
    /// bytes (little-endian) of blake3 over the variant's blocks (head,
    /// body, 304 head, HTTP/2 block, HTTP/2 304 block, as stored); else
    /// zero.
    pub const CHECK: usize = 56;
    /// `h2_off`, u64: the HTTP/2 header block (HPACK), in the data section.
    pub const H2_OFF: usize = 64;
    /// `h2_len`, u32: the header block's length.
    pub const H2_LEN: usize = 72;
    /// `h2_nm_len`, u32: the 304 header block's length, 0 for none.
    pub const H2_NM_LEN: usize = 76;
    /// `h2_nm_off`, u64: the 304 header block, in the data section (0 for
    /// none).
    pub const H2_NM_OFF: usize = 80;
    /// `h2_status_len`, u16: bytes of the header block's first field,
    /// `:status`.
    pub const H2_STATUS_LEN: usize = 88;
    /// `h2_length_len`, u16: bytes of its second field, `content-length`.
    pub const H2_LENGTH_LEN: usize = 90;
    /// `h2_nm_status_len`, u16: bytes of the 304 header block's `:status`
    /// field (0 for none).
    pub const H2_NM_STATUS_LEN: usize = 92;
    /// Reserved, 2 bytes (94 to 96): must be zero.
    pub const RESERVED_C: usize = 94;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (name in `format-spec.md`, offset, width): every field of a
    /// structure, reserved bytes included.
    type Fields = &'static [(&'static str, usize, usize)];

    const HEADER: Fields = &[
        ("magic", hdr::MAGIC, 8),
        ("version", hdr::VERSION, 4),
        ("header_size", hdr::HEADER_SIZE, 4),
        ("digest", hdr::DIGEST, 32),
        ("file_size", hdr::FILE_SIZE, 8),
        ("route_count", hdr::ROUTE_COUNT, 4),
        ("variant_count", hdr::VARIANT_COUNT, 4),
        ("routes_off", hdr::ROUTES_OFF, 8),
        ("variants_off", hdr::VARIANTS_OFF, 8),
        ("strings_off", hdr::STRINGS_OFF, 8),
        ("strings_len", hdr::STRINGS_LEN, 8),
        ("data_off", hdr::DATA_OFF, 8),
        ("not_found_first", hdr::NOT_FOUND_FIRST, 4),
        ("not_found_count", hdr::NOT_FOUND_COUNT, 2),
        ("flags", hdr::FLAGS, 2),
        ("encoder", hdr::ENCODER, 8),
        ("rules_off", hdr::RULES_OFF, 4),
        ("rules_count", hdr::RULES_COUNT, 2),
        ("reserved", hdr::RESERVED_B, 2),
    ];

    const ROUTE: Fields = &[
        ("path_off", route::PATH_OFF, 4),
        ("path_len", route::PATH_LEN, 2),
        ("status", route::STATUS, 2),
        ("first_variant", route::FIRST_VARIANT, 4),
        ("variant_count", route::VARIANT_COUNT, 2),
        ("flags", route::FLAGS, 2),
        ("last_modified", route::LAST_MODIFIED, 8),
        ("auth_off", route::AUTH_OFF, 4),
        ("auth_count", route::AUTH_COUNT, 2),
        ("reserved", route::RESERVED, 2),
    ];

    const VARIANT: Fields = &[
        ("coding", variant::CODING, 1),
        ("flags", variant::FLAGS, 1),
        ("status_len", variant::STATUS_LEN, 2),
        ("length_len", variant::LENGTH_LEN, 2),
        ("reserved", variant::RESERVED_A, 2),
        ("head_off", variant::HEAD_OFF, 8),
        ("head_len", variant::HEAD_LEN, 4),
        ("nm_len", variant::NM_LEN, 4),
        ("nm_off", variant::NM_OFF, 8),
        ("body_off", variant::BODY_OFF, 8),
        ("body_len", variant::BODY_LEN, 8),
        ("etag_off", variant::ETAG_OFF, 4),
        ("etag_len", variant::ETAG_LEN, 2),
        ("nm_status_len", variant::NM_STATUS_LEN, 2),
        ("check", variant::CHECK, 8),
        ("h2_off", variant::H2_OFF, 8),
        ("h2_len", variant::H2_LEN, 4),
        ("h2_nm_len", variant::H2_NM_LEN, 4),
        ("h2_nm_off", variant::H2_NM_OFF, 8),
        ("h2_status_len", variant::H2_STATUS_LEN, 2),
        ("h2_length_len", variant::H2_LENGTH_LEN, 2),
        ("h2_nm_status_len", variant::H2_NM_STATUS_LEN, 2),
        ("reserved", variant::RESERVED_C, 2),
    ];

    /// The fields, in offset order, tile `[0, size)`: each fits, none
    /// overlaps the next, no byte is left out.
    fn assert_tiles(what: &str, fields: Fields, size: usize) {
        let mut sorted = fields.to_vec();
        sorted.sort_by_key(|&(_, off, _)| off);
        let mut at = 0;
        for (name, off, width) in sorted {
            assert!(width > 0, "{what}.{name}");
            assert!(off + width <= size, "{what}.{name} ends past {size}");
            assert_eq!(off, at, "{what}.{name}: gap or overlap before it");
            // Integers are naturally aligned (reserved bytes are not
            // integers).
            if name != "reserved" && width <= 8 {
                assert_eq!(off % width, 0, "{what}.{name} is not aligned");
            }
            at = off + width;
        }
        assert_eq!(at, size, "{what}: fields do not reach the end");
    }

    #[test]
    fn fields_tile_their_structures() {
        assert_tiles("header", HEADER, HEADER_SIZE);
        assert_tiles("route", ROUTE, ROUTE_ENTRY_SIZE);
        assert_tiles("variant", VARIANT, VARIANT_ENTRY_SIZE);
        assert_eq!(HEADER_SIZE, 128);
        assert_eq!(MAGIC.len(), 8);
        // The digest covers everything after itself.
        assert_eq!(DIGEST_START, hdr::DIGEST + 32);
        assert_eq!(DIGEST_START, hdr::FILE_SIZE);
        // Entries keep 8-byte fields aligned in a table that starts at 128.
        assert_eq!(HEADER_SIZE % 8, 0);
        assert_eq!(ROUTE_ENTRY_SIZE % 8, 0);
        assert_eq!(VARIANT_ENTRY_SIZE % 8, 0);
        // Field widths hold their limits.
        assert!(MAX_PATH_LEN <= usize::from(u16::MAX));
        assert!(MAX_VARIANTS_PER_ROUTE <= usize::from(u16::MAX));
        // A block within the list bound has a length that fits `h2_len`.
        assert!(MAX_H2_LIST_SIZE <= u32::MAX as usize);
        assert_eq!(MAX_VARIANTS_PER_ROUTE, Coding::ALL.len());
    }

    /// `format-spec.md`'s tables say the same offsets, widths and names.
    #[test]
    fn spec_tables_match() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../format-spec.md");
        let spec = std::fs::read_to_string(path).expect("format-spec.md beside the crate");
        for (heading, fields) in [
            ("## 2. Header", HEADER),
            ("## 3. Route table", ROUTE),
            ("## 4. Variant table", VARIANT),
        ] {
            let section = spec.split(heading).nth(1).expect(heading);
            let rows: Vec<(String, usize, usize)> = section
                .lines()
                .skip_while(|l| !l.starts_with("| offset"))
                .skip(2)
                .take_while(|l| l.starts_with('|'))
                .map(|l| {
                    let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                    let num = |c: &str| c.parse::<usize>().expect(l);
                    (
                        cells[3].trim_matches('`').to_string(),
                        num(cells[1]),
                        num(cells[2]),
                    )
                })
                .collect();
            let want: Vec<(String, usize, usize)> = fields
                .iter()
                .map(|&(n, o, w)| (n.to_string(), o, w))
                .collect();
            assert_eq!(rows, want, "{heading}");
        }
    }

    #[test]
    fn coding_bytes_round_trip() {
        for (i, c) in Coding::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert_eq!(Coding::from_u8(*c as u8), Some(*c));
        }
        for b in Coding::ALL.len() as u8..=u8::MAX {
            assert_eq!(Coding::from_u8(b), None, "{b}");
        }
        let tokens: Vec<&str> = Coding::ALL.iter().map(|c| c.token()).collect();
        assert_eq!(tokens, ["identity", "gzip", "br", "zstd"]);
        // Ties between equal bodies go by this order.
        assert!(Coding::Identity < Coding::Gzip && Coding::Br < Coding::Zstd);
    }

    #[test]
    fn align_up_rounds_to_the_next_multiple() {
        for (x, want) in [
            (0, 0),
            (1, PAGE),
            (PAGE - 1, PAGE),
            (PAGE, PAGE),
            (PAGE + 1, 2 * PAGE),
            (10 * PAGE + 7, 11 * PAGE),
        ] {
            assert_eq!(align_up(x, PAGE), want, "{x}");
        }
        assert_eq!(align_up(13, 8), 16);
        assert_eq!(align_up(u64::MAX - PAGE + 1, PAGE), u64::MAX - PAGE + 1);
    }

    #[test]
    fn integers_are_little_endian() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_at(&b, 1), 0x0302);
        assert_eq!(u32_at(&b, 0), 0x0403_0201);
        assert_eq!(u64_at(&b, 1), 0x0908_0706_0504_0302);
    }
}
