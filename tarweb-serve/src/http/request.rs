//! A request as the semantics see it, whatever protocol carried it: its
//! method, target and host, and the fields a response depends on. HTTP/1.x
//! fills it from a head (`proto::h1::parse`); nothing here does I/O.

/// Longest request target (414 beyond).
pub(crate) const MAX_TARGET: usize = 8 * 1024;
/// Most field lines of one repeatable field we use (Accept-Encoding,
/// If-None-Match, If-Match); 431 beyond.
pub(crate) const MAX_REPEAT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Options,
    Other,
}

impl Method {
    /// Methods are case-sensitive (`get` is not GET).
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The protocol version a request came in, for the response's framing and
/// the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Http10,
    Http11,
    Http2,
}

/// Too many field lines of one field: 431.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooMany;

/// Up to `MAX_REPEAT` field lines of one field, to be read as one list.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lines<'a> {
    n: usize,
    v: [&'a [u8]; MAX_REPEAT],
}

impl<'a> Lines<'a> {
    pub fn is_present(&self) -> bool {
        self.n > 0
    }
    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.v[..self.n]
    }
    pub fn push(&mut self, v: &'a [u8]) -> Result<(), TooMany> {
        if self.n == MAX_REPEAT {
            return Err(TooMany);
        }
        self.v[self.n] = v;
        self.n += 1;
        Ok(())
    }
    fn clear(&mut self) {
        self.n = 0;
    }
    #[cfg(test)]
    pub fn from_slice(vs: &[&'a [u8]]) -> Lines<'a> {
        let mut l = Lines::default();
        for v in vs {
            l.push(v).expect("few");
        }
        l
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub method: Method,
    pub method_bytes: &'a [u8],
    pub target: &'a [u8],
    pub version: Version,
    pub host: Option<&'a [u8]>,
    pub accept_encoding: Lines<'a>,
    pub if_none_match: Lines<'a>,
    pub if_match: Lines<'a>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    /// `Authorization` (for a route with Basic-Auth); never logged.
    pub authorization: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// A request with no fields yet.
    pub fn new(method_bytes: &'a [u8], target: &'a [u8], version: Version) -> Request<'a> {
        Request {
            method: Method::from_bytes(method_bytes),
            method_bytes,
            target,
            version,
            host: None,
            accept_encoding: Lines::default(),
            if_none_match: Lines::default(),
            if_match: Lines::default(),
            if_modified_since: None,
            if_unmodified_since: None,
            range: None,
            if_range: None,
            user_agent: None,
            referer: None,
            authorization: None,
        }
    }
}

impl<'a> Request<'a> {
    /// Sets the method and target, keeping the fields.
    pub fn reset_line(&mut self, method_bytes: &'a [u8], target: &'a [u8]) {
        self.method = Method::from_bytes(method_bytes);
        self.method_bytes = method_bytes;
        self.target = target;
    }

    /// Makes this the request `method_bytes target version` with no fields,
    /// in place (no struct of a few hundred bytes built and copied).
    pub fn reset(&mut self, method_bytes: &'a [u8], target: &'a [u8], version: Version) {
        self.method = Method::from_bytes(method_bytes);
        self.method_bytes = method_bytes;
        self.target = target;
        self.version = version;
        self.host = None;
        self.accept_encoding.clear();
        self.if_none_match.clear();
        self.if_match.clear();
        self.if_modified_since = None;
        self.if_unmodified_since = None;
        self.range = None;
        self.if_range = None;
        self.user_agent = None;
        self.referer = None;
        self.authorization = None;
    }
}

pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Elements of a comma-separated list, trimmed, empty ones skipped.
pub(crate) fn list_items(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&c| c == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty())
}
