//! Token parsing and claim validation, through the public entry the gateway calls
//! (`Authenticator::authenticate` on a request head), with real keys.
//!
//! The input picks a signer (byte 0) and gives the JOSE header and the claims (the rest, split at
//! the first NUL; no NUL: the rest is the header and the claims are a valid default set). The harness
//! encodes them and *signs them for real*, so the fuzzer reaches claim validation and every
//! algorithm confusion is tried with a correct signature: RS384/RS512 (valid but not allowed),
//! HS256 keyed with the RSA or EC public key, `none` with an empty or junk signature, an untrusted
//! EC key, or no signature at all (signer 0: the rest is the whole token, as sent).
//!
//! Invariant: a token is accepted only if an independent reading says it must be: signed by the
//! trusted key its `kid` names, with an allowed algorithm equal to the header's `alg`, no `crit`,
//! inside its time window, from the configured issuer, for the configured audience, with the
//! required `azp`, and the claims handed on are the claims signed. Never `Anonymous` (the policy
//! does not allow it).

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use aws_lc_rs::{hmac, rsa};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fngate_auth::{
    AuthConfig, AuthOutcome, AuthRequest, AuthService, Authenticator, ClaimCheck, JwtConfig, KeySource,
    SigningAlgorithm, StaticKey, TokenLocation,
};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "https://issuer.fuzz.example/";
pub const AUDIENCE: &str = "api://fuzz";
pub const RSA_KID: &str = "rsa-1";
pub const EC_KID: &str = "ec-1";
const SKEW_SECS: u64 = 30;
/// 2100-01-01: the default claims stay valid for as long as this code lives.
const FAR_EXP: u64 = 4_102_444_800;

/// How the harness signs the header and claims it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// No signing: the input after the selector is the whole token.
    Raw,
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Es256,
    /// HMAC keyed with the RSA public key (SPKI DER): the classic RS/HS confusion.
    Hs256RsaPublic,
    /// HMAC keyed with the EC public point.
    Hs256EcPublic,
    /// `alg: none` style: an empty signature part.
    Empty,
    /// A signature part that is not a signature (`AA`).
    Junk,
    /// ES256, but with a key the policy does not trust.
    Es256Untrusted,
}

const SIGNERS: [Signer; 11] = [
    Signer::Raw,
    Signer::Rs256,
    Signer::Rs384,
    Signer::Rs512,
    Signer::Ps256,
    Signer::Es256,
    Signer::Hs256RsaPublic,
    Signer::Hs256EcPublic,
    Signer::Empty,
    Signer::Junk,
    Signer::Es256Untrusted,
];

impl Signer {
    pub fn from_byte(b: u8) -> Signer {
        SIGNERS[usize::from(b) % SIGNERS.len()]
    }

    pub fn to_byte(self) -> u8 {
        SIGNERS.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    /// The algorithm and trusted key id a token signed this way may be accepted under.
    fn acceptable_as(self) -> Option<(&'static str, &'static str)> {
        match self {
            Signer::Rs256 => Some(("RS256", RSA_KID)),
            Signer::Ps256 => Some(("PS256", RSA_KID)),
            Signer::Es256 => Some(("ES256", EC_KID)),
            // RS384/RS512 sign correctly, but the policy allows only RS256, PS256 and ES256.
            _ => None,
        }
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    authenticator: std::sync::Arc<Authenticator>,
    rsa: rsa::KeyPair,
    rsa_public_der: Vec<u8>,
    ec: EcdsaKeyPair,
    ec_untrusted: EcdsaKeyPair,
    rng: SystemRandom,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn ec_key() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key generation")
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let rsa = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("RSA key generation");
        let rsa_public_der = AsDer::<PublicKeyX509Der>::as_der(rsa.public_key())
            .expect("RSA public key DER")
            .as_ref()
            .to_vec();
        let ec = ec_key();
        let point = ec.public_key().as_ref();
        let ec_jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": EC_KID, "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        let config = AuthConfig::Jwt(JwtConfig {
            location: TokenLocation::Header {
                name: "Authorization".into(),
                scheme: Some("Bearer".into()),
            },
            issuers: vec![ISSUER.into()],
            audiences: vec![AUDIENCE.into()],
            verify_claims: vec![ClaimCheck {
                key: "azp".into(),
                values: vec!["client-a".into()],
                is_required: true,
            }],
            max_clock_skew: Duration::from_secs(SKEW_SECS),
            is_anonymous_access_allowed: false,
            keys: KeySource::StaticKeys(vec![
                StaticKey::Pem {
                    kid: RSA_KID.into(),
                    pem: pem(&rsa_public_der),
                },
                StaticKey::Jwk(ec_jwk),
            ]),
            algorithms: vec![
                SigningAlgorithm::RS256,
                SigningAlgorithm::PS256,
                SigningAlgorithm::ES256,
            ],
        });
        let service = AuthService::new(None);
        let authenticator = runtime.block_on(service.build(config)).expect("the fuzz policy builds");
        Harness {
            runtime,
            authenticator,
            rsa,
            rsa_public_der,
            ec,
            ec_untrusted: ec_key(),
            rng: SystemRandom::new(),
        }
    }

    fn sign(&self, signer: Signer, input: &[u8]) -> Vec<u8> {
        let rsa = |alg: &'static dyn signature::RsaEncoding| {
            let mut out = vec![0; self.rsa.public_modulus_len()];
            self.rsa.sign(alg, &self.rng, input, &mut out).expect("RSA signing");
            out
        };
        let ec = |key: &EcdsaKeyPair| key.sign(&self.rng, input).expect("EC signing").as_ref().to_vec();
        let hs = |secret: &[u8]| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input)
                .as_ref()
                .to_vec()
        };
        match signer {
            Signer::Raw | Signer::Empty => Vec::new(),
            Signer::Junk => vec![0],
            Signer::Rs256 => rsa(&signature::RSA_PKCS1_SHA256),
            Signer::Rs384 => rsa(&signature::RSA_PKCS1_SHA384),
            Signer::Rs512 => rsa(&signature::RSA_PKCS1_SHA512),
            Signer::Ps256 => rsa(&signature::RSA_PSS_SHA256),
            Signer::Es256 => ec(&self.ec),
            Signer::Es256Untrusted => ec(&self.ec_untrusted),
            Signer::Hs256RsaPublic => hs(&self.rsa_public_der),
            Signer::Hs256EcPublic => hs(self.ec.public_key().as_ref()),
        }
    }
}

/// The claims a token gets when the input gives none: all valid.
pub fn default_claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "exp": FAR_EXP, "nbf": 0, "iat": 0, "azp": "client-a", "sub": "fuzz"})
}

/// Builds a fuzz input: signer, header JSON, claims JSON (what the seeds are made of).
pub fn input(signer: Signer, header: &Value, claims: &Value) -> Vec<u8> {
    let mut out = vec![signer.to_byte()];
    out.extend_from_slice(header.to_string().as_bytes());
    out.push(0);
    out.extend_from_slice(claims.to_string().as_bytes());
    out
}

/// What the gateway decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
    /// The input could not be sent as a header (raw tokens with bytes a header cannot hold).
    Unsendable,
}

/// The fuzz entry.
pub fn check(data: &[u8]) -> Verdict {
    let Some((&selector, rest)) = data.split_first() else {
        return Verdict::Unsendable;
    };
    let signer = Signer::from_byte(selector);
    let default_payload;
    let (header, payload): (&[u8], &[u8]) = match rest.iter().position(|b| *b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => {
            default_payload = default_claims().to_string();
            (rest, default_payload.as_bytes())
        }
    };
    HARNESS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let harness = cell.get_or_insert_with(Harness::new);
        let token = if signer == Signer::Raw {
            match std::str::from_utf8(rest) {
                Ok(token) => token.to_owned(),
                Err(_) => return Verdict::Unsendable,
            }
        } else {
            let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
            let signature = harness.sign(signer, signing_input.as_bytes());
            format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
        };
        let Ok(request) = http::Request::builder()
            .uri("/")
            .header("authorization", format!("Bearer {token}"))
            .body(())
        else {
            return Verdict::Unsendable;
        };
        let (head, ()) = request.into_parts();
        let outcome = harness
            .runtime
            .block_on(harness.authenticator.authenticate(AuthRequest {
                head: &head,
                body: b"",
                realm: "fuzz",
            }));
        match outcome {
            AuthOutcome::Rejected(rejection) => {
                assert!(
                    rejection.status.is_client_error(),
                    "a token is refused with {} (not 4xx): {}",
                    rejection.status,
                    rejection.log_message
                );
                Verdict::Rejected
            }
            AuthOutcome::Anonymous => panic!("anonymous access granted by a policy that does not allow it: {token}"),
            AuthOutcome::Authenticated(principal) => {
                must_be_acceptable(signer, header, payload, &principal.claims, &token);
                Verdict::Accepted
            }
        }
    })
}

/// The independent reading of an accepted token; panics with the reason it should have been refused.
fn must_be_acceptable(signer: Signer, header: &[u8], payload: &[u8], claims: &Map<String, Value>, token: &str) {
    let Some((alg, kid)) = signer.acceptable_as() else {
        panic!("accepted a token signed with {signer:?}: {token}");
    };
    let header: Map<String, Value> = serde_json::from_slice(header)
        .unwrap_or_else(|e| panic!("accepted a token whose header is not a JSON object ({e}): {token}"));
    assert_eq!(
        header.get("alg"),
        Some(&json!(alg)),
        "signed as {alg}, accepted: {token}"
    );
    assert_eq!(
        header.get("kid"),
        Some(&json!(kid)),
        "signed by {kid}, accepted: {token}"
    );
    assert!(!header.contains_key("crit"), "accepted a header with `crit`: {token}");
    let signed: Map<String, Value> = serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("accepted a token whose claims are not a JSON object ({e}): {token}"));
    assert_eq!(
        &signed, claims,
        "the claims handed on are not the claims signed: {token}"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let skew = SKEW_SECS as f64;
    let exp = claims.get("exp").and_then(Value::as_f64);
    assert!(
        exp.is_some_and(|exp| now <= exp + skew),
        "accepted without a current exp: {token}"
    );
    for name in ["nbf", "iat"] {
        if let Some(value) = claims.get(name) {
            let t = value.as_f64();
            assert!(
                t.is_some_and(|t| t <= now + skew),
                "accepted with {name} {value}: {token}"
            );
        }
    }
    assert_eq!(
        claims.get("iss"),
        Some(&json!(ISSUER)),
        "accepted from another issuer: {token}"
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().all(Value::is_string) && auds.contains(&json!(AUDIENCE)),
        _ => false,
    };
    assert!(aud_ok, "accepted for another audience: {token}");
    let azp_ok = match claims.get("azp") {
        Some(Value::Array(items)) => items.contains(&json!("client-a")),
        Some(value) => value == &json!("client-a"),
        None => false,
    };
    assert!(azp_ok, "accepted without the required azp: {token}");
}
