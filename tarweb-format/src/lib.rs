//! The `.twb` blob: one file holding a whole static site as precomputed HTTP
//! responses. This crate owns its bytes: [`write_blob`] writes one,
//! [`Blob::parse`] validates one and gives zero-copy access to it.
//! `format-spec.md` at the repository root is the byte-exact specification.

#![forbid(unsafe_code)]

mod head;
mod header;
pub mod layout;
mod place;
mod read;
mod read_error;
pub mod rules;
mod write;
mod write_error;

pub use header::Layout;
pub use layout::{Coding, MAX_PATH_LEN, PAGE};
pub use read::{Blob, NotModified, Route, Variant, Variants, Verify};
pub use read_error::{
    FormatError, FormatErrorKind, HeadProblem, RouteProblem, RunProblem, Section, VariantProblem,
};
pub use rules::reason_phrase;
pub use write::{blob_to_vec, write_blob, BlobSpec, ResponseSpec, RouteSpec, WriteStats};
pub use write_error::{InvalidKind, SpecPart, WriteError};
