//! The writer's error, [`WriteError`]: an I/O failure, the part of the
//! spec that breaks a rule of the format and which rule, or a body whose
//! file changed under the writer.

use crate::layout::{Coding, MAX_H2_LIST_SIZE, MAX_VARIANTS_PER_ROUTE};
use crate::rules::RoutePathError;
use std::fmt;
use std::io;

/// Why [`write_blob`](crate::write_blob) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// Writing or seeking the output failed (the error is also the
    /// [`source`](std::error::Error::source)).
    Io(io::Error),
    /// The spec breaks a rule of the format: nothing was written.
    Invalid {
        /// Which part of the spec.
        at: SpecPart,
        /// What is wrong with it.
        kind: InvalidKind,
    },
    /// The bytes of a file-backed [`Body`](crate::Body) changed while the
    /// blob was being written (or its file ends before them): what the
    /// writer read from the file is not what it hashed earlier. The blob
    /// is left unfinished, never written with bytes its checks do not
    /// cover.
    #[non_exhaustive]
    BodyChanged {
        /// Where the body starts in its file.
        offset: u64,
        /// Its length in bytes.
        len: u64,
    },
}

/// The part of a [`BlobSpec`](crate::BlobSpec) a [`WriteError::Invalid`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecPart {
    /// The route with this path.
    Route(String),
    /// The 404 response ([`BlobSpec::not_found`](crate::BlobSpec::not_found)).
    NotFound,
    /// The dynamic rule with this index ([`BlobSpec::rules`](crate::BlobSpec::rules)).
    Rule(usize),
    /// The blob as a whole (a limit of the format).
    Blob,
}

impl fmt::Display for SpecPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecPart::Route(p) => write!(f, "route {p:?}"),
            SpecPart::NotFound => f.write_str("the 404 response"),
            SpecPart::Rule(i) => write!(f, "_redirects rule {i}"),
            SpecPart::Blob => f.write_str("the blob"),
        }
    }
}

/// Every rule the writer refuses a spec for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidKind {
    /// Two routes have the same path.
    DuplicateRoute,
    /// A dynamic rule whose pattern, template, status or run do not go
    /// together, or too many rules.
    Rule,
    /// An `identity` variant is marked as encoded by the site.
    SiteEncodedIdentity,
    /// Credentials on a route that is not a 200, or not 1 to `MAX_AUTH`
    /// of them.
    Auth,
    /// The route path breaks the path rules ([`check_route_path`](crate::rules::check_route_path)).
    Path(RoutePathError),
    /// The route status is not one the format stores (200, 301, 302, 303,
    /// 307, 308).
    Status(u16),
    /// Not 1 to [`MAX_VARIANTS_PER_ROUTE`] variants.
    VariantCount(usize),
    /// Two variants have this coding.
    DuplicateCoding(Coding),
    /// No variant is `identity`.
    NoIdentity,
    /// A header name is empty or not a token.
    HeaderName(String),
    /// The caller passed a `Content-Length` header (the writer adds it).
    ContentLength,
    /// The value of the named header has a control byte (other than HTAB)
    /// or DEL.
    HeaderValue(String),
    /// A head of this many bytes does not fit the format's 32-bit length.
    HeadTooLarge(usize),
    /// The ETag is not a strong entity-tag (or is over 65535 bytes).
    Etag(String),
    /// No `ETag` header carries the variant's ETag.
    EtagNotInHeaders(String),
    /// A variant of a 200 route has no ETag.
    MissingEtag,
    /// A variant of a redirect or of the 404 has an ETag.
    UnexpectedEtag,
    /// A variant of a redirect or of the 404 has a 304 head.
    UnexpectedNotModified,
    /// More routes or variants than a 32-bit count holds.
    TooManyEntries,
    /// The strings section (paths and ETags) is over 4 GiB.
    StringsTooLarge(usize),
    /// The response's HTTP/2 header list (name + value + 32 per field,
    /// `:status` and `content-length` included) has this many bytes, over
    /// [`MAX_H2_LIST_SIZE`].
    H2ListTooLarge(usize),
}

impl fmt::Display for InvalidKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InvalidKind::*;
        match self {
            DuplicateRoute => f.write_str("appears twice"),
            Path(e) => write!(f, "path {e}"),
            Status(s) => write!(f, "status {s} cannot be stored"),
            VariantCount(n) => write!(f, "{n} variants, expected 1 to {MAX_VARIANTS_PER_ROUTE}"),
            DuplicateCoding(c) => write!(f, "two variants with the same coding ({})", c.token()),
            NoIdentity => f.write_str("no identity variant"),
            HeaderName(n) => write!(f, "header name {n:?} is not a token"),
            ContentLength => f.write_str("Content-Length is added by the writer, not the caller"),
            HeaderValue(n) => write!(f, "header {n} has a control byte in its value"),
            HeadTooLarge(n) => write!(f, "head too large ({n} bytes, the limit is 4 GiB)"),
            Etag(t) => write!(f, "ETag {t} is not a strong entity-tag"),
            EtagNotInHeaders(t) => write!(f, "ETag {t} is not among the headers"),
            MissingEtag => f.write_str("a 200 response needs an ETag"),
            UnexpectedEtag => f.write_str("only 200 responses have ETags"),
            SiteEncodedIdentity => f.write_str("an identity body cannot be encoded by the site"),
            Rule => f.write_str(
                "a dynamic rule's pattern, template, status and responses do not go together",
            ),
            Auth => f.write_str("Basic-Auth needs a 200 route and 1 to 64 credentials"),
            UnexpectedNotModified => f.write_str("only 200 responses have a 304 block"),
            TooManyEntries => f.write_str("too many routes or variants"),
            StringsTooLarge(n) => write!(f, "string table over 4 GiB ({n} bytes)"),
            H2ListTooLarge(n) => write!(
                f,
                "headers too large for HTTP/2 ({n} bytes of header list, the limit is {MAX_H2_LIST_SIZE})"
            ),
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The io::Error is the source: a chain printer (anyhow's `{:#}`)
            // adds it, and it is not said twice.
            WriteError::Io(_) => f.write_str("writing the blob"),
            WriteError::Invalid {
                at,
                kind: InvalidKind::DuplicateRoute,
            } => write!(f, "{at} appears twice"),
            WriteError::Invalid { at, kind } => write!(f, "{at}: {kind}"),
            WriteError::BodyChanged { offset, len } => write!(
                f,
                "a body's bytes changed while the blob was being written \
                 ({len} bytes at offset {offset} of its file)"
            ),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Io(e) => Some(e),
            WriteError::Invalid { .. } | WriteError::BodyChanged { .. } => None,
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn write_errors_name_the_part_and_chain_io() {
        let e = WriteError::Invalid {
            at: SpecPart::Route("/dir".into()),
            kind: InvalidKind::DuplicateRoute,
        };
        assert_eq!(e.to_string(), "route \"/dir\" appears twice");
        let e = WriteError::Invalid {
            at: SpecPart::NotFound,
            kind: InvalidKind::NoIdentity,
        };
        assert_eq!(e.to_string(), "the 404 response: no identity variant");
        assert!(e.source().is_none());
        let e = WriteError::from(io::Error::other("disk full"));
        assert_eq!(e.to_string(), "writing the blob");
        assert_eq!(e.source().unwrap().to_string(), "disk full");
        let e = WriteError::BodyChanged {
            offset: 4096,
            len: 10,
        };
        assert_eq!(
            e.to_string(),
            "a body's bytes changed while the blob was being written \
             (10 bytes at offset 4096 of its file)"
        );
    }
}
