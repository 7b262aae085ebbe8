//! Atomic output: a temporary file beside the target, fsynced, renamed over
//! it, then the directory fsynced. A failure leaves no file behind and the
//! previous target untouched.

use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn write_atomically<T>(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .with_context(|| format!("{}: not a file name", target.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let value = {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let v = write(&mut w)?;
        w.flush().context("flushing the blob")?;
        v
    };
    tmp.as_file().sync_all().context("fsync of the blob")?;
    tmp.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the blob to {}", target.display()))?;
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync of {}", dir.display()))?;
    Ok(value)
}
