//! Helper for bench/auth/run.sh (not part of the library): signs the tokens, measures the Authenticator alone.
//!
//! - `auth_bench prepare DIR N`: an RSA-2048 key (aws-lc-rs), `rsa.pub` (PEM, for HAProxy), `jwks.json`,
//!   one Entra-v2-shaped RS256 token `good.jwt`, a token signed by another key `bad.jwt`, and N distinct
//!   tokens in `tokens.txt` (signed on all cores).
//! - `auth_bench micro DIR [distinct]`: the Authenticator alone, in-process: µs per call, repeated vs distinct
//!   tokens (`distinct`: only 100,000 distinct tokens, for profiling).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fngate_auth::{
    AuthConfig, AuthOutcome, AuthRequest, AuthService, Authenticator, JwtConfig, KeySource, SigningAlgorithm,
    StaticKey, TokenLocation,
};
use http::Request;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUDIENCE: &str = "api://fn-gateway";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn new_key() -> Result<(EncodingKey, String), BoxError> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
    let private = pem("PRIVATE KEY", AsDer::<Pkcs8V1Der>::as_der(&pair)?.as_ref());
    let public = pem(
        "PUBLIC KEY",
        AsDer::<PublicKeyX509Der>::as_der(pair.public_key())?.as_ref(),
    );
    Ok((EncodingKey::from_rsa_pem(private.as_bytes())?, public))
}

fn token(key: &EncodingKey, n: u64) -> Result<String, BoxError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some("bench-key-1".into());
    let claims = json!({
        "aud": AUDIENCE, "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now, "nbf": now, "exp": now + 86_400, "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "azpacr": "1", "oid": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11", "scp": "Functions.Invoke",
        "sub": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11", "tid": TENANT, "uti": format!("bench-{n}"), "ver": "2.0"
    });
    Ok(jsonwebtoken::encode(&header, &claims, key)?)
}

fn prepare(dir: &str, count: u64) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let (key, public_pem) = new_key()?;
    let mut jwk = serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::RS256)?)?;
    if let Some(obj) = jwk.as_object_mut() {
        obj.remove("alg");
        obj.insert("kid".into(), json!("bench-key-1"));
        obj.insert("use".into(), json!("sig"));
    }
    std::fs::write(format!("{dir}/rsa.pub"), public_pem)?;
    std::fs::write(format!("{dir}/jwks.json"), json!({"keys": [jwk]}).to_string())?;
    std::fs::write(format!("{dir}/good.jwt"), token(&key, 0)?)?;
    let (wrong, _) = new_key()?;
    std::fs::write(format!("{dir}/bad.jwt"), token(&wrong, 0)?)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let key = &key;
                s.spawn(move || {
                    (1 + t..=count)
                        .step_by(threads as usize)
                        .filter_map(|n| token(key, n).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let all: Vec<String> = chunks.into_iter().flatten().collect();
    std::fs::write(format!("{dir}/tokens.txt"), all.join("\n") + "\n")?;
    eprintln!("prepared {} distinct tokens in {dir}", all.len());
    Ok(())
}

async fn authenticator(dir: &str) -> Result<Arc<Authenticator>, BoxError> {
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/jwks.json"))?)?;
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let config = AuthConfig::Jwt(JwtConfig {
        location: TokenLocation::Header {
            name: "Authorization".into(),
            scheme: Some("Bearer".into()),
        },
        issuers: vec![
            format!("https://sts.windows.net/{TENANT}/"),
            format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        ],
        audiences: vec![AUDIENCE.into()],
        verify_claims: vec![],
        max_clock_skew: Duration::ZERO,
        is_anonymous_access_allowed: false,
        keys: KeySource::StaticKeys(keys.into_iter().map(StaticKey::Jwk).collect()),
        algorithms: SigningAlgorithm::DEFAULT_ALLOWED.to_vec(),
    });
    Ok(AuthService::new(None).build(config).await?)
}

/// `distinct_only` skips the repeated-token loop (for profiling the full verification path alone).
fn micro(dir: &str, distinct_only: bool) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let auth = authenticator(dir).await?;
        let good = std::fs::read_to_string(format!("{dir}/good.jwt"))?;
        let tokens: Vec<String> = std::fs::read_to_string(format!("{dir}/tokens.txt"))?
            .lines()
            .map(str::to_owned)
            .collect();
        let head_for = |t: &str| {
            Request::builder()
                .uri("/bench")
                .header("authorization", format!("Bearer {t}"))
                .body(())
                .map(|r| r.into_parts().0)
        };
        let repeated = head_for(&good)?;
        let runs = if distinct_only { 0 } else { 200_000 };
        let start = Instant::now();
        for _ in 0..runs {
            let outcome = auth
                .authenticate(AuthRequest {
                    head: &repeated,
                    body: b"",
                    realm: "b",
                })
                .await;
            if !matches!(outcome, AuthOutcome::Authenticated(_)) {
                return Err(format!("unexpected outcome {outcome:?}").into());
            }
        }
        let per_repeated = start.elapsed().as_secs_f64() * 1e6 / runs.max(1) as f64;
        let heads: Vec<_> = tokens
            .iter()
            .take(if distinct_only { 100_000 } else { 20_000 })
            .map(|t| head_for(t))
            .collect::<Result<_, _>>()?;
        let start = Instant::now();
        for head in &heads {
            let outcome = auth
                .authenticate(AuthRequest {
                    head,
                    body: b"",
                    realm: "b",
                })
                .await;
            if !matches!(outcome, AuthOutcome::Authenticated(_)) {
                return Err(format!("unexpected outcome {outcome:?}").into());
            }
        }
        let per_distinct = start.elapsed().as_secs_f64() * 1e6 / heads.len() as f64;
        println!("micro_repeated_us={per_repeated:.2}");
        println!("micro_distinct_us={per_distinct:.2}");
        Ok(())
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("prepare") if args.len() == 4 => match args[3].parse() {
            Ok(n) => prepare(&args[2], n),
            Err(e) => Err(format!("N: {e}").into()),
        },
        Some("micro") if args.len() == 3 => micro(&args[2], false),
        Some("micro") if args.len() == 4 && args[3] == "distinct" => micro(&args[2], true),
        _ => Err("usage: auth_bench prepare DIR N | micro DIR [distinct]".into()),
    };
    if let Err(e) = result {
        eprintln!("auth_bench: {e}");
        std::process::exit(1);
    }
}
