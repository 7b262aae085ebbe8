//! The 128-byte header (`format-spec.md` §1, §2), parsed into a [`Layout`]
//! whose offsets are proven consistent with the file's length.

use crate::layout::{self, hdr, u16_at, u32_at, u64_at};
use crate::read_error::{err, FormatError, FormatErrorKind, Section};

/// The header's offsets, proven consistent with a file of `file_size` bytes.
/// Plain data: keep it beside the bytes it was parsed from (e.g. an mmap)
/// and rebuild a [`Blob`](crate::Blob) view with
/// [`Blob::with_layout`](crate::Blob::with_layout).
///
/// The fields are the header's (`format-spec.md` §2); offsets are absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The file's length in bytes.
    pub file_size: u64,
    /// The blake3 digest of the file after the digest field, as stored.
    pub digest: [u8; 32],
    /// The `encoder` id (all zero: not said).
    pub encoder: [u8; 8],
    pub(crate) rules_off: u32,
    pub(crate) rules_count: u16,
    /// Number of routes.
    pub route_count: u32,
    /// Number of variants (of every route and of the 404).
    pub variant_count: u32,
    /// Offset of the route table (always 128).
    pub routes_off: u64,
    /// Offset of the variant table.
    pub variants_off: u64,
    /// Offset of the strings section.
    pub strings_off: u64,
    /// Length of the strings section.
    pub strings_len: u64,
    /// Offset of the data section (a multiple of 4096).
    pub data_off: u64,
    pub(crate) not_found_first: u32,
    pub(crate) not_found_count: u16,
    /// The header's `flags` ([`INDEXED`](crate::layout::INDEXED)).
    pub(crate) flags: u16,
    /// Parsed with [`Verify::Lazy`](crate::Verify::Lazy): the variants'
    /// blocks are checked by [`Blob::verify`](crate::Blob::verify), not yet.
    pub(crate) deferred: bool,
    /// Variants' `check` values are compared (digests are verified, and
    /// the blob has them).
    pub(crate) check_values: bool,
}

impl Layout {
    /// The blob has an index digest and per-variant checks.
    pub(crate) fn indexed(&self) -> bool {
        self.flags & layout::INDEXED != 0
    }
}

pub(crate) fn parse_header(b: &[u8]) -> Result<Layout, FormatError> {
    if b.len() < layout::HEADER_SIZE {
        return err(
            b.len() as u64,
            FormatErrorKind::TooShort {
                len: b.len() as u64,
            },
        );
    }
    if b[..8] != layout::MAGIC {
        return err(hdr::MAGIC as u64, FormatErrorKind::BadMagic);
    }
    let version = u32_at(b, hdr::VERSION);
    if version != layout::VERSION {
        return err(
            hdr::VERSION as u64,
            FormatErrorKind::UnsupportedVersion { version },
        );
    }
    let header_size = u32_at(b, hdr::HEADER_SIZE);
    if header_size as usize != layout::HEADER_SIZE {
        return err(
            hdr::HEADER_SIZE as u64,
            FormatErrorKind::HeaderSize { size: header_size },
        );
    }
    let file_size = u64_at(b, hdr::FILE_SIZE);
    if file_size != b.len() as u64 {
        return err(
            hdr::FILE_SIZE as u64,
            FormatErrorKind::FileSize {
                header: file_size,
                actual: b.len() as u64,
            },
        );
    }
    let reserved = |r: std::ops::Range<usize>| b[r].iter().any(|&x| x != 0);
    if reserved(hdr::RESERVED_B..layout::HEADER_SIZE) {
        return err(hdr::RESERVED_B as u64, FormatErrorKind::ReservedHeader);
    }
    let flags = u16_at(b, hdr::FLAGS);
    if flags & !layout::INDEXED != 0 {
        return err(hdr::FLAGS as u64, FormatErrorKind::UnknownFlags(flags));
    }
    let l = Layout {
        file_size,
        digest: b[hdr::DIGEST..hdr::DIGEST + 32]
            .try_into()
            .expect("32 bytes"),
        encoder: b[hdr::ENCODER..hdr::ENCODER + 8]
            .try_into()
            .expect("8 bytes"),
        rules_off: u32_at(b, hdr::RULES_OFF),
        rules_count: u16_at(b, hdr::RULES_COUNT),
        route_count: u32_at(b, hdr::ROUTE_COUNT),
        variant_count: u32_at(b, hdr::VARIANT_COUNT),
        routes_off: u64_at(b, hdr::ROUTES_OFF),
        variants_off: u64_at(b, hdr::VARIANTS_OFF),
        strings_off: u64_at(b, hdr::STRINGS_OFF),
        strings_len: u64_at(b, hdr::STRINGS_LEN),
        data_off: u64_at(b, hdr::DATA_OFF),
        not_found_first: u32_at(b, hdr::NOT_FOUND_FIRST),
        not_found_count: u16_at(b, hdr::NOT_FOUND_COUNT),
        flags,
        deferred: false,
        check_values: false,
    };
    // Sections are contiguous, in a fixed order, so every offset is implied;
    // requiring the implied value rejects overlaps in one comparison each.
    let expect = |field: usize, section: Section, found: u64, expected: Option<u64>| {
        if expected == Some(found) {
            return Ok(());
        }
        err(
            field as u64,
            FormatErrorKind::SectionOffset {
                section,
                found,
                expected,
            },
        )
    };
    expect(
        hdr::ROUTES_OFF,
        Section::Routes,
        l.routes_off,
        Some(layout::HEADER_SIZE as u64),
    )?;
    let variants_off = (l.route_count as u64)
        .checked_mul(layout::ROUTE_ENTRY_SIZE as u64)
        .and_then(|n| n.checked_add(l.routes_off));
    expect(
        hdr::VARIANTS_OFF,
        Section::Variants,
        l.variants_off,
        variants_off,
    )?;
    let strings_off = (l.variant_count as u64)
        .checked_mul(layout::VARIANT_ENTRY_SIZE as u64)
        .and_then(|n| n.checked_add(l.variants_off));
    expect(
        hdr::STRINGS_OFF,
        Section::Strings,
        l.strings_off,
        strings_off,
    )?;
    let data_off = l
        .strings_off
        .checked_add(l.strings_len)
        .filter(|&end| end <= file_size)
        .map(|end| layout::align_up(end, layout::PAGE));
    expect(hdr::DATA_OFF, Section::Data, l.data_off, data_off)?;
    if l.data_off > file_size {
        return err(
            hdr::DATA_OFF as u64,
            FormatErrorKind::DataPastEnd {
                data_off: l.data_off,
            },
        );
    }
    let strings_end = (l.strings_off + l.strings_len) as usize;
    if b[strings_end..l.data_off as usize].iter().any(|&x| x != 0) {
        return err(strings_end as u64, FormatErrorKind::Padding);
    }
    if l.indexed() && l.strings_len < layout::INDEX_DIGEST_LEN as u64 {
        return err(hdr::STRINGS_LEN as u64, FormatErrorKind::NoIndexDigest);
    }
    if l.not_found_count == 0 && l.not_found_first != layout::NONE_U32 {
        return err(
            hdr::NOT_FOUND_FIRST as u64,
            FormatErrorKind::NotFoundIndex {
                first: l.not_found_first,
            },
        );
    }
    Ok(l)
}
