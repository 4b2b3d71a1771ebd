//! Sign-ins in progress, in memory (a restart drops them; the user starts again): what the app
//! asked for, who has signed in so far, and the anti-CSRF binding of each page.
//!
//! Each sign-in has an id (`tx`, a hidden form field), a secret in a cookie
//! `fngate_signin_<tx>` (HttpOnly, SameSite=Strict, so no other site's form can send it) and a
//! form token that changes with every page rendered. A POST is taken only when the cookie and
//! the form token both match (constant-time compares).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::registry::Platform;
use crate::scopes::Requested;

/// How long a sign-in page stays usable.
pub const SIGN_IN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Sign-ins kept at most; beyond, new ones are refused (memory is bounded).
const MAX_PENDING: usize = 10_000;
/// Wrong passwords allowed on one sign-in before it is dropped.
pub const MAX_PASSWORD_FAILURES: u32 = 10;

const COOKIE_PREFIX: &str = "fngate_signin_";

/// An authorization request that passed every check.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub redirect_uri: String,
    pub platform: Platform,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 challenge.
    pub code_challenge: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

#[derive(Clone, Debug)]
pub enum Purpose {
    /// Ends with a redirect carrying a code.
    Authorize(AuthRequest),
    /// Ends by approving the device code (the key of `device::Devices`).
    Device { device_key: String },
}

#[derive(Clone, Debug)]
pub struct Pending {
    pub tenant_id: String,
    pub client_id: String,
    pub requested: Requested,
    pub purpose: Purpose,
    pub login_hint: String,
    /// Set once the password was right.
    pub user_id: Option<String>,
    pub auth_time: i64,
    pub password_failures: u32,
    cookie: String,
    form_token: String,
    expires: Instant,
}

impl Pending {
    pub fn new(
        tenant_id: String,
        client_id: String,
        requested: Requested,
        purpose: Purpose,
        login_hint: String,
    ) -> Self {
        Pending {
            tenant_id,
            client_id,
            requested,
            purpose,
            login_hint,
            user_id: None,
            auth_time: 0,
            password_failures: 0,
            cookie: random_token(),
            form_token: String::new(),
            expires: Instant::now() + SIGN_IN_LIFETIME,
        }
    }

    pub fn form_token(&self) -> &str {
        &self.form_token
    }
}

/// Why a POST was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No such sign-in, or it expired.
    Expired,
    /// The cookie or the form token is missing or wrong.
    Forgery,
}

#[derive(Default)]
pub struct SignIns {
    pending: Mutex<HashMap<String, Pending>>,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SignIns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a new sign-in; returns its id, its first form token and the `Set-Cookie` value.
    /// `None` when too many are in progress.
    pub fn start(&self, mut pending: Pending, secure: bool) -> Option<(String, String, String)> {
        let mut map = self.lock();
        if map.len() >= MAX_PENDING {
            let now = Instant::now();
            map.retain(|_, p| p.expires > now);
            if map.len() >= MAX_PENDING {
                return None;
            }
        }
        let tx = random_token();
        pending.form_token = random_token();
        let cookie = set_cookie(&tx, &pending.cookie, secure);
        let form_token = pending.form_token.clone();
        map.insert(tx.clone(), pending);
        Some((tx, form_token, cookie))
    }

    /// Checks a POST of sign-in `tx` (its cookie among `headers`, its `form_token`) and hands the
    /// sign-in out with a fresh form token for the next page.
    pub fn take_post(&self, tx: &str, form_token: &str, headers: &HeaderMap) -> Result<Pending, Refused> {
        let mut map = self.lock();
        let pending = map.get_mut(tx).ok_or(Refused::Expired)?;
        if pending.expires <= Instant::now() {
            map.remove(tx);
            return Err(Refused::Expired);
        }
        let cookie = cookie_value(headers, &format!("{COOKIE_PREFIX}{tx}")).unwrap_or_default();
        let cookie_ok: bool = cookie.as_bytes().ct_eq(pending.cookie.as_bytes()).into();
        let token_ok: bool = form_token.as_bytes().ct_eq(pending.form_token.as_bytes()).into();
        if !(cookie_ok && token_ok) || form_token.is_empty() {
            return Err(Refused::Forgery);
        }
        pending.form_token = random_token();
        Ok(pending.clone())
    }

    /// Writes back what a step learnt (user, failures), keeping the form token issued.
    pub fn update(&self, tx: &str, pending: &Pending) {
        if let Some(stored) = self.lock().get_mut(tx) {
            stored.user_id = pending.user_id.clone();
            stored.auth_time = pending.auth_time;
            stored.password_failures = pending.password_failures;
        }
    }

    pub fn finish(&self, tx: &str) {
        self.lock().remove(tx);
    }
}

fn set_cookie(tx: &str, value: &str, secure: bool) -> String {
    format!(
        "{COOKIE_PREFIX}{tx}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        SIGN_IN_LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending::new(
            "t".into(),
            "c".into(),
            Requested {
                api_id: None,
                resource_ref: String::new(),
                api_scopes: vec![],
                oidc: vec!["openid".into()],
            },
            Purpose::Device { device_key: "d".into() },
            String::new(),
        )
    }

    #[test]
    fn posts_need_the_cookie_and_the_current_form_token() {
        let sign_ins = SignIns::default();
        let (tx, token, set) = sign_ins.start(pending(), false).unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        let mut headers = HeaderMap::new();
        assert_eq!(sign_ins.take_post(&tx, &token, &headers).unwrap_err(), Refused::Forgery);
        headers.insert(header::COOKIE, format!("other=1; {cookie}").parse().unwrap());
        assert_eq!(
            sign_ins.take_post(&tx, "wrong", &headers).unwrap_err(),
            Refused::Forgery
        );
        let next = sign_ins.take_post(&tx, &token, &headers).unwrap();
        // The token rotates: the old one is no longer good.
        assert_eq!(sign_ins.take_post(&tx, &token, &headers).unwrap_err(), Refused::Forgery);
        assert!(sign_ins.take_post(&tx, next.form_token(), &headers).is_ok());
        assert_eq!(
            sign_ins.take_post("nope", &token, &headers).unwrap_err(),
            Refused::Expired
        );
    }
}
