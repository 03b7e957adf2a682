#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| devauth_server::fuzzing::bearer_token(data));
