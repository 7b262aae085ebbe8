//! The decoder's dynamic table (RFC 7541 §2.3.2, §4): fixed storage, sized
//! once for the most the table may ever hold, and never grown.
//!
//! Names and values are kept back to back in a byte ring; a second ring
//! holds, per entry, where its bytes start and how long its name and value
//! are. Every entry costs at least 32 bytes of table size (§4.1), so
//! `capacity / 32` entry slots are enough; and the bytes of the entries in
//! the table add up to at most `size - 32 × count`, below `capacity`, so a
//! new entry written after the newest never overwrites a live one.

/// The table-size overhead of an entry (§4.1).
pub(crate) const ENTRY_OVERHEAD: usize = 32;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// Where the name starts in the byte ring (the value follows it).
    start: usize,
    name_len: usize,
    value_len: usize,
}

/// Bytes in the ring: `len` bytes from `start`, wrapping at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RingStr {
    pub(crate) start: usize,
    pub(crate) len: usize,
}

pub(crate) struct Table {
    /// The byte ring: `capacity` bytes.
    bytes: Box<[u8]>,
    /// The entry ring: `capacity / 32` slots.
    entries: Box<[Entry]>,
    /// The slot of the oldest entry.
    first: usize,
    /// How many entries the table has.
    count: usize,
    /// Where the next entry's bytes go.
    head: usize,
    /// The table's size as §4.1 counts it.
    size: usize,
    /// Its maximum size, as the last size update set it (≤ capacity).
    max_size: usize,
}

/// `i` in a ring of `len`, for `i < 2 × len`: no division, no panic at 0.
#[inline]
fn wrap(i: usize, len: usize) -> usize {
    if i >= len {
        i - len
    } else {
        i
    }
}

impl Table {
    /// An empty table with storage for `capacity` bytes of table size, its
    /// maximum size `capacity`.
    pub(crate) fn new(capacity: usize) -> Table {
        Table {
            bytes: vec![0; capacity].into_boxed_slice(),
            entries: vec![Entry::default(); capacity / ENTRY_OVERHEAD].into_boxed_slice(),
            first: 0,
            count: 0,
            head: 0,
            size: 0,
            max_size: capacity,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// The entry at dynamic index `i` (1 is the newest), as its name and
    /// value in the ring.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(RingStr, RingStr)> {
        if i == 0 || i > self.count {
            return None;
        }
        let e = self
            .entries
            .get(wrap(self.first + self.count - i, self.entries.len()))?;
        let name = RingStr {
            start: e.start,
            len: e.name_len,
        };
        let value = RingStr {
            start: wrap(e.start + e.name_len, self.bytes.len()),
            len: e.value_len,
        };
        Some((name, value))
    }

    /// Copies `s` to the start of `dst` if it fits; returns its length.
    #[inline]
    pub(crate) fn copy(&self, s: RingStr, dst: &mut [u8]) -> usize {
        if let Some(dst) = dst.get_mut(..s.len) {
            let (wrapped, from_start) = self.bytes.split_at(s.start.min(self.bytes.len()));
            let first = s.len.min(from_start.len());
            let (a, b) = dst.split_at_mut(first);
            a.copy_from_slice(&from_start[..first]);
            let rest = b.len().min(wrapped.len());
            b[..rest].copy_from_slice(&wrapped[..rest]);
        }
        s.len
    }

    /// Sets the maximum size (a size update, §6.3; the caller checked it
    /// against the limit), evicting the oldest entries until the table fits.
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size.min(self.capacity());
        self.evict_to(self.max_size);
    }

    /// Adds an entry (§4.4): evicts the oldest entries until it fits, or
    /// empties the table if it is larger than the maximum size.
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        let slots = self.entries.len();
        let Some(slot) = self.entries.get_mut(wrap(self.first + self.count, slots)) else {
            return; // Unreachable: size ≤ max_size ≤ capacity left a slot.
        };
        *slot = Entry {
            start: self.head,
            name_len: name.len(),
            value_len: value.len(),
        };
        self.head = self.write(self.head, name);
        self.head = self.write(self.head, value);
        self.count += 1;
        self.size += size;
    }

    /// An entry too large to fit any table the decoder may have (§4.4):
    /// the table is emptied.
    pub(crate) fn insert_oversized(&mut self) {
        self.evict_to(0);
    }

    /// Writes `src` into the ring at `at`, wrapping; returns where it ends.
    fn write(&mut self, at: usize, src: &[u8]) -> usize {
        let cap = self.bytes.len();
        let (wrapped, from_at) = self.bytes.split_at_mut(at.min(cap));
        let first = src.len().min(from_at.len());
        let (a, b) = src.split_at(first);
        from_at[..first].copy_from_slice(a);
        let rest = b.len().min(wrapped.len());
        wrapped[..rest].copy_from_slice(&b[..rest]);
        wrap(at + src.len(), cap)
    }

    /// Evicts the oldest entries until the size is at most `size`.
    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            let Some(e) = self.entries.get(self.first) else {
                break; // Unreachable: a positive size has an entry.
            };
            self.size -= e.name_len + e.value_len + ENTRY_OVERHEAD;
            self.first = wrap(self.first + 1, self.entries.len());
            self.count -= 1;
        }
        if self.count == 0 {
            // Start over at the beginning: fewer wrapped strings.
            (self.first, self.head, self.size) = (0, 0, 0);
        }
    }

    /// The entries, newest first, as (name, value) (for tests).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        (1..=self.count)
            .map(|i| {
                let (n, v) = self.get(i).unwrap();
                let mut name = vec![0; n.len];
                let mut value = vec![0; v.len];
                self.copy(n, &mut name);
                self.copy(v, &mut value);
                (name, value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(t: &Table) -> Vec<(String, String)> {
        t.entries()
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn newest_first_and_evicted_oldest_first() {
        let mut t = Table::new(32 * 3 + 6);
        t.insert(b"a", b"1");
        t.insert(b"b", b"2");
        t.insert(b"c", b"3");
        assert_eq!((t.len(), t.size()), (3, 3 * 34));
        assert_eq!(pairs(&t)[0], ("c".into(), "3".into()));
        t.insert(b"d", b"4");
        let want: Vec<(String, String)> = [("d", "4"), ("c", "3"), ("b", "2")]
            .map(|(a, b)| (a.into(), b.into()))
            .into();
        assert_eq!(pairs(&t), want);
        assert!(t.get(4).is_none() && t.get(0).is_none());
    }

    #[test]
    fn strings_wrap_around_the_ring() {
        // 100 bytes of storage: entries of 40 bytes of text (72 of size)
        // one at a time; each starts where the previous ended.
        let mut t = Table::new(100);
        for i in 0..50u8 {
            let name = vec![b'a' + i % 26; 15];
            let value = vec![i; 25];
            t.insert(&name, &value);
            assert_eq!(t.entries(), vec![(name, value)], "{i}");
            assert!(t.size() <= 100);
        }
    }

    #[test]
    fn too_large_an_entry_empties_the_table() {
        let mut t = Table::new(100);
        t.insert(b"a", b"b");
        t.insert(&[b'x'; 60], &[b'y'; 9]);
        assert_eq!((t.len(), t.size()), (0, 0));
        // Exactly the maximum fits.
        t.insert(&[b'x'; 60], &[b'y'; 8]);
        assert_eq!((t.len(), t.size()), (1, 100));
    }

    #[test]
    fn size_updates_evict() {
        let mut t = Table::new(200);
        for n in [b"a", b"b", b"c", b"d", b"e"] {
            t.insert(n, b"");
        }
        assert_eq!((t.len(), t.size()), (5, 165));
        t.set_max_size(100);
        assert_eq!((t.len(), t.size(), t.max_size()), (3, 99, 100));
        t.set_max_size(0);
        assert_eq!((t.len(), t.size()), (0, 0));
        t.insert(b"a", b"");
        assert_eq!(t.len(), 0);
        t.set_max_size(200);
        t.insert(b"a", b"");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn zero_and_tiny_capacities_hold_nothing() {
        for cap in [0, 1, 31, 32] {
            let mut t = Table::new(cap);
            t.insert(b"", b"x");
            t.insert(b"x", b"");
            assert_eq!(t.len(), 0, "{cap}");
            t.insert(b"", b"");
            assert_eq!(t.len(), usize::from(cap == 32), "{cap}");
            assert!(t.get(1).is_some() == (cap == 32));
        }
    }
}
