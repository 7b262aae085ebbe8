//! Tar input (ustar, GNU and PAX), optionally gzip- or zstd-compressed.
//!
//! The `tar` crate is lenient in two ways we must not be: it returns short
//! entry data without complaint when the input ends inside an entry, and it
//! treats EOF on a header boundary as a normal end of archive. We compare
//! every entry's data length with its size, and wrap the reader to see
//! whether the archive ended with a zero block or with EOF.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use anyhow::{anyhow, bail, Context};
use tar::EntryType;

use super::dir::special_error;
use super::paths;
use super::tree::{Node, Tree};
use crate::store::{CopyError, Store};

/// Shared between the reader wrapper (owned by the archive) and us.
#[derive(Default)]
struct Progress {
    /// Bytes of (decompressed) tar read so far.
    pos: Cell<u64>,
    /// The input reported end-of-file at least once.
    eof: Cell<bool>,
    /// The input (or its decompressor) failed; the tar crate's own error is
    /// then secondary.
    failed: Cell<bool>,
}

struct Tracker<R> {
    inner: R,
    progress: Rc<Progress>,
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .inspect_err(|_| self.progress.failed.set(true))?;
        if n == 0 && !buf.is_empty() {
            self.progress.eof.set(true);
        }
        self.progress.pos.set(self.progress.pos.get() + n as u64);
        Ok(n)
    }
}

/// Reads up to `buf.len()` bytes; fewer only at end of input.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Peeks at the magic bytes and returns a reader of the plain tar, and what
/// the input is ("input", "gzip data", "zstd data") for messages.
fn decompress<'a>(
    mut input: impl Read + 'a,
    name: &str,
) -> anyhow::Result<(Box<dyn Read + 'a>, &'static str)> {
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut input, &mut magic).with_context(|| format!("{name}: cannot read"))?;
    if n == 0 {
        bail!("{name}: empty input, not a tar");
    }
    let magic = &magic[..n];
    let whole = Cursor::new(magic.to_vec()).chain(input);
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        (
            Box::new(flate2::read::MultiGzDecoder::new(whole)),
            "gzip data",
        )
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        (
            Box::new(
                zstd::stream::read::Decoder::new(whole)
                    .with_context(|| format!("{name}: cannot start zstd decompression"))?,
            ),
            "zstd data",
        )
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        bail!("{name}: xz-compressed; only gzip and zstd are supported, decompress it first")
    } else if magic.starts_with(b"PK\x03\x04") {
        bail!("{name}: a zip archive, not a tar; only tar (plain, gzip or zstd) is supported")
    } else if magic.len() == 6 && tarweb_format::layout::MAGIC.starts_with(magic) {
        bail!("{name}: a tarweb blob already, not a site (a directory or a tar)")
    } else if magic.starts_with(b"BZh") {
        bail!("{name}: bzip2-compressed; only gzip and zstd are supported, decompress it first")
    } else {
        (Box::new(whole), "input")
    })
}

/// What is wrong with a tar header the `tar` crate refused, in words of our
/// own: its messages quote the header's bytes (the name, a numeric field's
/// text), which for a file that is not a tar at all is binary garbage.
fn header_problem(e: &io::Error) -> String {
    let msg = e.to_string();
    if msg.contains("checksum mismatch") {
        return "header checksum mismatch".to_string();
    }
    // "<why> when getting <field> for <name>"
    if let Some(field) = msg
        .split_once(" when getting ")
        .and_then(|(_, rest)| rest.split_once(" for "))
        .map(|(field, _)| field)
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        let field = if field == "cksum" { "checksum" } else { field };
        return format!("its {field} field is not a valid number");
    }
    if msg.is_ascii() && msg.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && msg.len() <= 120
    {
        return msg;
    }
    "malformed header".to_string()
}

/// The entry's modification time: PAX `mtime` (floored) if present, else
/// the header's. (The tar crate does not apply PAX mtime itself.)
fn entry_mtime<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<i64, String> {
    if let Some(exts) = entry.pax_extensions().map_err(|e| e.to_string())? {
        for ext in exts {
            let ext = ext.map_err(|e| e.to_string())?;
            if ext.key() == Ok("mtime") {
                let value = ext
                    .value()
                    .map_err(|_| "PAX mtime is not UTF-8".to_string())?;
                return paths::parse_pax_time(value)
                    .ok_or_else(|| format!("bad PAX mtime {value:?}"));
            }
        }
    }
    let mtime = entry.header().mtime().map_err(|e| e.to_string())?;
    i64::try_from(mtime).map_err(|_| format!("mtime {mtime} out of range"))
}

/// Reads a tar (plain, gzip or zstd) from `input` into a tree. `name` is
/// used in messages.
pub(super) fn read_tar_tree(
    input: impl Read,
    name: &str,
    prefix: &[String],
    store: &Store,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<Tree> {
    let progress = Rc::new(Progress::default());
    let (inner, what) = decompress(input, name)?;
    let reader = Tracker {
        inner,
        progress: Rc::clone(&progress),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .with_context(|| format!("{name}: cannot read tar"))?;

    let mut tree = Tree::new();
    let mut outside_prefix = 0usize;
    let mut vcs_warned: HashSet<String> = HashSet::new();

    for (index, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let pos = progress.pos.get();
                if progress.failed.get() {
                    bail!("{name}: cannot read the {what} (truncated or corrupt?) at tar byte {pos}: {e}");
                }
                if progress.eof.get() && index == 0 && pos < 512 {
                    bail!("{name}: not a tar (only {pos} bytes, less than one 512-byte header)");
                }
                if progress.eof.get() {
                    bail!("{name}: truncated tar (input ends at byte {pos}, inside tar entry #{index}: {e})");
                }
                let problem = header_problem(&e);
                if index == 0 {
                    bail!("{name}: not a tar archive (its first 512 bytes are not a tar header: {problem})");
                }
                bail!(
                    "{name}: tar entry #{index} (header at byte {}): {problem}",
                    pos.saturating_sub(512)
                );
            }
        };
        let raw_name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let fail = |reason: String| anyhow!("{name}: tar entry {shown:?}: {reason}");
        let entry_type = entry.header().entry_type();
        if entry_type.is_pax_global_extensions() {
            continue;
        }
        if entry_type == EntryType::new(b'V') {
            warn(format!("{name}: skipping tar volume label {shown:?}"));
            continue;
        }

        let comps = paths::normalize_name(&raw_name).map_err(fail)?;
        let Some(rest) = comps.strip_prefix(prefix) else {
            outside_prefix += 1;
            continue;
        };
        if rest.is_empty() {
            if entry_type.is_dir() {
                continue; // the site root itself
            }
            outside_prefix += 1;
            continue;
        }
        if let Some(i) = rest.iter().position(|c| paths::is_vcs(c)) {
            let vcs_dir = rest[..=i].join("/");
            if vcs_warned.insert(vcs_dir.clone()) {
                warn(format!(
                    "{name}: skipping version-control directory {vcs_dir:?}"
                ));
            }
            continue;
        }
        let path = rest.join("/");
        paths::check_len(&path).with_context(|| format!("{name}: tar entry"))?;

        let node = match entry_type {
            t if t.is_dir() => {
                tree.mkdir_p(rest)
                    .map_err(|e| fail(format!("directory {e}")))?;
                continue;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mtime = entry_mtime(&mut entry).map_err(fail)?;
                let size = entry.size();
                // Streamed into the store: a lying header costs disk up to
                // what the input really holds, never memory.
                let data = match store.copy_from(&mut entry, size) {
                    Ok(d) => d,
                    Err(CopyError::Read(e)) => {
                        return Err(fail(format!(
                            "cannot read the {what} (truncated or corrupt?): {e}"
                        )))
                    }
                    Err(CopyError::Scratch(e)) => return Err(e.into()),
                };
                if data.len() != size {
                    bail!(
                        "{name}: truncated tar (entry {shown:?} has only {} of its {size} bytes)",
                        data.len()
                    );
                }
                Node::File { data, mtime }
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| fail("symlink without a target".to_string()))?;
                let target = String::from_utf8(target.into_owned())
                    .map_err(|_| fail("symlink target is not valid UTF-8".to_string()))?;
                Node::Symlink(target)
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .ok_or_else(|| fail("hard link without a target".to_string()))?
                    .into_owned();
                let shown_target = String::from_utf8_lossy(&raw_target).into_owned();
                let target = paths::normalize_name(&raw_target)
                    .map_err(|r| fail(format!("hard link target {shown_target:?}: {r}")))?;
                let target = match target.strip_prefix(prefix) {
                    Some(t) if !t.is_empty() => t.to_vec(),
                    _ => {
                        return Err(fail(format!(
                            "hard link to {shown_target:?} escapes the site (outside the prefix)"
                        )))
                    }
                };
                // A hard link names an earlier entry: bind to that file as it
                // is now (a later entry with the same name must not change
                // it). Links to links are resolved with the rest.
                match tree.get(&target) {
                    Some(Node::File { data, mtime }) => Node::File {
                        data: *data,
                        mtime: *mtime,
                    },
                    _ => Node::HardLink(target),
                }
            }
            EntryType::Char => return Err(special_error(&shown, "a character device")),
            EntryType::Block => return Err(special_error(&shown, "a block device")),
            EntryType::Fifo => return Err(special_error(&shown, "a FIFO")),
            other => {
                return Err(fail(format!(
                    "unsupported tar entry type {:?} ({:?})",
                    other.as_byte() as char,
                    other
                )))
            }
        };
        if tree
            .insert(rest, node)
            .map_err(|e| fail(e.to_string()))?
            .is_some()
        {
            warn(format!(
                "{name}: {path:?} appears more than once in the tar; the last entry wins"
            ));
        }
    }

    if progress.eof.get() {
        let pos = progress.pos.get();
        if pos == 0 {
            bail!("{name}: empty tar stream, not a tar");
        }
        bail!("{name}: truncated tar (input ends at byte {pos} without the end-of-archive marker)");
    }
    if outside_prefix > 0 {
        warn(format!(
            "{name}: skipped {outside_prefix} tar entries outside the prefix {:?}",
            prefix.join("/")
        ));
    }
    Ok(tree)
}
