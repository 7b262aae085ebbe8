//! [`Cursor`]: the one way the encoder writes, into a slice, counting past
//! its end instead of panicking, so a single pass both measures and writes.

/// Writes bytes at `pos` while `pos` is inside `buf`, and counts on past
/// its end: after an encoding, `pos` is its length whether or not it fitted.
pub(crate) struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf` (an empty `buf` only measures).
    pub(crate) fn new(buf: &'a mut [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// How many bytes were pushed, written or not.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether everything pushed was written.
    pub(crate) fn fitted(&self) -> bool {
        self.pos <= self.buf.len()
    }

    pub(crate) fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.pos) {
            *slot = b;
        }
        self.pos += 1;
    }

    /// Pushes `src`, ASCII-lower-cased if `lower`.
    pub(crate) fn extend(&mut self, src: &[u8], lower: bool) {
        let end = self.pos.saturating_add(src.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(src);
            if lower {
                dst.make_ascii_lowercase();
            }
        }
        self.pos = end;
    }
}
