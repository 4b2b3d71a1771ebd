//! Test fixtures: keys generated here (aws-lc-rs), Entra-shaped tokens signed with them, and a JWKS
//! server on 127.0.0.1:0 whose key set, availability and request count the test controls.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fngate_auth::{
    AuthConfig, AuthOutcome, AuthRejection, AuthRequest, Authenticator, ClaimCheck, JwtConfig, KeySource,
    SigningAlgorithm, TokenLocation,
};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const AUDIENCE: &str = "api://fn-gateway";
pub const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const REALM: &str = "api.example.com";

pub fn v1_issuer() -> String {
    format!("https://sts.windows.net/{TENANT}/")
}
pub fn v2_issuer() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A signing key with its public JWK (no `alg`, like Entra's) and PEM.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    pub public_pem: String,
}

impl TestKey {
    pub fn rsa(kid: &str) -> TestKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let private_pem = pem(
            "PRIVATE KEY",
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .unwrap()
                .as_ref(),
        );
        let public_der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, jsonwebtoken::Algorithm::RS256).unwrap(),
        )
        .unwrap();
        let obj = jwk.as_object_mut().unwrap();
        obj.remove("alg");
        obj.insert("kid".into(), json!(kid));
        obj.insert("use".into(), json!("sig"));
        obj.insert("x5t".into(), json!(kid));
        TestKey {
            kid: kid.into(),
            encoding,
            jwk,
            public_pem: pem("PUBLIC KEY", public_der.as_ref()),
        }
    }

    pub fn ec(kid: &str) -> TestKey {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let encoding = EncodingKey::from_ec_pem(pem("PRIVATE KEY", doc.as_ref()).as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, jsonwebtoken::Algorithm::ES256).unwrap(),
        )
        .unwrap();
        let obj = jwk.as_object_mut().unwrap();
        obj.remove("alg");
        obj.insert("kid".into(), json!(kid));
        TestKey {
            kid: kid.into(),
            encoding,
            jwk,
            public_pem: String::new(),
        }
    }
}

/// Keys are slow to generate in debug builds: each test binary makes them once.
pub fn keys() -> &'static [TestKey; 4] {
    static KEYS: OnceLock<[TestKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::rsa("key-1"),
            TestKey::rsa("key-2"),
            TestKey::rsa("attacker"),
            TestKey::ec("ec-1"),
        ]
    })
}

pub fn entra_v2_claims() -> Value {
    let now = now();
    json!({
        "aud": AUDIENCE, "iss": v2_issuer(), "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
        "aio": "opaque", "azp": CLIENT_ID, "azpacr": "1", "oid": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11",
        "rh": "opaque", "roles": ["Data.Read"], "sub": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11", "tid": TENANT,
        "uti": "58a44c5e5d8c44bd92f3e1", "ver": "2.0"
    })
}

pub fn entra_v1_claims() -> Value {
    let now = now();
    json!({
        "aud": AUDIENCE, "iss": v1_issuer(), "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
        "acr": "1", "aio": "opaque", "amr": ["pwd"], "appid": CLIENT_ID, "appidacr": "0",
        "name": "Abe Lincoln", "oid": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11", "scp": "user_impersonation Functions.Invoke",
        "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", "tid": TENANT, "unique_name": "abe@contoso.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0"
    })
}

/// Signs `claims` with `key`; `header` members are merged over `{typ, alg, kid}`.
pub fn sign(key: &TestKey, alg: jsonwebtoken::Algorithm, claims: &Value, header: Value) -> String {
    let mut h = Header::new(alg);
    h.typ = Some("JWT".into());
    h.kid = Some(key.kid.clone());
    let mut hv = serde_json::to_value(&h).unwrap();
    for (k, v) in header.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            hv.as_object_mut().unwrap().remove(&k);
        } else {
            hv.as_object_mut().unwrap().insert(k, v);
        }
    }
    sign_raw(&hv, claims, |input| {
        jsonwebtoken::crypto::sign(input, &key.encoding, alg).unwrap()
    })
}

/// Builds `b64(header).b64(claims).sign(...)` from arbitrary JSON (for malformed-header tests).
pub fn sign_raw(header: &Value, claims: &Value, signer: impl Fn(&[u8]) -> String) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signer(input.as_bytes());
    format!("{input}.{sig}")
}

pub fn rs256(key: &TestKey, claims: &Value) -> String {
    sign(key, jsonwebtoken::Algorithm::RS256, claims, json!({}))
}

/// The JWKS server the tests control.
pub struct JwksServer {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct ServerState {
    jwks: Mutex<Value>,
    up: AtomicBool,
    jwks_hits: AtomicU64,
    discovery_hits: AtomicU64,
    addr: OnceLock<SocketAddr>,
}

async fn serve_jwks(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let doc = state.jwks.lock().unwrap().clone();
    axum::Json(doc).into_response()
}

async fn serve_discovery(State(state): State<Arc<ServerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let addr = state.addr.get().unwrap();
    axum::Json(json!({
        "issuer": v2_issuer(),
        "jwks_uri": format!("http://{addr}/{TENANT}/discovery/v2.0/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

impl JwksServer {
    pub async fn start(keys: &[&TestKey]) -> JwksServer {
        let state = Arc::new(ServerState {
            jwks: Mutex::new(Value::Null),
            up: AtomicBool::new(true),
            jwks_hits: AtomicU64::new(0),
            discovery_hits: AtomicU64::new(0),
            addr: OnceLock::new(),
        });
        let app = axum::Router::new()
            .route(&format!("/{TENANT}/discovery/v2.0/keys"), get(serve_jwks))
            .route(
                &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
                get(serve_discovery),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        state.addr.set(addr).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        let server = JwksServer {
            addr,
            state,
            shutdown: Some(tx),
        };
        server.publish(keys);
        server
    }

    pub fn jwks_uri(&self) -> String {
        format!("http://{}/{TENANT}/discovery/v2.0/keys", self.addr)
    }

    pub fn discovery_uri(&self) -> String {
        format!("http://{}/{TENANT}/v2.0/.well-known/openid-configuration", self.addr)
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
        *self.state.jwks.lock().unwrap() = doc;
    }

    pub fn publish_raw(&self, doc: Value) {
        *self.state.jwks.lock().unwrap() = doc;
    }

    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    pub fn jwks_hits(&self) -> u64 {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> u64 {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn bearer_location() -> TokenLocation {
    TokenLocation::Header {
        name: "Authorization".into(),
        scheme: Some("Bearer".into()),
    }
}

/// An Entra-style policy: v1 and v2 issuers of the tenant, our audience, remote JWKS.
pub fn jwt_config(keys: KeySource) -> JwtConfig {
    JwtConfig {
        location: bearer_location(),
        issuers: vec![v1_issuer(), v2_issuer()],
        audiences: vec![AUDIENCE.into()],
        verify_claims: Vec::<ClaimCheck>::new(),
        max_clock_skew: Duration::ZERO,
        is_anonymous_access_allowed: false,
        keys,
        algorithms: SigningAlgorithm::DEFAULT_ALLOWED.to_vec(),
    }
}

pub fn remote(uri: String) -> KeySource {
    KeySource::RemoteJwks {
        uri,
        ssl_verify_disabled: false,
        max_cache_duration: Duration::from_secs(3600),
    }
}

pub fn wrap(config: JwtConfig) -> AuthConfig {
    AuthConfig::Jwt(config)
}

pub fn request(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

pub async fn call(auth: &Authenticator, head: &http::request::Parts) -> AuthOutcome {
    auth.authenticate(AuthRequest {
        head,
        body: b"",
        realm: REALM,
    })
    .await
}

pub async fn with_bearer(auth: &Authenticator, token: &str) -> AuthOutcome {
    let head = request("/v1/python-func", &[("authorization", &format!("Bearer {token}"))]);
    call(auth, &head).await
}

#[track_caller]
pub fn rejected(outcome: &AuthOutcome) -> &AuthRejection {
    match outcome {
        AuthOutcome::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[track_caller]
pub fn principal(outcome: &AuthOutcome) -> &fngate_auth::Principal {
    match outcome {
        AuthOutcome::Authenticated(p) => p,
        other => panic!("expected an authenticated caller, got {other:?}"),
    }
}
