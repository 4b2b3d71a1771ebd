//! libFuzzer entry point; the checks live in `fngate_fuzz::fdk_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fngate_fuzz::fdk_response::check(data);
});
