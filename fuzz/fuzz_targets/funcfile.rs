//! libFuzzer entry point; the checks live in `fngate_fuzz::funcfile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fngate_fuzz::funcfile::check(data);
});
