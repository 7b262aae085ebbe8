//! What every worker is told at start: limits, timeouts, the fixed header
//! lines, TLS. Built once by `server`, shared read-only.

use crate::tls::Tls;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Config {
    /// `Server: ...\r\n` or empty.
    pub server_line: Vec<u8>,
    pub max_requests: u32,
    pub max_conns: usize,
    pub max_body: u64,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub sendfile_threshold: u64,
    /// Send `Tarweb-Root: <digest>` with every response from a blob.
    pub root_header: bool,
    /// HTTPS listeners serve with this.
    pub tls: Option<Arc<Tls>>,
    /// `--redirect-https`: plain listeners answer 308 to https://, with
    /// this after the host (`:PORT`, empty for 443).
    pub redirect_https: Option<String>,
    /// `--redirect-host`: names redirected besides the sites' and the
    /// certificates' own.
    pub redirect_hosts: Vec<String>,
    /// `--http2`: HTTP/2 by ALPN on TLS and by prior knowledge on plain
    /// connections.
    pub http2: bool,
    /// `--proxy-protocol`: every connection starts with a PROXY header.
    pub proxy_protocol: bool,
    /// `--proxy-from`: the only peers that may connect (empty: any).
    pub proxy_from: Vec<ipnet::IpNet>,
    /// ACME is on: plain listeners answer HTTP-01 challenges from here.
    pub acme: Option<Arc<crate::acme::Challenges>>,
}

impl Config {
    /// Whether a connection from `peer` may be served (`--proxy-from`).
    pub fn peer_allowed(&self, peer: Option<std::net::SocketAddr>) -> bool {
        if self.proxy_from.is_empty() {
            return true;
        }
        // A v4 client on a dual-stack socket comes as ::ffff:a.b.c.d.
        let Some(ip) = peer.map(|p| p.ip().to_canonical()) else {
            return false;
        };
        self.proxy_from.iter().any(|net| net.contains(&ip))
    }
}
