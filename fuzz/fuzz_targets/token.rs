//! libFuzzer entry point; the checks live in `fngate_fuzz::token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fngate_fuzz::token::check(data);
});
