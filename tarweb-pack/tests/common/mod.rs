//! Helpers tarweb-pack's integration tests share.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// `len` bytes of xorshift noise from state `x` (advanced): cheap, and no
/// coder can shrink them.
pub fn noise(x: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x as u8
        })
        .collect()
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}
