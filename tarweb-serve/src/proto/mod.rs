//! The seam between a connection and the protocol spoken on it. A
//! connection (`conn`) moves bytes: it reads, hands what it read to its
//! [`Proto`], and sends the [`Output`] the protocol filled. The protocol
//! owns the framing (HTTP/1.x in `h1`, HTTP/2 in `h2`) and asks
//! `dispatch` which response each request gets. HTTP/2 also sends when it
//! has read nothing (bodies paced by flow control): `pending` and
//! `produce`.

pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod proxy;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::date::DateCache;
use crate::hot::Hot;
use crate::output::Output;
use crate::sites::Sites;
use crate::sys::Counters;
use crate::timers::TimerKind;
use std::net::SocketAddr;
use std::time::Instant;

/// What a protocol borrows from its worker to answer requests: the
/// current sites, the configuration, this second's Date line, the hot
/// responses, the access log, scratch space, the counters, the time.
pub(crate) struct Env<'a> {
    pub sites: &'a Sites,
    pub cfg: &'a Config,
    pub date: &'a DateCache,
    pub hot: &'a mut Hot,
    pub log: Option<&'a mut AccessLog>,
    /// Room for a decoded request target (`MAX_TARGET` + 1 bytes).
    pub path_buf: &'a mut [u8],
    /// Room for an HTTP/2 request's decoded header list (taken while a
    /// block is read, and put back).
    pub h2_fields: Option<&'a mut tarweb_format::hpack::Fields>,
    pub c: &'a Counters,
    pub now: Instant,
    /// The worker is shutting down: every response closes its connection.
    pub stopping: bool,
}

/// What a protocol may know of the connection under it.
#[derive(Clone, Copy)]
pub(crate) struct Link {
    pub peer: Option<SocketAddr>,
    /// Plain TCP (not TLS).
    pub plain: bool,
    /// The TLS session must end after the next response (kTLS key use).
    pub retiring: bool,
    /// TLS version and kernel records, for the access log.
    pub tls: Option<(&'static str, bool)>,
}

impl Link {
    /// What the access log says of the connection.
    pub fn log_info(&self) -> crate::access_log::ConnInfo {
        crate::access_log::ConnInfo {
            peer: self.peer,
            tls: self.tls,
        }
    }
}

/// How far a protocol got with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every complete request was answered; what is left (if anything) is
    /// the start of one that needs more bytes.
    NeedBytes,
    /// Stopped with requests that may be complete left over: the output
    /// has no room, or the next request is for another site. Call again
    /// once the output is sent.
    OutputFull,
    /// No more requests on this connection: close once the output is sent
    /// (after a lingering drain when `linger`: an error response that the
    /// client's unread bytes must not turn into a reset).
    Close { linger: bool },
    /// HTTP/2 with prior knowledge: the connection preface where an
    /// HTTP/1.1 request was due (a plain connection's first bytes). Nothing
    /// consumed; HTTP/2 takes the connection over.
    Http2,
}

/// The protocol of one connection.
pub(crate) enum Proto {
    H1(h1::H1),
    H2(Box<h2::H2>),
}

impl Proto {
    /// HTTP/1.x, on a connection accepted at `now`.
    pub fn h1(now: Instant, head_timeout: std::time::Duration) -> Proto {
        Proto::H1(h1::H1::new(now, head_timeout))
    }

    /// HTTP/2 (ALPN `h2`, or prior knowledge on a plain connection).
    pub fn h2(now: Instant) -> Proto {
        Proto::H2(Box::new(h2::H2::new(now)))
    }

    /// More to send with no new input (HTTP/2 bodies the flow-control
    /// windows now allow).
    pub fn pending(&self) -> bool {
        match self {
            Proto::H1(_) => false,
            Proto::H2(h) => h.pending(),
        }
    }

    /// Sends what `pending` said there is.
    pub fn produce(&mut self, out: &mut Output, env: &mut Env<'_>) {
        if let Proto::H2(h) = self {
            h.produce(out, env);
        }
    }

    /// The connection waits for an event: what it still sends from a
    /// blob must outlive the worker's current table.
    pub fn pin(&mut self, sites: &Sites) {
        if let Proto::H2(h) = self {
            h.pin(sites);
        }
    }

    /// Answers the complete requests at the start of `data` into `out`;
    /// returns how many bytes were consumed, and why it stopped.
    #[inline]
    pub fn serve(
        &mut self,
        data: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> (usize, Verdict) {
        match self {
            Proto::H1(h) => h.serve(data, out, env, link),
            Proto::H2(h) => h.serve(data, out, env, link),
        }
    }

    /// With nothing to send and nothing to read: which timer runs, from
    /// when. `partial`: unconsumed input is buffered.
    pub fn waiting(&self, partial: bool, now: Instant) -> (TimerKind, Instant) {
        match self {
            Proto::H1(h) => h.waiting(partial, now),
            Proto::H2(h) => h.waiting(partial, now),
        }
    }

    /// No more streams will come and none is left (HTTP/2 after GOAWAY):
    /// the connection may close.
    pub fn finished(&self) -> bool {
        match self {
            Proto::H1(_) => false,
            Proto::H2(h) => h.finished(),
        }
    }

    /// HTTP/2: GOAWAY (NO_ERROR) into `out`, once (the worker stops).
    pub fn go_away(&mut self, out: &mut Output) {
        if let Proto::H2(h) = self {
            h.shut_down(out);
        }
    }

    /// Somewhere inside a request (a body still to drop, say): not idle.
    pub fn mid_request(&self) -> bool {
        match self {
            Proto::H1(h) => h.mid_request(),
            Proto::H2(h) => h.mid_request(),
        }
    }

    /// The timer of `kind` ran out: the last words before the close
    /// (HTTP/1.1: 408 for a head; HTTP/2: GOAWAY).
    pub fn expire(&mut self, kind: TimerKind, out: &mut Output, env: &mut Env<'_>) {
        match self {
            Proto::H1(h) if kind == TimerKind::Head => h.expire(out, env),
            Proto::H1(_) => {}
            Proto::H2(h) => h.expire(kind, out),
        }
    }
}
