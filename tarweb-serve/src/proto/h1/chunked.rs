//! A `Transfer-Encoding: chunked` request body (RFC 9112 §7.1), read and
//! dropped as it arrives, in any pieces: a static server has no use for a
//! body, but must find where it ends to read the next request. Bounded:
//! the data by `--max-body`, everything else (size lines, extensions,
//! trailers) by `MAX_FRAMING`.

/// Bytes of framing (chunk-size lines with their extensions, trailer
/// lines) one body may have: real clients send a few per chunk.
pub(crate) const MAX_FRAMING: u64 = 16 * 1024;

/// Where the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size (`digits` so far).
    Size {
        value: u64,
        digits: u8,
    },
    /// A chunk extension, up to its CR.
    Ext {
        value: u64,
    },
    /// The LF after a chunk-size line.
    SizeLf {
        value: u64,
    },
    /// Chunk data, `left` bytes still to drop.
    Data {
        left: u64,
    },
    /// The CRLF after chunk data.
    DataCr,
    DataLf,
    /// The start of a trailer line, or the final CRLF.
    TrailerStart,
    /// Inside a trailer field line (`colon`: its colon was seen).
    Trailer {
        colon: bool,
    },
    TrailerLf,
    /// The LF of the final CRLF.
    EndLf,
}

/// What the bytes fed so far amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// All of them belong to the body; it goes on.
    More,
    /// The body ended; bytes after it (not consumed) are the next request.
    Done,
    /// Malformed, or over a bound: the message cannot be delimited, so the
    /// connection ends.
    Fail,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunked {
    state: State,
    /// Chunk data so far.
    data: u64,
    /// Framing bytes so far.
    framing: u64,
}

impl Chunked {
    pub fn new() -> Chunked {
        Chunked {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            data: 0,
            framing: 0,
        }
    }

    /// Drops what of `b` belongs to the body; returns how many bytes that
    /// was and where the body stands. `max_body`: most data bytes.
    pub fn feed(&mut self, b: &[u8], max_body: u64) -> (usize, Progress) {
        let mut i = 0;
        while i < b.len() {
            if let State::Data { left } = self.state {
                let k = left.min((b.len() - i) as u64);
                i += k as usize;
                self.state = if k == left {
                    State::DataCr
                } else {
                    State::Data { left: left - k }
                };
                continue;
            }
            let c = b[i];
            i += 1;
            self.framing += 1;
            if self.framing > MAX_FRAMING {
                return (i, Progress::Fail);
            }
            self.state = match (self.state, c) {
                (State::Size { value, digits }, _) if c.is_ascii_hexdigit() => {
                    if digits == 16 {
                        return (i, Progress::Fail); // over u64
                    }
                    let d = u64::from((c as char).to_digit(16).expect("hex digit"));
                    State::Size {
                        value: value << 4 | d,
                        digits: digits + 1,
                    }
                }
                (State::Size { digits: 0, .. }, _) => return (i, Progress::Fail),
                (State::Size { value, .. }, b'\r') => State::SizeLf { value },
                // BWS, then `;` and the extension.
                (State::Size { value, .. }, b';' | b' ' | b'\t') => State::Ext { value },
                (State::Ext { value }, b'\r') => State::SizeLf { value },
                (State::Ext { value }, _) if c == b'\t' || (0x20..0x7f).contains(&c) => {
                    State::Ext { value }
                }
                (State::SizeLf { value: 0 }, b'\n') => State::TrailerStart,
                (State::SizeLf { value }, b'\n') => {
                    match self.data.checked_add(value) {
                        Some(total) if total <= max_body => self.data = total,
                        _ => return (i, Progress::Fail),
                    }
                    State::Data { left: value }
                }
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => State::Size {
                    value: 0,
                    digits: 0,
                },
                (State::TrailerStart, b'\r') => State::EndLf,
                (State::EndLf, b'\n') => return (i, Progress::Done),
                // A trailer field line: a token, a colon, a field value.
                (State::TrailerStart, _) if tarweb_format::rules::is_tchar(c) => {
                    State::Trailer { colon: false }
                }
                (State::Trailer { colon: true }, b'\r') => State::TrailerLf,
                (State::Trailer { colon: false }, b':') => State::Trailer { colon: true },
                (State::Trailer { colon: false }, _) if tarweb_format::rules::is_tchar(c) => {
                    State::Trailer { colon: false }
                }
                (State::Trailer { colon: true }, _) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                    State::Trailer { colon: true }
                }
                (State::TrailerLf, b'\n') => State::TrailerStart,
                _ => return (i, Progress::Fail),
            };
        }
        (i, Progress::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole of `b` fed in pieces of `step`: the progress at the end
    /// and the bytes consumed.
    fn feed_all(b: &[u8], step: usize, max: u64) -> (usize, Progress) {
        let mut c = Chunked::new();
        let mut used = 0;
        for piece in b.chunks(step) {
            let (n, p) = c.feed(piece, max);
            used += n;
            if p != Progress::More {
                return (used, p);
            }
            assert_eq!(n, piece.len());
        }
        (used, Progress::More)
    }

    #[test]
    fn bodies_end_where_they_end_in_any_pieces() {
        let body = b"5\r\nhello\r\n1A;name=\"v\" ; x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
        let next = b"GET / HTTP/1.1\r\n";
        let all = [&body[..], next].concat();
        for step in [1, 2, 3, 7, all.len()] {
            assert_eq!(
                feed_all(&all, step, 100),
                (body.len(), Progress::Done),
                "{step}"
            );
        }
        let trailers = b"0\r\nExpires: never\r\nX-A:\r\n\r\n";
        assert_eq!(feed_all(trailers, 1, 0), (trailers.len(), Progress::Done));
        assert_eq!(feed_all(b"000\r\n\r\n", 3, 0), (7, Progress::Done));
        // Cut anywhere before the end: more to come.
        for cut in 0..body.len() {
            assert_eq!(feed_all(&body[..cut], 4, 100).1, Progress::More, "{cut}");
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\r\n0\r\nno colon\r\n\r\n",
            b"5\r\nhello\r\n0\r\n: empty name\r\n\r\n",
            b"0\r\nX: a\x01b\r\n\r\n",
            b"0;\x00\r\n\r\n",
            b"0\r\n\r\r",
            b"11112222333344445\r\n",
        ] {
            assert_eq!(feed_all(bad, 1, 1 << 20).1, Progress::Fail, "{bad:?}");
        }
    }

    #[test]
    fn bounds() {
        // Data over --max-body, declared in one chunk or in many.
        assert_eq!(feed_all(b"65\r\n", 1, 100).1, Progress::Fail);
        assert_eq!(feed_all(b"64\r\n", 1, 100).1, Progress::More);
        let mut many = Vec::new();
        for _ in 0..11 {
            many.extend_from_slice(b"A\r\n0123456789\r\n");
        }
        assert_eq!(feed_all(&many, 5, 100).1, Progress::Fail);
        // Framing: extensions and trailers without end.
        let ext = [&b"1;"[..], &vec![b'x'; MAX_FRAMING as usize]].concat();
        assert_eq!(feed_all(&ext, 1000, 100).1, Progress::Fail);
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() as u64 <= MAX_FRAMING {
            trailers.extend_from_slice(b"X-Trailer: v\r\n");
        }
        assert_eq!(feed_all(&trailers, 100, 100).1, Progress::Fail);
    }
}
