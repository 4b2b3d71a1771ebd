//! Test fixtures for fngate-auth: policies and calls into the `Authenticator`. Keys, tokens and the
//! JWKS server come from the shared `fngate-test-jwt` crate.
#![allow(dead_code)]

use std::time::Duration;

use fngate_auth::{
    AuthConfig, AuthOutcome, AuthRejection, AuthRequest, Authenticator, ClaimCheck, JwtConfig, KeySource,
    SigningAlgorithm, TokenLocation,
};
pub use fngate_test_jwt::*;

pub const REALM: &str = "api.example.com";

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
