//! libFuzzer entry point; the checks live in `fngate_fuzz::path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fngate_fuzz::path::check(data);
});
