//! RSA 2048 signing keys, each with a self-signed certificate so `kid`, `x5t` and `x5c` are real.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fngate_store::idp::SigningKeyRow;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::json;
use time::OffsetDateTime;

/// A key the IdP signs with or still publishes.
pub struct SigningKey {
    /// base64url SHA-1 thumbprint of the certificate; the same value goes in `x5t`, as Entra.
    pub kid: String,
    key_pair: KeyPair,
    certificate: Vec<u8>,
    n: String,
    e: String,
    /// Pre-encoded JWT headers (v1 carries `x5t`, v2 does not).
    header_v1: String,
    header_v2: String,
    pub created_at: OffsetDateTime,
    /// When the key stops being published (set once a newer key took over).
    pub remove_at: Option<OffsetDateTime>,
}

/// Subject of the key certificates (Entra's say `CN=accounts.accesscontrol.windows.net`).
const KEY_CERT_CN: &str = "fngate dev identity provider signing key";

impl SigningKey {
    /// A fresh key pair and its self-signed certificate.
    pub fn generate() -> anyhow::Result<SigningKeyRow> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        let pkcs8 = key_pair
            .as_der()
            .map_err(|_| anyhow::anyhow!("cannot encode the RSA key"))?
            .as_ref()
            .to_vec();
        let rcgen_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, KEY_CERT_CN);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(5 * 365);
        let certificate = params.self_signed(&rcgen_key)?.der().to_vec();
        Ok(SigningKeyRow {
            kid: thumbprint(&certificate),
            private_key: pkcs8,
            certificate,
            created_at: fngate_store::now_rfc3339(),
            retired_at: None,
            remove_at: None,
        })
    }

    /// Rebuilds a stored key.
    pub fn from_row(row: &SigningKeyRow) -> anyhow::Result<SigningKey> {
        let key_pair = KeyPair::from_pkcs8(&row.private_key)
            .map_err(|err| anyhow::anyhow!("stored signing key {} is not a usable RSA key: {err}", row.kid))?;
        let public = key_pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid = row.kid.clone();
        let header_v1 =
            URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}).to_string());
        let header_v2 = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "RS256", "kid": kid}).to_string());
        Ok(SigningKey {
            kid,
            key_pair,
            certificate: row.certificate.clone(),
            n,
            e,
            header_v1,
            header_v2,
            created_at: parse_time(&row.created_at)?,
            remove_at: row.remove_at.as_deref().map(parse_time).transpose()?,
        })
    }

    /// The JWK as Entra publishes it: no `alg`, `kid == x5t`, the certificate in `x5c`, and
    /// Microsoft's `issuer` member.
    pub fn jwk(&self, issuer: &str) -> serde_json::Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [STANDARD.encode(&self.certificate)],
            "issuer": issuer,
        })
    }

    /// Signs `claims` as a compact JWS (RS256) with the header of the token version.
    pub fn sign(&self, claims: &serde_json::Value, v1_header: bool) -> anyhow::Result<String> {
        let header = if v1_header { &self.header_v1 } else { &self.header_v2 };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let mut token = String::with_capacity(header.len() + payload.len() + 350);
        token.push_str(header);
        token.push('.');
        token.push_str(&payload);
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        Ok(token)
    }

    /// The claims of a compact JWS this key signed (RS256), or `None`; expiry and audience are
    /// the caller's to check.
    pub fn verify(&self, token: &str) -> Option<serde_json::Value> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "RS256" || header.get("kid")?.as_str()? != self.kid {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key_pair.public_key().as_ref(),
        )
        .verify(signed.as_bytes(), &signature)
        .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    #[cfg(test)]
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    pub fn is_published_at(&self, now: OffsetDateTime) -> bool {
        self.remove_at.is_none_or(|at| now < at)
    }
}

/// base64url SHA-1 of a DER certificate (`x5t`).
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der))
}

pub fn parse_time(text: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|err| anyhow::anyhow!("stored time {text:?} is not RFC 3339: {err}"))
}

pub fn format_time(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_thumbprint_kid_and_signs() {
        let row = SigningKey::generate().unwrap();
        let key = SigningKey::from_row(&row).unwrap();
        assert_eq!(key.kid, thumbprint(key.certificate_der()));
        let jwk = key.jwk("iss");
        assert_eq!(jwk["e"], "AQAB");
        assert!(jwk.get("alg").is_none());
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(jwk["n"].as_str().unwrap().len(), 342);
        let token = key.sign(&json!({"a": 1}), true).unwrap();
        assert_eq!(token.split('.').count(), 3);
    }
}
