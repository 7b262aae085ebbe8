//! A connection's received bytes that no request has consumed yet.

/// Size of a read: room for the largest head plus pipelined requests.
pub(crate) const IN_CAP: usize = 64 * 1024;

/// First size of a connection's own input buffer; it doubles up to IN_CAP
/// when a longer head or a deeper pipeline needs it.
const IN_START: usize = 8 * 1024;

/// A connection's unconsumed input (pooled per worker).
pub(crate) struct InBuf {
    data: Vec<u8>,
    len: usize,
}

impl Default for InBuf {
    fn default() -> Self {
        InBuf {
            data: vec![0u8; IN_START],
            len: 0,
        }
    }
}

impl InBuf {
    /// The bytes held.
    pub fn filled(&self) -> &[u8] {
        &self.data[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room to read into, grown first when full (up to IN_CAP).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.len == self.data.len() && self.len < IN_CAP {
            self.reserve_total(self.len * 2);
        }
        &mut self.data[self.len..]
    }

    /// `n` bytes were read into [`InBuf::spare`].
    pub fn commit(&mut self, n: usize) {
        self.len += n;
    }

    /// Holds a copy of `b` (at most IN_CAP bytes) and nothing else.
    pub fn set(&mut self, b: &[u8]) {
        self.reserve_total(b.len());
        self.data[..b.len()].copy_from_slice(b);
        self.len = b.len();
    }

    /// Drops the first `n` bytes.
    pub fn consume(&mut self, n: usize) {
        self.data.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Empty again, for the pool (the allocation stays).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Makes room for at least `n` bytes in total (up to IN_CAP).
    fn reserve_total(&mut self, n: usize) {
        if self.data.len() < n {
            self.data.resize(n.next_power_of_two().min(IN_CAP), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_when_full_up_to_the_cap() {
        let mut b = InBuf::default();
        assert_eq!(b.spare().len(), IN_START);
        b.commit(IN_START);
        assert_eq!(b.spare().len(), IN_START, "doubled");
        b.commit(IN_START);
        b.consume(10);
        assert_eq!(b.filled().len(), 2 * IN_START - 10);
        b.set(&vec![1u8; IN_CAP]);
        assert!(b.spare().is_empty(), "never past IN_CAP");
        b.clear();
        assert!(b.is_empty());
    }
}
