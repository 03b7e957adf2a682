#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| devauth_server::fuzzing::oauth_form(data));
