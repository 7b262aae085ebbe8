//! tarweb-serve: serves a `.twb` blob over HTTP/1.x, one share-nothing
//! epoll loop per core. Modules, one job each: `sys` (every syscall and
//! every `unsafe`), `root` (the blob handle), `sites` (the host table),
//! `publish` (handing a new table to workers), `watch` (noticing and
//! loading a new blob), `worker` (the epoll loop),
//! `conn` (connection state and output queue), `http` (parsing and
//! semantics, no I/O), `response` (a decision into bytes), `hot` (whole
//! responses of the busiest bodies, rebuilt each second), `timers`,
//! `date`, `stats` (syscall counters), `tls` (HTTPS: rustls handshake,
//! kernel or user-space records), `access_log`, `server` (startup,
//! listeners, signals, the stats endpoint).

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub(crate) mod access_log;
pub(crate) mod config;
pub(crate) mod conn;
pub(crate) mod date;
pub(crate) mod dispatch;
pub(crate) mod hot;
pub(crate) mod http;
pub(crate) mod output;
pub(crate) mod proto;
pub(crate) mod publish;
pub(crate) mod root;
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
