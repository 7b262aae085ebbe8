//! The in-memory site tree both readers fill, and link resolution.
//!
//! Links are resolved like a kernel walks a path, but lexically: when a
//! component is a symlink, its target is joined to the link's *real*
//! directory (`..` pops a component, never follows a link backwards), and the
//! walk restarts from the root with the rest of the path appended. A tar hard
//! link is a link whose target is already a site path. Every expansion
//! counts as one hop; more than [`MAX_HOPS`] is "too many levels of links".
//!
//! Directory symlinks: every file under the target directory also appears
//! under the link's path. Cycle handling: while emitting, we keep the stack of
//! *real* directories being expanded. A directory link (or a plain
//! subdirectory reached through one) whose real directory is already on that
//! stack would repeat itself forever; it is skipped with a warning instead of
//! an error, because loops such as `self -> .` are common and harmless in
//! real trees. Since the stack never holds the same directory twice, the
//! recursion depth is bounded by the number of directories. As a guard
//! against aliasing that is finite but explosive (many links to big
//! directories), the total output is capped at [`MAX_FILES`].

use std::collections::BTreeMap;
use std::collections::VecDeque;

use anyhow::bail;

use super::paths::{self, MAX_PATH_LEN};
use super::SiteFile;
use crate::store::Content;

/// Most link expansions while resolving one path (like Linux's ELOOP).
pub(super) const MAX_HOPS: u32 = 40;

/// Most files a site may expand to (directory links multiply files).
pub(super) const MAX_FILES: usize = 1 << 22;

#[derive(Debug)]
pub(super) enum Node {
    Dir(BTreeMap<String, Node>),
    File {
        data: Content,
        mtime: i64,
    },
    /// A symbolic link; the raw target text, relative to the link's directory.
    Symlink(String),
    /// A tar hard link; the target's site path (from the root).
    HardLink(Vec<String>),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Dir(_) => "directory",
            Node::File { .. } => "file",
            Node::Symlink(_) => "symlink",
            Node::HardLink(_) => "hard link",
        }
    }
}

/// Why an entry could not be put into the tree.
#[derive(Debug)]
pub(super) enum InsertError {
    /// A parent component exists and is not a directory.
    ParentNotDir { parent: String, kind: &'static str },
    /// A directory and a non-directory want the same path.
    DirConflict { existing: &'static str },
}

impl std::fmt::Display for InsertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InsertError::ParentNotDir { parent, kind } => write!(
                f,
                "its parent {parent:?} is a {kind} in the archive, not a directory"
            ),
            InsertError::DirConflict { existing } => {
                write!(f, "conflicts with an earlier {existing} of the same name")
            }
        }
    }
}

/// Why a link could not be resolved. `link`/`target` name the link where
/// resolution failed (the link itself or one further down a chain).
#[derive(Debug)]
enum ResolveError {
    Absolute { link: Vec<String>, target: String },
    Escapes { link: Vec<String>, target: String },
    Empty { link: Vec<String> },
    Missing { path: Vec<String> },
    NotADir { path: Vec<String> },
    TooManyHops,
}

pub(super) struct Tree {
    root: Node,
}

impl Tree {
    pub(super) fn new() -> Tree {
        Tree {
            root: Node::Dir(BTreeMap::new()),
        }
    }

    pub(super) fn from_root(children: BTreeMap<String, Node>) -> Tree {
        Tree {
            root: Node::Dir(children),
        }
    }

    /// Walks to the directory holding `path`'s last component, creating
    /// missing directories.
    fn parent_dir_mut(
        &mut self,
        path: &[String],
    ) -> Result<&mut BTreeMap<String, Node>, InsertError> {
        let mut dir = match &mut self.root {
            Node::Dir(children) => children,
            _ => unreachable!("the root is a directory"),
        };
        for (i, comp) in path[..path.len() - 1].iter().enumerate() {
            let child = dir
                .entry(comp.clone())
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            dir = match child {
                Node::Dir(children) => children,
                other => {
                    return Err(InsertError::ParentNotDir {
                        parent: path[..=i].join("/"),
                        kind: other.kind(),
                    })
                }
            };
        }
        Ok(dir)
    }

    /// Creates directory `path` (and its parents). Existing directories are
    /// fine.
    pub(super) fn mkdir_p(&mut self, path: &[String]) -> Result<(), InsertError> {
        if path.is_empty() {
            return Ok(());
        }
        let dir = self.parent_dir_mut(path)?;
        let name = path.last().expect("non-empty");
        match dir.get(name) {
            None => {
                dir.insert(name.clone(), Node::Dir(BTreeMap::new()));
                Ok(())
            }
            Some(Node::Dir(_)) => Ok(()),
            Some(other) => Err(InsertError::DirConflict {
                existing: other.kind(),
            }),
        }
    }

    /// Puts a non-directory node at `path` (non-empty). Returns the node it
    /// replaced, if any (the caller warns: last entry wins).
    pub(super) fn insert(
        &mut self,
        path: &[String],
        node: Node,
    ) -> Result<Option<Node>, InsertError> {
        debug_assert!(!matches!(node, Node::Dir(_)));
        let dir = self.parent_dir_mut(path)?;
        let name = path.last().expect("non-empty");
        if let Some(Node::Dir(_)) = dir.get(name) {
            return Err(InsertError::DirConflict {
                existing: "directory",
            });
        }
        Ok(dir.insert(name.clone(), node))
    }

    /// The node at exactly `path`, without following links.
    pub(super) fn get(&self, path: &[String]) -> Option<&Node> {
        let mut node = &self.root;
        for comp in path {
            match node {
                Node::Dir(children) => node = children.get(comp)?,
                _ => return None,
            }
        }
        Some(node)
    }

    /// Follows `path` through links to a file or directory. Returns its real
    /// path (no links in it) and the node.
    fn resolve(&self, path: &[String]) -> Result<(Vec<String>, &Node), ResolveError> {
        let mut pending: VecDeque<String> = path.iter().cloned().collect();
        let mut real: Vec<String> = Vec::new();
        let mut node = &self.root;
        let mut hops = 0u32;
        while let Some(comp) = pending.pop_front() {
            let children = match node {
                Node::Dir(children) => children,
                _ => return Err(ResolveError::NotADir { path: real }),
            };
            let Some(child) = children.get(&comp) else {
                let mut missing = real;
                missing.push(comp);
                missing.extend(pending);
                return Err(ResolveError::Missing { path: missing });
            };
            let target = match child {
                Node::Dir(_) | Node::File { .. } => {
                    real.push(comp);
                    node = child;
                    continue;
                }
                Node::Symlink(text) => {
                    let mut link = real.clone();
                    link.push(comp);
                    if text.is_empty() {
                        return Err(ResolveError::Empty { link });
                    }
                    if text.starts_with('/') {
                        return Err(ResolveError::Absolute {
                            link,
                            target: text.clone(),
                        });
                    }
                    match paths::lexical_join(&real, text) {
                        Some(t) => t,
                        None => {
                            return Err(ResolveError::Escapes {
                                link,
                                target: text.clone(),
                            })
                        }
                    }
                }
                Node::HardLink(target) => target.clone(),
            };
            hops += 1;
            if hops > MAX_HOPS {
                return Err(ResolveError::TooManyHops);
            }
            for comp in target.into_iter().rev() {
                pending.push_front(comp);
            }
            real.clear();
            node = &self.root;
        }
        Ok((real, node))
    }

    /// Flattens the tree into sorted `SiteFile`s, resolving every link.
    pub(super) fn into_site_files(
        self,
        warn: &mut dyn FnMut(String),
    ) -> anyhow::Result<Vec<SiteFile>> {
        let mut out = Vec::new();
        let Node::Dir(children) = &self.root else {
            unreachable!("the root is a directory")
        };
        let mut emitter = Emitter {
            tree: &self,
            stack: vec![Vec::new()],
            out: &mut out,
            warn,
        };
        emitter.emit_dir(children, &mut Vec::new(), "")?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        debug_assert!(out.windows(2).all(|w| w[0].path != w[1].path));
        Ok(out)
    }
}

struct Emitter<'t, 'o, 'w> {
    tree: &'t Tree,
    /// Real paths of the directories being expanded (root first).
    stack: Vec<Vec<String>>,
    out: &'o mut Vec<SiteFile>,
    warn: &'w mut dyn FnMut(String),
}

impl<'t> Emitter<'t, '_, '_> {
    fn push(&mut self, path: String, data: &Content, mtime: i64) -> anyhow::Result<()> {
        if path.len() > MAX_PATH_LEN {
            paths::check_len(&path)?;
        }
        if self.out.len() >= MAX_FILES {
            bail!(
                "{path}: the site has more than {MAX_FILES} files (do directory links multiply it?)"
            );
        }
        self.out.push(SiteFile {
            path,
            data: *data,
            mtime,
        });
        Ok(())
    }

    /// Emits everything in `dir` (whose real path is `real`) under `out_dir`.
    fn emit_dir(
        &mut self,
        dir: &'t BTreeMap<String, Node>,
        real: &mut Vec<String>,
        out_dir: &str,
    ) -> anyhow::Result<()> {
        for (name, child) in dir {
            let out_path = if out_dir.is_empty() {
                name.clone()
            } else {
                format!("{out_dir}/{name}")
            };
            real.push(name.clone());
            match child {
                Node::File { data, mtime } => self.push(out_path, data, *mtime)?,
                Node::Dir(children) => {
                    if self.stack.contains(real) {
                        (self.warn)(format!(
                            "{out_path}: directory {:?} reached again through a link cycle; not repeated",
                            real.join("/")
                        ));
                    } else {
                        self.stack.push(real.clone());
                        self.emit_dir(children, real, &out_path)?;
                        self.stack.pop();
                    }
                }
                Node::Symlink(_) | Node::HardLink(_) => {
                    let (target_real, target) = self
                        .tree
                        .resolve(real)
                        .map_err(|e| link_error(real, child, e))?;
                    match target {
                        Node::File { data, mtime } => self.push(out_path, data, *mtime)?,
                        Node::Dir(children) => {
                            if self.stack.contains(&target_real) {
                                (self.warn)(format!(
                                    "{out_path}: link to {:?} is a cycle (it points to a directory that contains it); not expanded",
                                    link_text(child)
                                ));
                            } else {
                                self.stack.push(target_real.clone());
                                let mut target_real = target_real;
                                self.emit_dir(children, &mut target_real, &out_path)?;
                                self.stack.pop();
                            }
                        }
                        _ => unreachable!("resolve returns files and directories"),
                    }
                }
            }
            real.pop();
        }
        Ok(())
    }
}

fn link_text(node: &Node) -> String {
    match node {
        Node::Symlink(t) => t.clone(),
        Node::HardLink(t) => t.join("/"),
        _ => String::new(),
    }
}

fn show(path: &[String]) -> String {
    if path.is_empty() {
        ".".to_string()
    } else {
        path.join("/")
    }
}

/// Names the link being emitted and its target, plus where resolution broke.
fn link_error(link: &[String], node: &Node, err: ResolveError) -> anyhow::Error {
    let kind = match node {
        Node::HardLink(_) => "hard link",
        _ => "symlink",
    };
    let head = format!("{}: {kind} to {:?}", show(link), link_text(node));
    // For a chain, say which link further down actually failed.
    let via = |at: &[String], target: &str| {
        if at == link {
            String::new()
        } else {
            format!(" (via {} -> {target:?})", show(at))
        }
    };
    match err {
        ResolveError::Absolute { link: at, target } => anyhow::anyhow!(
            "{head}: absolute link target{}; links must stay inside the site",
            via(&at, &target)
        ),
        ResolveError::Escapes { link: at, target } => {
            anyhow::anyhow!("{head}: link escapes the site{}", via(&at, &target))
        }
        ResolveError::Empty { link: at } => {
            anyhow::anyhow!("{head}: empty link target{}", via(&at, ""))
        }
        ResolveError::Missing { path } => {
            anyhow::anyhow!("{head}: dangling link ({} does not exist)", show(&path))
        }
        ResolveError::NotADir { path } => {
            anyhow::anyhow!("{head}: dangling link ({} is not a directory)", show(&path))
        }
        ResolveError::TooManyHops => {
            anyhow::anyhow!("{head}: too many levels of links (more than {MAX_HOPS}; a link loop?)")
        }
    }
}
