//! Handles into a parsed [`Blob`]: a route, a run of variants, a variant,
//! a 304 head (each with its HTTP/2 header block). Each is a small `Copy` value; its accessors slice the blob's
//! bytes within bounds [`Blob::parse`] has proven.

use crate::layout::{route, u16_at, u32_at, u64_at, variant, Coding};
use crate::read::Blob;
use std::fmt;

/// One route: a path and its variants.
#[derive(Clone, Copy)]
pub struct Route<'a> {
    pub(crate) blob: Blob<'a>,
    pub(crate) i: usize,
}

impl<'a> Route<'a> {
    /// Index in the route table.
    pub fn index(&self) -> usize {
        self.i
    }
    fn e(&self) -> &'a [u8] {
        self.blob.route_entry(self.i)
    }
    /// The decoded URL path, e.g. `b"/docs/"`.
    pub fn path(&self) -> &'a [u8] {
        let e = self.e();
        self.blob.string(
            u32_at(e, route::PATH_OFF),
            usize::from(u16_at(e, route::PATH_LEN)),
        )
    }
    /// 200 for a resource, 301/302/303/307/308 for a redirect.
    pub fn status(&self) -> u16 {
        u16_at(self.e(), route::STATUS)
    }
    /// Seconds since the Unix epoch (the `Last-Modified` of a 200 route).
    pub fn last_modified(&self) -> i64 {
        u64_at(self.e(), route::LAST_MODIFIED) as i64
    }
    /// The route's variants, one per coding, sorted by body length: the
    /// first acceptable one is the smallest.
    pub fn variants(&self) -> Variants<'a> {
        let e = self.e();
        Variants {
            blob: self.blob,
            first: u32_at(e, route::FIRST_VARIANT) as usize,
            count: usize::from(u16_at(e, route::VARIANT_COUNT)),
        }
    }
}

/// A run of variants (one route's, or the 404's).
#[derive(Clone, Copy)]
pub struct Variants<'a> {
    pub(crate) blob: Blob<'a>,
    pub(crate) first: usize,
    pub(crate) count: usize,
}

impl<'a> Variants<'a> {
    /// Number of variants (1 to 4 in a parsed blob).
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether there are none (never, for a route or the 404 of a parsed
    /// blob).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Index of the first variant in the blob's variant table.
    pub fn first_index(&self) -> usize {
        self.first
    }
    /// Variant `i` of the run (0 is the smallest), `None` past its end.
    pub fn get(&self, i: usize) -> Option<Variant<'a>> {
        (i < self.count).then(|| Variant {
            blob: self.blob,
            i: self.first + i,
        })
    }
    /// The variants, smallest body first.
    pub fn iter(&self) -> impl Iterator<Item = Variant<'a>> + 'a {
        let (blob, first) = (self.blob, self.first);
        (first..first + self.count).map(move |i| Variant { blob, i })
    }
    /// The `identity` variant, which every run has.
    ///
    /// # Panics
    ///
    /// On a run without one, which a parsed blob does not have.
    pub fn identity(&self) -> Variant<'a> {
        // From the end: runs are sorted by body length, and the packer
        // keeps a compressed variant only when it is smaller, so identity
        // is usually last.
        let (blob, first) = (self.blob, self.first);
        (first..first + self.count)
            .rev()
            .map(|i| Variant { blob, i })
            .find(|v| v.coding() == Coding::Identity)
            .expect("validated: every run has an identity variant")
    }
}

/// One stored response: head (status line, `Content-Length` line, other
/// headers, empty line) and body, the same head as an HTTP/2 header block,
/// plus its optional 304 head and block.
#[derive(Clone, Copy)]
pub struct Variant<'a> {
    blob: Blob<'a>,
    i: usize,
}

impl<'a> Variant<'a> {
    /// Index in the variant table.
    pub fn index(&self) -> usize {
        self.i
    }
    fn e(&self) -> &'a [u8] {
        self.blob.variant_entry(self.i)
    }
    /// The content coding of the body.
    pub fn coding(&self) -> Coding {
        Coding::from_u8(self.e()[variant::CODING]).expect("validated coding")
    }
    /// Whether the body's encoding is the site's own (a precompressed file
    /// beside the original) rather than the writer's encoder's
    /// ([`Blob::encoder`](crate::Blob::encoder)); never for `identity`.
    pub fn site_encoded(&self) -> bool {
        self.e()[variant::FLAGS] & crate::layout::SITE_ENCODED != 0
    }
    /// File offset of the head (for `sendfile`).
    pub fn head_off(&self) -> u64 {
        u64_at(self.e(), variant::HEAD_OFF)
    }
    /// The whole head, status line to empty line.
    pub fn head(&self) -> &'a [u8] {
        let off = self.head_off() as usize;
        &self.blob.bytes[off..off + u32_at(self.e(), variant::HEAD_LEN) as usize]
    }
    /// `HTTP/1.1 200 OK\r\n`: dynamic lines go right after it.
    pub fn status_line(&self) -> &'a [u8] {
        &self.head()[..usize::from(u16_at(self.e(), variant::STATUS_LEN))]
    }
    /// `Content-Length: N\r\n` (a 206 replaces it).
    pub fn length_line(&self) -> &'a [u8] {
        let s = usize::from(u16_at(self.e(), variant::STATUS_LEN));
        &self.head()[s..s + usize::from(u16_at(self.e(), variant::LENGTH_LEN))]
    }
    /// Everything after the `Content-Length` line, through the empty line.
    pub fn fields(&self) -> &'a [u8] {
        let e = self.e();
        let s = usize::from(u16_at(e, variant::STATUS_LEN))
            + usize::from(u16_at(e, variant::LENGTH_LEN));
        &self.head()[s..]
    }
    /// File offset of the body (for `sendfile`).
    pub fn body_off(&self) -> u64 {
        u64_at(self.e(), variant::BODY_OFF)
    }
    /// Length of the body, the value of its `Content-Length` line.
    pub fn body_len(&self) -> u64 {
        u64_at(self.e(), variant::BODY_LEN)
    }
    /// The body, in this variant's coding.
    pub fn body(&self) -> &'a [u8] {
        let off = self.body_off() as usize;
        &self.blob.bytes[off..off + self.body_len() as usize]
    }
    /// True when the body follows the head directly in the file, so one
    /// `sendfile` from `head_off() + status_line().len()` sends the rest.
    pub fn contiguous(&self) -> bool {
        self.head_off() + self.head().len() as u64 == self.body_off()
    }
    /// The strong entity-tag, quotes included, e.g. `"3f0c…"`.
    pub fn etag(&self) -> Option<&'a [u8]> {
        let e = self.e();
        let len = usize::from(u16_at(e, variant::ETAG_LEN));
        (len > 0).then(|| self.blob.string(u32_at(e, variant::ETAG_OFF), len))
    }
    /// File offset of the HTTP/2 header block, [`h2_head`](Self::h2_head).
    pub fn h2_off(&self) -> u64 {
        u64_at(self.e(), variant::H2_OFF)
    }
    /// The HTTP/2 header block (HPACK, static table only: the same bytes on
    /// every connection): the field `:status`
    /// ([`h2_status_len`](Self::h2_status_len) bytes), then
    /// `content-length` ([`h2_length_len`](Self::h2_length_len) bytes),
    /// then the head's other fields, lower-cased, without the
    /// connection-specific ones. A server sends the `:status` bytes, its own
    /// fields (`date`, ...), then the rest; for a 206 it skips both stored
    /// fields and sends the rest after its own `:status`, `content-length`
    /// and `content-range`.
    pub fn h2_head(&self) -> &'a [u8] {
        let off = self.h2_off() as usize;
        &self.blob.bytes[off..off + u32_at(self.e(), variant::H2_LEN) as usize]
    }
    /// Bytes of the HTTP/2 block's first field, `:status`.
    pub fn h2_status_len(&self) -> usize {
        usize::from(u16_at(self.e(), variant::H2_STATUS_LEN))
    }
    /// Bytes of the HTTP/2 block's second field, `content-length`, right
    /// after the `:status` field.
    pub fn h2_length_len(&self) -> usize {
        usize::from(u16_at(self.e(), variant::H2_LENGTH_LEN))
    }
    /// The precomputed `304 Not Modified` head and HTTP/2 block, when the
    /// route has them (a variant has both or neither).
    pub fn not_modified(&self) -> Option<NotModified<'a>> {
        let e = self.e();
        let len = u32_at(e, variant::NM_LEN) as usize;
        (len > 0).then(|| {
            let off = u64_at(e, variant::NM_OFF);
            let h2_off = u64_at(e, variant::H2_NM_OFF);
            let h2_len = u32_at(e, variant::H2_NM_LEN) as usize;
            NotModified {
                off,
                head: &self.blob.bytes[off as usize..off as usize + len],
                status_len: usize::from(u16_at(e, variant::NM_STATUS_LEN)),
                h2_off,
                h2_head: &self.blob.bytes[h2_off as usize..h2_off as usize + h2_len],
                h2_status_len: usize::from(u16_at(e, variant::H2_NM_STATUS_LEN)),
            }
        })
    }
}

/// A 304 head: a status line, then header lines and the empty line; and
/// the same as an HTTP/2 header block.
#[derive(Clone, Copy)]
pub struct NotModified<'a> {
    /// File offset of the head (for `sendfile`).
    pub off: u64,
    /// The whole head, status line to empty line.
    pub head: &'a [u8],
    /// Length of its status line, CRLF included.
    pub status_len: usize,
    /// File offset of the HTTP/2 header block.
    pub h2_off: u64,
    /// The HTTP/2 header block (HPACK, static table only): the field
    /// `:status: 304` ([`h2_status_len`](Self::h2_status_len) bytes), then
    /// the 304 head's other fields, lower-cased; no `content-length`.
    pub h2_head: &'a [u8],
    /// Bytes of the HTTP/2 block's first field, `:status`: a server's own
    /// fields go right after them.
    pub h2_status_len: usize,
}

impl<'a> NotModified<'a> {
    /// `HTTP/1.1 304 Not Modified\r\n`: dynamic lines go right after it.
    pub fn status_line(&self) -> &'a [u8] {
        &self.head[..self.status_len]
    }
    /// Everything after the status line, through the empty line.
    pub fn fields(&self) -> &'a [u8] {
        &self.head[self.status_len..]
    }
}

// Debug shows what a handle points at, not the bytes behind it.

impl fmt::Debug for Route<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("index", &self.i)
            .field("path", &String::from_utf8_lossy(self.path()))
            .field("status", &self.status())
            .field("variants", &self.variants())
            .finish()
    }
}

impl fmt::Debug for Variants<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Debug for Variant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("index", &self.i)
            .field("coding", &self.coding())
            .field("head_off", &self.head_off())
            .field("head_len", &self.head().len())
            .field("body_off", &self.body_off())
            .field("body_len", &self.body_len())
            .field("h2_off", &self.h2_off())
            .field("h2_len", &self.h2_head().len())
            .finish()
    }
}

impl fmt::Debug for NotModified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotModified")
            .field("off", &self.off)
            .field("head", &String::from_utf8_lossy(self.head))
            .field("status_len", &self.status_len)
            .field("h2_off", &self.h2_off)
            .field("h2_len", &self.h2_head.len())
            .finish()
    }
}
