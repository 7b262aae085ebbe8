//! [`Body`]: a response body as the writer takes it, bytes in memory or a
//! range of an open file. A packer of a large site need not hold its
//! bodies: the writer reads a file-backed one twice, in bounded chunks
//! (once to hash it when its variant is built, once to copy it into the
//! data section), and refuses to finish a blob whose copied bytes are not
//! the ones it hashed.

use crate::spill::read_at;
use crate::write_error::WriteError;
use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;

/// The most bytes of a file-backed body read at once: the writer's memory
/// does not grow with a body's size.
pub(crate) const CHUNK: usize = 256 << 10;

/// A response body: bytes in memory, or a range of an open file that the
/// writer reads when it needs them.
///
/// A file-backed body's bytes must not change until the blob is written:
/// the writer hashes them when the variant is built and again as it copies
/// them, and fails with [`WriteError::BodyChanged`] if the two differ.
#[derive(Clone)]
pub struct Body(Repr);

#[derive(Clone)]
enum Repr {
    Bytes(Arc<[u8]>),
    File {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
}

impl Body {
    /// The `len` bytes of `file` from `offset` on, read at their offset
    /// (`pread` on Unix: the file's cursor is not used, so one file may
    /// back many bodies, e.g. the members of a tar).
    pub fn from_file(file: Arc<File>, offset: u64, len: u64) -> Body {
        Body(Repr::File { file, offset, len })
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Bytes(b) => b.len() as u64,
            Repr::File { len, .. } => *len,
        }
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the bytes are read from a file (and may change under the
    /// writer).
    pub(crate) fn is_file(&self) -> bool {
        matches!(self.0, Repr::File { .. })
    }

    /// Calls `f` on the body's bytes front to back, in chunks of at most
    /// [`CHUNK`] bytes; a file's are read into `buf`. A file that ends
    /// before the range does is [`WriteError::BodyChanged`]; another read
    /// failure an I/O error that names the range. `f`'s error ends it.
    pub(crate) fn each_chunk(
        &self,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        match &self.0 {
            // In chunks too: the writer runs two hashers over each, which
            // then reads it from the cache.
            Repr::Bytes(b) => b.chunks(CHUNK).try_for_each(f),
            Repr::File { file, offset, len } => {
                let mut done = 0;
                while done < *len {
                    let n = (*len - done).min(CHUNK as u64) as usize;
                    buf.resize(n, 0);
                    read_at(file, buf, offset + done).map_err(|e| self.read_error(e))?;
                    f(buf)?;
                    done += n as u64;
                }
                Ok(())
            }
        }
    }

    /// A failed read of the body's file: short (the file changed under
    /// the writer), or an I/O error said to be this body's.
    fn read_error(&self, e: io::Error) -> WriteError {
        let Repr::File { offset, len, .. } = self.0 else {
            unreachable!("only a file is read")
        };
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return WriteError::BodyChanged { offset, len };
        }
        WriteError::Io(io::Error::new(
            e.kind(),
            format!("reading a body's file ({len} bytes at offset {offset}): {e}"),
        ))
    }

    /// The error of a body whose bytes, copied, were not those hashed.
    pub(crate) fn changed(&self) -> WriteError {
        match self.0 {
            Repr::File { offset, len, .. } => WriteError::BodyChanged { offset, len },
            Repr::Bytes(_) => unreachable!("bytes in memory do not change"),
        }
    }
}

impl Default for Body {
    /// No bytes.
    fn default() -> Body {
        Body(Repr::Bytes(Arc::from(&[][..])))
    }
}

impl From<Arc<[u8]>> for Body {
    fn from(b: Arc<[u8]>) -> Body {
        Body(Repr::Bytes(b))
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body(Repr::Bytes(b.into()))
    }
}

impl From<&[u8]> for Body {
    fn from(b: &[u8]) -> Body {
        Body(Repr::Bytes(b.into()))
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Body {
        s.as_bytes().into()
    }
}

// Where the bytes are and how many, not the bytes.
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Bytes(b) => f
                .debug_struct("Body::Bytes")
                .field("len", &b.len())
                .finish(),
            Repr::File { file, offset, len } => f
                .debug_struct("Body::File")
                .field("file", file)
                .field("offset", offset)
                .field("len", len)
                .finish(),
        }
    }
}
