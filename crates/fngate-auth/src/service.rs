//! The shared auth state ([`AuthService`]) and one deployment's policy ready for requests ([`Authenticator`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::claims::ClaimPolicy;
use crate::custom::{CustomAuthenticator, CustomCache};
use crate::jwks::{FetchSettings, RemoteKeys, RemoteSource, check_remote_uri};
use crate::keys::KeySet;
use crate::token::{self, Extracted};
use crate::token_cache::{TokenCache, VerifiedToken};
use crate::trust::TrustedRoots;
use crate::{
    AuthConfig, AuthConfigError, AuthOutcome, AuthRequest, JwtConfig, KeySource, SigningAlgorithm, TokenLocation,
    challenge,
};

/// Tuning for [`AuthService`]; the defaults suit production, tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// Unknown-`kid` refetches and retries after failures happen at most this often per JWKS URI.
    pub min_refetch_interval: Duration,
    /// Timeout for one JWKS or discovery request.
    pub fetch_timeout: Duration,
    /// Largest JWKS / discovery document accepted.
    pub max_document_bytes: usize,
    /// Largest token accepted (checked before any decoding).
    pub max_token_bytes: usize,
    /// Verified tokens kept (all deployments together).
    pub token_cache_capacity: u64,
    /// Authorizer-function results kept (all deployments together).
    pub authorizer_cache_capacity: u64,
    /// CAs trusted for JWKS / discovery fetches besides the system store (fngate's own IdP CA,
    /// `fngate up --trust-ca`).
    pub trusted_roots: TrustedRoots,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            min_refetch_interval: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(10),
            max_document_bytes: 1024 * 1024,
            max_token_bytes: 16 * 1024,
            token_cache_capacity: 100_000,
            authorizer_cache_capacity: 10_000,
            trusted_roots: TrustedRoots::default(),
        }
    }
}

/// Shared state for all deployments: JWKS caches keyed by URI, verified-token cache, HTTP client.
pub struct AuthService {
    invoker: Option<Arc<dyn fngate_invoke::FunctionInvoker>>,
    pub(crate) options: AuthOptions,
    /// `(source, ssl verification disabled)` → the shared key cache, while some deployment uses it.
    remote: Mutex<HashMap<(RemoteSource, bool), Weak<RemoteKeys>>>,
    token_cache: TokenCache,
    custom_cache: CustomCache,
    next_id: AtomicU64,
}

impl AuthService {
    pub fn new(invoker: Option<Arc<dyn fngate_invoke::FunctionInvoker>>) -> Arc<Self> {
        Self::with_options(invoker, AuthOptions::default())
    }

    pub fn with_options(invoker: Option<Arc<dyn fngate_invoke::FunctionInvoker>>, options: AuthOptions) -> Arc<Self> {
        Arc::new(AuthService {
            invoker,
            token_cache: TokenCache::new(options.token_cache_capacity),
            custom_cache: CustomCache::new(options.authorizer_cache_capacity),
            options,
            remote: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        })
    }

    /// Builds the authenticator for one deployment's policy. Fetches keys for remote sources.
    ///
    /// A JWKS that cannot be fetched does not fail the build (OCI serves 500 for the deployment and the
    /// log says why; a background task keeps trying). Policies that cannot be enforced do fail it.
    pub async fn build(self: &Arc<Self>, config: AuthConfig) -> Result<Arc<Authenticator>, AuthConfigError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let inner = match &config {
            AuthConfig::Jwt(jwt) => Inner::Jwt(self.build_jwt(jwt).await?),
            AuthConfig::Custom(custom) => {
                let invoker = self.invoker.clone().ok_or_else(|| {
                    AuthConfigError("CUSTOM_AUTHENTICATION needs the functions runtime, which is not running".into())
                })?;
                Inner::Custom(CustomAuthenticator::new(custom, invoker, self.custom_cache.clone())?)
            }
        };
        Ok(Arc::new(Authenticator {
            id,
            config,
            inner,
            token_cache: self.token_cache.clone(),
            max_token_bytes: self.options.max_token_bytes,
            failure_log: std::sync::Mutex::new(fngate_http::LogEvery::new(FAILURE_LOG_EVERY)),
        }))
    }

    async fn build_jwt(&self, config: &JwtConfig) -> Result<JwtPolicy, AuthConfigError> {
        if config.algorithms.is_empty() {
            return Err(AuthConfigError(
                "algorithms: at least one signing algorithm must be allowed".into(),
            ));
        }
        if let TokenLocation::Header { name, .. } | TokenLocation::Query { name } = &config.location
            && name.trim().is_empty()
        {
            return Err(AuthConfigError(
                "the token header or query parameter name is empty".into(),
            ));
        }
        if let TokenLocation::Header { name, .. } = &config.location
            && http::HeaderName::try_from(name.as_str()).is_err()
        {
            return Err(AuthConfigError(format!(
                "tokenHeader: '{name}' is not a valid header name"
            )));
        }
        if config.issuers.is_empty() {
            tracing::warn!("JWT policy has no issuers: tokens from any issuer are accepted");
        }
        if config.audiences.is_empty() {
            tracing::warn!("JWT policy has no audiences: tokens for any API are accepted");
        }
        let keys = match &config.keys {
            KeySource::StaticKeys(keys) => Keys::Static(Arc::new(KeySet::from_static(keys).map_err(AuthConfigError)?)),
            KeySource::RemoteJwks {
                uri,
                ssl_verify_disabled,
                max_cache_duration,
            } => {
                check_remote_uri(uri, "uri")?;
                Keys::Remote(
                    self.remote_keys(
                        RemoteSource::Jwks(uri.clone()),
                        *ssl_verify_disabled,
                        *max_cache_duration,
                    )
                    .await?,
                )
            }
            KeySource::RemoteDiscovery {
                uri,
                ssl_verify_disabled,
                max_cache_duration,
            } => {
                check_remote_uri(uri, "uri")?;
                Keys::Remote(
                    self.remote_keys(
                        RemoteSource::Discovery(uri.clone()),
                        *ssl_verify_disabled,
                        *max_cache_duration,
                    )
                    .await?,
                )
            }
        };
        let mut algorithms = config.algorithms.clone();
        algorithms.dedup();
        Ok(JwtPolicy {
            location: config.location.clone(),
            algorithms,
            keys,
            claims: ClaimPolicy {
                issuers: config.issuers.clone(),
                audiences: config.audiences.clone(),
                verify_claims: config.verify_claims.clone(),
                skew: config.max_clock_skew.as_secs_f64(),
            },
            anonymous: config.is_anonymous_access_allowed,
        })
    }

    async fn remote_keys(
        &self,
        source: RemoteSource,
        ssl_verify_disabled: bool,
        max_cache: Duration,
    ) -> Result<Arc<RemoteKeys>, AuthConfigError> {
        if max_cache.is_zero() {
            return Err(AuthConfigError("maxCacheDurationInHours must be positive".into()));
        }
        let shared = {
            let mut map = self
                .remote
                .lock()
                .map_err(|_| AuthConfigError("internal error: key cache lock poisoned".into()))?;
            map.retain(|_, weak| weak.strong_count() > 0);
            let key = (source.clone(), ssl_verify_disabled);
            match map.get(&key).and_then(Weak::upgrade) {
                Some(existing) => {
                    existing.lower_max_cache(max_cache);
                    existing
                }
                None => {
                    let client = self.http_client(ssl_verify_disabled)?;
                    let settings = FetchSettings {
                        min_refetch_interval: self.options.min_refetch_interval,
                        max_document_bytes: self.options.max_document_bytes,
                    };
                    let created = RemoteKeys::new(source, client, settings, max_cache);
                    map.insert(key, Arc::downgrade(&created));
                    created
                }
            }
        };
        shared.ensure_loaded().await;
        if shared.current().is_none() {
            tracing::error!(
                uri = %shared.uri(),
                error = %shared.last_error().unwrap_or_default(),
                "could not fetch the JWKS while loading the deployment; its requests get 500 until a fetch succeeds"
            );
        }
        Ok(shared)
    }

    pub(crate) fn http_client(&self, ssl_verify_disabled: bool) -> Result<reqwest::Client, AuthConfigError> {
        let builder = self.options.trusted_roots.apply(reqwest::Client::builder());
        builder
            .timeout(self.options.fetch_timeout)
            .connect_timeout(self.options.fetch_timeout)
            .redirect(crate::jwks::redirect_policy())
            .tls_danger_accept_invalid_certs(ssl_verify_disabled)
            .user_agent(concat!("fngate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthConfigError(format!("cannot build the HTTP client for JWKS fetches: {e}")))
    }

    /// How many times the JWKS at `uri` has been fetched (for tests and metrics).
    pub fn jwks_fetch_count(&self, uri: &str) -> u64 {
        let Ok(map) = self.remote.lock() else { return 0 };
        map.iter()
            .filter(|((source, _), _)| source.uri() == uri)
            .filter_map(|(_, weak)| weak.upgrade())
            .map(|keys| keys.fetch_count())
            .sum()
    }
}

enum Keys {
    Static(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

struct JwtPolicy {
    location: TokenLocation,
    algorithms: Vec<SigningAlgorithm>,
    keys: Keys,
    claims: ClaimPolicy,
    anonymous: bool,
}

enum Inner {
    Jwt(JwtPolicy),
    Custom(CustomAuthenticator),
}

/// One deployment's authentication policy, ready for requests.
pub struct Authenticator {
    id: u64,
    config: AuthConfig,
    inner: Inner,
    token_cache: TokenCache,
    max_token_bytes: usize,
    /// Failed requests are on demand for any client, so their lines are rate-limited.
    failure_log: std::sync::Mutex<fngate_http::LogEvery>,
}

/// At most one INFO/ERROR line per authenticator (one per deployment) this often; the others go
/// to DEBUG, and the line that is written says how many it stands for.
const FAILURE_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Logs a failure with OCI's execution-log wording and event name: every one at DEBUG, and at
/// most one line a second at INFO (ERROR for server errors) counting those since the last.
fn log_failure(event: &str, rejection: &crate::AuthRejection, log: &std::sync::Mutex<fngate_http::LogEvery>) {
    let status = rejection.status.as_u16();
    let due = log.lock().ok().and_then(|mut log| log.hit());
    match due {
        Some(failures) if rejection.status.is_server_error() => {
            tracing::error!(event, status, failures, "{}", rejection.log_message)
        }
        Some(failures) => tracing::info!(event, status, failures, "{}", rejection.log_message),
        None => tracing::debug!(event, status, "{}", rejection.log_message),
    }
}

impl Authenticator {
    pub fn is_anonymous_access_allowed(&self) -> bool {
        self.config.is_anonymous_access_allowed()
    }

    /// The policy this authenticator enforces.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Why requests get 500 now: a remote key source that has never yielded keys, with the URI
    /// and the last fetch error. `None` when keys are available (or the policy needs none).
    pub fn keys_unavailable(&self) -> Option<String> {
        match &self.inner {
            Inner::Jwt(JwtPolicy {
                keys: Keys::Remote(remote),
                ..
            }) if remote.current().is_none() => Some(format!(
                "the keys at {} cannot be fetched ({}); requests get 500 until they can",
                remote.uri(),
                remote.last_error().unwrap_or_else(|| "no answer yet".into())
            )),
            _ => None,
        }
    }

    /// Authenticates one request. Never panics on request input; every failure is a rejection
    /// with its status, challenge and log line (already logged here with OCI's event name).
    pub async fn authenticate(&self, request: AuthRequest<'_>) -> AuthOutcome {
        let (event, outcome) = match &self.inner {
            Inner::Jwt(policy) => (
                "tokenAuthentication.authenticationFailed",
                self.authenticate_jwt(policy, &request).await,
            ),
            Inner::Custom(custom) => (
                "customAuthentication.authenticationFailed",
                custom.authenticate(self.id, &request).await,
            ),
        };
        if let AuthOutcome::Rejected(rejection) = &outcome {
            log_failure(event, rejection, &self.failure_log);
        }
        outcome
    }

    async fn authenticate_jwt(&self, policy: &JwtPolicy, request: &AuthRequest<'_>) -> AuthOutcome {
        let realm = request.realm;
        let token = match token::extract(request.head, &policy.location) {
            Extracted::Found(token) => token,
            Extracted::Missing if policy.anonymous => return AuthOutcome::Anonymous,
            Extracted::Missing => {
                return AuthOutcome::Rejected(challenge::missing_token(realm, "JWT token missing from the request."));
            }
            Extracted::Ambiguous(why) => return AuthOutcome::Rejected(challenge::invalid_request(realm, why)),
            Extracted::Malformed => {
                return AuthOutcome::Rejected(challenge::invalid_token(
                    realm,
                    "The access token is malformed",
                    "JWT token is not a valid bearer token.",
                ));
            }
        };
        let token: &str = &token;
        let now = now_secs();
        let hash = TokenCache::hash(self.id, token);
        if let Some(hit) = self.token_cache.get(&hash)
            && now <= hit.valid_until
            && self.key_still_trusted(policy, &hit.kid)
        {
            return AuthOutcome::Authenticated(hit.principal.clone());
        }
        match self.verify(policy, token, realm, now).await {
            Ok(verified) => AuthOutcome::Authenticated(self.token_cache.insert(hash, verified, now)),
            Err(rejection) => AuthOutcome::Rejected(rejection),
        }
    }

    /// A cached token stays good only while the key that signed it is still published.
    fn key_still_trusted(&self, policy: &JwtPolicy, kid: &str) -> bool {
        match &policy.keys {
            Keys::Static(set) => set.contains_kid(kid),
            Keys::Remote(remote) => remote.contains_kid(kid),
        }
    }

    async fn verify(
        &self,
        policy: &JwtPolicy,
        token: &str,
        realm: &str,
        now: f64,
    ) -> Result<VerifiedToken, crate::AuthRejection> {
        let jws = token::parse_compact(token, self.max_token_bytes)
            .map_err(|m| challenge::invalid_token(realm, "The access token is malformed", m.0))?;
        // The allow-list decides; the token's `alg` only picks within it.
        let Some(alg) = SigningAlgorithm::from_jose(&jws.alg).filter(|a| policy.algorithms.contains(a)) else {
            return Err(challenge::invalid_token(
                realm,
                "The access token algorithm is not accepted",
                format!(
                    "JWT token signed with algorithm '{}', which the policy does not allow.",
                    challenge::quote_safe(&jws.alg)
                ),
            ));
        };
        let Some(kid) = jws.kid.as_deref() else {
            return Err(challenge::invalid_token(
                realm,
                "The access token has no key id",
                "JWT token header has no 'kid'.",
            ));
        };
        let keys = self.keys_for(policy, kid).await?;
        let mut candidates = keys.candidates(kid, alg).peekable();
        if candidates.peek().is_none() {
            return Err(challenge::invalid_token(
                realm,
                "The access token signing key is unknown",
                "JWT token signed with a key that is not among the trusted keys.",
            ));
        }
        if !candidates.any(|key| key.verify(jws.signing_input, &jws.signature, alg)) {
            return Err(challenge::invalid_token(
                realm,
                "The access token signature is invalid",
                "JWT token signature validation failed.",
            ));
        }
        policy
            .claims
            .check(&jws.claims, now)
            .map_err(|f| challenge::invalid_token(realm, f.description, f.log))?;
        let exp = crate::claims::expiry(&jws.claims).unwrap_or(now);
        let scopes = crate::claims::scopes(&jws.claims);
        Ok(VerifiedToken {
            valid_until: exp + policy.claims.skew,
            kid: kid.to_owned(),
            principal: crate::Principal {
                claims: jws.claims,
                scopes,
            },
        })
    }

    async fn keys_for(&self, policy: &JwtPolicy, kid: &str) -> Result<Arc<KeySet>, crate::AuthRejection> {
        let remote = match &policy.keys {
            Keys::Static(set) => return Ok(set.clone()),
            Keys::Remote(remote) => remote,
        };
        let current = match remote.current() {
            Some(set) if set.contains_kid(kid) => return Ok(set),
            Some(_) => remote.refetch_for_unknown_kid(kid).await,
            None => remote.retry_when_empty().await,
        };
        current.ok_or_else(|| {
            challenge::keys_unavailable(format!(
                "authentication.idpCallFailed: no signing keys could be fetched from {}: {}",
                remote.uri(),
                remote
                    .last_error()
                    .unwrap_or_else(|| "no fetch has completed yet".into())
            ))
        })
    }
}
