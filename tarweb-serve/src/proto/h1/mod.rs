//! HTTP/1.0 and HTTP/1.1 framing (RFC 9112): request heads one after the
//! other (pipelined ones answered in order, into one output), request
//! bodies read and dropped, keep-alive and its limits, and the error
//! responses that end a connection. Which response a request gets is
//! `dispatch`'s; its bytes are `response`'s.

pub(crate) mod parse;
pub(crate) mod response;

use super::{Env, Link, Verdict};
use crate::dispatch::{self, Source};
use crate::http::request::{Method, Version};
use crate::output::Output;
use crate::sys::Sc;
use crate::timers::TimerKind;
use parse::{Error as ParseError, Head};
use response::{Ctx, HotCtx};
use std::time::Instant;

/// One connection's HTTP/1.x state.
pub(crate) struct H1 {
    /// Requests answered so far (`--max-requests-per-connection`).
    requests: u32,
    reading: Reading,
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
    },
    /// The body of the last request: `left` bytes still to read and drop.
    Body { left: u64 },
}

const NEXT_HEAD: Reading = Reading::Head {
    since: None,
    scanned: 0,
};

impl H1 {
    pub fn new(accepted: Instant) -> H1 {
        H1 {
            requests: 0,
            reading: Reading::Head {
                since: Some(accepted),
                scanned: 0,
            },
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
            if let Reading::Body { left } = &mut self.reading {
                let k = (*left).min((data.len() - at) as u64);
                *left -= k;
                at += k as usize;
                if *left > 0 {
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
            let Reading::Head { since, scanned } = &mut self.reading else {
                unreachable!("a body was finished above");
            };
            since.get_or_insert(env.now);
            match parse::parse_into(&data[at..], std::mem::take(scanned), &mut head) {
                Ok(()) => {}
                Err(ParseError::Incomplete) => {
                    *scanned = data.len() - at;
                    return (at, Verdict::NeedBytes);
                }
                // An HTTP/2 client: close without answering.
                Err(ParseError::H2Preface) => {
                    return (data.len(), Verdict::Close { linger: false })
                }
                Err(ParseError::Status(s)) => {
                    let meta = response::builtin(out, &ctx, s, false, true, Version::Http11);
                    env.c.bump(Sc::Requests);
                    if let Some(l) = env.log.as_mut() {
                        l.log_bad(link.peer, env.date.line(), meta);
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
            let too_big = head.content_length > env.cfg.max_body;
            self.reading = if too_big || head.content_length == 0 {
                NEXT_HEAD
            } else {
                Reading::Body {
                    left: head.content_length,
                }
            };
            let close = too_big
                || !head.keep_alive()
                || self.requests >= env.cfg.max_requests
                || env.stopping
                || link.retiring;
            let head_only = req.method == Method::Head;
            let meta = if too_big {
                response::builtin(out, &ctx, 413, false, true, req.version)
            } else if env.cfg.redirect_https.is_some() && link.plain {
                let plan = dispatch::plan(req, Source::RedirectHttps, env.path_buf);
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
                        let plan = dispatch::plan(req, Source::Site(root.blob()), env.path_buf);
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
            if let Some(l) = env.log.as_mut() {
                l.log(link.peer, env.date.line(), req, meta);
            }
            if close {
                // Whatever follows is dropped.
                return (data.len(), Verdict::Close { linger: too_big });
            }
        }
    }

    /// See `Proto::waiting`: a connection inside a request, or that has not
    /// sent one yet, is on the head timer; one between requests is idle.
    pub fn waiting(&self, partial: bool, now: Instant) -> (TimerKind, Instant) {
        match self.reading {
            Reading::Body { .. } => (TimerKind::Head, now),
            Reading::Head { since, .. } if partial || self.requests == 0 => {
                (TimerKind::Head, since.unwrap_or(now))
            }
            Reading::Head { .. } => (TimerKind::Idle, now),
        }
    }

    pub fn mid_request(&self) -> bool {
        matches!(self.reading, Reading::Body { .. })
    }

    /// Slowloris or a stalled body: say so, once (the connection closes).
    pub fn expire(&self, out: &mut Output, env: &mut Env<'_>) {
        response::builtin(out, &ctx(env), 408, false, true, Version::Http11);
    }
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
