//! Reading a stored head's field lines (`Name: value` CRLF, as the blob
//! holds them), for the few responses that send some of them elsewhere: a
//! multipart 206 without its `Content-Type`, an OPTIONS answer with the
//! resource's `Access-Control-*` fields.

/// One field line of `fields`: its span (CRLF included) and its name and
/// value (without surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub start: usize,
    pub end: usize,
    pub name: &'a [u8],
    pub value: &'a [u8],
    /// Where `value` starts in `fields`.
    pub value_at: usize,
}

/// The field lines of `fields` (a head's lines after the status line, up
/// to the empty line), in order.
pub fn lines(fields: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || loop {
        let rest = fields.get(at..)?;
        let end = at + memchr::memmem::find(rest, b"\r\n")? + 2;
        let start = at;
        at = end;
        let line = &fields[start..end - 2];
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue; // the empty line
        };
        let raw = &line[colon + 1..];
        let lead = raw.len() - raw.trim_ascii_start().len();
        return Some(Line {
            start,
            end,
            name: &line[..colon],
            value: raw.trim_ascii(),
            value_at: start + colon + 1 + lead,
        });
    })
}

/// The first line named `name` (any case).
pub fn find<'a>(fields: &'a [u8], name: &[u8]) -> Option<Line<'a>> {
    lines(fields).find(|l| l.name.eq_ignore_ascii_case(name))
}

/// Whether a field is one of CORS's response fields (`Access-Control-*`).
pub fn is_cors(name: &[u8]) -> bool {
    name.len() > 15 && name[..15].eq_ignore_ascii_case(b"access-control-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_names() {
        let f =
            b"Content-Type:  text/html \r\nETag: \"x\"\r\nAccess-Control-Allow-Origin: *\r\n\r\n";
        let l = find(f, b"content-type").unwrap();
        assert_eq!((l.start, l.end), (0, 27));
        assert_eq!(l.value, b"text/html");
        assert_eq!(&f[l.value_at..l.value_at + l.value.len()], b"text/html");
        assert_eq!(find(f, b"etag").unwrap().start, 27);
        assert_eq!(find(f, b"vary"), None);
        let cors: Vec<_> = lines(f)
            .filter(|l| is_cors(l.name))
            .map(|l| l.value)
            .collect();
        assert_eq!(cors, [&b"*"[..]]);
        assert!(!is_cors(b"access-control-"));
    }
}
