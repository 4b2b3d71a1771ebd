//! Signing keys and their public forms (JWK without `alg`, as Entra publishes them; PEM).

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

/// PEM armour around DER bytes (64-character lines).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A signing key with its public JWK (no `alg`, like Entra's) and PEM.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The SubjectPublicKeyInfo PEM (RSA keys only; empty for EC).
    pub public_pem: String,
}

impl TestKey {
    /// RSA 2048 (RS256/PS256), with `use: sig` and `x5t` like Entra's keys.
    pub fn rsa(kid: &str) -> TestKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8 encoding");
        let private_pem = pem("PRIVATE KEY", pkcs8.as_ref());
        let public_der =
            AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key()).expect("SPKI encoding");
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA PEM");
        let mut jwk = public_jwk(&encoding, jsonwebtoken::Algorithm::RS256, kid);
        let obj = jwk.as_object_mut().expect("a JWK is an object");
        obj.insert("use".into(), json!("sig"));
        obj.insert("x5t".into(), json!(kid));
        TestKey {
            kid: kid.into(),
            encoding,
            jwk,
            public_pem: pem("PUBLIC KEY", public_der.as_ref()),
        }
    }

    /// P-256 (ES256).
    pub fn ec(kid: &str) -> TestKey {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .expect("EC key generation");
        let encoding = EncodingKey::from_ec_pem(pem("PRIVATE KEY", doc.as_ref()).as_bytes()).expect("EC PEM");
        let jwk = public_jwk(&encoding, jsonwebtoken::Algorithm::ES256, kid);
        TestKey {
            kid: kid.into(),
            encoding,
            jwk,
            public_pem: String::new(),
        }
    }
}

fn public_jwk(encoding: &EncodingKey, alg: jsonwebtoken::Algorithm, kid: &str) -> Value {
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(encoding, alg).expect("public JWK");
    let mut jwk = serde_json::to_value(jwk).expect("a JWK serialises");
    let obj = jwk.as_object_mut().expect("a JWK is an object");
    obj.remove("alg");
    obj.insert("kid".into(), json!(kid));
    jwk
}

/// Keys are slow to generate in debug builds: each test binary makes these once.
/// `key-1`, `key-2` and `attacker` are RSA, `ec-1` is P-256.
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
