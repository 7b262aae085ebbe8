//! What the fuzz targets share. tarweb-serve's parsers are reached through
//! its `fuzzing` feature; tarweb-pack is a binary crate, so its `rules`
//! module (the `_headers` and `_redirects` parsers, which need nothing of
//! pack but `tarweb-format` and `anyhow`) is compiled here by itself. That
//! keeps pack one binary with private modules, rather than splitting it
//! into a library and a binary only for fuzzing.

#[path = "../../tarweb-pack/src/rules/mod.rs"]
#[allow(dead_code)]
mod rules;

pub use rules::fuzzing::{headers, redirects};
