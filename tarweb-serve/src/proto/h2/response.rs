//! A `Plan` into HTTP/2 frames: a HEADERS frame (CONTINUATIONs when the
//! block is over the peer's frame size) whose block is the variant's HPACK
//! block stored at pack time, `[:status][content-length][fields]`, with
//! this second's `date` and `server` fields after `:status` (as HTTP/1.1
//! puts its dynamic lines after the status line); the body becomes DATA
//! frames as the windows allow (`stream::Streams::produce`).

use super::frame::{self, flag, kind};
use super::stream::{Body, Stream};
use crate::access_log::Meta;
use crate::config::Config;
use crate::dispatch::Plan;
use crate::http::multipart::Multipart;
use crate::http::request::MAX_TARGET;
use crate::http::stored;
use crate::output::Output;
use tarweb_format::hpack::{encode_field_into, field_span};
use tarweb_format::{rules, Variant};

/// A piece of a header block: bytes of the blob, or bytes of our own.
#[derive(Clone, Copy)]
enum Part<'a> {
    Map { off: u64, len: u64 },
    Dyn(&'a [u8]),
}

impl Part<'_> {
    fn len(&self) -> u64 {
        match *self {
            Part::Map { len, .. } => len,
            Part::Dyn(b) => b.len() as u64,
        }
    }
}

/// HEADERS (and CONTINUATION frames past the peer's frame size) for a
/// block made of `prefix` (a table size update, or nothing) and `parts`.
fn push_block(
    out: &mut Output,
    id: u32,
    prefix: &[u8],
    parts: &[Part<'_>],
    end_stream: bool,
    max_frame: u32,
) {
    let mut all = [Part::Dyn(b""); 8];
    all[0] = Part::Dyn(prefix);
    all[1..=parts.len()].copy_from_slice(parts);
    let parts = &all[..=parts.len()];
    let total: u64 = parts.iter().map(Part::len).sum();
    let max = u64::from(max_frame);
    let mut left = total;
    let mut first = true;
    let (mut i, mut skip) = (0usize, 0u64);
    loop {
        let len = left.min(max);
        left -= len;
        let mut flags = if left == 0 { flag::END_HEADERS } else { 0 };
        let k = if first {
            if end_stream {
                flags |= flag::END_STREAM;
            }
            kind::HEADERS
        } else {
            kind::CONTINUATION
        };
        out.push_dyn(&frame::header(len as u32, k, flags, id));
        let mut need = len;
        while need > 0 {
            let p = parts[i];
            let take = (p.len() - skip).min(need);
            match p {
                Part::Map { off, .. } => out.push_map(off + skip, take),
                Part::Dyn(b) => out.push_dyn(&b[skip as usize..(skip + take) as usize]),
            }
            need -= take;
            skip += take;
            if skip == p.len() {
                i += 1;
                skip = 0;
            }
        }
        first = false;
        if left == 0 {
            return;
        }
    }
}

/// One field encoded into `buf` at `at`; returns the new end.
fn field(buf: &mut [u8], at: usize, name: &[u8], value: &[u8]) -> usize {
    at + encode_field_into(&mut buf[at..], name, value).expect("room for a field")
}

fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// What a response is written with besides its plan.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a Config,
    /// This second's `date` and `server` fields.
    pub lines: &'a [u8],
    /// `tarweb-root` as a field, or empty.
    pub root_field: &'a [u8],
    /// The site whose blob the plan's variant is in.
    pub site: u32,
    /// The peer's largest frame.
    pub max_frame: u32,
    pub head_only: bool,
    /// Before the block: a dynamic table size update the peer's decoder
    /// is owed (RFC 7541 §4.2), or nothing.
    pub prefix: &'a [u8],
}

/// Writes the response to `plan` on stream `s`: its HEADERS, and the body
/// it will send (`s.body`, for `Streams::produce`).
pub(crate) fn write(s: &mut Stream, out: &mut Output, ctx: &Ctx<'_>, plan: Plan<'_>) -> Meta {
    let Ctx {
        cfg,
        lines,
        root_field,
        site,
        max_frame,
        head_only,
        prefix,
    } = *ctx;
    let threshold = cfg.sendfile_threshold;
    let mut buf = [0u8; 256];
    let coding = crate::access_log::coding_of(&plan);
    let (status, body_len) = match plan {
        Plan::Stored(v) => {
            stored(s, out, v, ctx);
            (status_of(v), if head_only { 0 } else { v.body_len() })
        }
        Plan::NotModified(v) => {
            let (off, len, sl) = v
                .not_modified()
                .map(|nm| (nm.h2_off, nm.h2_head.len() as u64, nm.h2_status_len as u64))
                .unwrap_or((0, 0, 0));
            let mut parts = [Part::Dyn(b""); 4];
            parts[0] = Part::Map { off, len: sl };
            parts[1] = Part::Dyn(lines);
            parts[2] = Part::Dyn(root_field);
            parts[3] = Part::Map {
                off: off + sl,
                len: len - sl,
            };
            if len == 0 {
                // A blob without a stored 304 block: a minimal one.
                let mut at = field(&mut buf, 0, b":status", b"304");
                at = field(&mut buf, at, b"etag", v.etag().unwrap_or(b""));
                parts = [
                    Part::Dyn(&buf[..at]),
                    Part::Dyn(lines),
                    Part::Dyn(b""),
                    Part::Dyn(b""),
                ];
            }
            push_block(out, s.id, prefix, &parts, true, max_frame);
            s.send_closed = true;
            (304, 0)
        }
        Plan::Partial { v, first, last } => {
            let n = last - first + 1;
            let mut range = [0u8; 64];
            let mut d = [0u8; 20];
            let r = {
                let mut w = 0;
                for piece in [&b"bytes "[..], decimal(first, &mut d)] {
                    range[w..w + piece.len()].copy_from_slice(piece);
                    w += piece.len();
                }
                range[w] = b'-';
                w += 1;
                for piece in [decimal(last, &mut d), b"/"] {
                    range[w..w + piece.len()].copy_from_slice(piece);
                    w += piece.len();
                }
                let total = decimal(v.body_len(), &mut d);
                range[w..w + total.len()].copy_from_slice(total);
                w + total.len()
            };
            let mut at = field(&mut buf, 0, b":status", b"206");
            let head = at;
            at = field(&mut buf, at, b"content-range", &range[..r]);
            at = field(&mut buf, at, b"content-length", decimal(n, &mut d));
            let (off, len) = (v.h2_off(), v.h2_head().len() as u64);
            let skip = (v.h2_status_len() + v.h2_length_len()) as u64;
            let parts = [
                Part::Dyn(&buf[..head]),
                Part::Dyn(lines),
                Part::Dyn(root_field),
                Part::Dyn(&buf[head..at]),
                Part::Map {
                    off: off + skip,
                    len: len - skip,
                },
            ];
            push_block(out, s.id, prefix, &parts, false, max_frame);
            s.body = Some(Body::blob(site, v.body_off() + first, n, n > threshold));
            (206, n)
        }
        Plan::Multipart { v, range } => {
            let m = Multipart::from_range(&v, range);
            let n = m.len();
            let mut d = [0u8; 20];
            let mut ct = [0u8; 96];
            let c = b"multipart/byteranges; boundary=".len();
            ct[..c].copy_from_slice(b"multipart/byteranges; boundary=");
            ct[c..c + m.boundary().len()].copy_from_slice(m.boundary());
            let mut at = field(&mut buf, 0, b":status", b"206");
            let head = at;
            at = field(&mut buf, at, b"content-type", &ct[..c + m.boundary().len()]);
            at = field(&mut buf, at, b"content-length", decimal(n, &mut d));
            // The stored block after its status and length, but its
            // content-type, which the parts carry instead.
            let (off, block) = (v.h2_off(), v.h2_head());
            let skip = v.h2_status_len() + v.h2_length_len();
            let (cut_s, cut_e) = field_span(&block[skip..], b"content-type")
                .map_or((block.len(), block.len()), |r| {
                    (skip + r.start, skip + r.end)
                });
            let parts = [
                Part::Dyn(&buf[..head]),
                Part::Dyn(lines),
                Part::Dyn(root_field),
                Part::Dyn(&buf[head..at]),
                Part::Map {
                    off: off + skip as u64,
                    len: (cut_s - skip) as u64,
                },
                Part::Map {
                    off: off + cut_e as u64,
                    len: (block.len() - cut_e) as u64,
                },
            ];
            push_block(out, s.id, prefix, &parts, false, max_frame);
            s.body = Some(Body::multipart(site, m));
            (206, n)
        }
        Plan::Unsatisfiable { len } => {
            let mut d = [0u8; 20];
            let mut range = [0u8; 32];
            let total = decimal(len, &mut d);
            range[..8].copy_from_slice(b"bytes */");
            range[8..8 + total.len()].copy_from_slice(total);
            let mut at = field(&mut buf, 0, b":status", b"416");
            let head = at;
            at = field(&mut buf, at, b"content-range", &range[..8 + total.len()]);
            at = field(&mut buf, at, b"content-length", b"0");
            let parts = [
                Part::Dyn(&buf[..head]),
                Part::Dyn(lines),
                Part::Dyn(&buf[head..at]),
            ];
            push_block(out, s.id, prefix, &parts, true, max_frame);
            s.send_closed = true;
            (416, 0)
        }
        Plan::Builtin(status) => builtin(s, out, ctx, status),
        Plan::Options(v) => {
            // Rare: the stored CORS fields encoded per response.
            let mut big = [0u8; 16 * 1024];
            let mut at = field(&mut big, 0, b":status", b"204");
            let head = at;
            at = field(&mut big, at, b"allow", b"GET, HEAD, OPTIONS");
            for l in stored::lines(v.fields()).filter(|l| stored::is_cors(l.name)) {
                match encode_field_into(&mut big[at..], l.name, l.value) {
                    Ok(n) => at += n,
                    Err(_) => break, // 16 KiB of CORS fields: the rest left out
                }
            }
            let parts = [
                Part::Dyn(&big[..head]),
                Part::Dyn(lines),
                Part::Dyn(&big[head..at]),
            ];
            push_block(out, s.id, prefix, &parts, true, max_frame);
            s.send_closed = true;
            (204, 0)
        }
        Plan::DynRedirect {
            status,
            pattern,
            template,
            path,
        } => {
            let mut loc = [0u8; 3 * MAX_TARGET + 4096];
            match crate::dispatch::dyn_location(pattern, template, path, &mut loc) {
                Some(n) => {
                    let mut big = [0u8; 3 * MAX_TARGET + 4096 + 512];
                    redirect(s, out, ctx, status, &loc[..n], &mut big)
                }
                None => builtin(s, out, ctx, 500),
            }
        }
        Plan::RedirectHttps { host, target } => {
            let mut loc = [0u8; 8192 + 512];
            let mut w = 0;
            for piece in [
                &b"https://"[..],
                host,
                cfg.redirect_https.as_deref().map_or(b"", str::as_bytes),
                target,
            ] {
                let k = piece.len().min(loc.len() - w);
                loc[w..w + k].copy_from_slice(&piece[..k]);
                w += k;
            }
            let mut big = [0u8; 8192 + 1024];
            redirect(s, out, ctx, 308, &loc[..w], &mut big)
        }
    };
    Meta {
        status,
        body_bytes: body_len,
        coding,
    }
}

/// A redirect built here (a dynamic `_redirects` one, `--redirect-https`):
/// `:status`, the connection's lines, `location`, an empty body; `buf`
/// holds the fields (room for the location and 512 bytes more).
fn redirect(
    s: &mut Stream,
    out: &mut Output,
    ctx: &Ctx<'_>,
    status: u16,
    location: &[u8],
    buf: &mut [u8],
) -> (u16, u64) {
    let mut d = [0u8; 20];
    let mut at = field(buf, 0, b":status", decimal(u64::from(status), &mut d));
    let head = at;
    at = field(buf, at, b"location", location);
    at = field(buf, at, b"content-length", b"0");
    let parts = [
        Part::Dyn(&buf[..head]),
        Part::Dyn(ctx.lines),
        Part::Dyn(&buf[head..at]),
    ];
    push_block(out, s.id, ctx.prefix, &parts, true, ctx.max_frame);
    s.send_closed = true;
    (status, 0)
}

fn status_of(v: Variant<'_>) -> u16 {
    let line = v.status_line();
    line.get(9..12)
        .map(|d| {
            d.iter()
                .fold(0u16, |a, &c| a * 10 + u16::from(c.wrapping_sub(b'0')))
        })
        .unwrap_or(0)
}

/// A stored response: `[:status][date, server, tarweb-root][content-length
/// and the fields]`, then its body.
fn stored(s: &mut Stream, out: &mut Output, v: Variant<'_>, ctx: &Ctx<'_>) {
    let Ctx {
        cfg,
        lines,
        root_field,
        site,
        max_frame,
        head_only,
        prefix,
    } = *ctx;
    let threshold = cfg.sendfile_threshold;
    let (off, len, sl) = (
        v.h2_off(),
        v.h2_head().len() as u64,
        v.h2_status_len() as u64,
    );
    let body = if head_only { 0 } else { v.body_len() };
    let parts = [
        Part::Map { off, len: sl },
        Part::Dyn(lines),
        Part::Dyn(root_field),
        Part::Map {
            off: off + sl,
            len: len - sl,
        },
    ];
    push_block(out, s.id, prefix, &parts, body == 0, max_frame);
    if body == 0 {
        s.send_closed = true;
    } else {
        s.body = Some(Body::blob(site, v.body_off(), body, body > threshold));
    }
}

/// A response of the server's own: `:status`, date and server, `allow`
/// for 204 and 405, and for the others a short text body saying the
/// status ("404 Not Found\n").
fn builtin(s: &mut Stream, out: &mut Output, ctx: &Ctx<'_>, status: u16) -> (u16, u64) {
    let Ctx {
        lines,
        max_frame,
        head_only,
        prefix,
        ..
    } = *ctx;
    let line = rules::status_line(status)
        .or(rules::status_line(500))
        .expect("500 has a status line");
    let code = &line[9..12];
    let phrase = &line[13..line.len() - 2];
    let mut buf = [0u8; 256];
    let mut at = field(&mut buf, 0, b":status", code);
    let head = at;
    if status == 405 || status == 204 {
        at = field(&mut buf, at, b"allow", b"GET, HEAD, OPTIONS");
    }
    if status == 401 {
        at = field(
            &mut buf,
            at,
            b"www-authenticate",
            b"Basic realm=\"protected\", charset=\"UTF-8\"",
        );
    }
    let body_len = if matches!(status, 204 | 412) {
        0
    } else {
        code.len() + 1 + phrase.len() + 1
    };
    if body_len > 0 {
        at = field(&mut buf, at, b"content-type", b"text/plain; charset=utf-8");
    }
    if status != 204 {
        let mut d = [0u8; 20];
        at = field(
            &mut buf,
            at,
            b"content-length",
            decimal(body_len as u64, &mut d),
        );
    }
    let parts = [
        Part::Dyn(&buf[..head]),
        Part::Dyn(lines),
        Part::Dyn(&buf[head..at]),
    ];
    let with_body = body_len > 0 && !head_only;
    push_block(out, s.id, prefix, &parts, !with_body, max_frame);
    if with_body {
        // "404 Not Found" and "\n": the status line's own bytes.
        s.body = Some(Body::text([&line[9..line.len() - 2], b"\n"]));
    } else {
        s.send_closed = true;
    }
    (status, if with_body { body_len as u64 } else { 0 })
}
