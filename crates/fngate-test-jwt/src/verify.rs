//! A strict verifier, as a careful relying party checks what an IdP issues.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Verifies signature (RS256, key by `kid` from `jwks`) and claims (`aud`, `iss`, `exp`, `nbf`
/// all required); returns the claims.
pub fn verify(token: &str, jwks: &JwkSet, issuer: &str, audience: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let missing = || jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat);
    let kid = header.kid.ok_or_else(missing)?;
    let jwk = jwks.find(&kid).ok_or_else(missing)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}
