//! Reads a site (a directory or a tar) into a flat list of files.
//!
//! Owned by: input layer. Everything downstream sees only `SiteFile`s.

use std::path::PathBuf;
use std::sync::Arc;

/// One servable file of the site.
#[derive(Debug, Clone)]
pub struct SiteFile {
    /// Relative path, '/'-separated, no leading '/', no '.', '..' or empty
    /// components, valid UTF-8 (e.g. `blog/2026/index.html`).
    pub path: String,
    /// The file's bytes. Links share their target's `Arc` (stored once).
    pub data: Arc<[u8]>,
    /// Modification time, whole seconds since the Unix epoch (floored).
    pub mtime: i64,
}

/// Where the site comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    TarFile(PathBuf),
    /// A tar on standard input (`-`).
    Stdin,
}

/// Reads every regular file of the site (links resolved), with `prefix`
/// (e.g. `public`) stripped. Sorted by `path`, paths unique.
pub fn read_site(
    _source: &Source,
    _prefix: Option<&str>,
    _warn: &mut dyn FnMut(String),
) -> anyhow::Result<Vec<SiteFile>> {
    anyhow::bail!("input: not implemented yet")
}
