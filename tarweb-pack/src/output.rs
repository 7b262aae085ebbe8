//! Where the blob goes, checked before any work is done.
//!
//! - A file: a temporary file beside the target, created (so the directory
//!   is known to be writable) before the site is even read, filled, fsynced
//!   and renamed over the target, then the directory fsynced. A failure
//!   leaves no file behind and the previous target untouched. The target,
//!   if it exists, must be a regular file (or a symlink to one, which the
//!   rename replaces, as `mv` would): a device, FIFO, socket or directory
//!   is refused, so `-o /dev/null` run as root cannot turn the device into
//!   a file.
//! - `-` (standard output): the blob is written to a nameless temporary
//!   file (`O_TMPFILE` in `$TMPDIR`: the writer seeks back to store the
//!   digest, which a pipe cannot do), then copied to standard output. No
//!   file is ever created next to a file named `-`. A terminal is refused.
//!
//! - Either way the writer gets a scratch file for the blocks it has built
//!   (`write_blob_from`'s spill): nameless too, made at the same time, in
//!   the target's directory (a disk the blob must fit on anyway; `$TMPDIR`
//!   is often tmpfs, memory) or, for `-`, in `$TMPDIR` beside the blob's.
//!   [`Prepared::scratch`] makes more in the same place (the packer's
//!   store of the site's bytes, `store.rs`).
//!
//! Blobs are created with mode 0666 less the umask (0644 usually), like any
//! file a tool writes: the server usually runs as another user.

use anyhow::{bail, Context};
use std::fs::{File, Permissions};
use std::io::{BufWriter, IsTerminal, Seek, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The `-o` argument.
#[derive(Debug, Clone)]
pub enum Output {
    File(PathBuf),
    Stdout,
}

impl Output {
    /// `-` is standard output; anything else a file path.
    pub fn from_arg(arg: PathBuf) -> Output {
        if arg.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::File(arg)
        }
    }

    /// For messages: the path, or "standard output".
    pub fn describe(&self) -> String {
        match self {
            Output::File(p) => p.display().to_string(),
            Output::Stdout => "standard output".to_string(),
        }
    }

    /// Checks the target and creates the temporary file the blob will be
    /// written to: everything that can fail about the output fails here,
    /// before any input is read or compressed.
    pub fn prepare(&self) -> anyhow::Result<Prepared> {
        match self {
            Output::File(target) => {
                let dir = match target.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let name = target
                    .file_name()
                    .with_context(|| format!("{}: not a file name", target.display()))?;
                check_replaceable(target)?;
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(".{}.", name.to_string_lossy()))
                    .suffix(".tmp")
                    .permissions(Permissions::from_mode(0o666))
                    .tempfile_in(dir)
                    .with_context(|| {
                        format!("cannot create a temporary file in {}", dir.display())
                    })?;
                let spill = tempfile::tempfile_in(dir).with_context(|| {
                    format!("cannot create a scratch file in {}", dir.display())
                })?;
                Ok(Prepared::File {
                    target: target.clone(),
                    dir: dir.to_path_buf(),
                    tmp,
                    spill,
                })
            }
            Output::Stdout => {
                if std::io::stdout().is_terminal() {
                    bail!(
                        "standard output is a terminal; redirect it (`-o - > site.twb`, `-o - | ssh …`) \
                         or name a file with -o"
                    );
                }
                let temp = || {
                    tempfile::tempfile().with_context(|| {
                        format!(
                            "cannot create a temporary file in {}",
                            std::env::temp_dir().display()
                        )
                    })
                };
                Ok(Prepared::Stdout {
                    tmp: temp()?,
                    spill: temp()?,
                })
            }
        }
    }
}

/// An output that passed its checks, with its temporary file and the
/// writer's scratch file open. Dropping it without [`Prepared::finish`]
/// removes both.
#[derive(Debug)]
pub enum Prepared {
    File {
        target: PathBuf,
        dir: PathBuf,
        tmp: tempfile::NamedTempFile,
        spill: File,
    },
    Stdout {
        tmp: File,
        spill: File,
    },
}

impl Prepared {
    /// Another nameless scratch file where the writer's is (the packer's
    /// store: the site's bytes and the compressed variants).
    pub fn scratch(&self) -> anyhow::Result<File> {
        match self {
            Prepared::File { dir, .. } => tempfile::tempfile_in(dir)
                .with_context(|| format!("cannot create a scratch file in {}", dir.display())),
            Prepared::Stdout { .. } => tempfile::tempfile().with_context(|| {
                format!(
                    "cannot create a scratch file in {}",
                    std::env::temp_dir().display()
                )
            }),
        }
    }

    /// Writes the blob with `write` (given the output and the scratch file)
    /// and puts it in place.
    pub fn finish<T>(
        self,
        write: impl FnOnce(&mut BufWriter<&File>, File) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let fill = |file: &File, spill: File| -> anyhow::Result<T> {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let v = write(&mut w, spill)?;
            w.flush().context("flushing the blob")?;
            Ok(v)
        };
        match self {
            Prepared::File {
                target,
                dir,
                tmp,
                spill,
            } => {
                let value = fill(tmp.as_file(), spill)?;
                tmp.as_file().sync_all().context("fsync of the blob")?;
                // Checked again: the target may have changed while we packed.
                check_replaceable(&target)?;
                tmp.persist(&target)
                    .map_err(|e| e.error)
                    .with_context(|| format!("renaming the blob to {}", target.display()))?;
                // Make the rename itself durable.
                File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .with_context(|| format!("fsync of {}", dir.display()))?;
                Ok(value)
            }
            Prepared::Stdout { mut tmp, spill } => {
                let value = fill(&tmp, spill)?;
                tmp.rewind().context("rewinding the temporary blob")?;
                let mut out = std::io::stdout().lock();
                std::io::copy(&mut tmp, &mut out)
                    .and_then(|_| out.flush())
                    .context("writing the blob to standard output")?;
                Ok(value)
            }
        }
    }
}

/// Refuses an existing target that is not a regular file (following
/// symlinks): renaming over a device, a FIFO or a socket would replace it
/// with a file, and a directory cannot be replaced at all.
fn check_replaceable(target: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot stat {}", target.display())),
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    bail!(
        "{} is {what}, not a regular file: refusing to replace it with the blob \
         (`-o -` writes the blob to standard output, e.g. `-o - > /dev/null` to discard it)",
        target.display()
    )
}
