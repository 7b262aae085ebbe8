//! The PROXY protocol (HAProxy's, v1 text and v2 binary): a load balancer
//! that passes TCP through says, before the first byte of the client's own
//! stream (its request, or its ClientHello), who the client is. The
//! parsing is the `ppp` crate's; this module bounds it and turns its answer
//! into what a connection needs: how many bytes the header took, and the
//! client's address.

use ppp::{v1, v2, HeaderResult, PartialResult};
use std::net::SocketAddr;

/// Longest header accepted: v1's is at most 107 bytes; v2's is 16 bytes
/// plus addresses (at most 216) plus TLVs, which balancers keep small (an
/// ALPN, an authority, a unique id, TLS details). Longer: closed.
pub(crate) const MAX_HEADER: usize = 1024;

/// What the bytes at the start of a connection are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A header so far; more bytes are needed.
    Incomplete,
    /// Not a PROXY header, a malformed one, or one too long: close, with
    /// no answer.
    Invalid,
    /// A header of `len` bytes. `client`: the address it names; `None` for
    /// a v2 `LOCAL` command (a balancer's own health check), v1 `UNKNOWN`,
    /// or an address family that is not IP: the socket's own peer address
    /// stands.
    Header {
        len: usize,
        client: Option<SocketAddr>,
    },
}

/// v1's longest line, CRLF included.
const V1_MAX: usize = 107;

/// Reads a PROXY header at the start of `b`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    let mut window = &b[..b.len().min(MAX_HEADER)];
    let v1 = window.first() != Some(&b'\r');
    if v1 {
        // v1: wait for the whole line (ppp takes a line cut after a space
        // for a malformed one), at most 107 bytes.
        let line = &window[..window.len().min(V1_MAX)];
        match memchr::memchr(b'\n', line) {
            Some(i) => window = &window[..=i],
            None if line.len() < V1_MAX && b"PROXY ".starts_with(&line[..line.len().min(6)]) => {
                return Parsed::Incomplete
            }
            None => return Parsed::Invalid,
        }
    }
    if !v1
        && window.len() >= 16
        && 16 + usize::from(u16::from_be_bytes([window[14], window[15]])) > MAX_HEADER
    {
        return Parsed::Invalid; // announces more than we take: no waiting for it
    }
    // The spec lists the family/protocol bytes a sender may use and says a
    // receiver must refuse the others; ppp reads e.g. 0x20 (IPv6 over an
    // unspecified protocol) as an IPv6 address (found by the fuzz target).
    if !v1
        && window.len() >= 14
        && !matches!(window[13], 0x00 | 0x11 | 0x12 | 0x21 | 0x22 | 0x31 | 0x32)
    {
        return Parsed::Invalid;
    }
    let r = HeaderResult::parse(window);
    if r.is_incomplete() {
        // A whole v1 line can only be wrong; v2 is cut off at the cap.
        return if v1 || window.len() == MAX_HEADER {
            Parsed::Invalid
        } else {
            Parsed::Incomplete
        };
    }
    match r {
        HeaderResult::V1(Ok(h)) => Parsed::Header {
            len: h.header.len(),
            client: match h.addresses {
                v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
                v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
                v1::Addresses::Unknown => None,
            },
        },
        HeaderResult::V2(Ok(h)) => Parsed::Header {
            len: h.len(),
            client: match (h.command, h.addresses) {
                (v2::Command::Local, _) => None,
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some((a.source_address, a.source_port).into())
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some((a.source_address, a.source_port).into())
                }
                (v2::Command::Proxy, v2::Addresses::Unix(_) | v2::Addresses::Unspecified) => None,
            },
        },
        HeaderResult::V1(Err(_)) | HeaderResult::V2(Err(_)) => Parsed::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

    /// A v2 header: command (0x20 LOCAL, 0x21 PROXY), family/protocol
    /// byte, address bytes, then TLV bytes.
    fn v2(cmd: u8, fam: u8, addrs: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.push(cmd);
        v.push(fam);
        v.extend(((addrs.len() + tlvs.len()) as u16).to_be_bytes());
        v.extend_from_slice(addrs);
        v.extend_from_slice(tlvs);
        v
    }

    fn v4_addrs() -> Vec<u8> {
        [[192, 0, 2, 7], [10, 0, 0, 1]]
            .concat()
            .into_iter()
            .chain(40000u16.to_be_bytes())
            .chain(443u16.to_be_bytes())
            .collect()
    }

    fn header(len: usize, client: Option<&str>) -> Parsed {
        Parsed::Header {
            len,
            client: client.map(|c| c.parse().unwrap()),
        }
    }

    #[test]
    fn version_one() {
        let h = b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\n";
        let mut with_request = h.to_vec();
        with_request.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&with_request),
            header(h.len(), Some("192.0.2.7:40000"))
        );
        let h6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n";
        assert_eq!(parse(h6), header(h6.len(), Some("[2001:db8::7]:40000")));
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), header(15, None));
        assert_eq!(
            parse(b"PROXY UNKNOWN ff::1 ff::2 1 2\r\nxyz"),
            header(31, None)
        );
    }

    #[test]
    fn version_two() {
        let h = v2(0x21, 0x11, &v4_addrs(), &[]);
        let mut with_request = h.clone();
        with_request.extend_from_slice(b"\x16\x03\x01");
        assert_eq!(parse(&with_request), header(28, Some("192.0.2.7:40000")));
        // TLVs (here an ALPN, type 0x01) belong to the header.
        let t = v2(0x21, 0x11, &v4_addrs(), &[0x01, 0, 2, b'h', b'2']);
        assert_eq!(parse(&t), header(33, Some("192.0.2.7:40000")));
        let mut a6 = [0u8; 36];
        a6[0] = 0x20;
        a6[1] = 0x01;
        a6[15] = 7;
        a6[32..34].copy_from_slice(&40000u16.to_be_bytes());
        assert_eq!(
            parse(&v2(0x21, 0x21, &a6, &[])),
            header(52, Some("[2001::7]:40000"))
        );
        // LOCAL: the balancer's own connection (health checks).
        assert_eq!(parse(&v2(0x20, 0x00, &[], &[])), header(16, None));
        assert_eq!(parse(&v2(0x20, 0x11, &v4_addrs(), &[])), header(28, None));
    }

    #[test]
    fn every_cut_is_incomplete_and_the_whole_is_not() {
        let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\n".to_vec();
        let v2 = v2(0x21, 0x11, &v4_addrs(), &[0x01, 0, 2, b'h', b'2']);
        for h in [v1, v2] {
            for cut in 0..h.len() {
                assert_eq!(parse(&h[..cut]), Parsed::Incomplete, "{:?}", &h[..cut]);
            }
            assert!(matches!(parse(&h), Parsed::Header { .. }));
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01",
            b"PROXY TCP4 192.0.2.7 10.0.0.1 40000\r\n",
            b"PROXY TCP4 999.0.2.7 10.0.0.1 40000 443\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.1 040000 443\r\n",
            b"PROXY TCP5 192.0.2.7 10.0.0.1 40000 443\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\n",
            b"proxy TCP4 192.0.2.7 10.0.0.1 40000 443\r\n",
        ] {
            assert_eq!(
                parse(bad),
                Parsed::Invalid,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Version 1 of the binary form, and an unknown command.
        assert_eq!(parse(&v2(0x11, 0x11, &v4_addrs(), &[])), Parsed::Invalid);
        assert_eq!(parse(&v2(0x22, 0x11, &v4_addrs(), &[])), Parsed::Invalid);
        // Family/protocol bytes the spec does not list (0x20: IPv6 over an
        // unspecified protocol; 0x13, 0x41), found by the fuzz target.
        let mut a6 = [0u8; 36];
        a6[0] = 0x20;
        for fam in [0x20, 0x10, 0x13, 0x41] {
            assert_eq!(parse(&v2(0x21, fam, &a6, &[])), Parsed::Invalid, "{fam:#x}");
            assert_eq!(parse(&v2(0x21, fam, &a6, &[])[..14]), Parsed::Invalid);
        }
        // Too long: no CRLF within v1's 107 bytes; a v2 header over the cap.
        let long = [&b"PROXY UNKNOWN "[..], &[b'x'; 120]].concat();
        assert_eq!(parse(&long), Parsed::Invalid);
        let big = v2(0x21, 0x11, &v4_addrs(), &vec![0u8; MAX_HEADER]);
        assert_eq!(parse(&big), Parsed::Invalid);
        assert_eq!(parse(&big[..16]), Parsed::Invalid, "the length says so");
        assert_eq!(parse(&big[..15]), Parsed::Incomplete);
        let most = v2(0x21, 0x11, &v4_addrs(), &vec![0u8; MAX_HEADER - 28]);
        assert_eq!(parse(&most[..MAX_HEADER - 1]), Parsed::Incomplete);
        assert!(matches!(
            parse(&most),
            Parsed::Header {
                len: MAX_HEADER,
                ..
            }
        ));
    }
}
