//! `tarweb-pack/src/rules/fuzzing.rs` (`headers`) says what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tarweb_fuzz::headers(data));
