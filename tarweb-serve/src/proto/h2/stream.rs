//! The streams of one HTTP/2 connection: which request each one is, its
//! send window, and the body it still has to send; and the scheduler that
//! turns bodies into DATA frames, a frame per stream per round.

use super::frame::{self, flag, kind, ErrorCode};
use super::MAX_STREAMS;
use crate::http::multipart::{decimal, piece_len, Multipart, Piece};
use crate::output::Output;
use crate::root::Root;
use crate::sites::Sites;
use std::sync::Arc;

/// The last `MAX_STREAMS` stream ids we reset.
pub(crate) struct Recent {
    ids: [u32; MAX_STREAMS as usize],
    next: usize,
}

impl Recent {
    pub fn new() -> Recent {
        Recent {
            ids: [0; MAX_STREAMS as usize],
            next: 0,
        }
    }

    pub fn add(&mut self, id: u32) {
        self.ids[self.next] = id;
        self.next = (self.next + 1) % self.ids.len();
    }

    pub fn has(&self, id: u32) -> bool {
        id != 0 && self.ids.contains(&id)
    }
}

/// Where a body's bytes are.
pub(crate) enum Source {
    /// The blob: bytes from `off`, in the site (index into the worker's
    /// current table) whose response this is; `root` once the stream
    /// outlives the call that opened it, held across a swap. `file`: sent
    /// by sendfile (frame by frame) rather than from the mapping.
    Blob {
        site: u32,
        root: Option<Arc<Root>>,
        off: u64,
        file: bool,
        /// A multipart/byteranges body: `off` is the position in it, and
        /// the bytes come from its pieces (boxed: rare, and large).
        multi: Option<Box<Multipart>>,
    },
    /// The server's own text (a built-in response's body), in two pieces.
    Text([&'static [u8]; 2]),
}

/// A body being sent: `left` bytes still to go.
pub(crate) struct Body {
    pub src: Source,
    pub left: u64,
}

impl Body {
    /// A blob body of `len` bytes from `off`.
    pub fn blob(site: u32, off: u64, len: u64, file: bool) -> Body {
        Body {
            src: Source::Blob {
                site,
                root: None,
                off,
                file,
                multi: None,
            },
            left: len,
        }
    }

    /// A multipart/byteranges body from the site's blob.
    pub fn multipart(site: u32, m: Multipart) -> Body {
        Body {
            left: m.len(),
            src: Source::Blob {
                site,
                root: None,
                off: 0,
                file: false,
                multi: Some(Box::new(m)),
            },
        }
    }

    /// A body of the server's own.
    pub fn text(parts: [&'static [u8]; 2]) -> Body {
        Body {
            left: (parts[0].len() + parts[1].len()) as u64,
            src: Source::Text(parts),
        }
    }
}

pub(crate) struct Stream {
    pub id: u32,
    /// The stream's send window (the peer's receive window for it).
    pub window: i64,
    /// The client's END_STREAM came (the request is whole).
    pub recv_closed: bool,
    /// Our END_STREAM went out.
    pub send_closed: bool,
    /// The request's `content-length`, checked against its DATA.
    pub content_length: Option<u64>,
    pub body_received: u64,
    pub body: Option<Body>,
}

impl Stream {
    pub fn new(id: u32, window: i64) -> Stream {
        Stream {
            id,
            window,
            recv_closed: false,
            send_closed: false,
            content_length: None,
            body_received: 0,
            body: None,
        }
    }
}

/// The open streams, in the order they opened (the round-robin order).
#[derive(Default)]
pub(crate) struct Streams {
    list: Vec<Stream>,
    /// Where the next round starts.
    next: usize,
}

impl Streams {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn add(&mut self, s: Stream) {
        self.list.push(s);
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.list.iter_mut().find(|s| s.id == id)
    }

    pub fn remove(&mut self, id: u32) {
        if let Some(i) = self.list.iter().position(|s| s.id == id) {
            self.list.remove(i);
            if self.next > i {
                self.next -= 1;
            }
        }
    }

    /// Forgets stream `id` once both sides have ended it.
    pub fn retire_if_done(&mut self, id: u32) {
        if self
            .list
            .iter()
            .any(|s| s.id == id && s.recv_closed && s.send_closed)
        {
            self.remove(id);
        }
    }

    /// Moves every stream's window by `delta` (a new initial window size);
    /// false when one would overflow (§6.9.2: FLOW_CONTROL_ERROR).
    pub fn shift_windows(&mut self, delta: i64) -> bool {
        for s in &mut self.list {
            s.window += delta;
            if s.window > i64::from(frame::MAX_WINDOW) {
                return false;
            }
        }
        true
    }

    /// A stream has body bytes its own window lets go.
    pub fn sendable(&self) -> bool {
        self.list
            .iter()
            .any(|s| s.window > 0 && s.body.as_ref().is_some_and(|b| b.left > 0))
    }

    /// A stream has body bytes and no window to send them in (its own or,
    /// `conn_window` ≤ 0, the connection's).
    pub fn waiting_for_window(&self, conn_window: i64) -> bool {
        self.list.iter().any(|s| {
            s.body.as_ref().is_some_and(|b| b.left > 0) && (s.window <= 0 || conn_window <= 0)
        })
    }

    /// Streams that will send after this call pin their root.
    pub fn pin(&mut self, sites: &Sites) {
        for s in &mut self.list {
            if let Some(Body {
                src: Source::Blob { site, root, .. },
                left,
            }) = &mut s.body
            {
                if root.is_none() && *left > 0 {
                    *root = Some(sites.get(*site).clone());
                }
            }
        }
    }

    /// DATA frames for the streams with body left, a frame each per round,
    /// while `out` has room and the windows allow. Streams whose bytes are
    /// in another blob than `out`'s wait for the next output. A body sent
    /// whole while its request still comes ends the stream (RST_STREAM
    /// NO_ERROR, §8.1, remembered in `reset`). Returns whether anything
    /// was sent.
    pub fn produce(
        &mut self,
        out: &mut Output,
        sites: &Sites,
        conn_window: &mut i64,
        max_frame: u32,
        reset: &mut Recent,
    ) -> bool {
        let mut sent = false;
        loop {
            let mut progress = false;
            let n = self.list.len();
            for k in 0..n {
                if *conn_window <= 0 || !out.has_room() {
                    return sent;
                }
                let i = (self.next + k) % n;
                let s = &mut self.list[i];
                let Some(b) = s.body.as_mut().filter(|b| b.left > 0) else {
                    continue;
                };
                if s.window <= 0 {
                    continue;
                }
                let fits = match &b.src {
                    Source::Blob { root: Some(r), .. } => out.takes_root(r, sites),
                    Source::Blob { site, .. } => out.takes_site(*site),
                    Source::Text(_) => true,
                };
                if !fits {
                    continue;
                }
                let len = b.left.min(u64::from(max_frame)).min(s.window as u64);
                let len = len.min(*conn_window as u64);
                let last = len == b.left;
                let flags = if last { flag::END_STREAM } else { 0 };
                out.push_dyn(&frame::header(len as u32, kind::DATA, flags, s.id));
                match &mut b.src {
                    Source::Blob {
                        site,
                        root,
                        off,
                        file,
                        multi,
                    } => {
                        match root {
                            Some(r) => out.set_root(r),
                            None => out.set_site(*site),
                        }
                        if let Some(m) = multi {
                            push_pieces(out, m, *off, len);
                        } else if *file {
                            out.push_file(*off, len);
                        } else {
                            out.push_map(*off, len);
                        }
                        *off += len;
                    }
                    Source::Text(parts) => {
                        // Small (a status in words): whole in one frame.
                        out.push_static(parts[0]);
                        out.push_static(parts[1]);
                    }
                }
                b.left -= len;
                s.window -= len as i64;
                *conn_window -= len as i64;
                s.send_closed = last;
                progress = true;
                sent = true;
            }
            // Streams done with their body go; the client stops sending a
            // request we no longer need.
            self.list.retain(|s| {
                if s.send_closed && !s.recv_closed {
                    out.push_dyn(&frame::rst_stream(s.id, ErrorCode::NoError));
                    reset.add(s.id);
                }
                !s.send_closed
            });
            if !self.list.is_empty() {
                self.next = (self.next + 1) % self.list.len();
            }
            if !progress {
                return sent;
            }
        }
    }
}

/// Bytes `from..from + len` of a multipart body, into `out`: fixed bytes
/// and numbers copied, the blob's bytes from the mapping.
fn push_pieces(out: &mut Output, m: &Multipart, from: u64, len: u64) {
    let (end, mut at) = (from + len, 0u64);
    m.pieces(|p| {
        let n = piece_len(p);
        let (s, e) = (from.max(at), end.min(at + n));
        if s < e {
            let (a, b) = ((s - at) as usize, (e - at) as usize);
            match p {
                Piece::Bytes(bytes) => out.push_dyn(&bytes[a..b]),
                Piece::Num(x) => out.push_dyn(&decimal(x, &mut [0; 20])[a..b]),
                Piece::Blob { off, .. } => out.push_map(off + a as u64, (b - a) as u64),
            }
        }
        at += n;
    });
}
