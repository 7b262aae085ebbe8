//! The six suites every kTLS scenario runs with (TLS 1.3 and 1.2, the
//! three AEADs the kernel takes), shared by the probe and serve-check.

use rustls::crypto::ring;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

pub struct Suite {
    pub name: &'static str,
    pub version: &'static SupportedProtocolVersion,
    pub suite: SupportedCipherSuite,
}

pub fn suites() -> Vec<Suite> {
    use ring::cipher_suite as cs;
    let t13 = &rustls::version::TLS13;
    let t12 = &rustls::version::TLS12;
    vec![
        Suite {
            name: "tls13-aes128gcm",
            version: t13,
            suite: cs::TLS13_AES_128_GCM_SHA256,
        },
        Suite {
            name: "tls13-aes256gcm",
            version: t13,
            suite: cs::TLS13_AES_256_GCM_SHA384,
        },
        Suite {
            name: "tls13-chacha20",
            version: t13,
            suite: cs::TLS13_CHACHA20_POLY1305_SHA256,
        },
        Suite {
            name: "tls12-ecdhe-aes128gcm",
            version: t12,
            suite: cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        },
        Suite {
            name: "tls12-ecdhe-aes256gcm",
            version: t12,
            suite: cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        },
        Suite {
            name: "tls12-ecdhe-chacha20",
            version: t12,
            suite: cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        },
    ]
}
