//! HTTP/1.x semantics: parsing and the decisions a response depends on.
//! Nothing here does I/O.

pub mod auth;
pub mod conditional;
pub mod multipart;
pub mod negotiate;
pub mod path;
pub mod range;
pub mod request;
pub mod stored;
