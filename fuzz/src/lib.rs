//! Fuzz targets for fngate's parsers of untrusted input. Each module's `check(data)` feeds one
//! input to the real parser and panics when an invariant breaks; the same function runs under
//! libFuzzer (`fuzz_targets/`, `scripts/fuzz.sh`) and, bounded and deterministic, in `cargo test`
//! (`tests/bounded.rs`, over the seeds plus fixed-seed mutations from [`mutate`]).
//!
//! Targets: [`spec`] (deployment specification, JSON and YAML, and its path/template grammars),
//! [`token`] (JWT parsing, algorithm choice and claim validation), [`funcfile`] (func.yaml and the
//! deploy version rewrite), [`fdk_response`] (the FDK's HTTP answer and the trigger response built
//! from it), [`path`] (the gateway's request-path normaliser). See docs/notes/fuzzing.md.

pub mod fdk_response;
pub mod funcfile;
pub mod mutate;
pub mod path;
pub mod seeds;
pub mod spec;
pub mod token;
