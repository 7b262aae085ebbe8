//! HTTP/2 frames (RFC 9113 §4, §6): the 9-byte frame header, the frame
//! types and flags, error codes, settings, and the payloads the server
//! writes itself. Pure: bytes in, bytes out.

/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`: the client's first 24 bytes.
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of a frame header.
pub(crate) const HEADER_LEN: usize = 9;

/// The smallest MAX_FRAME_SIZE, and the default (RFC 9113 §6.5.2).
pub(crate) const DEFAULT_MAX_FRAME: u32 = 1 << 14;
/// The largest MAX_FRAME_SIZE a peer may announce.
pub(crate) const LARGEST_MAX_FRAME: u32 = (1 << 24) - 1;
/// The initial flow-control window of a connection and of a stream.
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;
/// The largest window (2^31 - 1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame types (RFC 9113 §6).
pub(crate) mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub(crate) mod flag {
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// Error codes (RFC 9113 §7): the ones this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum ErrorCode {
    NoError = 0x0,
    ProtocolError = 0x1,
    FlowControlError = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    CompressionError = 0x9,
    EnhanceYourCalm = 0xb,
}

/// Setting identifiers (RFC 9113 §6.5.2).
pub(crate) mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Payload length.
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// The 9 bytes of a frame header.
pub(crate) fn header(len: u32, kind: u8, flags: u8, stream: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    let s = stream.to_be_bytes();
    [l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]]
}

/// One setting of a SETTINGS payload.
pub(crate) fn setting(id: u16, value: u32) -> [u8; 6] {
    let i = id.to_be_bytes();
    let v = value.to_be_bytes();
    [i[0], i[1], v[0], v[1], v[2], v[3]]
}

/// The (id, value) pairs of a SETTINGS payload (its length a multiple of
/// 6, checked by the caller).
pub(crate) fn settings(payload: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    payload.chunks_exact(6).map(|s| {
        (
            u16::from_be_bytes([s[0], s[1]]),
            u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
        )
    })
}

/// A whole GOAWAY frame: the last stream this server will process, and why.
pub(crate) fn goaway(last_stream: u32, code: ErrorCode) -> [u8; HEADER_LEN + 8] {
    let mut f = [0u8; HEADER_LEN + 8];
    f[..HEADER_LEN].copy_from_slice(&header(8, kind::GOAWAY, 0, 0));
    f[9..13].copy_from_slice(&(last_stream & MAX_WINDOW).to_be_bytes());
    f[13..].copy_from_slice(&(code as u32).to_be_bytes());
    f
}

/// A whole RST_STREAM frame.
pub(crate) fn rst_stream(stream: u32, code: ErrorCode) -> [u8; HEADER_LEN + 4] {
    let mut f = [0u8; HEADER_LEN + 4];
    f[..HEADER_LEN].copy_from_slice(&header(4, kind::RST_STREAM, 0, stream));
    f[9..].copy_from_slice(&(code as u32).to_be_bytes());
    f
}

/// A whole WINDOW_UPDATE frame (`stream` 0: the connection's window).
pub(crate) fn window_update(stream: u32, increment: u32) -> [u8; HEADER_LEN + 4] {
    let mut f = [0u8; HEADER_LEN + 4];
    f[..HEADER_LEN].copy_from_slice(&header(4, kind::WINDOW_UPDATE, 0, stream));
    f[9..].copy_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
    f
}

/// A PING ACK echoing `data`.
pub(crate) fn ping_ack(data: &[u8; 8]) -> [u8; HEADER_LEN + 8] {
    let mut f = [0u8; HEADER_LEN + 8];
    f[..HEADER_LEN].copy_from_slice(&header(8, kind::PING, flag::ACK, 0));
    f[9..].copy_from_slice(data);
    f
}

/// An empty SETTINGS frame with ACK.
pub(crate) const SETTINGS_ACK: [u8; HEADER_LEN] = [0, 0, 0, kind::SETTINGS, flag::ACK, 0, 0, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let h = header(
            0x01_02_03,
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            7,
        );
        assert_eq!(h, [1, 2, 3, 1, 5, 0, 0, 0, 7]);
        assert_eq!(
            Header::parse(&h),
            Header {
                len: 0x01_02_03,
                kind: kind::HEADERS,
                flags: 5,
                stream: 7
            }
        );
        // The reserved bit is ignored on receipt.
        let r = Header::parse(&[0, 0, 0, 0, 0, 0x80, 0, 0, 3]);
        assert_eq!(r.stream, 3);
    }

    #[test]
    fn payloads() {
        assert_eq!(
            goaway(5, ErrorCode::EnhanceYourCalm),
            [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0xb]
        );
        assert_eq!(rst_stream(3, ErrorCode::RefusedStream)[9..], [0, 0, 0, 7]);
        assert_eq!(window_update(0, 1 << 20)[9..], [0, 0x10, 0, 0]);
        assert_eq!(ping_ack(b"12345678")[4], flag::ACK);
        let s: Vec<(u16, u32)> =
            settings(&[setting(3, 100), setting(4, 1 << 20)].concat()).collect();
        assert_eq!(s, [(3, 100), (4, 1 << 20)]);
        assert_eq!(Header::parse(&SETTINGS_ACK).kind, kind::SETTINGS);
    }
}
