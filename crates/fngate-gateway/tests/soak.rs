//! A bounded soak (#12): mixed good and bad traffic for `FNGATE_SOAK_SECS` seconds (60 in CI,
//! `CI=true`; 15 by default elsewhere, so a local `cargo test` stays quick), with a JWKS key rotation and two redeploys in the middle.
//! Holds: no 5xx except the ones the test provokes (a route to a closed port), every answer the
//! one its request deserves, and the process's resident memory grows less than [`RSS_BOUND_MIB`]
//! from the end of the warm-up to the end.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{TestGateway, Upstream, client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::RwLock;

/// Resident-set growth allowed between the end of the warm-up and the end of the soak.
const RSS_BOUND_MIB: u64 = 16;

struct Key {
    kid: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    // The JWK's modulus and exponent, from the public key's DER (PKCS#1 RSAPublicKey).
    let (n, e) = rsa_components(rcgen::PublicKeyData::der_bytes(&pair));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Key {
        kid: kid.into(),
        encoding: jsonwebtoken::EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap(),
        jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64.encode(n), "e": b64.encode(e)}),
    }
}

/// Reads a DER length at `at`; returns (length, bytes used).
fn der_len(der: &[u8], at: usize) -> (usize, usize) {
    let first = der[at];
    if first < 0x80 {
        return (usize::from(first), 1);
    }
    let count = usize::from(first & 0x7f);
    let mut len = 0usize;
    for i in 0..count {
        len = (len << 8) | usize::from(der[at + 1 + i]);
    }
    (len, 1 + count)
}

/// Steps into a DER element at `at` (tag, length); returns the content's start and length.
fn der_enter(der: &[u8], at: usize) -> (usize, usize) {
    let (len, used) = der_len(der, at + 1);
    (at + 1 + used, len)
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, as big-endian bytes.
fn rsa_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (inner, _) = der_enter(der, 0);
    let (n_at, n_len) = der_enter(der, inner);
    let (e_at, e_len) = der_enter(der, n_at + n_len);
    let n = der[n_at..n_at + n_len]
        .iter()
        .skip_while(|b| **b == 0)
        .copied()
        .collect();
    let e = der[e_at..e_at + e_len].to_vec();
    (n, e)
}

fn token(key: &Key) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://issuer.example.com/", "aud": "api://soak", "sub": "soak",
                        "scp": "Soak.Read", "iat": now, "exp": now + 3600});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

/// A JWKS endpoint whose document the test replaces (the rotation).
async fn jwks_server(document: Arc<RwLock<Value>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document.read().await.clone()) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn spec(upstream: SocketAddr, jwks: SocketAddr, closed: SocketAddr, generation: u32) -> Value {
    json!({
        "requestPolicies": {"authentication": {
            "type": "JWT_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
            "isAnonymousAccessAllowed": true, "issuers": ["https://issuer.example.com/"], "audiences": ["api://soak"],
            "publicKeys": {"type": "REMOTE_JWKS", "uri": format!("http://{jwks}/keys"), "maxCacheDurationInHours": 1}}},
        "routes": [
            {"path": "/pub/{rest*}", "requestPolicies": {"authorization": {"type": "ANONYMOUS"}},
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{upstream}/pub/${{request.path[rest]}}")}},
            {"path": "/secure", "methods": ["GET"],
             "requestPolicies": {"authorization": {"type": "ANY_OF", "allowedScope": ["Soak.Read"]}},
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{upstream}/secure")}},
            {"path": "/gen", "methods": ["GET"], "requestPolicies": {"authorization": {"type": "ANONYMOUS"}},
             "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": format!("generation {generation}")}},
            {"path": "/down", "methods": ["GET"], "requestPolicies": {"authorization": {"type": "ANONYMOUS"}},
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{closed}/"), "connectTimeoutInSeconds": 1}}
        ]
    })
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    unexpected: AtomicU64,
    provoked_5xx: AtomicU64,
}

/// Raw request, raw answer: the status.
async fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    if stream.write_all(request).await.is_err() {
        return 0;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_traffic_with_a_key_rotation_and_redeploys() {
    let seconds: u64 = std::env::var("FNGATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::var("CI").as_deref() == Ok("true") {
            60
        } else {
            15
        })
        .clamp(6, 3600);
    let upstream = Upstream::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let old_key = key("old");
    let new_key = key("new");
    let document = Arc::new(RwLock::new(json!({"keys": [old_key.jwk.clone()]})));
    let jwks = jwks_server(document.clone()).await;
    // A token with an unknown `kid` refetches the keys at most once a second here (300 s by
    // default), so the rotation completes within the soak.
    let auth = fngate_auth::AuthService::with_options(
        None,
        fngate_auth::AuthOptions {
            min_refetch_interval: Duration::from_secs(1),
            ..Default::default()
        },
    );
    let gw = TestGateway::start_with_auth(auth).await;
    gw.deploy("soak", "/s", spec(upstream.addr, jwks, closed, 0)).await;

    let current_token = Arc::new(RwLock::new(token(&old_key)));
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rotated = Arc::new(AtomicBool::new(false));
    let addr = gw.addr;
    let mut workers = Vec::new();
    for worker in 0..4u64 {
        let tally = tally.clone();
        let stop = stop.clone();
        let rotated = rotated.clone();
        let current_token = current_token.clone();
        let base = format!("http://{addr}");
        workers.push(tokio::spawn(async move {
            let http = client();
            let mut i = worker;
            let mut failures: Vec<String> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (what, status) = match i % 10 {
                    0..=2 => ("anonymous", send(&http, format!("{base}/s/pub/a/{i}"), None).await),
                    3 | 4 => {
                        let token = current_token.read().await.clone();
                        ("token", send(&http, format!("{base}/s/secure"), Some(&token)).await)
                    }
                    5 => ("bad token", send(&http, format!("{base}/s/secure"), Some("x.y.z")).await),
                    6 => ("generation", send(&http, format!("{base}/s/gen"), None).await),
                    7 => (
                        "path trick",
                        raw_status(addr, b"GET /s/pub/%2e%2e/secure HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n").await,
                    ),
                    8 => (
                        "bad chunk",
                        raw_status(
                            addr,
                            b"POST /s/pub/up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n",
                        )
                        .await,
                    ),
                    _ => {
                        if i % 20 == 9 {
                            ("provoked", send(&http, format!("{base}/s/down"), None).await)
                        } else {
                            ("no route", send(&http, format!("{base}/s/nope"), None).await)
                        }
                    }
                };
                tally.requests.fetch_add(1, Ordering::Relaxed);
                let expected: &[u16] = match what {
                    "anonymous" | "generation" => &[200],
                    // Right at the rotation a new-key token may meet the refetch interval once.
                    "token" if rotated.load(Ordering::Relaxed) => &[200, 401],
                    "token" => &[200],
                    "bad token" => &[401],
                    "path trick" | "bad chunk" => &[400],
                    "provoked" => &[502],
                    _ => &[404],
                };
                if what == "provoked" && status == 502 {
                    tally.provoked_5xx.fetch_add(1, Ordering::Relaxed);
                }
                if !expected.contains(&status) {
                    tally.unexpected.fetch_add(1, Ordering::Relaxed);
                    if failures.len() < 10 {
                        failures.push(format!("{what}: {status}"));
                    }
                }
            }
            failures
        }));
    }

    let total = Duration::from_secs(seconds);
    let started = Instant::now();
    let at = |fraction: f64| started + total.mul_f64(fraction);
    tokio::time::sleep_until(at(0.2).into()).await;
    let rss_after_warmup = rss_kib();

    // Rotation: publish the new key next to the old, switch the tokens, then retire the old key.
    document.write().await["keys"] = json!([old_key.jwk.clone(), new_key.jwk.clone()]);
    *current_token.write().await = token(&new_key);
    rotated.store(true, Ordering::Relaxed);
    tokio::time::sleep_until(at(0.4).into()).await;
    gw.deploy("soak", "/s", spec(upstream.addr, jwks, closed, 1)).await;
    tokio::time::sleep_until(at(0.6).into()).await;
    document.write().await["keys"] = json!([new_key.jwk.clone()]);
    gw.deploy("soak", "/s", spec(upstream.addr, jwks, closed, 2)).await;
    tokio::time::sleep_until(at(1.0).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for worker in workers {
        failures.extend(worker.await.unwrap());
    }
    let rss_end = rss_kib();

    // After the soak: the new key works, the second redeploy is live.
    let http = client();
    let new_token = token(&new_key);
    assert_eq!(
        send(&http, gw.url("/s/secure"), Some(&new_token)).await,
        200,
        "a token signed with the rotated-in key"
    );
    let generation = http.get(gw.url("/s/gen")).send().await.unwrap().text().await.unwrap();
    assert_eq!(generation, "generation 2");

    let requests = tally.requests.load(Ordering::Relaxed);
    let unexpected = tally.unexpected.load(Ordering::Relaxed);
    let growth_mib = rss_end.saturating_sub(rss_after_warmup) / 1024;
    eprintln!(
        "soak: {seconds} s, {requests} requests, {} provoked 502s, {unexpected} unexpected; RSS {} MiB → {} MiB (+{growth_mib} MiB)",
        tally.provoked_5xx.load(Ordering::Relaxed),
        rss_after_warmup / 1024,
        rss_end / 1024
    );
    assert!(requests > 1000, "only {requests} requests in {seconds} s");
    assert!(
        tally.provoked_5xx.load(Ordering::Relaxed) > 0,
        "the provoked 502s happened"
    );
    // The only tolerated surprise is a new-key token refused once around the rotation (401, a
    // key-cache interval), never a 5xx.
    assert!(
        failures.iter().all(|f| f.starts_with("token: 401")),
        "unexpected answers: {failures:?}"
    );
    assert!(unexpected * 100 <= requests, "{unexpected} unexpected of {requests}");
    assert!(
        growth_mib < RSS_BOUND_MIB,
        "RSS grew {growth_mib} MiB (bound {RSS_BOUND_MIB} MiB)"
    );
    gw.stop().await;
}

async fn send(http: &reqwest::Client, url: String, token: Option<&str>) -> u16 {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
}
