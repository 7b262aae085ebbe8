//! Pack memory is bounded by the site's index and the files being
//! compressed, not by the site: the real binary packs a site of 200 MiB
//! (from a directory, from a tar on standard input, and with `--reuse` of
//! a blob of that size) within a peak resident set a fraction of it.
//!
//! Peak RSS is the kernel's (`ru_maxrss` of the child, read by a Python
//! wrapper: the Rust standard library has no `getrusage`), not a timing:
//! it does not depend on the machine's load.

use std::path::Path;
use std::process::{Command, Stdio};

mod common;

/// Files of incompressible bytes (the packer tries no coding on `.png`),
/// and one compressible text file so that compression jobs run too.
const BIG_FILES: usize = 25;
const BIG: usize = 8 << 20;
const TEXT: usize = 256 << 10;

/// Well above the packer's own need here (about 20 MiB: its index, a
/// chunk buffer, the text file's compressors, whose state grows with the
/// file up to their window, 8 to 16 MiB) and far below the site (200
/// MiB), which a packer holding the site's bytes exceeds (300 MiB before).
const BOUND_KIB: u64 = 96 << 10;

fn site(dir: &Path) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..BIG_FILES {
        let bytes = common::noise(&mut x, BIG);
        std::fs::write(dir.join(format!("img{i:02}.png")), bytes).unwrap();
    }
    let text: String = (0..)
        .map(|i| format!("<li id=\"n{i}\">item {}</li>\n", i % 977))
        .take_while({
            let mut n = 0;
            move |s: &String| {
                n += s.len();
                n <= TEXT
            }
        })
        .collect();
    std::fs::write(dir.join("index.html"), text).unwrap();
}

/// Runs `tarweb-pack ARGS` (stdin from `stdin` if given) and returns its
/// peak RSS in KiB; the pack must succeed.
fn peak_kib(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> u64 {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:])\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                  sys.exit(r.returncode)";
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_tarweb-pack"))
        .args(args)
        .stderr(Stdio::inherit());
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).unwrap());
    }
    let o = cmd.output().expect("running python3");
    assert!(o.status.success(), "pack failed: {args:?}");
    String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
}

#[test]
fn peak_rss_is_far_below_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    std::fs::create_dir(&dir).unwrap();
    site(&dir);
    let site_kib = ((BIG_FILES * BIG + TEXT) >> 10) as u64;
    let out = tmp.path().join("a.twb");
    let q = std::ffi::OsStr::new("-q");
    let o = std::ffi::OsStr::new("-o");

    let from_dir = peak_kib(&[dir.as_os_str(), o, out.as_os_str(), q], None);
    let blob = std::fs::read(&out).unwrap();
    assert!(
        blob.len() as u64 > site_kib << 10,
        "the blob holds the site"
    );
    drop(blob);

    // A tar on standard input cannot be read twice: it is streamed into
    // the packer's scratch file, not held.
    let tar = tmp.path().join("site.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out_tar = tmp.path().join("b.twb");
    let dash = std::ffi::OsStr::new("-");
    let from_stdin = peak_kib(&[dash, o, out_tar.as_os_str(), q], Some(&tar));
    std::fs::remove_file(&tar).unwrap();

    // `--reuse` reads the old blob's index, not the blob.
    let out_reuse = tmp.path().join("c.twb");
    let reuse = std::ffi::OsStr::new("--reuse");
    let with_reuse = peak_kib(
        &[
            dir.as_os_str(),
            o,
            out_reuse.as_os_str(),
            q,
            reuse,
            out.as_os_str(),
        ],
        None,
    );

    for (what, kib) in [
        ("directory", from_dir),
        ("tar on stdin", from_stdin),
        ("--reuse", with_reuse),
    ] {
        eprintln!("{what}: peak RSS {kib} KiB");
        assert!(
            kib < BOUND_KIB,
            "{what}: peak RSS {kib} KiB for a site of {site_kib} KiB (bound {BOUND_KIB} KiB)"
        );
    }
    // The three are the same blob.
    let digest = |p: &Path| blake3::hash(&std::fs::read(p).unwrap());
    assert_eq!(digest(&out), digest(&out_tar));
    assert_eq!(digest(&out), digest(&out_reuse));
}
