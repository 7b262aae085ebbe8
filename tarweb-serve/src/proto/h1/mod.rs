//! HTTP/1.0 and HTTP/1.1 framing (RFC 9112): request heads one after the
//! other (pipelined ones answered in order, into one output), request
//! bodies read and dropped, keep-alive and its limits, and the error
//! responses that end a connection. Which response a request gets is
//! `dispatch`'s; its bytes are `response`'s.

pub(crate) mod chunked;
pub(crate) mod parse;
pub(crate) mod response;

use super::{Env, Link, Verdict};
use crate::dispatch::{self, Source};
use crate::http::request::{Method, Request, Version};
use crate::output::Output;
use crate::sites;
use crate::sys::Sc;
use crate::timers::TimerKind;
use parse::{Error as ParseError, Head, MAX_HEAD};
use response::{Ctx, HotCtx};
use std::time::{Duration, Instant};

/// One connection's HTTP/1.x state.
pub(crate) struct H1 {
    /// Requests answered so far (`--max-requests-per-connection`).
    requests: u32,
    reading: Reading,
    /// `--header-timeout-ms`: what a whole head may take, and what a body
    /// may add per `MAX_HEAD` bytes received (its minimum rate).
    head_timeout: Duration,
}

/// Where the connection is in the request stream.
enum Reading {
    /// A request head. `since`: when its first byte arrived (`None`: no
    /// byte of it yet; the first head's clock starts at accept, because
    /// TCP_DEFER_ACCEPT accepts only once data came). `scanned`: bytes of
    /// it already searched for its end, so a trickled head costs linear
    /// time.
    Head {
        since: Option<Instant>,
        scanned: usize,
        /// Bytes of empty lines before it, dropped as they came.
        blank: usize,
    },
    /// The body of the last request, read and dropped. A request, head
    /// and body, has one deadline from its first byte (`since`); each
    /// body byte received (`got`) extends it a little, so the body gets a
    /// minimum rate: the largest head's, `MAX_HEAD` bytes per head
    /// timeout. A trickle cannot keep a connection.
    Body {
        since: Instant,
        got: u64,
        body: Body,
    },
}

/// How a request body is delimited.
enum Body {
    /// `Content-Length`: `left` bytes still to drop.
    Length { left: u64 },
    /// `Transfer-Encoding: chunked`, bounded by `--max-body`.
    Chunked(chunked::Chunked),
}

const NEXT_HEAD: Reading = Reading::Head {
    since: None,
    scanned: 0,
    blank: 0,
};

impl H1 {
    pub fn new(accepted: Instant, head_timeout: Duration) -> H1 {
        H1 {
            requests: 0,
            reading: Reading::Head {
                since: Some(accepted),
                scanned: 0,
                blank: 0,
            },
            head_timeout,
        }
    }

    /// Answers the complete requests at the start of `data` (see
    /// `Proto::serve`).
    pub fn serve(
        &mut self,
        data: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> (usize, Verdict) {
        let ctx = ctx(env);
        let mut head = Head::empty();
        let mut at = 0;
        loop {
            if let Reading::Body { got, body, .. } = &mut self.reading {
                let rest = &data[at..];
                let (k, done) = match body {
                    Body::Length { left } => {
                        let k = (*left).min(rest.len() as u64);
                        *left -= k;
                        (k as usize, *left == 0)
                    }
                    Body::Chunked(c) => match c.feed(rest, env.cfg.max_body) {
                        (k, chunked::Progress::More) => (k, false),
                        (k, chunked::Progress::Done) => (k, true),
                        // Malformed or over --max-body: the response is
                        // out, the framing is lost; nothing more is read.
                        (_, chunked::Progress::Fail) => {
                            return (data.len(), Verdict::Close { linger: true })
                        }
                    },
                };
                at += k;
                *got += k as u64;
                if !done {
                    return (at, Verdict::NeedBytes);
                }
                self.reading = NEXT_HEAD;
            }
            if at == data.len() {
                return (at, Verdict::NeedBytes);
            }
            if !out.has_room() {
                return (at, Verdict::OutputFull);
            }
            let Reading::Head {
                since,
                scanned,
                blank,
            } = &mut self.reading
            else {
                unreachable!("a body was finished above");
            };
            since.get_or_insert(env.now);
            // RFC 9112 §2.2: empty lines before a request line are ignored;
            // dropped as they come (so a stream of them costs linear time),
            // up to a head's worth.
            while data[at..].starts_with(b"\r\n") && *blank <= MAX_HEAD {
                at += 2;
                *blank += 2;
            }
            let parsed = if *blank > MAX_HEAD {
                Err(ParseError::Status(400))
            } else if at == data.len() {
                return (at, Verdict::NeedBytes);
            } else {
                parse::parse_into(&data[at..], std::mem::take(scanned), &mut head)
            };
            match parsed {
                Ok(()) => {}
                Err(ParseError::Incomplete) => {
                    *scanned = data.len() - at;
                    return (at, Verdict::NeedBytes);
                }
                // HTTP/2 with prior knowledge (RFC 9113 §3.3): the preface
                // as a plain connection's first bytes. Elsewhere (after a
                // request, on TLS without ALPN h2, HTTP/2 off): close.
                Err(ParseError::H2Preface) => {
                    if at == 0 && self.requests == 0 && link.plain && env.cfg.http2 {
                        return (0, Verdict::Http2);
                    }
                    return (data.len(), Verdict::Close { linger: false });
                }
                Err(ParseError::Status(s)) => {
                    let meta = response::builtin(out, &ctx, s, false, true, Version::Http11);
                    env.c.bump(Sc::Requests);
                    env.c.m.request(
                        crate::metrics::VHOST_NONE,
                        meta.status,
                        crate::metrics::MethodClass::Other,
                        1,
                        meta.body_bytes,
                    );
                    if let Some(l) = env.log.as_mut() {
                        l.log_bad(link.log_info(), env.date, meta);
                    }
                    return (data.len(), Verdict::Close { linger: true });
                }
            }
            let req = &head.req;
            let sites = env.sites;
            let site = sites.pick(req.host, req.target);
            if let Some((i, _)) = site {
                // One output points into one blob: a request for another
                // site waits for this batch to be sent.
                if !out.takes_site(i) {
                    return (at, Verdict::OutputFull);
                }
                out.set_site(i);
            }
            at += head.head_len;
            self.requests += 1;
            let since = match self.reading {
                Reading::Head { since, .. } => since.unwrap_or(env.now),
                Reading::Body { since, .. } => since,
            };
            let too_big = head.content_length > env.cfg.max_body;
            let body = if head.chunked {
                Some(Body::Chunked(chunked::Chunked::new()))
            } else if head.content_length > 0 && !too_big {
                Some(Body::Length {
                    left: head.content_length,
                })
            } else {
                None
            };
            let unread_body = body.is_some();
            self.reading = match body {
                Some(body) => Reading::Body {
                    since,
                    got: 0,
                    body,
                },
                None => NEXT_HEAD,
            };
            let close = too_big
                || !head.keep_alive()
                || self.requests >= env.cfg.max_requests
                || env.stopping
                || link.retiring;
            let head_only = req.method == Method::Head;
            let meta = if too_big {
                response::builtin(out, &ctx, 413, false, true, req.version)
            } else if let Some(meta) = env.cfg.acme.as_ref().filter(|_| link.plain).and_then(|a| {
                // Before any redirect: validators ask on port 80.
                a.http01(req.method, req.target, |ka| {
                    response::acme_http01(out, &ctx, ka, head_only, close, req.version)
                })
            }) {
                meta
            } else if env.cfg.redirect_https.is_some() && link.plain {
                let host = served_name(env, req);
                let plan = dispatch::plan(req, Source::RedirectHttps { host }, env.path_buf);
                response::write(out, &ctx, plan, head_only, close, req.version, None)
            } else {
                match site {
                    Some((_, root)) => {
                        let ctx = Ctx {
                            root: if env.cfg.root_header {
                                &root.header_line
                            } else {
                                b""
                            },
                            ..ctx
                        };
                        let plan = dispatch::plan(
                            req,
                            Source::Site(root.blob(), root.checks()),
                            env.path_buf,
                        );
                        // TLS sends from memory or encrypts in the kernel:
                        // hot responses are for plain connections only.
                        let hot = (link.plain && env.hot.enabled()).then(|| HotCtx {
                            hot: &mut *env.hot,
                            root: root.generation,
                            c: env.c,
                        });
                        response::write(out, &ctx, plan, head_only, close, req.version, hot)
                    }
                    None => {
                        let plan = dispatch::plan(req, Source::NoSite, env.path_buf);
                        response::write(out, &ctx, plan, head_only, close, req.version, None)
                    }
                }
            };
            env.c.bump(Sc::Requests);
            let (m, p) = crate::metrics::classes(req);
            let vhost = sites.slot(site.map(|(i, _)| i));
            env.c.m.request(vhost, meta.status, m, p, meta.body_bytes);
            if let Some(l) = env.log.as_mut() {
                l.log(link.log_info(), env.date, req, meta);
            }
            if close {
                // Whatever follows is dropped; a body still coming is
                // drained after our FIN, so it cannot turn the close into a
                // reset that destroys the response.
                return (
                    data.len(),
                    Verdict::Close {
                        linger: too_big || unread_body,
                    },
                );
            }
        }
    }

    /// See `Proto::waiting`: a connection inside a request, or that has not
    /// sent one yet, is on the head timer; one between requests is idle.
    pub fn waiting(&self, partial: bool, now: Instant) -> (TimerKind, Instant) {
        match self.reading {
            Reading::Body { since, got, .. } => {
                let rate = self.head_timeout.as_secs_f64() / MAX_HEAD as f64;
                (
                    TimerKind::Head,
                    since + Duration::from_secs_f64(got as f64 * rate),
                )
            }
            Reading::Head { since, blank, .. } if partial || blank > 0 || self.requests == 0 => {
                (TimerKind::Head, since.unwrap_or(now))
            }
            Reading::Head { .. } => (TimerKind::Idle, now),
        }
    }

    pub fn mid_request(&self) -> bool {
        matches!(self.reading, Reading::Body { .. })
    }

    /// Slowloris: say so, once (the connection closes). A stalled body
    /// gets no word: its request was answered already.
    pub fn expire(&self, out: &mut Output, env: &mut Env<'_>) {
        if let Reading::Head { .. } = self.reading {
            response::builtin(out, &ctx(env), 408, false, true, Version::Http11);
        }
    }
}

/// `--redirect-https`: the request's host name (port and trailing dot
/// removed), when this server serves it: a site of its own
/// (`--sites`), a name of a certificate it presents, or a
/// `--redirect-host`.
fn served_name<'a>(env: &Env<'_>, req: &Request<'a>) -> Option<&'a [u8]> {
    let name = sites::request_host(req.host, req.target)?;
    let served = env
        .cfg
        .redirect_hosts
        .iter()
        .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
        || env.sites.has_host(name)
        || std::str::from_utf8(name)
            .is_ok_and(|n| env.cfg.tls.as_ref().is_some_and(|t| t.covers(n)));
    served.then_some(name)
}

/// The dynamic lines every response of this worker shares this second.
fn ctx<'a>(env: &Env<'a>) -> Ctx<'a> {
    Ctx {
        lines: env.date.head_lines(),
        sendfile_threshold: env.cfg.sendfile_threshold,
        root: b"",
        https_port: env.cfg.redirect_https.as_deref().map_or(b"", str::as_bytes),
    }
}
