//! `tarweb-pack/src/rules/fuzzing.rs` (`redirects`) says what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tarweb_fuzz::redirects(data));
