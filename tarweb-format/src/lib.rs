//! The `.twb` blob: one file holding a whole static site as precomputed HTTP
//! responses. This crate owns its bytes: [`write_blob`] writes one,
//! [`Blob::parse`] validates one and gives zero-copy access to it.
//! `format-spec.md` at the repository root is the byte-exact specification,
//! [`layout`] its constants, and [`rules`] the rules the packer, the blob
//! and the server share (token characters, status lines, route paths);
//! [`hpack`] is HTTP/2's header compression, which both binaries use: the
//! packer to store header blocks, the server to read requests.
//!
//! A blob is built from a [`BlobSpec`]: routes, each with one
//! [`ResponseSpec`] per content coding, and an optional 404 response. The
//! caller chooses the headers; the writer adds the status line and the
//! `Content-Length` line, stores each body once, and places every response
//! so a server can send it with one `writev` or `sendfile`. A [`Body`] is
//! bytes in memory or a range of an open file, which the writer reads in
//! bounded chunks when it needs them.
//!
//! ```
//! use tarweb_format::{blob_to_vec, Blob, BlobSpec, Coding, ResponseSpec, RouteSpec};
//!
//! let etag = "\"v1\"".to_string();
//! let spec = BlobSpec {
//!     routes: vec![RouteSpec {
//!         path: "/hello.txt".into(),
//!         status: 200,
//!         last_modified: 1_700_000_000,
//!         variants: vec![ResponseSpec {
//!             coding: Coding::Identity,
//!             headers: vec![
//!                 ("Content-Type".into(), "text/plain; charset=utf-8".into()),
//!                 ("ETag".into(), etag.clone()),
//!             ],
//!             body: "hello, world\n".into(),
//!             etag: Some(etag),
//!             not_modified: None,
//!             site_encoded: false,
//!         }],
//!         auth: None,
//!     }],
//!     not_found: vec![],
//!     encoder: [0; 8], // "not said": nothing compressed here
//!     rules: vec![],
//! };
//! let (bytes, stats) = blob_to_vec(&spec)?;
//! assert_eq!(stats.file_size, bytes.len() as u64);
//!
//! // Anything read from outside is validated whole, digest included.
//! let blob = Blob::parse(&bytes)?;
//! let route = blob.lookup(b"/hello.txt").expect("the route is there");
//! assert_eq!(route.status(), 200);
//! let v = route.variants().identity();
//! assert_eq!(v.body(), b"hello, world\n");
//! assert_eq!(v.status_line(), b"HTTP/1.1 200 OK\r\n");
//! assert_eq!(v.length_line(), b"Content-Length: 13\r\n");
//! assert!(blob.lookup(b"/nope").is_none());
//!
//! // A damaged blob is refused with the rule it breaks.
//! let mut bad = bytes.clone();
//! *bad.last_mut().unwrap() ^= 1;
//! let err = Blob::parse(&bad).unwrap_err();
//! assert!(matches!(err.kind, tarweb_format::FormatErrorKind::DigestMismatch { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
pub mod dynamic;
mod h2;
mod head;
mod header;
pub mod hpack;
pub mod layout;
mod lazy;
mod place;
mod read;
mod read_error;
pub mod rules;
mod spill;
mod view;
mod write;
mod write_error;

pub use body::Body;
pub use header::Layout;
pub use layout::{Coding, MAX_H2_LIST_SIZE, MAX_PATH_LEN, PAGE};
#[doc(hidden)]
pub use lazy::reseal;
pub use lazy::{VariantChecks, Verdict};
pub use read::{digest_threads, Blob, Verify};
pub use read_error::{
    FormatError, FormatErrorKind, H2Problem, HeadProblem, RouteProblem, RuleProblem, RunProblem,
    Section, VariantProblem,
};
pub use rules::reason_phrase;
pub use view::{Auth, NotModified, Route, Variant, Variants};
pub use write::{
    blob_to_vec, write_blob, write_blob_from, AuthSpec, BlobSpec, ResponseSpec, RouteSpec,
    RuleSpec, WriteStats,
};
pub use write_error::{InvalidKind, SpecPart, WriteError};
