//! Client assertions (RFC 7523 `private_key_jwt`): a JWT the client signs with the private key of
//! a certificate registered on its app, sent as `client_assertion` with
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//!
//! Checks, in Entra's order, each with Entra's error: the JWT's shape, the certificate named by
//! `x5t#S256` or `x5t` (AADSTS700027), its validity period (AADSTS700027), the signature
//! (AADSTS700027), `iss` = `sub` = the client id (AADSTS700021), `aud` = this token endpoint
//! (AADSTS700023), `exp`/`nbf` (AADSTS700024) and `jti` replay.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::EntraError;
use crate::registry::{ClientApp, ClientCertificate};

/// The only `client_assertion_type` Entra takes for a client credential.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew allowed on `exp` and `nbf` (Entra allows five minutes).
const SKEW_SECS: i64 = 300;
/// Longest assertion accepted; a replay cache must outlive what it guards.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;
/// Entries the replay cache holds before it prunes expired ones.
const REPLAY_PRUNE_AT: usize = 10_000;

/// `jti`s seen per client, until their assertion expires.
#[derive(Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl ReplayCache {
    /// Records `jti` for `client_id`; false when it was already used by an unexpired assertion.
    fn first_use(&self, client_id: &str, jti: &str, exp: i64, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.len() >= REPLAY_PRUNE_AT {
            seen.retain(|_, until| *until >= now);
        }
        let key = (client_id.to_string(), jti.to_string());
        match seen.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                seen.insert(key, exp + SKEW_SECS);
                true
            }
        }
    }
}

/// What the token endpoint knows when it checks an assertion.
pub struct Context<'a> {
    pub client: &'a ClientApp,
    /// Token endpoint URLs this request may name in `aud`.
    pub audiences: &'a [String],
    pub replay: &'a ReplayCache,
    pub now: OffsetDateTime,
}

/// Checks `assertion` for `ctx.client`; `Ok(())` authenticates the client with its certificate.
pub fn verify(assertion_type: Option<&str>, assertion: &str, ctx: &Context<'_>) -> Result<(), EntraError> {
    match assertion_type {
        Some(JWT_BEARER) => {}
        None => return Err(EntraError::missing_parameter("client_assertion_type")),
        Some(other) => return Err(EntraError::unsupported_assertion_type(other)),
    }
    let jwt = Jwt::parse(assertion).ok_or_else(EntraError::malformed_assertion)?;
    let (certificate, thumbprint) = find_certificate(&jwt.header, ctx.client)?;
    let now = ctx.now.unix_timestamp();
    if ctx.now < certificate.not_before || ctx.now > certificate.not_after {
        return Err(EntraError::certificate_out_of_validity(
            &thumbprint,
            certificate.not_before,
            certificate.not_after,
        ));
    }
    let algorithm: &'static dyn signature::VerificationAlgorithm = match jwt.header["alg"].as_str() {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
        _ => return Err(EntraError::assertion_bad_signature(&thumbprint)),
    };
    UnparsedPublicKey::new(algorithm, &certificate.public_key)
        .verify(jwt.signed.as_bytes(), &jwt.signature)
        .map_err(|_| EntraError::assertion_bad_signature(&thumbprint))?;

    let client_id = ctx.client.client_id.as_str();
    let claim = |name: &str| jwt.claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(client_id) || claim("sub") != Some(client_id) {
        return Err(EntraError::assertion_wrong_client());
    }
    let audience_ok = match jwt.claims.get("aud") {
        Some(Value::String(aud)) => ctx.audiences.iter().any(|a| a == aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| ctx.audiences.iter().any(|a| a == aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(EntraError::assertion_wrong_audience());
    }
    let exp = jwt.claims.get("exp").and_then(numeric_date);
    let nbf = jwt.claims.get("nbf").and_then(numeric_date);
    let valid = match exp {
        Some(exp) => now <= exp + SKEW_SECS && nbf.is_none_or(|nbf| nbf <= now + SKEW_SECS),
        None => false,
    };
    let Some(exp) = exp.filter(|_| valid) else {
        return Err(EntraError::assertion_out_of_time_range(ctx.now, nbf, exp));
    };
    if let Some(jti) = claim("jti")
        && !ctx.replay.first_use(client_id, jti, exp, now)
    {
        return Err(EntraError::assertion_replayed(jti));
    }
    Ok(())
}

/// A JWT NumericDate (RFC 7519 §2): seconds, possibly fractional (MSAL Python sends
/// `time.time() + 600`).
fn numeric_date(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
}

struct Jwt {
    header: Value,
    claims: serde_json::Map<String, Value>,
    /// `header.payload`, the signed input.
    signed: String,
    signature: Vec<u8>,
}

impl Jwt {
    fn parse(token: &str) -> Option<Jwt> {
        if token.len() > MAX_ASSERTION_BYTES {
            return None;
        }
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok();
        let header: Value = serde_json::from_slice(&decode(header)?).ok()?;
        let claims = match serde_json::from_slice(&decode(payload)?).ok()? {
            Value::Object(map) => map,
            _ => return None,
        };
        if !header.is_object() {
            return None;
        }
        let signed_len = token.len() - signature.len() - 1;
        Some(Jwt {
            header,
            claims,
            signed: token[..signed_len].to_string(),
            signature: decode(signature)?,
        })
    }
}

/// The certificate the header names, by `x5t#S256` first, then `x5t` (SHA-1); the thumbprint
/// as Entra prints it (upper-case hex) for the error messages.
fn find_certificate<'a>(header: &Value, client: &'a ClientApp) -> Result<(&'a ClientCertificate, String), EntraError> {
    let decode = |name: &str| {
        header
            .get(name)
            .and_then(Value::as_str)
            .and_then(|t| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')).ok())
    };
    let (by_sha256, by_sha1) = (decode("x5t#S256"), decode("x5t"));
    let found = match (&by_sha256, &by_sha1) {
        (Some(sha256), _) => client.certificates.iter().find(|c| c.sha256 == *sha256),
        (None, Some(sha1)) => client.certificates.iter().find(|c| c.sha1 == *sha1),
        (None, None) => None,
    };
    let thumbprint = by_sha256.or(by_sha1).map(|t| hex::encode_upper(&t)).unwrap_or_default();
    match found {
        Some(certificate) => Ok((certificate, thumbprint)),
        None => Err(EntraError::unknown_certificate(&thumbprint, &client.client_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_a_second_use_until_expiry() {
        let cache = ReplayCache::default();
        assert!(cache.first_use("c", "j", 100, 50));
        assert!(!cache.first_use("c", "j", 100, 60));
        assert!(cache.first_use("other", "j", 100, 60), "per client");
        assert!(cache.first_use("c", "j", 100, 100 + SKEW_SECS + 1), "after expiry");
    }

    #[test]
    fn numeric_dates_may_be_fractional() {
        assert_eq!(numeric_date(&serde_json::json!(1700000000)), Some(1700000000));
        assert_eq!(numeric_date(&serde_json::json!(1700000000.75)), Some(1700000000));
        assert_eq!(numeric_date(&serde_json::json!("1700000000")), None);
    }

    #[test]
    fn malformed_assertions_do_not_parse() {
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.AA", "e30.W10.AA"] {
            assert!(Jwt::parse(bad).is_none(), "{bad}");
        }
        assert!(Jwt::parse("e30.e30.AA").is_some());
    }
}
