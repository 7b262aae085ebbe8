//! The `.twb` blob: one file holding a whole static site as precomputed HTTP
//! responses. This crate owns its bytes: [`write_blob`] writes one,
//! [`Blob::parse`] validates one and gives zero-copy access to it.
//! `format-spec.md` at the repository root is the byte-exact specification.

#![forbid(unsafe_code)]

mod error;
pub mod layout;
mod read;
pub mod rules;
mod write;

pub use error::{
    FormatError, FormatErrorKind, HeadProblem, InvalidKind, RouteProblem, RunProblem, Section,
    SpecPart, VariantProblem, WriteError,
};
pub use layout::{Coding, MAX_PATH_LEN, PAGE};
pub use read::{Blob, Layout, NotModified, Route, Variant, Variants, Verify};
pub use rules::reason_phrase;
pub use write::{blob_to_vec, write_blob, BlobSpec, ResponseSpec, RouteSpec, WriteStats};
