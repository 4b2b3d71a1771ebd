//! `fngate gateway validate --server-check`: fetch every remote key source of a specification once,
//! now, with the same client rules as the running gateway (trusted CAs, redirect rules, size
//! limits), and report each failure at the JSON path of its URI.

use fngate_spec::{AuthenticationPolicy, PublicKeySet, SourceUriDetails, TokenValidationPolicy};

use crate::AuthService;
use crate::jwks::{RemoteSource, check_remote_uri, fetch_key_set};

const PATH: &str = "requestPolicies.authentication";

/// A key source a specification names: the JSON path of its URI, the source, and whether TLS
/// verification is off for it.
fn remote_sources(policy: &AuthenticationPolicy) -> Vec<(String, RemoteSource, bool)> {
    let mut found = Vec::new();
    match policy {
        AuthenticationPolicy::Token(token) => match &token.validation_policy {
            TokenValidationPolicy::RemoteJwks(remote) => found.push((
                format!("{PATH}.validationPolicy.uri"),
                RemoteSource::Jwks(remote.uri.clone()),
                remote.is_ssl_verify_disabled.unwrap_or(false),
            )),
            TokenValidationPolicy::RemoteDiscovery(discovery) => {
                if let SourceUriDetails::DiscoveryUri(source) = &discovery.source_uri_details {
                    found.push((
                        format!("{PATH}.validationPolicy.sourceUriDetails.uri"),
                        RemoteSource::Discovery(source.uri.clone()),
                        discovery.is_ssl_verify_disabled.unwrap_or(false),
                    ));
                }
            }
            TokenValidationPolicy::StaticKeys(_) => {}
        },
        AuthenticationPolicy::Jwt(legacy) => {
            if let PublicKeySet::RemoteJwks(remote) = &legacy.public_keys {
                found.push((
                    format!("{PATH}.publicKeys.uri"),
                    RemoteSource::Jwks(remote.uri.clone()),
                    remote.is_ssl_verify_disabled.unwrap_or(false),
                ));
            }
        }
        AuthenticationPolicy::Custom(_) => {}
    }
    found
}

impl AuthService {
    /// Fetches each JWKS / discovery URI of `policy` (bypassing the key caches) and returns
    /// `(JSON path, what went wrong)` for each that does not yield a usable key set.
    pub async fn probe_key_sources(&self, policy: &AuthenticationPolicy) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (path, source, ssl_verify_disabled) in remote_sources(policy) {
            if let Err(e) = check_remote_uri(source.uri(), "uri") {
                problems.push((path, e.0.trim_start_matches("uri: ").to_owned()));
                continue;
            }
            let client = match self.http_client(ssl_verify_disabled) {
                Ok(client) => client,
                Err(e) => {
                    problems.push((path, e.0));
                    continue;
                }
            };
            if let Err(why) = fetch_key_set(&client, &source, self.options.max_document_bytes).await {
                problems.push((path, format!("the keys cannot be fetched: {why}")));
            }
        }
        problems
    }
}
