//! The validating reader on arbitrary bytes: it must refuse or accept, never
//! panic or read out of bounds; whatever it accepts must be fully walkable.
//! Both with the digests checked (what a server does) and skipped (so the
//! fuzzer reaches the structural checks without forging blake3), whole at
//! load and lazily (each variant by `Blob::verify`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarweb_format::{Blob, Verify};

fuzz_target!(|data: &[u8]| {
    // Loaded lazily, a variant not yet checked may be read through its
    // handle (what a server reads before the check: coding, length, ETag)
    // and then checked: neither may panic.
    for verify in [Verify::LazySkipDigest, Verify::Lazy(1)] {
        if let Ok(blob) = Blob::parse_with(data, verify) {
            for r in blob.routes() {
                for v in r.variants().iter() {
                    let _ = (v.coding(), v.body_len(), v.etag(), v.fields(), v.body());
                    let _ = &v.h2_head()[..v.h2_status_len() + v.h2_length_len()];
                    let _ = blob.verify(v, r.status());
                }
            }
            if let Some(nf) = blob.not_found() {
                let _ = blob.verify(nf.identity(), 404);
            }
        }
    }
    for verify in [Verify::SkipDigest, Verify::Full] {
        if let Ok(blob) = Blob::parse_with(data, verify) {
            let _ = blob.encoder();
            for r in blob.routes() {
                assert!(blob.lookup(r.path()).is_some());
                let _ = (r.status(), r.last_modified());
                for v in r.variants().iter() {
                    // The one flag an identity variant never carries.
                    assert!(!(v.site_encoded() && v.coding() == tarweb_format::Coding::Identity));
                    let _ = (v.head(), v.status_line(), v.length_line(), v.fields(), v.body(), v.etag(), v.site_encoded());
                    let _ = &v.h2_head()[..v.h2_status_len() + v.h2_length_len()];
                    if let Some(nm) = v.not_modified() {
                        let _ = (nm.status_line(), nm.fields(), &nm.h2_head[..nm.h2_status_len]);
                    }
                }
                let _ = r.variants().identity();
            }
            if let Some(nf) = blob.not_found() {
                let _ = nf.identity().body();
            }
        }
    }
});
