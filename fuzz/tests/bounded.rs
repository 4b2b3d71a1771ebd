//! The fuzz targets, bounded and deterministic, as part of `cargo test`: every seed, then a fixed
//! number of fixed-seed mutations of them (see `fngate_fuzz::mutate`). A failure prints the input
//! to reproduce it with `scripts/fuzz.sh <target>` or by adding it to `fuzz/seeds/<target>/`.
//!
//! Budget: the whole file runs in well under a minute on CI's two cores (debug build).

use std::panic::{AssertUnwindSafe, catch_unwind};

use fngate_fuzz::mutate::{Rng, mutate_bytes, mutate_json};
use fngate_fuzz::seeds::{dictionary, seeds};
use fngate_fuzz::{fdk_response, funcfile, path, spec, token};
use serde_json::{Value, json};

/// Runs `check` on `input`; on a panic, fails the test with the input spelled out.
fn run<T>(target: &str, case: &str, input: &[u8], check: impl Fn(&[u8]) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| check(input))) {
        Ok(verdict) => verdict,
        Err(_) => panic!(
            "{target}: invariant broken by {case}; input ({} bytes): {:?}",
            input.len(),
            String::from_utf8_lossy(input)
        ),
    }
}

/// Mutates JSON as a tree when it is JSON, else as bytes.
fn mutate_text(rng: &mut Rng, input: &[u8], dict: &[Vec<u8>], pool: &[Vec<u8>], trees: &[Value]) -> Vec<u8> {
    if rng.below(3) > 0
        && let Ok(mut value) = serde_json::from_slice::<Value>(input)
    {
        mutate_json(rng, &mut value, dict, trees);
        return value.to_string().into_bytes();
    }
    let mut out = input.to_vec();
    mutate_bytes(rng, &mut out, dict, pool);
    out
}

fn trees(pool: &[Vec<u8>]) -> Vec<Value> {
    pool.iter().filter_map(|s| serde_json::from_slice(s).ok()).collect()
}

#[test]
fn spec_parser_holds_its_invariants() {
    let pool = seeds("spec");
    assert!(pool.len() >= 5, "the spec seeds are missing");
    let dict = dictionary("spec");
    let trees = trees(&pool);
    let mut accepted = 0;
    for (i, seed) in pool.iter().enumerate() {
        run("spec", &format!("seed {i}"), seed, spec::check);
        if let Ok(text) = std::str::from_utf8(seed) {
            accepted += usize::from(spec::check_document(text, fngate_spec::SpecFormat::Json));
        }
    }
    assert!(
        accepted >= 3,
        "most example specs must parse: the round trip is otherwise never checked"
    );
    let mut rng = Rng::new(0x5bec);
    for n in 0..1500 {
        let seed = &pool[rng.below(pool.len())];
        let input = mutate_text(&mut rng, seed, &dict, &pool, &trees);
        run("spec", &format!("mutation {n}"), &input, spec::check);
    }
}

/// The token seeds: what each signer is expected to get for a well-formed header and claims.
fn token_cases() -> Vec<(token::Signer, Value, Value, token::Verdict)> {
    use token::Signer::*;
    use token::Verdict::*;
    let claims = token::default_claims();
    let h = |alg: &str, kid: &str| json!({"alg": alg, "kid": kid, "typ": "JWT"});
    vec![
        (Rs256, h("RS256", token::RSA_KID), claims.clone(), Accepted),
        (Ps256, h("PS256", token::RSA_KID), claims.clone(), Accepted),
        (Es256, h("ES256", token::EC_KID), claims.clone(), Accepted),
        // Correct signatures the policy must still refuse.
        (Rs384, h("RS384", token::RSA_KID), claims.clone(), Rejected),
        (Rs512, h("RS512", token::RSA_KID), claims.clone(), Rejected),
        (Rs256, h("RS256", token::EC_KID), claims.clone(), Rejected),
        (Rs256, h("PS256", token::RSA_KID), claims.clone(), Rejected),
        (Es256, h("RS256", token::EC_KID), claims.clone(), Rejected),
        (Hs256RsaPublic, h("HS256", token::RSA_KID), claims.clone(), Rejected),
        (Hs256EcPublic, h("HS256", token::EC_KID), claims.clone(), Rejected),
        (Empty, h("none", token::RSA_KID), claims.clone(), Rejected),
        (Junk, h("none", token::RSA_KID), claims.clone(), Rejected),
        (Junk, h("RS256", token::RSA_KID), claims.clone(), Rejected),
        (Es256Untrusted, h("ES256", token::EC_KID), claims.clone(), Rejected),
        (
            Rs256,
            json!({"alg": "RS256", "kid": token::RSA_KID, "crit": ["exp"]}),
            claims.clone(),
            Rejected,
        ),
        // Claims that are wrong, signed correctly.
        (
            Es256,
            h("ES256", token::EC_KID),
            json!({"exp": 1, "iss": token::ISSUER, "aud": token::AUDIENCE, "azp": "client-a"}),
            Rejected,
        ),
        (
            Es256,
            h("ES256", token::EC_KID),
            json!({"exp": 4102444800u64, "iss": "https://evil.example/", "aud": token::AUDIENCE, "azp": "client-a"}),
            Rejected,
        ),
        (
            Es256,
            h("ES256", token::EC_KID),
            json!({"exp": 4102444800u64, "iss": token::ISSUER, "aud": ["other"], "azp": "client-a"}),
            Rejected,
        ),
        (
            Es256,
            h("ES256", token::EC_KID),
            json!({"exp": 4102444800u64, "iss": token::ISSUER, "aud": token::AUDIENCE}),
            Rejected,
        ),
        (
            Es256,
            h("ES256", token::EC_KID),
            json!({"exp": "4102444800", "iss": token::ISSUER, "aud": token::AUDIENCE, "azp": "client-a"}),
            Rejected,
        ),
    ]
}

#[test]
fn token_validation_accepts_only_what_it_must() {
    for (i, (signer, header, claims, expected)) in token_cases().into_iter().enumerate() {
        let input = token::input(signer, &header, &claims);
        let got = run("token", &format!("case {i}"), &input, token::check);
        assert_eq!(got, expected, "case {i}: {signer:?} {header} {claims}");
    }
    // A duplicate `alg` (the second saying `none`) never gets through, however it is spelled.
    let mut dup = vec![token::Signer::Rs256.to_byte()];
    dup.extend_from_slice(br#"{"alg":"RS256","kid":"rsa-1","alg":"none"}"#);
    assert_eq!(token::check(&dup), token::Verdict::Rejected);
}

#[test]
fn token_parser_holds_its_invariants() {
    let mut pool: Vec<Vec<u8>> = seeds("token");
    pool.extend(token_cases().into_iter().map(|(s, h, c, _)| token::input(s, &h, &c)));
    let dict = dictionary("token");
    let parts: Vec<Value> = token_cases().into_iter().flat_map(|(_, h, c, _)| [h, c]).collect();
    let mut rng = Rng::new(0x70ce);
    for n in 0..1500 {
        let seed = &pool[rng.below(pool.len())];
        let input = match rng.below(4) {
            // Mutate the header or the claims as JSON, then re-sign (possibly with another signer).
            0 | 1 => {
                let (selector, rest) = seed.split_first().unwrap_or((&1, &[]));
                let nul = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                let (header, claims) = (&rest[..nul], rest.get(nul + 1..).unwrap_or(&[]));
                let (mut header, mut claims) = (header.to_vec(), claims.to_vec());
                let target = if rng.chance(2) { &mut header } else { &mut claims };
                *target = mutate_text(&mut rng, target, &dict, &pool, &parts);
                let selector = if rng.chance(4) { rng.next_u64() as u8 } else { *selector };
                let mut out = vec![selector];
                out.extend_from_slice(&header);
                out.push(0);
                out.extend_from_slice(&claims);
                out
            }
            // Raw tokens: the parts as sent, mutated as bytes.
            2 => {
                let mut out = seed.clone();
                mutate_bytes(&mut rng, &mut out, &dict, &pool);
                out
            }
            _ => {
                let mut out = vec![0];
                out.extend_from_slice(&seed[1..]);
                mutate_bytes(&mut rng, &mut out, &dict, &pool);
                out
            }
        };
        run("token", &format!("mutation {n}"), &input, token::check);
    }
}

#[test]
fn funcfile_parser_holds_its_invariants() {
    let pool = seeds("funcfile");
    assert!(pool.len() >= 4, "the func.yaml seeds are missing");
    let dict = dictionary("funcfile");
    let mut accepted = 0;
    for (i, seed) in pool.iter().enumerate() {
        accepted += usize::from(run("funcfile", &format!("seed {i}"), seed, funcfile::check));
    }
    assert!(accepted >= 4, "what `fngate init` writes must parse");
    let trees: Vec<Value> = pool.iter().filter_map(|s| serde_yaml_ng::from_slice(s).ok()).collect();
    let mut rng = Rng::new(0xf11e);
    for n in 0..2000 {
        let seed = &pool[rng.below(pool.len())];
        let input = match serde_yaml_ng::from_slice::<Value>(seed) {
            Ok(mut value) if rng.chance(2) => {
                mutate_json(&mut rng, &mut value, &dict, &trees);
                serde_yaml_ng::to_string(&value).unwrap_or_default().into_bytes()
            }
            _ => {
                let mut out = seed.clone();
                mutate_bytes(&mut rng, &mut out, &dict, &pool);
                out
            }
        };
        run("funcfile", &format!("mutation {n}"), &input, funcfile::check);
    }
}

#[test]
fn fdk_response_reading_holds_its_invariants() {
    let pool = seeds("fdk_response");
    assert!(pool.len() >= 4, "the FDK response seeds are missing");
    let dict = dictionary("fdk_response");
    let mut answered = 0;
    for (i, seed) in pool.iter().enumerate() {
        let outcome = run("fdk_response", &format!("seed {i}"), seed, fdk_response::check);
        answered += usize::from(matches!(outcome, fdk_response::Outcome::Answered { .. }));
    }
    assert!(answered >= 2, "the well-formed FDK answers must get through");
    let mut rng = Rng::new(0xfd4);
    for n in 0..1000 {
        let seed = &pool[rng.below(pool.len())];
        let mut input = seed.clone();
        mutate_bytes(&mut rng, &mut input, &dict, &pool);
        run("fdk_response", &format!("mutation {n}"), &input, fdk_response::check);
    }
}

#[test]
fn path_normaliser_holds_its_invariants() {
    let pool = seeds("path");
    assert!(pool.len() >= 8, "the path seeds are missing");
    let dict = dictionary("path");
    let mut accepted = 0;
    for (i, seed) in pool.iter().enumerate() {
        accepted += usize::from(run("path", &format!("seed {i}"), seed, path::check));
    }
    assert!(accepted >= 4, "the normal and normalisable seeds must be accepted");
    let mut rng = Rng::new(0x9a7);
    for n in 0..20000 {
        let seed = &pool[rng.below(pool.len())];
        let mut input = seed.clone();
        mutate_bytes(&mut rng, &mut input, &dict, &pool);
        run("path", &format!("mutation {n}"), &input, path::check);
    }
}

/// Writes the seeds of `$FNGATE_FUZZ_TARGET` (token cases included) into `$FNGATE_FUZZ_CORPUS`:
/// how `scripts/fuzz.sh` starts libFuzzer's corpus from exactly the inputs this file replays.
#[test]
#[ignore = "run by scripts/fuzz.sh"]
fn write_corpus() {
    let (Ok(dir), Ok(target)) = (std::env::var("FNGATE_FUZZ_CORPUS"), std::env::var("FNGATE_FUZZ_TARGET")) else {
        panic!("set FNGATE_FUZZ_CORPUS and FNGATE_FUZZ_TARGET");
    };
    let mut inputs = seeds(&target);
    if target == "token" {
        inputs.extend(token_cases().into_iter().map(|(s, h, c, _)| token::input(s, &h, &c)));
    }
    std::fs::create_dir_all(&dir).expect("corpus directory");
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(format!("{dir}/seed-{i:03}"), input).expect("write a seed");
    }
}
