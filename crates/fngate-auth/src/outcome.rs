//! What authentication hands back to the gateway.

use http::StatusCode;
use serde_json::{Map, Value};

/// An authenticated caller: every claim (or authorizer `context` entry) for `${request.auth[...]}`.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub claims: Map<String, Value>,
    /// Whole-token scopes gathered from `scope`, `scp` and `roles` (or the authorizer's `scope`).
    pub scopes: Vec<String>,
}

/// Why a request was refused; the gateway turns it into a response.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    pub status: StatusCode,
    /// Value for the `WWW-Authenticate` header, when one is due.
    pub www_authenticate: Option<String>,
    /// Short, non-leaking text for the JSON error body.
    pub message: String,
    /// OCI execution-log wording (e.g. `JWT token not issued for the configured audience.`).
    pub log_message: String,
}

#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Authenticated(Principal),
    /// No token, and the policy allows anonymous access.
    Anonymous,
    Rejected(AuthRejection),
}

/// The request as authentication sees it.
pub struct AuthRequest<'a> {
    pub head: &'a http::request::Parts,
    /// Body, for `request.body` authorizer parameters (may be empty).
    pub body: &'a [u8],
    /// Host name used in `realm="…"`.
    pub realm: &'a str,
}
