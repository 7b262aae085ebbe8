//! tarweb-serve: serves `.twb` blobs over HTTP/1.x and HTTPS, one
//! share-nothing epoll loop per core. A request flows `worker` (epoll,
//! accept, timers) → `conn` (one connection's state machine over its
//! transport) → `proto` (the protocol seam; `proto::h1` frames HTTP/1.x) →
//! `dispatch` (pure: request + blob → plan) → `output` (segments of the
//! blob, sent with writev/sendfile). Around it: `server` (startup,
//! shutdown), `root`/`sites`/`publish`/`watch` (the blobs served and their
//! live swap), `sandbox` (confinement after start-up), `tls`, `hot`, `timers`, `date`, `access_log`, `metrics`,
//! `stats`, and
//! `sys`, the one module with syscalls and `unsafe`. `tarweb-serve/README.md`
//! has the table and the flow step by step.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[macro_use]
pub mod log;
pub(crate) mod access_log;
pub(crate) mod acme;
pub(crate) mod config;
pub(crate) mod conn;
pub(crate) mod date;
pub(crate) mod dispatch;
/// Entry points for the fuzz targets (`fuzz/`); not an API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod hot;
pub(crate) mod http;
pub(crate) mod metrics;
pub(crate) mod output;
pub(crate) mod proto;
pub(crate) mod publish;
pub(crate) mod root;
pub(crate) mod sandbox;
pub mod server;
pub(crate) mod sites;
pub(crate) mod stats;
#[allow(unsafe_code)]
pub mod sys;
pub(crate) mod timers;
pub mod tls;
pub(crate) mod watch;
pub(crate) mod worker;

pub use output::DEFAULT_SENDFILE_THRESHOLD;
