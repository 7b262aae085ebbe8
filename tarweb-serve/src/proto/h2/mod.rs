//! HTTP/2 (RFC 9113): the connection's frames in, frames out. Requests go
//! through the same `dispatch` as HTTP/1.1; responses are the blob's
//! precomputed HPACK blocks (stored beside each HTTP/1.1 head at pack
//! time) wrapped in HEADERS frames, with only Date, Server and the range
//! fields added per response, and DATA frames straight from the mapping
//! (writev) or its private copy (sendfile). Nothing is allocated per
//! request once a connection's buffers exist.
//!
//! Bounded against hostile peers: a frame larger than ours is a
//! FRAME_SIZE_ERROR; a header block larger than `MAX_BLOCK` or a decoded
//! list over `MAX_LIST` ends the stream or the connection; more than
//! `MAX_STREAMS` concurrent streams are refused; control frames (SETTINGS,
//! PING, WINDOW_UPDATE, PRIORITY, empty DATA, RST_STREAM) beyond
//! `CALM_PER_SECOND` in a second end the connection with ENHANCE_YOUR_CALM.
//!
//! Over 600 lines on purpose: the connection's frame handling, one arm per frame type, sharing its limits and windows.

pub(crate) mod frame;
mod request;
mod response;
mod stream;

use super::{Env, Link, Verdict};
use crate::dispatch::{self, Source};
use crate::http::request::{Method, Request, Version};
use crate::output::Output;
use crate::sys::Sc;
use crate::timers::TimerKind;
use frame::{flag, kind, setting, ErrorCode, Header, HEADER_LEN};
use std::time::{Duration, Instant};
use stream::{Recent, Stream, Streams};
use tarweb_format::hpack::{Decoder, Fields};

/// Concurrent streams a client may open (`SETTINGS_MAX_CONCURRENT_STREAMS`).
pub(crate) const MAX_STREAMS: u32 = 128;
/// The largest frame payload we take (our `SETTINGS_MAX_FRAME_SIZE`: the
/// default, which the input buffer holds twice).
const MAX_FRAME: u32 = frame::DEFAULT_MAX_FRAME;
/// Our `SETTINGS_MAX_HEADER_LIST_SIZE`: the decoded header list of one
/// request (name + value + 32 per field), like HTTP/1.1's 32 KiB head.
pub(crate) const MAX_LIST: usize = 32 * 1024;
/// Fields of one request we decode (like HTTP/1.1's 128 lines).
pub(crate) const MAX_FIELDS: usize = 128;
/// The HPACK dynamic table we keep for a client's encoder (the default).
const TABLE_SIZE: usize = 4096;
/// A header block (HEADERS and its CONTINUATIONs) larger than this ends
/// the connection (ENHANCE_YOUR_CALM): a CONTINUATION flood stops here.
const MAX_BLOCK: usize = 64 * 1024;
/// Control frames a client may send in one second (§10.5: each costs the
/// server work, and some an answer).
const CALM_PER_SECOND: u32 = 1000;
/// Streams a client may reset in one second (rapid reset, CVE-2023-44487).
const RESETS_PER_SECOND: u32 = 200;
/// The connection's receive window we hand back once it has taken this
/// much DATA (request bodies, which are dropped).
const WINDOW_REFILL: u32 = frame::DEFAULT_WINDOW / 2;

/// What ends the connection: a GOAWAY with this code (§5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnError(ErrorCode);

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's 24-byte preface.
    Preface,
    /// Frames flow.
    Open,
    /// GOAWAY sent (shutting down, or the client's GOAWAY): streams in
    /// flight finish, no new ones are served, then the connection closes.
    Draining,
}

/// A header block in pieces: HEADERS without END_HEADERS, then
/// CONTINUATION frames on the same stream until one has it.
struct Block {
    /// When its HEADERS came (the head timer's clock).
    since: Instant,
    stream: u32,
    end_stream: bool,
    bytes: Vec<u8>,
}

/// What the peer's SETTINGS say (§6.5.2).
#[derive(Debug, Clone, Copy)]
struct PeerSettings {
    initial_window: i64,
    max_frame: u32,
    /// SETTINGS_HEADER_TABLE_SIZE: the peer's decoder's table.
    table_size: u32,
}

/// Frames counted against `CALM_PER_SECOND` and `RESETS_PER_SECOND`.
struct Calm {
    second: Instant,
    control: u32,
    resets: u32,
}

/// One connection's HTTP/2 state.
pub(crate) struct H2 {
    phase: Phase,
    peer: PeerSettings,
    /// The connection's send window (the peer's receive window).
    send_window: i64,
    /// DATA bytes received since our last connection WINDOW_UPDATE.
    received: u32,
    /// The highest stream id the client opened (served, refused or reset).
    last_stream: u32,
    streams: Streams,
    block: Option<Block>,
    decoder: Decoder,
    /// Our SETTINGS not acknowledged yet: since when.
    settings_unacked: Option<Instant>,
    calm: Calm,
    /// When the connection was accepted (the preface's clock).
    since: Instant,
    /// Since when a frame has been coming in pieces (the head timer's
    /// clock, so a trickle cannot keep it young).
    partial_since: Option<Instant>,
    /// Streams wait for a window: since when (the send timer's clock).
    stalled: Option<Instant>,
    /// The peer changed its SETTINGS_HEADER_TABLE_SIZE: our next block
    /// starts with a table size update (RFC 7541 §4.2; our blocks never
    /// use the table, but a decoder may insist).
    size_update_owed: bool,
    /// Streams we reset while the client was still sending on them: its
    /// frames in flight on them are dropped (§5.4.2), not errors.
    reset: Recent,
}

impl H2 {
    pub fn new(now: Instant) -> H2 {
        H2 {
            phase: Phase::Preface,
            peer: PeerSettings {
                initial_window: i64::from(frame::DEFAULT_WINDOW),
                max_frame: frame::DEFAULT_MAX_FRAME,
                table_size: 4096,
            },
            send_window: i64::from(frame::DEFAULT_WINDOW),
            received: 0,
            last_stream: 0,
            streams: Streams::default(),
            block: None,
            decoder: Decoder::new(TABLE_SIZE),
            settings_unacked: None,
            calm: Calm {
                second: now,
                control: 0,
                resets: 0,
            },
            since: now,
            partial_since: None,
            stalled: None,
            reset: Recent::new(),
            size_update_owed: false,
        }
    }

    /// Reads the frames at the start of `data`, answering requests into
    /// `out` (see `Proto::serve`).
    pub fn serve(
        &mut self,
        data: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> (usize, Verdict) {
        let mut at = 0;
        if self.phase == Phase::Preface {
            let n = data.len().min(frame::PREFACE.len());
            if data[..n] != frame::PREFACE[..n] {
                return (data.len(), Verdict::Close { linger: false });
            }
            if n < frame::PREFACE.len() {
                return (0, Verdict::NeedBytes);
            }
            at = n;
            self.phase = Phase::Open;
            self.send_settings(out, env.now);
        }
        if env.stopping && self.phase == Phase::Open {
            self.go_away(out, ErrorCode::NoError);
        }
        let verdict = loop {
            if !out.has_room() {
                break Verdict::OutputFull;
            }
            let Some(head) = data.get(at..at + HEADER_LEN) else {
                break Verdict::NeedBytes;
            };
            let h = Header::parse(head.try_into().expect("9 bytes"));
            if h.len > MAX_FRAME {
                break self.fail(out, ConnError(ErrorCode::FrameSizeError));
            }
            let end = at + HEADER_LEN + h.len as usize;
            let Some(payload) = data.get(at + HEADER_LEN..end) else {
                break Verdict::NeedBytes;
            };
            at = end;
            if let Err(e) = self.frame(h, payload, out, env, link) {
                break self.fail(out, e);
            }
        };
        if let Verdict::Close { .. } = verdict {
            return (data.len(), verdict);
        }
        if at < data.len() {
            self.partial_since.get_or_insert(env.now);
        } else {
            self.partial_since = None;
        }
        self.produce(out, env);
        if self.phase == Phase::Draining && self.streams.is_empty() {
            return (data.len(), Verdict::Close { linger: true });
        }
        (at, verdict)
    }

    /// Our SETTINGS: the connection preface's server half.
    fn send_settings(&mut self, out: &mut Output, now: Instant) {
        let settings = [
            frame::setting(setting::MAX_CONCURRENT_STREAMS, MAX_STREAMS),
            frame::setting(setting::MAX_HEADER_LIST_SIZE, MAX_LIST as u32),
            frame::setting(setting::ENABLE_PUSH, 0),
        ];
        out.push_dyn(&frame::header(18, kind::SETTINGS, 0, 0));
        for s in settings {
            out.push_dyn(&s);
        }
        self.settings_unacked = Some(now);
    }

    /// Ends the connection: GOAWAY with `code`, then close (lingering, so
    /// the client's unread bytes cannot turn our close into a reset that
    /// destroys the GOAWAY).
    fn fail(&mut self, out: &mut Output, e: ConnError) -> Verdict {
        self.go_away(out, e.0);
        Verdict::Close { linger: true }
    }

    /// GOAWAY naming the last stream we took, once.
    fn go_away(&mut self, out: &mut Output, code: ErrorCode) {
        if self.phase != Phase::Draining {
            out.push_dyn(&frame::goaway(self.last_stream, code));
            self.phase = Phase::Draining;
        }
    }

    /// Counts a control frame; too many in a second end the connection.
    fn control(&mut self, now: Instant, reset: bool) -> Result<(), ConnError> {
        let c = &mut self.calm;
        if now.duration_since(c.second) >= Duration::from_secs(1) {
            (c.second, c.control, c.resets) = (now, 0, 0);
        }
        c.control += 1;
        c.resets += u32::from(reset);
        if c.control > CALM_PER_SECOND || c.resets > RESETS_PER_SECOND {
            return Err(ConnError(ErrorCode::EnhanceYourCalm));
        }
        Ok(())
    }

    fn frame(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> Result<(), ConnError> {
        // §6.10: inside a header block only its CONTINUATION may come.
        if let Some(b) = &self.block {
            if h.kind != kind::CONTINUATION || h.stream != b.stream {
                return Err(ConnError(ErrorCode::ProtocolError));
            }
        }
        match h.kind {
            kind::SETTINGS => self.settings(h, payload, out, env.now),
            kind::PING => {
                if h.stream != 0 {
                    return Err(ConnError(ErrorCode::ProtocolError));
                }
                if payload.len() != 8 {
                    return Err(ConnError(ErrorCode::FrameSizeError));
                }
                self.control(env.now, false)?;
                if !h.has(flag::ACK) {
                    out.push_dyn(&frame::ping_ack(payload.try_into().expect("8 bytes")));
                }
                Ok(())
            }
            kind::GOAWAY => {
                if h.stream != 0 {
                    return Err(ConnError(ErrorCode::ProtocolError));
                }
                // The client is leaving: finish what is in flight.
                self.phase = Phase::Draining;
                Ok(())
            }
            kind::WINDOW_UPDATE => self.window_update(h, payload, out, env.now),
            kind::RST_STREAM => {
                if h.stream == 0 || h.stream > self.last_stream {
                    return Err(ConnError(ErrorCode::ProtocolError));
                }
                if payload.len() != 4 {
                    return Err(ConnError(ErrorCode::FrameSizeError));
                }
                self.control(env.now, true)?;
                self.streams.remove(h.stream);
                Ok(())
            }
            kind::PRIORITY => {
                // RFC 9113 deprecates priorities: checked and ignored.
                if h.stream == 0 {
                    return Err(ConnError(ErrorCode::ProtocolError));
                }
                self.control(env.now, false)?;
                if payload.len() != 5 {
                    out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::FrameSizeError));
                }
                Ok(())
            }
            kind::HEADERS => self.headers(h, payload, out, env, link),
            kind::CONTINUATION => self.continuation(h, payload, out, env, link),
            kind::DATA => self.data(h, payload, out, env.now),
            kind::PUSH_PROMISE => Err(ConnError(ErrorCode::ProtocolError)),
            // §5.5: unknown frame types are ignored.
            _ => Ok(()),
        }
    }

    fn settings(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        now: Instant,
    ) -> Result<(), ConnError> {
        if h.stream != 0 {
            return Err(ConnError(ErrorCode::ProtocolError));
        }
        if h.has(flag::ACK) {
            if !payload.is_empty() {
                return Err(ConnError(ErrorCode::FrameSizeError));
            }
            self.settings_unacked = None;
            return Ok(());
        }
        if !payload.len().is_multiple_of(6) {
            return Err(ConnError(ErrorCode::FrameSizeError));
        }
        self.control(now, false)?;
        for (id, value) in frame::settings(payload) {
            match id {
                setting::ENABLE_PUSH if value > 1 => {
                    return Err(ConnError(ErrorCode::ProtocolError))
                }
                setting::INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return Err(ConnError(ErrorCode::FlowControlError));
                    }
                    let delta = i64::from(value) - self.peer.initial_window;
                    self.peer.initial_window = i64::from(value);
                    // §6.9.2: every stream's window moves by the difference.
                    if !self.streams.shift_windows(delta) {
                        return Err(ConnError(ErrorCode::FlowControlError));
                    }
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME..=frame::LARGEST_MAX_FRAME).contains(&value) {
                        return Err(ConnError(ErrorCode::ProtocolError));
                    }
                    self.peer.max_frame = value;
                }
                setting::HEADER_TABLE_SIZE => {
                    self.size_update_owed |= value != self.peer.table_size;
                    self.peer.table_size = value;
                }
                _ => {}
            }
        }
        out.push_dyn(&frame::SETTINGS_ACK);
        Ok(())
    }

    fn window_update(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        now: Instant,
    ) -> Result<(), ConnError> {
        if payload.len() != 4 {
            return Err(ConnError(ErrorCode::FrameSizeError));
        }
        self.control(now, false)?;
        let inc =
            i64::from(u32::from_be_bytes(payload.try_into().expect("4 bytes")) & frame::MAX_WINDOW);
        if h.stream == 0 {
            if inc == 0 {
                return Err(ConnError(ErrorCode::ProtocolError));
            }
            self.send_window += inc;
            if self.send_window > i64::from(frame::MAX_WINDOW) {
                return Err(ConnError(ErrorCode::FlowControlError));
            }
            return Ok(());
        }
        if h.stream > self.last_stream {
            return Err(ConnError(ErrorCode::ProtocolError)); // an idle stream
        }
        let Some(s) = self.streams.get_mut(h.stream) else {
            return Ok(()); // closed: ignored (§5.1)
        };
        if inc == 0 {
            self.streams.remove(h.stream);
            out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::ProtocolError));
            return Ok(());
        }
        s.window += inc;
        if s.window > i64::from(frame::MAX_WINDOW) {
            self.streams.remove(h.stream);
            out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::FlowControlError));
        }
        Ok(())
    }

    /// Padding stripped from a DATA or HEADERS payload (§6.1, §6.2).
    fn unpad(h: Header, payload: &[u8]) -> Result<&[u8], ConnError> {
        if !h.has(flag::PADDED) {
            return Ok(payload);
        }
        let (&pad, rest) = payload
            .split_first()
            .ok_or(ConnError(ErrorCode::FrameSizeError))?;
        rest.len()
            .checked_sub(usize::from(pad))
            .map(|n| &rest[..n])
            .ok_or(ConnError(ErrorCode::ProtocolError))
    }

    fn data(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        now: Instant,
    ) -> Result<(), ConnError> {
        if h.stream == 0 {
            return Err(ConnError(ErrorCode::ProtocolError));
        }
        if h.stream > self.last_stream {
            return Err(ConnError(ErrorCode::ProtocolError)); // an idle stream
        }
        // The whole frame counts against the connection's window (§6.9.1);
        // the bytes are dropped, so the window is handed back in halves.
        self.received += h.len;
        if self.received >= WINDOW_REFILL {
            out.push_dyn(&frame::window_update(0, self.received));
            self.received = 0;
        }
        if payload.is_empty() && !h.has(flag::END_STREAM) {
            self.control(now, false)?; // an empty DATA flood
        }
        let body = Self::unpad(h, payload)?;
        let Some(s) = self.streams.get_mut(h.stream) else {
            if self.reset.has(h.stream) {
                return Ok(()); // in flight when we reset it (§5.4.2)
            }
            // Closed: a stream error (§6.1), counted like a control frame.
            self.control(now, false)?;
            out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::StreamClosed));
            return Ok(());
        };
        if s.recv_closed {
            self.streams.remove(h.stream);
            out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::StreamClosed));
            return Ok(());
        }
        s.body_received += body.len() as u64;
        let over = s.content_length.is_some_and(|cl| s.body_received > cl);
        let short =
            h.has(flag::END_STREAM) && s.content_length.is_some_and(|cl| s.body_received != cl);
        if over || short {
            // §8.1.1: content-length and DATA disagree.
            self.streams.remove(h.stream);
            out.push_dyn(&frame::rst_stream(h.stream, ErrorCode::ProtocolError));
            return Ok(());
        }
        if h.has(flag::END_STREAM) {
            s.recv_closed = true;
            self.streams.retire_if_done(h.stream);
        }
        Ok(())
    }

    fn headers(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> Result<(), ConnError> {
        if h.stream.is_multiple_of(2) {
            return Err(ConnError(ErrorCode::ProtocolError));
        }
        let mut fragment = Self::unpad(h, payload)?;
        if h.has(flag::PRIORITY) {
            fragment = fragment
                .get(5..)
                .ok_or(ConnError(ErrorCode::FrameSizeError))?;
        }
        if h.has(flag::END_HEADERS) {
            return self.block(h.stream, h.has(flag::END_STREAM), fragment, out, env, link);
        }
        if fragment.len() > MAX_BLOCK {
            return Err(ConnError(ErrorCode::EnhanceYourCalm));
        }
        self.block = Some(Block {
            since: env.now,
            stream: h.stream,
            end_stream: h.has(flag::END_STREAM),
            bytes: fragment.to_vec(),
        });
        Ok(())
    }

    fn continuation(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> Result<(), ConnError> {
        let Some(mut b) = self.block.take() else {
            return Err(ConnError(ErrorCode::ProtocolError));
        };
        if b.bytes.len() + payload.len() > MAX_BLOCK {
            return Err(ConnError(ErrorCode::EnhanceYourCalm));
        }
        b.bytes.extend_from_slice(payload);
        if !h.has(flag::END_HEADERS) {
            self.block = Some(b);
            return Ok(());
        }
        self.block(b.stream, b.end_stream, &b.bytes, out, env, link)
    }

    /// A whole header block on stream `id`: trailers, a request, or one
    /// to refuse. Decoded in every case, to keep the HPACK table in step.
    fn block(
        &mut self,
        id: u32,
        end_stream: bool,
        block: &[u8],
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> Result<(), ConnError> {
        // The worker's list, lent for this block and given back.
        let fields = env.h2_fields.take().expect("the worker lends its fields");
        let r = self.request(id, end_stream, block, fields, out, env, link);
        env.h2_fields = Some(fields);
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        id: u32,
        end_stream: bool,
        block: &[u8],
        fields: &mut Fields,
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) -> Result<(), ConnError> {
        let decoded = self.decoder.decode(block, fields);
        if let Err(e) = decoded {
            if e.is_compression_error() {
                return Err(ConnError(ErrorCode::CompressionError));
            }
        }
        if id <= self.last_stream {
            // Trailers of a stream still receiving, else a reused id.
            return match self.streams.get_mut(id) {
                Some(s) if !s.recv_closed && end_stream => {
                    s.recv_closed = true;
                    self.streams.retire_if_done(id);
                    Ok(())
                }
                Some(_) => {
                    self.streams.remove(id);
                    out.push_dyn(&frame::rst_stream(id, ErrorCode::StreamClosed));
                    Ok(())
                }
                None if self.reset.has(id) && end_stream => Ok(()), // trailers in flight
                None => Err(ConnError(ErrorCode::ProtocolError)),
            };
        }
        self.last_stream = id;
        if self.phase == Phase::Draining {
            return Ok(()); // after our GOAWAY: not served (the client retries)
        }
        if self.streams.len() >= MAX_STREAMS as usize {
            self.refuse(id, end_stream, ErrorCode::RefusedStream, out);
            return Ok(());
        }
        if decoded.is_err() {
            // Over our list limits: the stream gets its error (§8.1.1).
            self.refuse(id, end_stream, ErrorCode::ProtocolError, out);
            return Ok(());
        }
        let mut req = Request::new(b"", b"", Version::Http2);
        let extra = match request::read(fields, &mut req) {
            Ok(e) => e,
            Err(_) => {
                self.refuse(id, end_stream, ErrorCode::ProtocolError, out);
                return Ok(());
            }
        };
        if end_stream && extra.content_length.is_some_and(|cl| cl > 0) {
            self.refuse(id, end_stream, ErrorCode::ProtocolError, out);
            return Ok(());
        }
        let mut s = Stream::new(id, self.peer.initial_window);
        s.recv_closed = end_stream;
        s.content_length = extra.content_length;
        self.respond(s, &req, out, env, link);
        Ok(())
    }

    /// RST_STREAM for stream `id`; its frames still in flight (when the
    /// client had not ended it) are then dropped quietly.
    fn refuse(&mut self, id: u32, end_stream: bool, code: ErrorCode, out: &mut Output) {
        out.push_dyn(&frame::rst_stream(id, code));
        if !end_stream {
            self.reset.add(id);
        }
    }

    /// Answers a request on stream `s`: its HEADERS, and as much of its
    /// body as the windows take now; the rest waits in `streams`.
    fn respond(
        &mut self,
        mut s: Stream,
        req: &Request<'_>,
        out: &mut Output,
        env: &mut Env<'_>,
        link: Link,
    ) {
        let sites = env.sites;
        let site = sites.pick(req.host, req.target);
        let mut ctx = response::Ctx {
            cfg: env.cfg,
            lines: env.date.h2_fields(),
            root_field: b"",
            site: 0,
            max_frame: self.peer.max_frame,
            head_only: req.method == Method::Head,
            prefix: if std::mem::take(&mut self.size_update_owed) {
                &[0x20] // size 0: fits any table the peer allows
            } else {
                b""
            },
        };
        let vhost = sites.slot(site.map(|(i, _)| i));
        let meta = match site {
            Some((i, root)) if out.takes_site(i) => {
                out.set_site(i);
                let plan =
                    dispatch::plan(req, Source::Site(root.blob(), root.checks()), env.path_buf);
                if env.cfg.root_header {
                    ctx.root_field = &root.h2_field;
                }
                ctx.site = i;
                response::write(&mut s, out, &ctx, plan)
            }
            // Another site's response waits for this batch; no site: 421.
            Some(_) => {
                self.refuse(s.id, s.recv_closed, ErrorCode::RefusedStream, out);
                return;
            }
            None => {
                let plan = dispatch::plan(req, Source::NoSite, env.path_buf);
                response::write(&mut s, out, &ctx, plan)
            }
        };
        env.c.bump(Sc::Requests);
        let (m, p) = crate::metrics::classes(req);
        env.c.m.request(vhost, meta.status, m, p, meta.body_bytes);
        if let Some(l) = env.log.as_mut() {
            l.log(link.log_info(), env.date, req, meta);
        }
        self.add(s, out);
    }

    /// Keeps stream `s` while it has a body to send or a request to read;
    /// a response sent whole while the request still comes tells the
    /// client to stop sending it (RST_STREAM NO_ERROR, §8.1).
    fn add(&mut self, s: Stream, out: &mut Output) {
        match (s.send_closed, s.recv_closed) {
            (true, true) => {}
            (true, false) => self.refuse(s.id, false, ErrorCode::NoError, out),
            _ => self.streams.add(s),
        }
    }

    /// More DATA for streams waiting on their body, as the windows allow,
    /// a frame per stream per round (fair: a large download does not
    /// starve a page's small assets).
    pub fn produce(&mut self, out: &mut Output, env: &mut Env<'_>) {
        let max_frame = self.peer.max_frame;
        let sent = self.streams.produce(
            out,
            env.sites,
            &mut self.send_window,
            max_frame,
            &mut self.reset,
        );
        // The send timer runs from the last time a window let bytes go.
        if !self.streams.waiting_for_window(self.send_window) {
            self.stalled = None;
        } else if sent || self.stalled.is_none() {
            self.stalled = Some(env.now);
        }
    }

    /// Streams with body bytes to send that the windows allow now.
    pub fn pending(&self) -> bool {
        self.send_window > 0 && self.streams.sendable()
    }

    /// The roots streams still send from must outlive this table.
    pub fn pin(&mut self, sites: &crate::sites::Sites) {
        self.streams.pin(sites);
    }

    /// See `Proto::waiting`.
    /// The preface, a frame in pieces, a header block in frames and our
    /// SETTINGS' acknowledgement each have the head timeout; streams
    /// waiting for a window the send timeout; nothing, the idle one.
    pub fn waiting(&self, partial: bool, now: Instant) -> (TimerKind, Instant) {
        if self.phase == Phase::Preface {
            return (TimerKind::Head, self.since);
        }
        if partial {
            return (TimerKind::Head, self.partial_since.unwrap_or(now));
        }
        if let Some(b) = &self.block {
            return (TimerKind::Head, b.since);
        }
        if let Some(t) = self.settings_unacked {
            return (TimerKind::Head, t);
        }
        if let Some(t) = self.stalled {
            return (TimerKind::Send, t);
        }
        if self.streams.is_empty() {
            (TimerKind::Idle, now)
        } else {
            (TimerKind::Send, now)
        }
    }

    /// See `Proto::finished`.
    pub fn finished(&self) -> bool {
        self.phase == Phase::Draining && self.streams.is_empty() && self.block.is_none()
    }

    /// See `Proto::go_away`.
    pub fn shut_down(&mut self, out: &mut Output) {
        if self.phase == Phase::Open {
            self.go_away(out, ErrorCode::NoError);
        }
    }

    pub fn mid_request(&self) -> bool {
        !self.streams.is_empty() || self.block.is_some()
    }

    /// A timer ran out: GOAWAY saying why, before the close.
    pub fn expire(&mut self, kind: TimerKind, out: &mut Output) {
        let code = match (self.phase, kind) {
            (Phase::Preface, _) => return,
            (_, TimerKind::Idle) => ErrorCode::NoError,
            _ if self.settings_unacked.is_some() => ErrorCode::SettingsTimeout,
            _ => ErrorCode::EnhanceYourCalm,
        };
        self.go_away(out, code);
    }
}

#[cfg(test)]
mod tests {
    /// What an idle HTTP/2 connection costs (the README quotes it).
    #[test]
    fn connection_state_is_small() {
        let h2 = std::mem::size_of::<super::H2>();
        let stream = std::mem::size_of::<super::stream::Stream>();
        eprintln!("H2 {h2} bytes, a stream {stream} bytes");
        assert!(h2 <= 2048, "H2 is {h2} bytes");
        assert!(stream <= 128, "a stream is {stream} bytes");
    }
}
