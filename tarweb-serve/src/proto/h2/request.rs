//! A decoded HTTP/2 header list into the protocol-neutral `Request`, with
//! RFC 9113 §8's rules: pseudo-header fields first, each once, only the
//! request's own; lower-case names; no connection-specific fields; `te`
//! only `trailers`; `:authority` and `host` agreeing. A list that breaks
//! one is malformed: a stream error of type PROTOCOL_ERROR (§8.1.1).

use crate::http::request::{Request, Version};
use tarweb_format::hpack::Fields;
use tarweb_format::rules::is_tchar;

/// What the header list says besides the `Request`.
pub(crate) struct Extra {
    /// `content-length`, if any (checked against the DATA received).
    pub content_length: Option<u64>,
}

/// Malformed (§8.1.1): the stream is reset with PROTOCOL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

/// Reads a request's header list into `req` (reset first).
pub(crate) fn read<'a>(fields: &'a Fields, req: &mut Request<'a>) -> Result<Extra, Malformed> {
    let (mut method, mut scheme, mut path, mut authority) = (None, None, None, None);
    let mut regular = false;
    let mut host = None;
    let mut content_length = None;
    req.reset(b"", b"", Version::Http2);
    for (name, value) in fields.iter() {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular {
                return Err(Malformed("pseudo-header field after a regular one"));
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut authority,
                _ => return Err(Malformed("unknown or response pseudo-header field")),
            };
            if slot.replace(value).is_some() {
                return Err(Malformed("pseudo-header field twice"));
            }
            continue;
        }
        regular = true;
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c) && !c.is_ascii_uppercase()) {
            return Err(Malformed("field name not a lower-case token"));
        }
        // §8.2.1: no NUL, CR, LF in values, no leading or trailing space.
        if value.iter().any(|&c| c == 0 || c == b'\r' || c == b'\n')
            || value.first().is_some_and(|&c| c == b' ' || c == b'\t')
            || value.last().is_some_and(|&c| c == b' ' || c == b'\t')
        {
            return Err(Malformed(
                "field value with NUL, CR, LF or surrounding space",
            ));
        }
        match name {
            // §8.2.2: connection-specific fields.
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => return Err(Malformed("connection-specific field")),
            b"te" if value != b"trailers" => return Err(Malformed("te other than trailers")),
            b"host" if host.replace(value).is_some() => {
                return Err(Malformed("two host fields"));
            }
            b"content-length" => {
                let n = parse_u64(value).ok_or(Malformed("bad content-length"))?;
                if content_length.replace(n).is_some_and(|m| m != n) {
                    return Err(Malformed("content-length values differ"));
                }
            }
            b"accept-encoding" => push(&mut req.accept_encoding, value)?,
            b"if-none-match" => push(&mut req.if_none_match, value)?,
            b"if-match" => push(&mut req.if_match, value)?,
            b"if-modified-since" => req.if_modified_since = Some(value),
            b"if-unmodified-since" => req.if_unmodified_since = Some(value),
            b"range" if req.range.replace(value).is_some() => {
                return Err(Malformed("two range fields"));
            }
            b"if-range" => req.if_range = Some(value),
            b"user-agent" => req.user_agent = Some(value),
            b"referer" => req.referer = Some(value),
            b"authorization" if req.authorization.replace(value).is_some() => {
                return Err(Malformed("two authorization fields"));
            }
            _ => {}
        }
    }
    let method = method.ok_or(Malformed("no :method"))?;
    if method == b"CONNECT" {
        // No CONNECT here (§8.5): the method answers 405 like any other
        // unknown one, so a well-formed CONNECT passes with `*`.
        if scheme.is_some() || path.is_some() || authority.is_none() {
            return Err(Malformed(
                "CONNECT with :scheme or :path, or without :authority",
            ));
        }
        req.reset(method, b"*", Version::Http2);
    } else {
        if scheme.is_none() {
            return Err(Malformed("no :scheme"));
        }
        let path = path
            .filter(|p| !p.is_empty())
            .ok_or(Malformed("no :path"))?;
        req.reset_line(method, path);
    }
    // §8.3.1: :authority wins; a host that names another is malformed.
    req.host = match (authority, host) {
        (Some(a), Some(h)) if !a.eq_ignore_ascii_case(h) => {
            return Err(Malformed(":authority and host differ"))
        }
        (Some(a), _) => Some(a),
        (None, h) => h,
    };
    if req
        .host
        .is_some_and(|h| h.is_empty() || h.iter().any(|&c| c <= b' ' || c == 0x7f))
    {
        return Err(Malformed("bad :authority"));
    }
    Ok(Extra { content_length })
}

fn push<'a>(lines: &mut crate::http::request::Lines<'a>, value: &'a [u8]) -> Result<(), Malformed> {
    lines
        .push(value)
        .map_err(|_| Malformed("too many lines of one field"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tarweb_format::hpack::{encode_field, Decoder};

    fn fields(list: &[(&str, &str)]) -> Fields {
        let mut block = Vec::new();
        for (n, v) in list {
            if n.bytes().any(|c| c.is_ascii_uppercase()) {
                // Our encoder lower-cases names; a peer's need not: a
                // literal with a new name, by hand (short strings).
                block.push(0x00);
                block.push(n.len() as u8);
                block.extend_from_slice(n.as_bytes());
                block.push(v.len() as u8);
                block.extend_from_slice(v.as_bytes());
            } else {
                encode_field(&mut block, n.as_bytes(), v.as_bytes());
            }
        }
        let mut f = Fields::new(16 * 1024, 128);
        Decoder::new(4096).decode(&block, &mut f).unwrap();
        f
    }

    fn check(list: &[(&str, &str)]) -> Result<String, &'static str> {
        let f = fields(list);
        let mut req = Request::new(b"", b"", Version::Http2);
        read(&f, &mut req).map_err(|m| m.0).map(|_| {
            format!(
                "{} {} {}",
                String::from_utf8_lossy(req.method_bytes),
                String::from_utf8_lossy(req.target),
                String::from_utf8_lossy(req.host.unwrap_or(b"-"))
            )
        })
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/a?b"),
        (":authority", "example.org"),
    ];

    #[test]
    fn a_request() {
        assert_eq!(check(&GET), Ok("GET /a?b example.org".into()));
        let with = [&GET[..], &[("accept-encoding", "gzip"), ("te", "trailers")]].concat();
        assert_eq!(check(&with), Ok("GET /a?b example.org".into()));
        // host alone names the site; the same host twice is fine.
        let host = [
            (":method", "HEAD"),
            (":scheme", "http"),
            (":path", "/"),
            ("host", "h"),
        ];
        assert_eq!(check(&host), Ok("HEAD / h".into()));
        let both = [&GET[..], &[("host", "EXAMPLE.org")]].concat();
        assert!(check(&both).is_ok());
        let connect = [(":method", "CONNECT"), (":authority", "x:443")];
        assert_eq!(check(&connect), Ok("CONNECT * x:443".into()));
    }

    #[test]
    fn malformed() {
        let cases: [&[(&str, &str)]; 14] = [
            &[(":method", "GET"), (":path", "/")],
            &[(":method", "GET"), (":scheme", "https")],
            &[(":method", "GET"), (":scheme", "https"), (":path", "")],
            &[(":scheme", "https"), (":path", "/")],
            &[
                (":method", "GET"),
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                (":status", "200"),
            ],
            &[
                (":method", "GET"),
                ("x", "y"),
                (":scheme", "h"),
                (":path", "/"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                ("X-Up", "y"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                ("connection", "close"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                ("te", "gzip"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                (":authority", "a"),
                ("host", "b"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                ("content-length", "x"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                ("x", " padded"),
            ],
            &[(":method", "CONNECT"), (":authority", "a"), (":path", "/")],
        ];
        for c in cases {
            assert!(check(c).is_err(), "{c:?}");
        }
    }
}
