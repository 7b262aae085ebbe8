//! Which directories a watched path depends on: a deploy is a rename or a
//! symlink flip, an event on a directory, never on the file itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The directories to watch for `file`: its parent; for every component
/// of the path that is a symlink, that symlink's parent (a flip of it is an
/// event there), following the link to the end; and the real file's
/// parent.
pub(super) fn dirs_for(file: &Path, dirs: &mut BTreeSet<PathBuf>) {
    follow(file, dirs, 0);
    if let Some(p) = file.canonicalize().ok().as_deref().and_then(Path::parent) {
        dirs.insert(p.to_path_buf());
    }
}

/// The directories to watch for the entries of `dir`: `dir` itself
/// (where an entry is added, replaced or removed), as given and as it
/// really is, and the parent of every symlinked component of its path
/// (a flip of `sites -> releases/42`).
pub(super) fn dirs_for_dir(dir: &Path, dirs: &mut BTreeSet<PathBuf>) {
    // A name inside `dir`: its "parent" is `dir` itself. (`dir/.` would
    // not do: `Path` drops a trailing `.`, and its parent is `dir`'s.)
    follow(&dir.join("_"), dirs, 0);
    if let Ok(real) = dir.canonicalize() {
        dirs.insert(real);
    }
}

fn follow(file: &Path, dirs: &mut BTreeSet<PathBuf>, depth: u32) {
    let Ok(abs) = std::path::absolute(file) else {
        return;
    };
    let comps: Vec<_> = abs.components().collect();
    let mut prefix = PathBuf::new();
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        let link = prefix
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if !link || depth >= 40 {
            continue;
        }
        let parent = prefix.parent().unwrap_or(Path::new("/"));
        let parent = parent
            .canonicalize()
            .unwrap_or_else(|_| parent.to_path_buf());
        dirs.insert(parent.clone());
        let Ok(to) = std::fs::read_link(&prefix) else {
            return;
        };
        let mut next = parent.join(to);
        next.extend(&comps[i + 1..]);
        return follow(&next, dirs, depth + 1);
    }
    if let Some(p) = abs.parent() {
        dirs.insert(p.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinked_components_add_their_parents() {
        let t = std::env::temp_dir().join(format!("tarweb-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        std::fs::create_dir_all(t.join("releases/v1")).unwrap();
        std::fs::write(t.join("releases/v1/site.twb"), b"x").unwrap();
        std::os::unix::fs::symlink("releases/v1", t.join("current")).unwrap();
        std::fs::create_dir_all(t.join("links")).unwrap();
        std::os::unix::fs::symlink("../current/site.twb", t.join("links/site.twb")).unwrap();
        let mut dirs = BTreeSet::new();
        dirs_for(&t.join("links/site.twb"), &mut dirs);
        let real = t.canonicalize().unwrap();
        // links/ (the file's own directory), t (holds `current`), and the
        // real directory releases/v1.
        assert!(dirs.contains(&real.join("links")), "{dirs:?}");
        assert!(dirs.contains(&real), "{dirs:?}");
        assert!(dirs.contains(&real.join("releases/v1")), "{dirs:?}");
        let mut dirs = BTreeSet::new();
        dirs_for(&t.join("current/site.twb"), &mut dirs);
        assert!(dirs.contains(&real), "{dirs:?}");
        assert!(dirs.contains(&real.join("releases/v1")), "{dirs:?}");
        // A directory whose entries count: the directory itself, not
        // (only) its parent; through a symlinked component too.
        let mut dirs = BTreeSet::new();
        dirs_for_dir(&t.join("releases/v1"), &mut dirs);
        assert!(dirs.contains(&real.join("releases/v1")), "{dirs:?}");
        assert!(!dirs.contains(&real.join("releases")), "{dirs:?}");
        let mut dirs = BTreeSet::new();
        dirs_for_dir(&t.join("current"), &mut dirs);
        assert!(dirs.contains(&real.join("releases/v1")), "{dirs:?}");
        assert!(dirs.contains(&real), "the flip of `current`: {dirs:?}");
        std::fs::remove_dir_all(&t).unwrap();
    }
}
