//! The head parser as it was before it learnt to find a head's end in the
//! same pass (it searched for `\r\n\r\n` first, then parsed the head),
//! kept to check the new one against (`tests::same_answers_as_before`, and
//! the `request` fuzz target through `crate::fuzzing`). It takes the whole
//! buffer every time (no resumed scan), and answers an incomplete head by
//! the rules of `super::incomplete`, written out plainly: it is their
//! second implementation, not a copy. Chunked bodies are read
//! (`TransferCodings`) here as there.

use super::{Error, Head, TransferCodings, MAX_HEAD, MAX_HEADERS};
use crate::http::request::{list_items, trim_ows, Request, Version, MAX_TARGET};
use tarweb_format::rules::is_tchar;

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

fn valid_host(v: &[u8]) -> bool {
    v.iter()
        .all(|&c| c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&c))
}

/// The head at the start of `buf`.
pub(crate) fn parse(buf: &[u8]) -> Result<Head<'_>, Error> {
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let b = &buf[start..];
    if b.is_empty() || b == b"\r" {
        return Err(Error::Incomplete);
    }
    let Some(end) = find_head_end(b, 0).filter(|&end| end <= MAX_HEAD) else {
        // No complete head within the limit: what its bytes show for
        // certain, else 431 past the limit, else wait.
        let w = &b[..b.len().min(MAX_HEAD)];
        if let Some(e) = certain_error(w) {
            return Err(e);
        }
        return Err(if b.len() > MAX_HEAD {
            Error::Status(431)
        } else {
            Error::Incomplete
        });
    };
    let head = &b[..end - 2]; // keep the CRLF of the last field line
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("head ends in CRLF");
    let line = &head[..line_end];
    let (method_bytes, target, version) = request_line(line)?;
    let mut h = Head {
        req: Request::new(method_bytes, target, version),
        conn_close: false,
        conn_keep_alive: false,
        content_length: 0,
        chunked: false,
        head_len: start + end,
    };
    let (content_length, te) = fields(&head[line_end + 2..], &mut h)?;
    if te.present() {
        // RFC 9112 §6.1: both is a smuggling attempt; TE in 1.0 is invalid.
        if content_length.is_some() || version == Version::Http10 {
            return Err(Error::Status(400));
        }
        te.chunked().map_err(Error::Status)?;
        h.chunked = true;
    }
    if version == Version::Http11 && h.req.host.is_none() {
        return Err(Error::Status(400));
    }
    h.content_length = content_length.unwrap_or(0);
    Ok(h)
}

/// The field lines in `rest` (each with its CRLF; in an unfinished head
/// the last may be cut short, and then holds a fault), in order, into `h`:
/// the Content-Length and Transfer-Encoding seen.
type Framing = (Option<u64>, TransferCodings);

fn fields<'a>(rest: &'a [u8], h: &mut Head<'a>) -> Result<Framing, Error> {
    let r = &mut h.req;
    let mut content_length: Option<u64> = None;
    let mut te = TransferCodings::default();
    let mut count = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        count += 1;
        if count > MAX_HEADERS {
            return Err(Error::Status(431));
        }
        let (name, value, next) = field_line(rest)?;
        rest = next;
        let lower = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        match name.len() {
            4 if lower("host") => {
                if r.host.is_some() || !valid_host(value) {
                    return Err(Error::Status(400));
                }
                r.host = Some(value);
            }
            14 if lower("content-length") => {
                // RFC 9112 §6.3: a list of identical values is one value.
                for item in value.split(|&c| c == b',').map(trim_ows) {
                    let n = parse_u64(item).ok_or(Error::Status(400))?;
                    if content_length.is_some_and(|c| c != n) {
                        return Err(Error::Status(400));
                    }
                    content_length = Some(n);
                }
            }
            17 if lower("transfer-encoding") => te.add(value),
            10 if lower("connection") => {
                for t in list_items(value) {
                    if t.eq_ignore_ascii_case(b"close") {
                        h.conn_close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        h.conn_keep_alive = true;
                    }
                }
            }
            15 if lower("accept-encoding") => r
                .accept_encoding
                .push(value)
                .map_err(|_| Error::Status(431))?,
            13 if lower("if-none-match") => r
                .if_none_match
                .push(value)
                .map_err(|_| Error::Status(431))?,
            8 if lower("if-match") => r.if_match.push(value).map_err(|_| Error::Status(431))?,
            17 if lower("if-modified-since") => r.if_modified_since = Some(value),
            19 if lower("if-unmodified-since") => r.if_unmodified_since = Some(value),
            5 if lower("range") => {
                if r.range.is_some() {
                    return Err(Error::Status(400));
                }
                r.range = Some(value);
            }
            8 if lower("if-range") => r.if_range = Some(value),
            10 if lower("user-agent") => r.user_agent = Some(value),
            7 if lower("referer") => r.referer = Some(value),
            13 if lower("authorization") && r.authorization.replace(value).is_some() => {
                return Err(Error::Status(400))
            }
            _ => {}
        }
    }
    Ok((content_length, te))
}

/// What bytes holding no complete head show for certain, whatever follows:
/// the rules of `super::incomplete`, written out plainly.
fn certain_error(w: &[u8]) -> Option<Error> {
    let bad = Some(Error::Status(400));
    let Some(r) = w.windows(2).position(|p| p == b"\r\n") else {
        // An unfinished request line.
        let sp1 = w.iter().position(|&c| c == b' ');
        if !w[..sp1.unwrap_or(w.len())].iter().all(|&c| is_tchar(c)) {
            return bad;
        }
        let s = sp1?;
        for (i, &c) in w.iter().enumerate().skip(s + 1) {
            let fine = if c == b'\r' {
                i == w.len() - 1
            } else {
                c == b' ' || (0x21..0x7f).contains(&c)
            };
            if !fine {
                return bad;
            }
        }
        return None;
    };
    let (method_bytes, target, version) = match request_line(&w[..r]) {
        Ok(l) => l,
        Err(e) => return Some(e),
    };
    let fault = (r + 2..w.len()).any(|i| match w[i] {
        b'\t' => false,
        b'\r' => i + 1 < w.len() && w[i + 1] != b'\n',
        b'\n' => w[i - 1] != b'\r',
        c => c < 0x20 || c == 0x7f,
    });
    if !fault {
        return None;
    }
    let mut h = Head {
        req: Request::new(method_bytes, target, version),
        conn_close: false,
        conn_keep_alive: false,
        content_length: 0,
        chunked: false,
        head_len: 0,
    };
    fields(&w[r + 2..], &mut h).err()
}

/// Offset just past `\r\n\r\n`, if the head is complete.
fn find_head_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = b[i..].iter().position(|&c| c == b'\n') {
        let at = i + p;
        if at >= 3 && &b[at - 3..=at] == b"\r\n\r\n" {
            return Some(at + 1);
        }
        i = at + 1;
    }
    None
}

fn request_line(line: &[u8]) -> Result<(&[u8], &[u8], Version), Error> {
    let bad = Error::Status(400);
    let sp1 = line.iter().position(|&c| c == b' ').ok_or(bad)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_tchar(c)) {
        return Err(bad);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = rest.iter().rposition(|&c| c == b' ').ok_or(bad)?;
    let target = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if target.is_empty() || !target.iter().all(|&c| (0x21..0x7f).contains(&c)) {
        return Err(bad);
    }
    if target.len() > MAX_TARGET {
        return Err(Error::Status(414));
    }
    let v = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        b"HTTP/2.0" if method == b"PRI" && target == b"*" => return Err(Error::H2Preface),
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            return Err(Error::Status(505))
        }
        _ => return Err(bad),
    };
    Ok((method, target, v))
}

/// One `name: value CRLF` line: (name, trimmed value, rest).
/// (name, value, rest of the head).
type Field<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn field_line(b: &[u8]) -> Result<Field<'_>, Error> {
    let bad = Err(Error::Status(400));
    let colon = b.iter().position(|&c| !is_tchar(c)).unwrap_or(b.len());
    // obs-fold (leading SP/HTAB), whitespace before the colon, empty name.
    if colon == 0 || b.get(colon) != Some(&b':') {
        return bad;
    }
    let name = &b[..colon];
    let mut i = colon + 1;
    let vstart = i;
    loop {
        match b.get(i) {
            Some(b'\r') => {
                if b.get(i + 1) != Some(&b'\n') {
                    return bad; // bare CR
                }
                break;
            }
            Some(&c) if c == b'\t' || (0x20..0x7f).contains(&c) || c >= 0x80 => i += 1,
            _ => return bad, // NUL, bare LF, other controls, DEL
        }
    }
    Ok((name, trim_ows(&b[vstart..i]), &b[i + 2..]))
}
