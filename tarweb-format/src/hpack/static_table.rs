//! The static table (RFC 7541 Appendix A), and the encoder's look-up in it.

/// The static table of RFC 7541 Appendix A: entry `i` of this array is
/// index `i + 1`, as (name, value).
///
/// ```
/// use tarweb_format::hpack::STATIC_TABLE;
/// assert_eq!(STATIC_TABLE[8 - 1], (&b":status"[..], &b"200"[..]));
/// assert_eq!(STATIC_TABLE.len(), 61);
/// ```
pub const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The number of static entries: dynamic indices start after it.
pub(crate) const STATIC_LEN: u32 = STATIC_TABLE.len() as u32;

/// The static entry at (1-based) `index`, if it is one.
#[inline]
pub(crate) fn get(index: u32) -> Option<(&'static [u8], &'static [u8])> {
    STATIC_TABLE.get((index as usize).wrapping_sub(1)).copied()
}

/// What the static table has for a field, as the encoder uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// This index has the name and the value.
    Field(u32),
    /// This index, the lowest with the name, has the name only.
    Name(u32),
    /// The name is not in the table.
    None,
}

/// Looks `name` (compared ignoring ASCII case) and `value` up.
pub(crate) fn find(name: &[u8], value: &[u8]) -> Match {
    let mut found = Match::None;
    for (i, &(n, v)) in (1..).zip(STATIC_TABLE.iter()) {
        if n.len() == name.len() && n.eq_ignore_ascii_case(name) {
            if v == value {
                return Match::Field(i);
            }
            if found == Match::None {
                found = Match::Name(i);
            }
        } else if found != Match::None {
            // Entries with one name are adjacent: the search is over.
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_grouped() {
        for (i, (n, _)) in STATIC_TABLE.iter().enumerate() {
            assert!(!n.iter().any(u8::is_ascii_uppercase), "{i}");
            // A name seen before is the previous entry's (find relies on it).
            if STATIC_TABLE[..i].iter().any(|(m, _)| m == n) {
                assert_eq!(STATIC_TABLE[i - 1].0, *n, "{i}");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(get(0), None);
        assert_eq!(get(1), Some((&b":authority"[..], &b""[..])));
        assert_eq!(get(61), Some((&b"www-authenticate"[..], &b""[..])));
        assert_eq!(get(62), None);
        assert_eq!(get(u32::MAX), None);
        assert_eq!(find(b":status", b"200"), Match::Field(8));
        assert_eq!(find(b":status", b"500"), Match::Field(14));
        assert_eq!(find(b":status", b"302"), Match::Name(8));
        assert_eq!(find(b":method", b"POST"), Match::Field(3));
        assert_eq!(find(b"Content-Type", b"text/html"), Match::Name(31));
        assert_eq!(find(b"accept-encoding", b"gzip, deflate"), Match::Field(16));
        assert_eq!(find(b"accept-encoding", b"br"), Match::Name(16));
        assert_eq!(find(b"www-authenticate", b""), Match::Field(61));
        assert_eq!(find(b"date", b""), Match::Field(33));
        assert_eq!(find(b"x-frame-options", b"DENY"), Match::None);
        assert_eq!(find(b"", b""), Match::None);
    }
}
