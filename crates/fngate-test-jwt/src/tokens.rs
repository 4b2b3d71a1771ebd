//! Tokens: Entra v1/v2 claim sets and signing, including malformed headers.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde_json::{Value, json};

use crate::keys::TestKey;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const AUDIENCE: &str = "api://fn-gateway";
pub const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

pub fn v1_issuer() -> String {
    format!("https://sts.windows.net/{TENANT}/")
}

pub fn v2_issuer() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// An Entra v2 application token (client credentials: `roles`, `azp`).
pub fn entra_v2_claims() -> Value {
    let now = now();
    json!({
        "aud": AUDIENCE, "iss": v2_issuer(), "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
        "aio": "opaque", "azp": CLIENT_ID, "azpacr": "1", "oid": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11",
        "rh": "opaque", "roles": ["Data.Read"], "sub": "0b7a7d8c-7a3f-4f8e-8f6e-2b4c1f0a9d11", "tid": TENANT,
        "uti": "58a44c5e5d8c44bd92f3e1", "ver": "2.0"
    })
}

/// An Entra v1 delegated token (`scp`, `appid`).
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

/// Signs `claims` with `key`; `header` members are merged over `{typ, alg, kid}` (a `null`
/// member removes it).
pub fn sign(key: &TestKey, alg: jsonwebtoken::Algorithm, claims: &Value, header: Value) -> String {
    let mut h = Header::new(alg);
    h.typ = Some("JWT".into());
    h.kid = Some(key.kid.clone());
    let mut hv = serde_json::to_value(&h).expect("a header serialises");
    let fields = hv.as_object_mut().expect("a header is an object");
    for (k, v) in header.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            fields.remove(&k);
        } else {
            fields.insert(k, v);
        }
    }
    sign_raw(&hv, claims, |input| {
        jsonwebtoken::crypto::sign(input, &key.encoding, alg).expect("signing")
    })
}

/// Builds `b64(header).b64(claims).signer(...)` from arbitrary JSON (for malformed-header tests).
pub fn sign_raw(header: &Value, claims: &Value, signer: impl Fn(&[u8]) -> String) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signer(input.as_bytes());
    format!("{input}.{sig}")
}

/// RS256 with the key's `kid`.
pub fn rs256(key: &TestKey, claims: &Value) -> String {
    sign(key, jsonwebtoken::Algorithm::RS256, claims, json!({}))
}
