//! Encodes bodies with gzip, brotli and zstd, checks precompressed siblings,
//! and decides which variants are worth keeping.

use anyhow::{bail, Context};
use std::io::{Read, Write};
use tarweb_format::Coding;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// gzip with zopfli (smaller, ~100x slower) instead of zlib level 9.
    pub zopfli: bool,
}

/// The compressors and settings of [`encode`], in words. Change it (a word
/// will do) whenever an encoder or its settings change what it writes:
/// [`encoder_id`] hashes it, and `--reuse` copies variants only from a blob
/// with the same id. `encoders_write_what_they_wrote` guards it against a
/// dependency upgrade that changes the output silently.
const ENCODERS: &str = "gzip: libdeflate level 9, or zopfli defaults; \
    br: brotlic (Google's C encoder 1.0.9) quality 11, the CLI's window; \
    zstd: level 19, window log 23, no checksum";

/// The blob's `encoder` id for these options: the first 8 bytes of blake3
/// over [`ENCODERS`], this release's version and the gzip choice.
pub fn encoder_id(opts: Options) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(ENCODERS.as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(if opts.zopfli {
        b"zopfli"
    } else {
        b"libdeflate"
    });
    h.finalize().as_bytes()[..8].try_into().expect("8 bytes")
}

/// Compresses `data` with `coding` (not identity), at the levels the
/// product promises: gzip 9, brotli 11, zstd 19 with a window of at most
/// 8 MiB (RFC 9659: browsers may refuse larger).
pub fn encode(data: &[u8], coding: Coding, opts: Options) -> Vec<u8> {
    match coding {
        Coding::Identity => data.to_vec(),
        Coding::Gzip if opts.zopfli => {
            let mut out = Vec::new();
            zopfli::compress(
                zopfli::Options::default(),
                zopfli::Format::Gzip,
                data,
                &mut out,
            )
            .expect("writing to a Vec cannot fail");
            out
        }
        // libdeflate at level 9: measured on python3.11-doc, 1% smaller than
        // GNU `gzip -9` and zlib(-rs) level 9, and as fast (bench/pack.sh).
        Coding::Gzip => {
            let mut c = libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(9).expect("level 9 exists"),
            );
            let mut out = vec![0; c.gzip_compress_bound(data.len())];
            let n = c
                .gzip_compress(data, &mut out)
                .expect("the output buffer has the bound's size");
            out.truncate(n);
            out
        }
        // Google's C encoder (1.0.9, vendored by brotlic-sys) with the window
        // `brotli -q 11` picks: the smallest that holds the file, at most 24
        // (what every browser takes). Measured on python3.11-doc: byte for byte
        // the CLI's output, 14% less CPU than the Rust port (`brotli` crate),
        // whose q11 output was 363 bytes larger in 8.9 MB.
        Coding::Br => {
            let enc = brotlic::BrotliEncoderOptions::new()
                .quality(brotlic::Quality::new(11).expect("quality 11 exists"))
                .window_size(brotlic::WindowSize::new(cli_window(data.len())).expect("10..=24"))
                .size_hint(u32::try_from(data.len()).unwrap_or(u32::MAX))
                .build()
                .expect("quality 11 with a window of 10..=24 is valid");
            let mut w = brotlic::CompressorWriter::with_encoder(enc, Vec::new());
            w.write_all(data).expect("writing to a Vec cannot fail");
            w.into_inner().expect("flushing into a Vec cannot fail")
        }
        Coding::Zstd => {
            let mut c = zstd::bulk::Compressor::new(19).expect("zstd level 19 exists");
            c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(23))
                .expect("window log 23 is valid");
            c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(false))
                .expect("checksum flag is valid");
            c.compress(data).expect("zstd compression of a slice")
        }
    }
}

/// The window `brotli` (the CLI) uses for a file of `len` bytes: the
/// smallest whose reach (2^w - 16) covers the file, between 10 and 24.
fn cli_window(len: usize) -> u8 {
    let mut w = 10;
    while w < 24 && (1usize << w) - 16 < len {
        w += 1;
    }
    w
}

/// Decodes `enc` (at most `limit` bytes out, so a bomb cannot blow up).
pub fn decode(enc: &[u8], coding: Coding, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = limit as u64 + 1;
    match coding {
        Coding::Identity => out.extend_from_slice(enc),
        Coding::Gzip => {
            flate2::read::MultiGzDecoder::new(enc)
                .take(cap)
                .read_to_end(&mut out)
                .context("invalid gzip data")?;
        }
        Coding::Br => {
            brotli::Decompressor::new(enc, 64 << 10)
                .take(cap)
                .read_to_end(&mut out)
                .context("invalid brotli data")?;
        }
        Coding::Zstd => {
            zstd::stream::read::Decoder::new(enc)
                .context("invalid zstd data")?
                .take(cap)
                .read_to_end(&mut out)
                .context("invalid zstd data")?;
        }
    }
    if out.len() > limit {
        bail!("decodes to more than {limit} bytes");
    }
    Ok(out)
}

/// What a variant costs on the wire: its `Content-Encoding` line, and the
/// `Vary` line every response of the route then carries.
pub const HEADER_COST: usize =
    "Content-Encoding: gzip\r\n".len() + "Vary: Accept-Encoding\r\n".len();

/// A variant is kept when it saves more than the header bytes it costs.
pub fn worth_keeping(identity_len: usize, encoded_len: usize) -> bool {
    encoded_len + HEADER_COST < identity_len
}

/// Smallest body that could pass `worth_keeping` (every coding adds at
/// least ~9 bytes of framing): below it, don't even try.
pub const MIN_COMPRESS_LEN: usize = HEADER_COST + 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coding_round_trips() {
        let data = b"<p>hello, hello, hello world</p>\n".repeat(200);
        for c in [Coding::Gzip, Coding::Br, Coding::Zstd] {
            for zopfli in [false, true] {
                let enc = encode(&data, c, Options { zopfli });
                assert!(enc.len() < data.len() / 10, "{c:?}");
                assert_eq!(decode(&enc, c, data.len()).unwrap(), data);
            }
        }
    }

    #[test]
    fn deterministic() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 97) as u8).collect();
        for c in [Coding::Gzip, Coding::Br, Coding::Zstd] {
            assert_eq!(
                encode(&data, c, Options::default()),
                encode(&data, c, Options::default())
            );
        }
    }

    #[test]
    fn zstd_window_is_at_most_8_mib() {
        let data: Vec<u8> = (0..9u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let enc = encode(&data, Coding::Zstd, Options::default());
        // Frame header: magic, descriptor; window descriptor follows unless single-segment.
        let fhd = enc[4];
        let single_segment = fhd & 0x20 != 0;
        assert!(!single_segment, "a 9 MiB frame must declare its window");
        let wd = enc[5];
        let (exp, mant) = (u64::from(wd >> 3), u64::from(wd & 7));
        let base = 1u64 << (10 + exp);
        let window = base + base / 8 * mant;
        assert!(window <= 8 << 20, "window {window}");
    }

    #[test]
    fn decode_limits_output() {
        let data = vec![0u8; 1 << 20];
        let enc = encode(&data, Coding::Gzip, Options::default());
        assert!(decode(&enc, Coding::Gzip, 1000).is_err());
        assert!(decode(b"not gzip", Coding::Gzip, 1000).is_err());
    }

    #[test]
    fn brotli_window_is_the_clis() {
        assert_eq!(cli_window(0), 10);
        assert_eq!(cli_window(1008), 10);
        assert_eq!(cli_window(1009), 11);
        assert_eq!(cli_window(4 << 20), 23);
        assert_eq!(cli_window(64 << 20), 24);
    }

    /// What each encoder writes for a fixed input, hashed. When this fails,
    /// an encoder's output changed (a dependency upgrade, a setting): change
    /// [`ENCODERS`] so that blobs packed before are not reused, then the
    /// expected hashes here.
    #[test]
    fn encoders_write_what_they_wrote() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("<li id=\"n{i}\">{}</li>\n", i % 977).into_bytes())
            .take(300_000)
            .collect();
        let mut h = blake3::Hasher::new();
        for (c, zopfli) in [
            (Coding::Gzip, false),
            (Coding::Gzip, true),
            (Coding::Br, false),
            (Coding::Zstd, false),
        ] {
            h.update(&encode(
                &data[..if zopfli { 20_000 } else { data.len() }],
                c,
                Options { zopfli },
            ));
        }
        assert_eq!(h.finalize().to_hex()[..16], *"bdecb77c4b116164");
    }

    #[test]
    fn encoder_ids_differ_with_the_gzip_choice() {
        let a = encoder_id(Options { zopfli: false });
        assert_ne!(a, encoder_id(Options { zopfli: true }));
        assert_ne!(a, [0; 8], "zero means 'not said'");
    }

    #[test]
    fn keeping_rule() {
        assert_eq!(HEADER_COST, 47);
        assert!(!worth_keeping(100, 53));
        assert!(worth_keeping(100, 52));
        assert!(worth_keeping(1_000_000, 999_000));
        assert!(!worth_keeping(40, 0));
    }
}
