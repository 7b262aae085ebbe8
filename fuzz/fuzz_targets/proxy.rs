//! `tarweb_serve::fuzzing::proxy` says what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tarweb_serve::fuzzing::proxy(data));
