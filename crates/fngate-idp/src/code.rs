//! Authorization codes: issued at the end of a sign-in, redeemed once at the token endpoint
//! (`grant_type=authorization_code`).
//!
//! Kept in memory only, by the SHA-256 of the value: a code lives ten minutes (Entra's are
//! "short lived, about 10 minutes"), so a restart costs at most a sign-in. A redeemed code is
//! remembered until it would have expired, so its reuse is told apart (AADSTS54005).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::error::EntraError;
use crate::refresh::Chain;
use crate::registry::Platform;
use crate::scopes::Requested;
use crate::session::random_token;
use crate::token::{ClientCheck, Endpoint, TokenRequest};
use crate::user_token::{self, SignedIn};

const CODE_LIFETIME: Duration = Duration::from_secs(600);
const MAX_CODES: usize = 100_000;

/// What a code stands for: everything it is bound to.
#[derive(Clone, Debug)]
pub struct CodeGrant {
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub platform: Platform,
    pub requested: Requested,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
}

struct Entry {
    grant: CodeGrant,
    expires: Instant,
    redeemed: bool,
}

#[derive(Default)]
pub struct Codes {
    codes: Mutex<HashMap<[u8; 32], Entry>>,
}

fn key(code: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, code.as_bytes()).as_ref());
    out
}

impl Codes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.codes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new code for `grant`; `None` when too many are outstanding.
    pub fn issue(&self, grant: CodeGrant) -> Option<String> {
        let mut codes = self.lock();
        let now = Instant::now();
        if codes.len() >= MAX_CODES {
            codes.retain(|_, e| e.expires > now);
            if codes.len() >= MAX_CODES {
                return None;
            }
        }
        // Entra's codes are long opaque strings; this one carries 384 random bits.
        let code = format!("1.A{}{}", random_token(), &random_token()[..21]);
        codes.insert(
            key(&code),
            Entry {
                grant,
                expires: now + CODE_LIFETIME,
                redeemed: false,
            },
        );
        Some(code)
    }

    /// Marks the code used and hands out its grant; a code is consumed by its first redemption
    /// attempt, whatever happens next.
    fn take(&self, code: &str) -> Result<CodeGrant, EntraError> {
        let mut codes = self.lock();
        let entry = codes
            .get_mut(&key(code))
            .ok_or_else(|| EntraError::bad_grant("the authorization code is not one this IdP issued."))?;
        if entry.expires <= Instant::now() {
            return Err(EntraError::code_expired());
        }
        if entry.redeemed {
            return Err(EntraError::code_redeemed());
        }
        entry.redeemed = true;
        Ok(entry.grant.clone())
    }
}

/// `S256`: base64url(SHA-256(verifier)) (RFC 7636 §4.6).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// `grant_type=authorization_code`.
pub async fn grant(req: &TokenRequest<'_>) -> Result<serde_json::Value, EntraError> {
    let form = req.form;
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("code"))?;
    let grant = req.idp.codes.take(code)?;
    if grant.client_id != req.client.client_id || grant.tenant_id != req.tenant.id {
        return Err(EntraError::bad_grant(
            "the authorization code was issued to another client or tenant.",
        ));
    }
    let redirect_uri = form
        .redirect_uri
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("redirect_uri"))?;
    if redirect_uri != grant.redirect_uri {
        return Err(EntraError::reply_address_mismatch());
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = form.code_verifier.as_deref().unwrap_or_default();
        let matches: bool = s256(verifier).as_bytes().ct_eq(challenge.as_bytes()).into();
        if verifier.is_empty() || !matches {
            return Err(EntraError::pkce_mismatch());
        }
    }
    let acr = req.check_client(ClientCheck::Platform(grant.platform))?;
    let user = req
        .registry
        .user(&grant.user_id)
        .ok_or_else(|| EntraError::bad_grant("the user who signed in no longer exists."))?;
    let who = SignedIn {
        tenant: &req.tenant,
        user,
        client: &req.client,
        requested: &grant.requested,
        nonce: grant.nonce.as_deref(),
        auth_time: grant.auth_time,
        client_acr: acr,
        v1_endpoint: req.endpoint == Endpoint::V1,
        client_info: form.client_info,
    };
    let chain = Chain::New {
        spa: grant.platform == Platform::Spa,
    };
    user_token::respond(req.idp, req.registry, &who, chain).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn codes_are_single_use() {
        let codes = Codes::default();
        let code = codes
            .issue(CodeGrant {
                tenant_id: "t".into(),
                client_id: "c".into(),
                user_id: "u".into(),
                redirect_uri: "http://localhost/".into(),
                platform: Platform::Public,
                requested: Requested {
                    api_id: None,
                    resource_ref: String::new(),
                    api_scopes: vec![],
                    oidc: vec!["openid".into()],
                },
                nonce: None,
                code_challenge: None,
                auth_time: 0,
            })
            .unwrap();
        assert!(codes.take(&code).is_ok());
        assert_eq!(codes.take(&code).unwrap_err().code, 54005);
        assert_eq!(codes.take("other").unwrap_err().code, 70000);
    }
}
