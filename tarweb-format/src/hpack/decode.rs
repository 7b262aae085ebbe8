//! The decoder for request header blocks: [`Decoder`] (the dynamic table)
//! and [`Fields`] (the caller's output), both allocated once, in `new`.

use super::error::{HpackError, HpackErrorKind, LimitAboveCapacity};
use super::static_table::{self, STATIC_LEN};
use super::table::{RingStr, Table, ENTRY_OVERHEAD};
use super::{huffman, integer};

/// Decodes header blocks (RFC 7541 §3) with a dynamic table of a fixed
/// capacity; nothing is allocated after [`Decoder::new`].
///
/// One decoder per connection and direction: the table carries state from
/// one block to the next, so blocks must be decoded in the order they came.
///
/// ```
/// use tarweb_format::hpack::{Decoder, Fields};
/// let mut decoder = Decoder::new(4096);
/// let mut fields = Fields::new(16 * 1024, 128);
/// // RFC 7541 C.3.1: GET http://www.example.com/
/// let block = b"\x82\x86\x84\x41\x0fwww.example.com";
/// decoder.decode(block, &mut fields)?;
/// let list: Vec<_> = fields.iter().collect();
/// assert_eq!(list[0], (&b":method"[..], &b"GET"[..]));
/// assert_eq!(list[3], (&b":authority"[..], &b"www.example.com"[..]));
/// // The last field was added to the table: 57 bytes of table size.
/// assert_eq!(decoder.table_size(), 57);
/// # Ok::<(), tarweb_format::hpack::HpackError>(())
/// ```
pub struct Decoder {
    table: Table,
    /// The largest maximum size a size update may set: the
    /// `SETTINGS_HEADER_TABLE_SIZE` in force.
    limit: usize,
    /// A limit lowered by [`Decoder::set_limit`] that the next block must
    /// start by acknowledging, with a size update at or below it.
    pending: Option<usize>,
    /// Where the strings of a field to be added to the table go once the
    /// caller's [`Fields`] is over its limits: `capacity` bytes, enough for
    /// any entry the table can hold.
    scratch: Box<[u8]>,
}

impl std::fmt::Debug for Decoder {
    /// The table's figures, not its contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("capacity", &self.capacity())
            .field("limit", &self.limit)
            .field("pending_limit", &self.pending)
            .field("table_len", &self.table_len())
            .field("table_size", &self.table_size())
            .field("table_max_size", &self.table_max_size())
            .finish()
    }
}

/// Where the bytes of a name or a value are, before they are copied.
#[derive(Clone, Copy)]
enum Src<'b> {
    Static(&'static [u8]),
    Table(RingStr),
    Raw(&'b [u8]),
    Huffman(&'b [u8]),
}

impl Decoder {
    /// A decoder whose dynamic table may hold up to `capacity` bytes of
    /// table size (name + value + 32 per entry, §4.1): the
    /// `SETTINGS_HEADER_TABLE_SIZE` the endpoint advertises. Its maximum
    /// size and its limit start at `capacity`.
    ///
    /// This allocates `capacity` bytes for the table's strings, a slot per
    /// 32 bytes of capacity for its entries, and `capacity` bytes of scratch
    /// (see [`decode`](Self::decode)); about 2.75 × `capacity` bytes in all.
    ///
    /// HTTP/2 starts every connection at 4096 (RFC 9113 §6.5.2), and a peer
    /// may fill a table that large until it has acknowledged a lower
    /// setting: an endpoint advertising less than 4096 builds its decoder
    /// with 4096 and calls [`set_limit`](Self::set_limit) when its SETTINGS
    /// frame is acknowledged.
    pub fn new(capacity: usize) -> Decoder {
        Decoder {
            table: Table::new(capacity),
            limit: capacity,
            pending: None,
            scratch: vec![0; capacity].into_boxed_slice(),
        }
    }

    /// Changes the limit on the table's maximum size, when the peer has
    /// acknowledged a new `SETTINGS_HEADER_TABLE_SIZE`.
    ///
    /// A limit below the table's current maximum size must be acknowledged
    /// by the peer's encoder: the next block must then start with a size
    /// update to at most `limit` (§4.2), or it is refused with
    /// [`HpackErrorKind::SizeUpdateMissing`]. A limit above the capacity
    /// given to [`new`](Self::new) is refused.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), LimitAboveCapacity> {
        if limit > self.table.capacity() {
            return Err(LimitAboveCapacity {
                limit,
                capacity: self.table.capacity(),
            });
        }
        if limit < self.table.max_size() {
            self.pending = Some(self.pending.map_or(limit, |p| p.min(limit)));
        }
        self.limit = limit;
        Ok(())
    }

    /// The table storage given to [`new`](Self::new), in bytes of table size.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The limit a size update may not exceed ([`new`](Self::new)'s
    /// capacity, or what [`set_limit`](Self::set_limit) set).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The dynamic table's size (§4.1: name + value + 32 per entry).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's maximum size, as the peer's last size update set
    /// it (at first, the capacity).
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// How many entries the dynamic table has.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The dynamic table's entries, newest first (for tests).
    #[cfg(test)]
    pub(crate) fn table_entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.table.entries()
    }

    /// Decodes one whole header block (the fragments of a HEADERS frame and
    /// its CONTINUATION frames, put together) into `out`, which is cleared
    /// first, and updates the dynamic table as the block says.
    ///
    /// Refusals ([`HpackErrorKind`]) come in two classes:
    ///
    /// - A decoding error ([`HpackError::is_compression_error`]): the
    ///   block breaks RFC 7541. The table may have been changed by the part
    ///   before the error, and no longer matches the peer's: the connection
    ///   must end (`COMPRESSION_ERROR`).
    /// - A limit of `out` ([`HpackErrorKind::TooManyFields`],
    ///   [`HpackErrorKind::HeaderListTooLarge`]): from the field that
    ///   crosses it on, no field is put in `out`, but the rest of the block
    ///   is still decoded, checked, and applied to the table (the strings
    ///   of a field to be added go through the decoder's scratch buffer), so
    ///   the table stays consistent; this error is returned only if nothing
    ///   else is wrong with the block, and then only the stream need be
    ///   refused.
    ///
    /// Either way `out` keeps the fields decoded before the refusal.
    pub fn decode(&mut self, block: &[u8], out: &mut Fields) -> Result<(), HpackError> {
        out.clear();
        let mut pos = 0;
        let mut fields_started = false;
        // The first limit of `out` crossed, if one was.
        let mut over: Option<HpackError> = None;
        while let Some(&first) = block.get(pos) {
            let offset = pos;
            let at = |kind| HpackError { offset, kind };
            if first & 0xe0 == 0x20 {
                // §6.3: 001xxxxx, a dynamic table size update.
                if fields_started {
                    return Err(at(HpackErrorKind::SizeUpdateNotAtStart));
                }
                let size = integer::decode(block, &mut pos, 5).map_err(at)?;
                if size as usize > self.limit {
                    return Err(at(HpackErrorKind::SizeUpdateTooLarge {
                        size,
                        limit: self.limit,
                    }));
                }
                if self.pending.is_some_and(|p| size as usize <= p) {
                    self.pending = None;
                }
                self.table.set_max_size(size as usize);
                continue;
            }
            if !fields_started {
                fields_started = true;
                if let Some(limit) = self.pending {
                    return Err(at(HpackErrorKind::SizeUpdateMissing { limit }));
                }
            }
            self.field(block, &mut pos, out, &mut over, offset)
                .map_err(at)?;
        }
        if let Some(limit) = self.pending {
            // A block of nothing, or of size updates none of which did it.
            return Err(HpackError {
                offset: pos,
                kind: HpackErrorKind::SizeUpdateMissing { limit },
            });
        }
        match over {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Decodes the field representation at `*pos` (§6.1, §6.2), puts the
    /// field in `out` unless a limit was crossed, adds it to the table if
    /// the representation says so.
    #[inline]
    fn field(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        out: &mut Fields,
        over: &mut Option<HpackError>,
        offset: usize,
    ) -> Result<(), HpackErrorKind> {
        let first = block.get(*pos).copied().unwrap_or(0);
        let (name, value, add) = if first & 0x80 != 0 {
            // §6.1: 1xxxxxxx, an indexed field.
            let (name, value) = self.lookup(integer::decode(block, pos, 7)?)?;
            (name, value, false)
        } else {
            // §6.2.1: 01xxxxxx, with incremental indexing; §6.2.2 and
            // §6.2.3: 0000xxxx and 0001xxxx, without and never indexed.
            let (prefix, add) = if first & 0x40 != 0 {
                (6, true)
            } else {
                (4, false)
            };
            let index = integer::decode(block, pos, prefix)?;
            let name = if index == 0 {
                string(block, pos)?
            } else {
                self.lookup(index)?.0
            };
            (name, string(block, pos)?, add)
        };

        if over.is_none() {
            match out.room() {
                Ok((base, room)) => {
                    let dst = out.buf.get_mut(base..base + room).unwrap_or_default();
                    let n = put(&self.table, name, dst)?;
                    let v = put(&self.table, value, dst.get_mut(n..).unwrap_or_default())?;
                    if n + v <= room {
                        out.push(base, n, v);
                        if add {
                            let name = out.buf.get(base..base + n).unwrap_or_default();
                            let value = out.buf.get(base + n..base + n + v).unwrap_or_default();
                            self.table.insert(name, value);
                        }
                        return Ok(());
                    }
                    *over = Some(HpackError {
                        offset,
                        kind: HpackErrorKind::HeaderListTooLarge,
                    });
                    if !add {
                        return Ok(()); // Both strings were checked by `put`.
                    }
                }
                Err(kind) => *over = Some(HpackError { offset, kind }),
            }
        }

        // Past a limit of `out`: the field is not kept, but the table must
        // still change as the peer's does.
        if add {
            let n = put(&self.table, name, &mut self.scratch)?;
            let v = put(
                &self.table,
                value,
                self.scratch.get_mut(n..).unwrap_or_default(),
            )?;
            match self.scratch.get(..n + v) {
                Some(both) => {
                    let (name, value) = both.split_at(n);
                    self.table.insert(name, value);
                }
                None => self.table.insert_oversized(),
            }
        } else {
            // Only checked (a Huffman string may be invalid).
            put(&self.table, name, &mut [])?;
            put(&self.table, value, &mut [])?;
        }
        Ok(())
    }

    /// The entry at `index` of the static then the dynamic table (§2.3.3).
    #[inline]
    fn lookup(&self, index: u32) -> Result<(Src<'static>, Src<'static>), HpackErrorKind> {
        if index == 0 {
            return Err(HpackErrorKind::IndexZero);
        }
        if let Some((n, v)) = static_table::get(index) {
            return Ok((Src::Static(n), Src::Static(v)));
        }
        match self.table.get((index - STATIC_LEN) as usize) {
            Some((n, v)) => Ok((Src::Table(n), Src::Table(v))),
            None => Err(HpackErrorKind::IndexOutOfRange { index }),
        }
    }
}

/// The offset of the first representation in `block` that would change a
/// decoder's dynamic table: a literal with incremental indexing (§6.2.1) or
/// a dynamic table size update (§6.3); `None` when there is none. A block
/// without one, and without references to the dynamic table (which a
/// decoder with an empty table refuses), means the same on every
/// connection and leaves the peer's table as it was: what a stored block
/// must be.
///
/// Only prefixes and string lengths are read (no Huffman decoding); an
/// integer or a string that does not fit the block is refused as
/// [`Decoder::decode`] would refuse it.
pub(crate) fn first_table_change(block: &[u8]) -> Result<Option<usize>, HpackError> {
    let mut pos = 0;
    while let Some(&first) = block.get(pos) {
        let offset = pos;
        let at = |kind| HpackError { offset, kind };
        if first & 0x80 != 0 {
            // §6.1: an indexed field.
            integer::decode(block, &mut pos, 7).map_err(at)?;
        } else if first & 0x40 != 0 || first & 0x20 != 0 {
            // §6.2.1: 01xxxxxx, with incremental indexing; §6.3: 001xxxxx.
            return Ok(Some(offset));
        } else {
            // §6.2.2, §6.2.3: 0000xxxx, 0001xxxx, the name's index (0 for
            // a literal name), then the value.
            if integer::decode(block, &mut pos, 4).map_err(at)? == 0 {
                string(block, &mut pos).map_err(at)?;
            }
            string(block, &mut pos).map_err(at)?;
        }
    }
    Ok(None)
}

/// Copies or decodes `src` to the start of `dst`, and returns its length:
/// above `dst.len()`, it did not fit (and was still checked).
#[inline]
fn put(table: &Table, src: Src<'_>, dst: &mut [u8]) -> Result<usize, HpackErrorKind> {
    Ok(match src {
        Src::Static(s) | Src::Raw(s) => {
            if let Some(dst) = dst.get_mut(..s.len()) {
                dst.copy_from_slice(s);
            }
            s.len()
        }
        Src::Table(s) => table.copy(s, dst),
        Src::Huffman(s) => huffman::decode(s, dst)?,
    })
}

/// The string literal at `*pos` (§5.2), moving `*pos` past it.
#[inline]
fn string<'b>(block: &'b [u8], pos: &mut usize) -> Result<Src<'b>, HpackErrorKind> {
    let huffman = block.get(*pos).is_some_and(|&b| b & 0x80 != 0);
    let len = integer::decode(block, pos, 7)?;
    let bytes = block
        .get(*pos..)
        .and_then(|rest| rest.get(..len as usize))
        .ok_or(HpackErrorKind::StringPastEnd { len })?;
    *pos += bytes.len();
    Ok(if huffman {
        Src::Huffman(bytes)
    } else {
        Src::Raw(bytes)
    })
}

/// Where one field's name and value are in [`Fields`]' buffer.
#[derive(Clone, Copy, Default)]
struct Span {
    /// Where the name starts; the value follows it.
    start: usize,
    name_len: usize,
    value_len: usize,
}

/// A decoded header list: the caller's fixed-capacity output of
/// [`Decoder::decode`], with its two limits, the header list size (RFC 9113
/// §6.5.2's `SETTINGS_MAX_HEADER_LIST_SIZE`: name + value + 32 per field)
/// and the number of fields. Nothing is allocated after [`Fields::new`].
///
/// Names and values are as the peer sent them: RFC 9113 §8.2's rules
/// (lower-case names, no connection-specific fields, pseudo-fields first)
/// are the caller's to check.
pub struct Fields {
    /// Decoded names and values, back to back.
    buf: Box<[u8]>,
    /// How much of `buf` is used.
    used: usize,
    /// One per field, `count` of them used.
    spans: Box<[Span]>,
    count: usize,
    /// The header list size so far.
    list_size: usize,
    max_list_size: usize,
}

impl Fields {
    /// An empty list holding at most `max_fields` fields and
    /// `max_list_size` bytes of header list size; it allocates
    /// `max_list_size` bytes for names and values and 24 bytes per field.
    pub fn new(max_list_size: usize, max_fields: usize) -> Fields {
        Fields {
            buf: vec![0; max_list_size].into_boxed_slice(),
            used: 0,
            spans: vec![Span::default(); max_fields].into_boxed_slice(),
            count: 0,
            list_size: 0,
            max_list_size,
        }
    }

    /// Empties the list ([`Decoder::decode`] does it first).
    pub fn clear(&mut self) {
        (self.used, self.count, self.list_size) = (0, 0, 0);
    }

    /// How many fields the list has.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the list has no field.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The header list size: name + value + 32 per field (RFC 9113 §6.5.2).
    pub fn list_size(&self) -> usize {
        self.list_size
    }

    /// The most header list size the list takes.
    pub fn max_list_size(&self) -> usize {
        self.max_list_size
    }

    /// The most fields the list takes.
    pub fn max_fields(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` (0 is the first of the block) as (name, value).
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let s = self.spans.get(..self.count)?.get(i)?;
        let name = self.buf.get(s.start..s.start + s.name_len)?;
        let end = s.start + s.name_len + s.value_len;
        let value = self.buf.get(s.start + s.name_len..end)?;
        Some((name, value))
    }

    /// The fields in block order, as (name, value).
    pub fn iter(&self) -> FieldsIter<'_> {
        FieldsIter {
            fields: self,
            next: 0,
        }
    }

    /// Where the next field's name and value may go, and how many bytes
    /// they may take together; or the limit that leaves no room for one.
    fn room(&self) -> Result<(usize, usize), HpackErrorKind> {
        if self.count >= self.spans.len() {
            return Err(HpackErrorKind::TooManyFields);
        }
        let budget = (self.max_list_size)
            .checked_sub(self.list_size + ENTRY_OVERHEAD)
            .ok_or(HpackErrorKind::HeaderListTooLarge)?;
        Ok((self.used, budget.min(self.buf.len() - self.used)))
    }

    /// Keeps the field whose name and value were written at `start`.
    fn push(&mut self, start: usize, name_len: usize, value_len: usize) {
        if let Some(span) = self.spans.get_mut(self.count) {
            *span = Span {
                start,
                name_len,
                value_len,
            };
            self.count += 1;
            self.used = start + name_len + value_len;
            self.list_size += name_len + value_len + ENTRY_OVERHEAD;
        }
    }
}

impl std::fmt::Debug for Fields {
    /// The fields, as a list of `name: value` strings (lossy UTF-8).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            }))
            .finish()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = FieldsIter<'a>;

    fn into_iter(self) -> FieldsIter<'a> {
        self.iter()
    }
}

/// The fields of a [`Fields`], in block order, as (name, value):
/// [`Fields::iter`].
#[derive(Debug, Clone)]
pub struct FieldsIter<'a> {
    fields: &'a Fields,
    next: usize,
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let field = self.fields.get(self.next)?;
        self.next += 1;
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.fields.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for FieldsIter<'_> {}
