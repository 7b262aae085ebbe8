//! Directory input: walks the tree with `symlink_metadata` (links are
//! recorded, never followed here; `tree.rs` resolves them).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use super::paths;
use super::tree::{Node, Tree};
use crate::store::{CopyError, Store};

/// The error for a path that cannot be opened; "no such file or directory"
/// spelled out for the common case.
pub(super) fn open_error(path: &Path, err: io::Error) -> anyhow::Error {
    if err.kind() == io::ErrorKind::NotFound {
        anyhow!("{}: no such file or directory", path.display())
    } else {
        anyhow!("{}: {err}", path.display())
    }
}

/// Describes a file type we refuse, or `None` for types we pack.
pub(super) fn special_kind(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

pub(super) fn special_error(path: &str, kind: &str) -> anyhow::Error {
    anyhow!("{path}: is {kind}; only regular files, directories and links can be packed")
}

/// Reads directory `root` (with `prefix` below it as the site root).
pub(super) fn read_dir_tree(
    root: &Path,
    prefix: &[String],
    store: &Store,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<Tree> {
    // The root (and the prefix) may themselves be symlinks: follow those.
    let meta = fs::metadata(root).map_err(|e| open_error(root, e))?;
    if !meta.is_dir() {
        bail!("{}: not a directory", root.display());
    }
    let mut site_root = root.to_path_buf();
    for comp in prefix {
        site_root.push(comp);
    }
    if !prefix.is_empty() {
        match fs::metadata(&site_root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "{}: not a directory (prefix {:?})",
                site_root.display(),
                prefix.join("/")
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
                "{}: no such file or directory; nothing is under the prefix {:?}",
                site_root.display(),
                prefix.join("/")
            ),
            Err(e) => return Err(open_error(&site_root, e)),
        }
    }
    let mut children = BTreeMap::new();
    walk(&site_root, &mut Vec::new(), &mut children, store, warn)?;
    Ok(Tree::from_root(children))
}

fn walk(
    fs_dir: &Path,
    rel: &mut Vec<String>,
    out: &mut BTreeMap<String, Node>,
    store: &Store,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<()> {
    let listing = fs::read_dir(fs_dir).map_err(|e| open_error(fs_dir, e))?;
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in listing {
        let entry =
            entry.with_context(|| format!("{}: cannot list directory", fs_dir.display()))?;
        let fs_path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| anyhow!("{}: file name is not valid UTF-8", fs_path.display()))?;
        entries.push((name, fs_path));
    }
    // Deterministic order (read_dir's is not).
    entries.sort();

    for (name, fs_path) in entries {
        paths::check_chars(name.as_bytes())
            .map_err(|reason| anyhow!("{}: {reason}", fs_path.display()))?;
        if paths::is_vcs(&name) {
            warn(format!(
                "{}: skipping version-control directory",
                fs_path.display()
            ));
            continue;
        }
        rel.push(name);
        paths::check_len(&rel.join("/"))?;
        let meta = fs::symlink_metadata(&fs_path).map_err(|e| open_error(&fs_path, e))?;
        let ft = meta.file_type();
        let node = if ft.is_dir() {
            let mut children = BTreeMap::new();
            walk(&fs_path, rel, &mut children, store, warn)?;
            Node::Dir(children)
        } else if ft.is_symlink() {
            let target = fs::read_link(&fs_path).map_err(|e| open_error(&fs_path, e))?;
            let target = target.into_os_string().into_string().map_err(|t| {
                anyhow!(
                    "{}: symlink target {:?} is not valid UTF-8",
                    fs_path.display(),
                    t
                )
            })?;
            Node::Symlink(target)
        } else if ft.is_file() {
            read_file(&fs_path, store)?
        } else {
            let kind = special_kind(&ft).unwrap_or("an unknown kind of file");
            return Err(special_error(&fs_path.display().to_string(), kind));
        };
        let name = rel.pop().expect("pushed above");
        out.insert(name, node);
    }
    Ok(())
}

/// Copies one regular file into `store`, refusing it if it changes while
/// we read it.
fn read_file(path: &Path, store: &Store) -> anyhow::Result<Node> {
    let mut file = fs::File::open(path).map_err(|e| open_error(path, e))?;
    let before = file.metadata().map_err(|e| open_error(path, e))?;
    if !before.is_file() {
        // Replaced between the directory walk and open().
        let kind = special_kind(&before.file_type()).unwrap_or("not a regular file");
        return Err(special_error(&path.display().to_string(), kind));
    }
    let size = before.len();
    // Read one byte more than expected so that growth is noticed.
    let data = match store.copy_from(&mut file, size.saturating_add(1)) {
        Ok(d) => d,
        Err(CopyError::Read(e)) => bail!("{}: cannot read: {e}", path.display()),
        Err(CopyError::Scratch(e)) => return Err(e.into()),
    };
    let changed = |then: u64| {
        anyhow!(
            "{}: file changed while being read (size {size}, then {then})",
            path.display()
        )
    };
    if data.len() != size {
        return Err(changed(data.len()));
    }
    let after = file.metadata().map_err(|e| open_error(path, e))?;
    if after.len() != size
        || after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
    {
        return Err(changed(after.len()));
    }
    Ok(Node::File {
        data,
        mtime: before.mtime(),
    })
}
