//! A [`Plan`] into HTTP/1.1 bytes: segments of an [`Output`]. A response
//! is `[status line][Date, Server, Connection (+ Content-Range,
//! Content-Length for a 206)][stored fields + body]`, the first and last
//! straight from the blob.

use crate::access_log::Meta;
use crate::dispatch::Plan;
use crate::hot::{self, Hot};
use crate::http::multipart::{self, Multipart, Piece};
use crate::http::request::{Version, MAX_TARGET};
use crate::http::stored;
use crate::output::Output;
use crate::sys::Counters;
use tarweb_format::{rules, Variant};

pub(crate) struct Ctx<'a> {
    /// `Date: ...\r\n` and `Server: ...\r\n` (or no Server line).
    pub lines: &'a [u8],
    /// Bodies larger than this go by sendfile, smaller ones by writev.
    pub sendfile_threshold: u64,
    /// `Tarweb-Root: <digest>\r\n` (`--root-header`), or empty.
    pub root: &'a [u8],
    /// `--redirect-https`: what follows the host in `Location` (`:PORT`,
    /// or empty for 443).
    pub https_port: &'a [u8],
}

/// The worker's hot responses, for a response from the root of
/// generation `root`.
pub(crate) struct HotCtx<'a> {
    pub hot: &'a mut Hot,
    pub root: u64,
    pub c: &'a Counters,
}

/// The challenge of a 401 (RFC 7617): Basic, credentials in UTF-8.
const WWW_AUTHENTICATE: &[u8] =
    b"WWW-Authenticate: Basic realm=\"protected\", charset=\"UTF-8\"\r\n";

/// Every method a resource answers (RFC 9110 §10.2.1), OPTIONS included.
const ALLOW: &[u8] = b"Allow: GET, HEAD, OPTIONS\r\n";

fn conn_line(close: bool, version: Version) -> &'static [u8] {
    if close {
        b"Connection: close\r\n"
    } else if version == Version::Http10 {
        b"Connection: keep-alive\r\n"
    } else {
        b""
    }
}

fn dyn_lines(out: &mut Output, ctx: &Ctx<'_>, conn: &[u8]) {
    out.push_dyn(ctx.lines);
    if !ctx.root.is_empty() {
        out.push_dyn(ctx.root);
    }
    if !conn.is_empty() {
        out.push_dyn(conn);
    }
}

fn push_u64(out: &mut Output, mut n: u64) {
    let mut d = [0u8; 20];
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_dyn(&d[i..]);
}

/// The status line of a status we send (`tarweb_format::rules` owns the
/// phrases), 500's for any other.
fn status_line(status: u16) -> &'static [u8] {
    rules::status_line(status)
        .or(rules::status_line(500))
        .expect("500 has a status line")
}

/// A built-in response (errors, 204, the 404 of a site without one).
pub(crate) fn builtin(
    out: &mut Output,
    ctx: &Ctx<'_>,
    status: u16,
    head_only: bool,
    close: bool,
    version: Version,
) -> Meta {
    let line = status_line(status);
    // The body says the status in words: "404 Not Found\n"; 204 and 412
    // have none.
    let body: &[&[u8]] = match status {
        204 | 412 => &[],
        _ => &[&line[9..line.len() - 2], b"\n"],
    };
    let body_len: usize = body.iter().map(|b| b.len()).sum();
    out.push_dyn(line);
    dyn_lines(out, ctx, conn_line(close, version));
    if status == 405 || status == 204 {
        out.push_dyn(ALLOW);
    }
    if status == 401 {
        out.push_dyn(WWW_AUTHENTICATE);
    }
    if status == 204 {
        out.push_dyn(b"\r\n");
        return Meta {
            status,
            body_bytes: 0,
            coding: None,
        };
    }
    if body_len > 0 {
        out.push_dyn(b"Content-Type: text/plain; charset=utf-8\r\n");
    }
    out.push_dyn(b"Content-Length: ");
    push_u64(out, body_len as u64);
    out.push_dyn(b"\r\n\r\n");
    if !head_only {
        for b in body {
            out.push_dyn(b);
        }
    }
    Meta {
        status,
        body_bytes: if head_only { 0 } else { body_len as u64 },
        coding: None,
    }
}

/// ACME HTTP-01 (RFC 8555 §8.3): the key authorization of a pending
/// challenge as a text/plain 200, or 404 when no challenge has the token.
pub(crate) fn acme_http01(
    out: &mut Output,
    ctx: &Ctx<'_>,
    key_authorization: Option<&[u8]>,
    head_only: bool,
    close: bool,
    version: Version,
) -> Meta {
    let Some(body) = key_authorization else {
        return builtin(out, ctx, 404, head_only, close, version);
    };
    out.push_dyn(status_line(200));
    dyn_lines(out, ctx, conn_line(close, version));
    out.push_dyn(b"Content-Type: text/plain\r\nCache-Control: no-store\r\nContent-Length: ");
    push_u64(out, body.len() as u64);
    out.push_dyn(b"\r\n\r\n");
    if !head_only {
        out.push_dyn(body);
    }
    Meta {
        status: 200,
        body_bytes: if head_only { 0 } else { body.len() as u64 },
        coding: None,
    }
}

/// A stored response, whole: status line, dynamic lines, the rest of the
/// head and the body (writev from the mmap, or sendfile when large). A
/// body above the sendfile threshold may also be marked as a hot response
/// (`hot`), when the same bytes are written out for this second.
fn stored(
    out: &mut Output,
    ctx: &Ctx<'_>,
    v: Variant<'_>,
    head_only: bool,
    conn: &[u8],
    hot: Option<HotCtx<'_>>,
) -> Meta {
    let status_line = v.status_line();
    let head_off = v.head_off();
    let head_len = v.head().len() as u64;
    let sl = status_line.len() as u64;
    let body = if head_only { 0 } else { v.body_len() };
    if let Some(h) = hot.filter(|_| body > ctx.sendfile_threshold) {
        let head = v.head();
        let parts: [&[u8]; 6] = [
            status_line,
            ctx.lines,
            ctx.root,
            conn,
            &head[sl as usize..],
            v.body(),
        ];
        let len = parts.iter().map(|p| p.len() as u64).sum();
        let key = hot::Key {
            root: h.root,
            head_off,
            // The three connection lines differ in length.
            conn: conn.len() as u8,
        };
        if let Some(e) = h.hot.get(key, &parts, len, h.c) {
            out.push_hot(e, len);
        }
    }
    out.push_map(head_off, sl);
    dyn_lines(out, ctx, conn);
    out.push_map(head_off + sl, head_len - sl);
    if body > ctx.sendfile_threshold {
        out.push_file(v.body_off(), body);
    } else {
        out.push_map(v.body_off(), body); // merges when contiguous
    }
    Meta {
        status: status_code(status_line),
        body_bytes: body,
        coding: None,
    }
}

fn status_code(line: &[u8]) -> u16 {
    line.get(9..12)
        .map(|d| {
            d.iter()
                .fold(0u16, |a, &c| a * 10 + u16::from(c.wrapping_sub(b'0')))
        })
        .unwrap_or(0)
}

/// Writes the response `plan` decided for a request. `head_only`: HEAD;
/// `close`: the connection closes after it.
pub(crate) fn write(
    out: &mut Output,
    ctx: &Ctx<'_>,
    plan: Plan<'_>,
    head_only: bool,
    close: bool,
    version: Version,
    hot: Option<HotCtx<'_>>,
) -> Meta {
    let conn = conn_line(close, version);
    let coding = crate::access_log::coding_of(&plan);
    let mut meta = match plan {
        Plan::Stored(v) => stored(out, ctx, v, head_only, conn, hot),
        Plan::Builtin(status) => builtin(out, ctx, status, head_only, close, version),
        Plan::Options(v) => {
            out.push_dyn(status_line(204));
            dyn_lines(out, ctx, conn);
            out.push_dyn(ALLOW);
            let off = multipart::fields_off(&v);
            for l in stored::lines(v.fields()).filter(|l| stored::is_cors(l.name)) {
                out.push_map(off + l.start as u64, (l.end - l.start) as u64);
            }
            out.push_dyn(b"\r\n");
            Meta {
                status: 204,
                body_bytes: 0,
                coding: None,
            }
        }
        Plan::NotModified(v) => {
            if let Some(nm) = v.not_modified() {
                out.push_map(nm.off, nm.status_len as u64);
                dyn_lines(out, ctx, conn);
                out.push_map(nm.off + nm.status_len as u64, nm.fields().len() as u64);
            } else {
                // A blob without a stored 304 head: a minimal one.
                out.push_dyn(status_line(304));
                dyn_lines(out, ctx, conn);
                out.push_dyn(b"ETag: ");
                out.push_dyn(v.etag().unwrap_or(b""));
                out.push_dyn(b"\r\n\r\n");
            }
            Meta {
                status: 304,
                body_bytes: 0,
                coding: None,
            }
        }
        Plan::Unsatisfiable { len } => {
            out.push_dyn(status_line(416));
            dyn_lines(out, ctx, conn);
            out.push_dyn(b"Content-Range: bytes */");
            push_u64(out, len);
            out.push_dyn(b"\r\nContent-Length: 0\r\n\r\n");
            Meta {
                status: 416,
                body_bytes: 0,
                coding: None,
            }
        }
        Plan::Partial { v, first, last } => {
            let n = last - first + 1;
            out.push_dyn(status_line(206));
            dyn_lines(out, ctx, conn);
            out.push_dyn(b"Content-Range: bytes ");
            push_u64(out, first);
            out.push_dyn(b"-");
            push_u64(out, last);
            out.push_dyn(b"/");
            push_u64(out, v.body_len());
            out.push_dyn(b"\r\nContent-Length: ");
            push_u64(out, n);
            out.push_dyn(b"\r\n");
            let fields = v.fields();
            let fields_off = v.head_off() + (v.head().len() - fields.len()) as u64;
            out.push_map(fields_off, fields.len() as u64);
            if n > ctx.sendfile_threshold {
                out.push_file(v.body_off() + first, n);
            } else {
                out.push_map(v.body_off() + first, n);
            }
            Meta {
                status: 206,
                body_bytes: n,
                coding: None,
            }
        }
        Plan::Multipart { v, range } => {
            let m = Multipart::from_range(&v, range);
            let n = m.len();
            out.push_dyn(status_line(206));
            dyn_lines(out, ctx, conn);
            out.push_dyn(b"Content-Type: multipart/byteranges; boundary=");
            out.push_dyn(m.boundary());
            out.push_dyn(b"\r\nContent-Length: ");
            push_u64(out, n);
            out.push_dyn(b"\r\n");
            // The stored fields but their Content-Type, which the parts
            // carry instead.
            let fields = v.fields();
            let off = multipart::fields_off(&v);
            match stored::find(fields, b"content-type") {
                Some(l) => {
                    out.push_map(off, l.start as u64);
                    out.push_map(off + l.end as u64, (fields.len() - l.end) as u64);
                }
                None => out.push_map(off, fields.len() as u64),
            }
            m.pieces(|p| match p {
                Piece::Bytes(b) => out.push_dyn(b),
                Piece::Num(x) => push_u64(out, x),
                Piece::Blob { off, len, body } if body && len > ctx.sendfile_threshold => {
                    out.push_file(off, len)
                }
                Piece::Blob { off, len, .. } => out.push_map(off, len),
            });
            Meta {
                status: 206,
                body_bytes: n,
                coding: None,
            }
        }
        Plan::DynRedirect {
            status,
            pattern,
            template,
            path,
        } => {
            // Captures percent-encoded: at most 3 bytes per path byte.
            let mut loc = [0u8; 3 * MAX_TARGET + 4096];
            match crate::dispatch::dyn_location(pattern, template, path, &mut loc) {
                Some(n) => {
                    out.push_dyn(status_line(status));
                    dyn_lines(out, ctx, conn);
                    out.push_dyn(b"Location: ");
                    out.push_dyn(&loc[..n]);
                    out.push_dyn(b"\r\nContent-Length: 0\r\n\r\n");
                    Meta {
                        status,
                        body_bytes: 0,
                        coding: None,
                    }
                }
                None => builtin(out, ctx, 500, head_only, close, version),
            }
        }
        Plan::RedirectHttps { host, target } => {
            out.push_static(status_line(308));
            dyn_lines(out, ctx, conn);
            out.push_dyn(b"Location: https://");
            out.push_dyn(host);
            out.push_dyn(ctx.https_port);
            out.push_dyn(target);
            out.push_dyn(b"\r\nContent-Length: 0\r\n\r\n");
            Meta {
                status: 308,
                body_bytes: 0,
                coding: None,
            }
        }
    };
    meta.coding = coding;
    meta
}
