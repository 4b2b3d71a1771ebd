//! Client certificates and RFC 7523 assertions for the tests: a real RSA 2048 key, a real
//! self-signed X.509 certificate, assertions signed as MSAL signs them.
#![allow(dead_code)]

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{Value, json};

pub struct Cert {
    /// PEM certificate (what gets registered).
    pub cert_pem: String,
    /// PKCS#8 PEM private key (what the client keeps).
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Cert {
    /// A fresh certificate, valid for 30 days, registered on `client_id`.
    pub async fn registered(idp: &fngate_idp::Idp, client_id: &str, cn: &str) -> Cert {
        let cert = Cert::new(cn, 30);
        idp.add_certificate(
            client_id,
            fngate_idp::api::NewCertificate {
                pem: cert.cert_pem.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        cert
    }

    /// Valid from a day ago for `days` days (negative: already expired).
    pub fn new(cn: &str, days: i64) -> Cert {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = key.as_der().unwrap().as_ref().to_vec();
        let rc_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(2);
        params.not_after = now + time::Duration::days(days);
        let cert = params.self_signed(&rc_key).unwrap();
        Cert {
            cert_pem: cert.pem(),
            key_pem: rc_key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// Upper-case hex SHA-1, as the portal shows it and MSAL's `thumbprint` takes it.
    pub fn thumbprint(&self) -> String {
        hex::encode_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der))
    }

    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der))
    }

    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.der))
    }

    /// An assertion with `claims`, RS256 with `x5t` (as MSAL with a SHA-1 thumbprint).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, Algorithm::RS256, |h| h.x5t = Some(self.x5t()))
    }

    /// PS256 with `x5t#S256` (as MSAL with a SHA-256 thumbprint).
    pub fn sign_s256(&self, claims: &Value) -> String {
        self.sign_with(claims, Algorithm::PS256, |h| h.x5t_s256 = Some(self.x5t_s256()))
    }

    pub fn sign_with(&self, claims: &Value, alg: Algorithm, header: impl FnOnce(&mut Header)) -> String {
        let mut h = Header::new(alg);
        header(&mut h);
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_rsa_pem(self.key_pem.as_bytes()).unwrap()).unwrap()
    }
}

/// Claims as MSAL sends them: aud = token endpoint, iss = sub = client id, 10 minutes, a fresh jti.
pub fn claims(client_id: &str, aud: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "aud": aud, "iss": client_id, "sub": client_id,
        "iat": now, "nbf": now, "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}
