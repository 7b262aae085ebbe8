//! The reader's error, [`FormatError`]: one variant per rule of
//! `format-spec.md` it can refuse a file for, carrying what the message
//! needs, so a caller can match on what went wrong and a person reads the
//! sentence.
//!
//! Over 600 lines on purpose: one typed error per rule of the spec, each beside its message.

use crate::hpack::HpackError;
use crate::layout::{
    Coding, HEADER_SIZE, MAX_H2_LIST_SIZE, MAX_PATH_LEN, MAX_VARIANTS_PER_ROUTE, VERSION,
};
use crate::rules::RoutePathError;
use std::fmt;

/// Why [`Blob::parse`](crate::Blob::parse) refused a blob: the file offset
/// of the field or entry that breaks a rule, and which rule.
///
/// Displays as `invalid blob at offset N: <what>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Absolute file offset of the offending header field, table entry or
    /// padding (for [`FormatErrorKind::TooShort`], the file's length).
    pub offset: u64,
    /// The rule the blob breaks.
    pub kind: FormatErrorKind,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid blob at offset {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for FormatError {}

/// Every refusal of the reader (`format-spec.md` §8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatErrorKind {
    /// The file is shorter than the 128-byte header.
    TooShort {
        /// The file's length in bytes.
        len: u64,
    },
    /// The first 8 bytes are not [`MAGIC`](crate::layout::MAGIC).
    BadMagic,
    /// A format version this reader does not know (a version 1 blob is
    /// one: it has no HTTP/2 header blocks, and must be packed again).
    UnsupportedVersion {
        /// The header's `version`.
        version: u32,
    },
    /// `header_size` is not 128.
    HeaderSize {
        /// The header's `header_size`.
        size: u32,
    },
    /// `file_size` differs from the file's length: truncated or appended to.
    FileSize {
        /// What the header says.
        header: u64,
        /// The file's length.
        actual: u64,
    },
    /// A reserved header byte is not zero.
    ReservedHeader,
    /// The header's `flags` has a bit this reader does not know.
    UnknownFlags(u16),
    /// The blob is [`INDEXED`](crate::layout::INDEXED) but its strings
    /// section is too short to end with the index digest.
    NoIndexDigest,
    /// The index digest (the end of the strings section) is not the
    /// blake3 of the bytes before it: the header, tables or strings are
    /// corrupt.
    IndexDigestMismatch {
        /// The digest the strings section ends with.
        stored: [u8; 32],
        /// The digest of the index's bytes.
        computed: [u8; 32],
    },
    /// A section offset differs from the one the counts imply (sections are
    /// contiguous, in a fixed order).
    SectionOffset {
        /// Which offset.
        section: Section,
        /// The header's value.
        found: u64,
        /// The implied value, `None` when it overflows or (for the data
        /// section) the strings run past the end of the file.
        expected: Option<u64>,
    },
    /// `data_off` is past the end of the file.
    DataPastEnd {
        /// The header's `data_off`.
        data_off: u64,
    },
    /// A byte between the strings section and the data section is not zero.
    Padding,
    /// There are no 404 variants, but `not_found_first` is not `0xFFFFFFFF`.
    NotFoundIndex {
        /// The header's `not_found_first`.
        first: u32,
    },
    /// The blake3 digest of the file is not the one in its header: the file
    /// is corrupt or truncated.
    DigestMismatch {
        /// The digest the header holds.
        stored: [u8; 32],
        /// The digest of the file's bytes.
        computed: [u8; 32],
    },
    /// Variant entry `index` breaks a rule (`format-spec.md` §4).
    Variant {
        /// Index in the variant table.
        index: usize,
        /// What is wrong with it.
        problem: VariantProblem,
    },
    /// Route entry `index` breaks a rule (`format-spec.md` §3).
    Route {
        /// Index in the route table.
        index: usize,
        /// What is wrong with it.
        problem: RouteProblem,
    },
    /// The run of 404 variants breaks a rule of runs.
    NotFoundRun(RunProblem),
    /// A dynamic `_redirects` rule breaks a rule of §5.1.
    Rule {
        /// Its index, in order.
        index: usize,
        /// What is wrong.
        problem: RuleProblem,
    },
}

/// A section whose offset the header stores ([`FormatErrorKind::SectionOffset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `routes_off`.
    Routes,
    /// `variants_off`.
    Variants,
    /// `strings_off`.
    Strings,
    /// `data_off`.
    Data,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Routes => "routes offset",
            Section::Variants => "variants offset",
            Section::Strings => "strings offset",
            Section::Data => "data offset",
        }
    }
}

/// What is wrong with a variant entry ([`FormatErrorKind::Variant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VariantProblem {
    /// The coding byte is not a known [`Coding`].
    UnknownCoding(u8),
    /// A flag or reserved byte is not zero.
    Reserved,
    /// An `identity` variant is marked as encoded by the site.
    SiteEncodedIdentity,
    /// The head is not inside the data section.
    HeadOutside {
        /// `head_off`.
        off: u64,
        /// `head_len`.
        len: u64,
    },
    /// The body is not inside the data section.
    BodyOutside {
        /// `body_off`.
        off: u64,
        /// `body_len`.
        len: u64,
    },
    /// The head breaks a rule of heads.
    Head(HeadProblem),
    /// There is no 304 head, but `nm_off` or `nm_status_len` is not zero.
    NotModifiedFieldsSet,
    /// The 304 head is not inside the data section.
    NotModifiedOutside {
        /// `nm_off`.
        off: u64,
        /// `nm_len`.
        len: u64,
    },
    /// The 304 head breaks a rule of heads.
    NotModifiedHead(HeadProblem),
    /// The 304 head's status line is not a 304.
    NotModifiedStatus,
    /// There is no ETag, but `etag_off` is not zero.
    EtagOffsetSet,
    /// The ETag is not inside the strings section.
    EtagOutside,
    /// The ETag is not a strong entity-tag (`"` …  `"`).
    EtagInvalid,
    /// The HTTP/2 header block is not inside the data section.
    H2Outside {
        /// `h2_off`.
        off: u64,
        /// `h2_len`.
        len: u64,
    },
    /// The HTTP/2 header block breaks a rule of header blocks.
    H2Block(H2Problem),
    /// There is no HTTP/2 304 block, but `h2_nm_off` or `h2_nm_status_len`
    /// is not zero.
    H2NotModifiedFieldsSet,
    /// There is a 304 head without an HTTP/2 304 block, or the other way
    /// round: a variant has both or neither.
    H2NotModifiedMismatch {
        /// Whether the variant has a 304 head (then the HTTP/2 block is
        /// missing; else it is the one too many).
        has_head: bool,
    },
    /// The HTTP/2 304 block is not inside the data section.
    H2NotModifiedOutside {
        /// `h2_nm_off`.
        off: u64,
        /// `h2_nm_len`.
        len: u64,
    },
    /// The HTTP/2 304 block breaks a rule of header blocks.
    H2NotModifiedBlock(H2Problem),
    /// The variant's blocks do not hash to its `check` (an
    /// [`INDEXED`](crate::layout::INDEXED) blob): they are corrupt.
    CheckMismatch {
        /// The entry's `check`.
        stored: u64,
        /// What the blocks hash to.
        computed: u64,
    },
    /// The head's status is not the one of the run the variant was asked
    /// for under ([`Blob::verify`](crate::Blob::verify)).
    StatusMismatch {
        /// The run's status.
        expected: u16,
    },
}

/// What is wrong with an HTTP/2 header block or 304 block
/// (`format-spec.md` §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum H2Problem {
    /// The block does not decode (RFC 7541); the error's offset is in the
    /// block.
    Hpack(HpackError),
    /// The representation at `offset` in the block would change the
    /// client's dynamic table (a literal with incremental indexing, or a
    /// table size update): the block would not mean the same on every
    /// connection.
    DynamicTable {
        /// Offset of the representation in the block.
        offset: usize,
    },
    /// `h2_status_len` (+ `h2_length_len`) runs past the block's end.
    LengthsPastEnd,
    /// The first `h2_status_len` bytes do not decode to exactly one field,
    /// `:status` with the status of the HTTP/1.1 head (304 for a 304 block).
    StatusField {
        /// The status the field must carry.
        expected: u16,
    },
    /// The next `h2_length_len` bytes do not decode to exactly one field,
    /// `content-length` with the body's length.
    LengthField {
        /// The body length the field must state.
        body_len: u64,
    },
    /// A later field is a pseudo-field (its name starts with `:`).
    PseudoField,
    /// A field name is empty or not a lower-case token.
    NameNotLowerToken,
    /// A connection-specific field, which HTTP/2 forbids
    /// ([`is_connection_specific`](crate::rules::is_connection_specific)).
    ConnectionField,
    /// A second `content-length` field (a server answering a range skips
    /// only the first).
    ExtraContentLength,
    /// A field value has a control byte (other than HTAB) or DEL, or starts
    /// or ends with a space or HTAB.
    ValueInvalid,
    /// The decoded header list (name + value + 32 per field) is larger
    /// than [`MAX_H2_LIST_SIZE`](crate::layout::MAX_H2_LIST_SIZE).
    ListTooLarge,
}

/// What is wrong with a head or a 304 head (`format-spec.md` §4.1, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadProblem {
    /// It does not end with `\r\n\r\n`.
    NoEmptyLine,
    /// `status_len` runs past the head's end.
    StatusLenPastEnd {
        /// The entry's status line length.
        status_len: usize,
    },
    /// The status line is not `HTTP/1.1 NNN reason\r\n`.
    BadStatusLine,
    /// `status_len` does not end at the status line's CRLF.
    StatusLenNotAtCrlf,
    /// `length_len` runs past the head's end.
    LengthLinePastEnd,
    /// The line after the status line is not `Content-Length: <body_len>`.
    LengthLine {
        /// The body length the line must state.
        body_len: u64,
    },
    /// A header line does not end with CRLF.
    LineNotCrlf,
    /// A header line has no colon.
    NoColon,
    /// A header name is empty or not a token.
    NameNotToken,
    /// A header value has a control byte (other than HTAB) or DEL.
    ValueControl,
}

/// What is wrong with a route entry ([`FormatErrorKind::Route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteProblem {
    /// A flag or reserved byte is not zero.
    Reserved,
    /// `path_len` is 0 or over [`MAX_PATH_LEN`].
    PathLength(usize),
    /// The path is not inside the strings section.
    PathOutside,
    /// The path breaks the path rules ([`check_route_path`](crate::rules::check_route_path)).
    Path {
        /// The path's bytes.
        path: Vec<u8>,
        /// The rule it breaks.
        error: RoutePathError,
    },
    /// The path does not sort strictly after the previous route's.
    Unsorted {
        /// The path's bytes.
        path: Vec<u8>,
    },
    /// The status is neither 200 nor a storable redirect.
    Status(u16),
    /// The route's run of variants breaks a rule of runs.
    Run(RunProblem),
    /// Basic-Auth credentials on a route that is not a 200, over
    /// `MAX_AUTH` of them, outside the strings section, or an offset
    /// without any.
    Auth,
}

/// What is wrong with a dynamic `_redirects` rule (`format-spec.md` §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleProblem {
    /// The record is not inside the strings section (or an offset is set
    /// with no rules).
    Outside,
    /// Over `MAX_RULES` rules.
    TooMany(usize),
    /// An unknown kind byte.
    Kind(u8),
    /// The reserved byte is not zero.
    Reserved,
    /// A status the kind does not have.
    Status(u16),
    /// The pattern is not a valid token list.
    Pattern,
    /// The template is not valid for the pattern.
    Template,
    /// A run where the kind has a template, or the reverse.
    Shape,
    /// The rule's run breaks a rule of runs.
    Run(RunProblem),
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RuleProblem::*;
        match self {
            Outside => f.write_str("record is outside the strings section"),
            TooMany(n) => write!(f, "{n} rules, more than {}", crate::dynamic::MAX_RULES),
            Kind(k) => write!(f, "unknown kind {k}"),
            Reserved => f.write_str("reserved byte is not zero"),
            Status(s) => write!(f, "status {s} does not go with its kind"),
            Pattern => f.write_str("invalid pattern"),
            Template => f.write_str("invalid template for its pattern"),
            Shape => f.write_str("run and template do not go with its kind"),
            Run(p) => write!(f, "its responses: {p}"),
        }
    }
}

/// What is wrong with a run of variants: a route's, or the 404's
/// (`format-spec.md` §3, "Runs of variants").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunProblem {
    /// Not 1 to [`MAX_VARIANTS_PER_ROUTE`] variants.
    Count(usize),
    /// The run leaves the variant table.
    PastTable {
        /// Index of its first variant.
        first: usize,
        /// Its number of variants.
        count: usize,
    },
    /// Two variants have this coding.
    DuplicateCoding(Coding),
    /// The variants are not sorted by body length.
    NotSorted,
    /// A variant's status line does not carry the run's status.
    StatusMismatch {
        /// Index of the variant in the variant table.
        variant: usize,
        /// The run's status (the route's, or 404).
        expected: u16,
    },
    /// A variant of a 200 route has no ETag.
    MissingEtag {
        /// Index of the variant in the variant table.
        variant: usize,
    },
    /// A variant of a redirect or of the 404 has an ETag or a 304 head.
    UnexpectedValidator {
        /// Index of the variant in the variant table.
        variant: usize,
    },
    /// No variant is `identity`.
    NoIdentity,
}

/// Lower-case hex, straight into the formatter.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A path for a message: quoted, invalid UTF-8 replaced.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

impl fmt::Display for FormatErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FormatErrorKind::*;
        match self {
            TooShort { len } => write!(
                f,
                "file is {len} bytes, shorter than the {HEADER_SIZE}-byte header"
            ),
            BadMagic => f.write_str("bad magic: not a tarweb blob (.twb)"),
            UnsupportedVersion { version } if *version < VERSION => write!(
                f,
                "format version {version}, this reader knows only {VERSION}: \
                 re-pack the site with this release's tarweb-pack"
            ),
            UnsupportedVersion { version } => write!(
                f,
                "format version {version}, this reader knows only {VERSION}: \
                 the blob is newer than this tarweb, upgrade it or pack the site \
                 with this release's tarweb-pack"
            ),
            HeaderSize { size } => write!(f, "header size {size}, expected {HEADER_SIZE}"),
            FileSize { header, actual } => write!(
                f,
                "header says the file is {header} bytes, it is {actual} (truncated or appended to)"
            ),
            ReservedHeader => f.write_str("reserved header bytes are not zero"),
            UnknownFlags(flags) => write!(f, "unknown header flags {flags:#06x}"),
            NoIndexDigest => {
                f.write_str("indexed blob, but its strings section cannot hold the index digest")
            }
            IndexDigestMismatch { stored, computed } => write!(
                f,
                "index digest mismatch: the blob says {}, its header, tables and strings hash to {} (corrupt)",
                Hex(stored),
                Hex(computed)
            ),
            SectionOffset {
                section,
                found,
                expected: Some(want),
            } => write!(
                f,
                "{} is {found}, expected {want} (sections must be contiguous)",
                section.name()
            ),
            SectionOffset {
                section,
                found,
                expected: None,
            } => write!(
                f,
                "{} is {found}, but the sections before it overflow or run past the end of the file",
                section.name()
            ),
            DataPastEnd { data_off } => {
                write!(f, "data offset {data_off} is past the end of the file")
            }
            Padding => f.write_str("padding before the data section is not zero"),
            NotFoundIndex { first } => write!(
                f,
                "no 404 variants, but the first index is {first:#x}, not 0xFFFFFFFF"
            ),
            DigestMismatch { stored, computed } => write!(
                f,
                "digest mismatch: header says {}, content hashes to {} (corrupt or truncated)",
                Hex(stored),
                Hex(computed)
            ),
            Variant { index, problem } => write!(f, "variant {index}: {problem}"),
            Route { index, problem } => write!(f, "route {index}: {problem}"),
            NotFoundRun(problem) => write!(f, "404 response: {problem}"),
            Rule { index, problem } => write!(f, "_redirects rule {index}: {problem}"),
        }
    }
}

impl fmt::Display for VariantProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use VariantProblem::*;
        match self {
            UnknownCoding(c) => write!(f, "unknown coding {c}"),
            Reserved => f.write_str("reserved bytes are not zero"),
            SiteEncodedIdentity => f.write_str("an identity body is marked as encoded by the site"),
            HeadOutside { off, len } => {
                write!(f, "head [{off}, +{len}) is outside the data section")
            }
            BodyOutside { off, len } => {
                write!(f, "body [{off}, +{len}) is outside the data section")
            }
            Head(p) => write!(f, "head: {p}"),
            NotModifiedFieldsSet => {
                f.write_str("no 304 block, but its offset or status length is set")
            }
            NotModifiedOutside { off, len } => {
                write!(f, "304 block [{off}, +{len}) is outside the data section")
            }
            NotModifiedHead(p) => write!(f, "304 block: {p}"),
            NotModifiedStatus => f.write_str("304 block does not start with a 304 status line"),
            EtagOffsetSet => f.write_str("no ETag, but its offset is set"),
            EtagOutside => f.write_str("ETag is outside the strings section"),
            EtagInvalid => f.write_str("ETag is not a strong entity-tag (\"...\")"),
            H2Outside { off, len } => write!(
                f,
                "HTTP/2 header block [{off}, +{len}) is outside the data section"
            ),
            H2Block(p) => write!(f, "HTTP/2 header block: {p}"),
            H2NotModifiedFieldsSet => {
                f.write_str("no HTTP/2 304 block, but its offset or status length is set")
            }
            H2NotModifiedMismatch { has_head: true } => {
                f.write_str("has a 304 head but no HTTP/2 304 block")
            }
            H2NotModifiedMismatch { has_head: false } => {
                f.write_str("has an HTTP/2 304 block but no 304 head")
            }
            H2NotModifiedOutside { off, len } => write!(
                f,
                "HTTP/2 304 block [{off}, +{len}) is outside the data section"
            ),
            H2NotModifiedBlock(p) => write!(f, "HTTP/2 304 block: {p}"),
            CheckMismatch { stored, computed } => write!(
                f,
                "blocks hash to check {computed:#018x}, the entry says {stored:#018x} (corrupt)"
            ),
            StatusMismatch { expected } => {
                write!(f, "head's status is not {expected}, its route's")
            }
        }
    }
}

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HeadProblem::*;
        match self {
            NoEmptyLine => f.write_str("does not end with an empty line"),
            StatusLenPastEnd { status_len } => {
                write!(f, "status line length {status_len} is past its end")
            }
            BadStatusLine => f.write_str("status line is not `HTTP/1.1 NNN reason\\r\\n`"),
            StatusLenNotAtCrlf => f.write_str("status line length does not end at its CRLF"),
            LengthLinePastEnd => f.write_str("Content-Length line length is past the head's end"),
            LengthLine { body_len } => write!(
                f,
                "Content-Length line is not `Content-Length: {body_len}` right after the status line"
            ),
            LineNotCrlf => f.write_str("a header line does not end with CRLF"),
            NoColon => f.write_str("a header line has no colon"),
            NameNotToken => f.write_str("a header name is not a token"),
            ValueControl => f.write_str("a header value has a control byte"),
        }
    }
}

impl fmt::Display for H2Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use H2Problem::*;
        match self {
            Hpack(e) => write!(f, "does not decode: {e}"),
            DynamicTable { offset } => write!(
                f,
                "the representation at byte {offset} changes the dynamic table \
                 (a stored block may use the static table only)"
            ),
            LengthsPastEnd => f.write_str("its field lengths run past its end"),
            StatusField { expected } => {
                write!(f, "its first field is not exactly `:status: {expected}`")
            }
            LengthField { body_len } => write!(
                f,
                "its second field is not exactly `content-length: {body_len}`"
            ),
            PseudoField => f.write_str("a pseudo-field after the first field"),
            NameNotLowerToken => f.write_str("a field name is not a lower-case token"),
            ConnectionField => f.write_str("a connection-specific field, which HTTP/2 forbids"),
            ExtraContentLength => f.write_str("a second content-length field"),
            ValueInvalid => {
                f.write_str("a field value has a control byte or leading or trailing whitespace")
            }
            ListTooLarge => write!(
                f,
                "its header list is over {MAX_H2_LIST_SIZE} bytes (name + value + 32 per field)"
            ),
        }
    }
}

impl fmt::Display for RouteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RouteProblem::*;
        match self {
            Reserved => f.write_str("reserved bytes are not zero"),
            PathLength(len) => write!(f, "path length {len} is not in 1..={MAX_PATH_LEN}"),
            PathOutside => f.write_str("path is outside the strings section"),
            Path { path, error } => write!(f, "path {} {error}", Shown(path)),
            Auth => f.write_str(
                "Basic-Auth credentials are on a route that is not a 200, are too many, \
                 or lie outside the strings section",
            ),
            Unsorted { path } => write!(
                f,
                "path {} is not sorted after the previous one",
                Shown(path)
            ),
            Status(s) => write!(f, "status {s} is not 200 or a redirect"),
            Run(p) => p.fmt(f),
        }
    }
}

impl fmt::Display for RunProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RunProblem::*;
        match self {
            Count(n) => write!(
                f,
                "variant count {n} is not in 1..={MAX_VARIANTS_PER_ROUTE}"
            ),
            PastTable { first, count } => {
                write!(f, "variants {first}+{count} run past the table")
            }
            DuplicateCoding(c) => write!(f, "two {} variants", c.token()),
            NotSorted => f.write_str("variants are not sorted by body length"),
            StatusMismatch { variant, expected } => {
                write!(f, "variant {variant}'s status line is not {expected}")
            }
            MissingEtag { variant } => write!(
                f,
                "variant {variant} has no ETag (every variant of a 200 route has one)"
            ),
            UnexpectedValidator { variant } => write!(
                f,
                "variant {variant} has an ETag or a 304 block (only 200 routes have them)"
            ),
            NoIdentity => f.write_str("no identity variant"),
        }
    }
}

/// The reader's `Err` of `kind` at `offset`.
pub(crate) fn err<T>(offset: u64, kind: FormatErrorKind) -> Result<T, FormatError> {
    Err(FormatError { offset, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let e = FormatError {
            offset: 48,
            kind: FormatErrorKind::FileSize {
                header: 10,
                actual: 5,
            },
        };
        assert_eq!(
            e.to_string(),
            "invalid blob at offset 48: header says the file is 10 bytes, it is 5 (truncated or appended to)"
        );
        let e = FormatErrorKind::DigestMismatch {
            stored: [0xab; 32],
            computed: [0x01; 32],
        };
        assert_eq!(
            e.to_string(),
            format!(
                "digest mismatch: header says {}, content hashes to {} (corrupt or truncated)",
                "ab".repeat(32),
                "01".repeat(32)
            )
        );
        let e = FormatErrorKind::Route {
            index: 2,
            problem: RouteProblem::Path {
                path: b"/a//b".to_vec(),
                error: RoutePathError::EmptySegment,
            },
        };
        assert!(e
            .to_string()
            .starts_with("route 2: path \"/a//b\" has an empty segment"));
        let e = FormatErrorKind::SectionOffset {
            section: Section::Data,
            found: 4096,
            expected: None,
        };
        assert!(e.to_string().starts_with("data offset is 4096, but"), "{e}");
    }
}
