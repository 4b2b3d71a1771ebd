//! Token authentication and authorization for the gateway.
//!
//! CONTRACT (agreed between the gateway and auth work; extend, do not break):
//! - The gateway converts the spec's authentication policy into [`AuthConfig`] with
//!   `config_from_spec` (and each route's `authorization` with `authorization_from_spec`), and calls
//!   [`AuthService::build`] when a deployment loads (this is where JWKS are fetched first).
//!   `check_route_authorization` rejects ANONYMOUS routes under a policy without anonymous access.
//! - Per request it calls [`Authenticator::authenticate`] with the request head and gets an
//!   [`AuthOutcome`]; then [`authorize`] (or [`authorize_in_realm`], which names the realm in the
//!   challenge) for the route's authorization policy.
//! - `AuthService::with_options` tunes the minimum unknown-`kid` refetch interval (default 5 min), fetch
//!   timeout, size limits and cache capacities; `AuthService::new` uses the defaults.
//! - A rejection carries everything the gateway needs to answer (status, `WWW-Authenticate`,
//!   short message for the JSON body, execution-log line — already logged by this crate). The gateway
//!   applies `validationFailurePolicy` (MODIFY_RESPONSE) itself, since it owns context variables.
//!
//! Modules: `token` (finding and splitting the token), `keys` (JWK/PEM → verification keys),
//! `jwks` (remote key cache), `claims` (claim checks and scopes), `token_cache` (verified tokens),
//! `custom` (authorizer functions), `challenge` (RFC 6750 rejections), `authorize` (route policies),
//! `from_spec` (OCI spec → config), `service` (the shared service and per-deployment authenticators),
//! `trust` (CAs trusted for key fetches), `probe` (`validate --server-check`'s one-off key fetches).

mod authorize;
mod challenge;
mod claims;
mod config;
mod custom;
mod from_spec;
mod jwks;
mod keys;
mod outcome;
mod probe;
mod service;
mod strict_json;
mod token;
mod token_cache;
mod trust;

pub use authorize::{authorize, authorize_in_realm, check_route_authorization};
pub use config::{
    AuthConfig, AuthConfigError, Authorization, ClaimCheck, CustomConfig, JwtConfig, KeySource, SigningAlgorithm,
    StaticKey, TokenLocation,
};
pub use from_spec::{authorization_from_spec, config_from_spec};
pub use outcome::{AuthOutcome, AuthRejection, AuthRequest, Principal};
pub use service::{AuthOptions, AuthService, Authenticator};
pub use trust::TrustedRoots;
