//! Test support for everything that signs or checks JWTs: keys generated with aws-lc-rs, tokens
//! shaped like Entra's, JWKS servers on `127.0.0.1:0` the test controls (plain HTTP with OIDC
//! discovery; HTTPS from a throwaway CA, with redirects), and a strict verifier. Used only as a dev-dependency (`publish = false`).

mod jwks_server;
mod keys;
mod tls_server;
mod tokens;
mod verify;

pub use jwks_server::JwksServer;
pub use keys::{TestKey, keys, pem};
pub use tls_server::TlsJwksServer;
pub use tokens::{
    AUDIENCE, CLIENT_ID, TENANT, entra_v1_claims, entra_v2_claims, now, rs256, sign, sign_raw, v1_issuer, v2_issuer,
};
pub use verify::verify;
