//! Reads a site (a directory or a tar) into a flat list of files.
//!
//! Owned by: input layer. Everything downstream sees only `SiteFile`s.
//!
//! Both input forms are first loaded into the same in-memory [`tree::Tree`]
//! (regular files, directories, symlinks, tar hard links), and links are then
//! resolved by one shared resolver. That is what makes a directory and a tar
//! of that directory produce identical output. The tree holds names and
//! ranges: each file's bytes are streamed into the packer's store
//! (`store.rs`) as they are read, never held.
//!
//! Error vs warning policy:
//! - errors: anything that would make the served site differ from what the
//!   author has (unreadable/changed files, truncated or corrupt tars, unsafe
//!   names, links escaping the site or dangling, special files, conflicting
//!   entries, an empty prefix).
//! - warnings: things we deliberately drop but that are harmless: VCS
//!   directories, duplicate tar entries (last wins), entries outside the
//!   prefix (one summary line), tar volume labels, and directory-symlink
//!   cycles (see `tree.rs`).

mod dir;
mod paths;
mod tar;
mod tree;

#[cfg(test)]
mod tests;

use crate::store::{Content, Store};
use std::path::PathBuf;

/// One servable file of the site.
#[derive(Debug, Clone)]
pub struct SiteFile {
    /// Relative path, '/'-separated, no leading '/', no '.', '..' or empty
    /// components, valid UTF-8 (e.g. `blog/2026/index.html`).
    pub path: String,
    /// The file's bytes, in the store. Links share their target's (stored
    /// once).
    pub data: Content,
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
/// (e.g. `public`) stripped, their bytes copied into `store` as they are
/// read. Sorted by `path`, paths unique.
pub fn read_site(
    source: &Source,
    prefix: Option<&str>,
    store: &Store,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<Vec<SiteFile>> {
    let prefix = match prefix {
        Some(p) => paths::normalize_prefix(p)?,
        None => Vec::new(),
    };
    let tree = match source {
        Source::Dir(path) => dir::read_dir_tree(path, &prefix, store, warn)?,
        Source::TarFile(path) => {
            let file = std::fs::File::open(path).map_err(|e| dir::open_error(path, e))?;
            tar::read_tar_tree(file, &path.display().to_string(), &prefix, store, warn)?
        }
        Source::Stdin => {
            tar::read_tar_tree(std::io::stdin().lock(), "<stdin>", &prefix, store, warn)?
        }
    };
    let files = tree.into_site_files(warn)?;
    if files.is_empty() && !prefix.is_empty() {
        anyhow::bail!(
            "no files under the prefix {:?}; check --prefix",
            prefix.join("/")
        );
    }
    Ok(files)
}
