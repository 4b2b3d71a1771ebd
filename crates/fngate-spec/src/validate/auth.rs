//! Authentication policy checks (reference §2): token location, clock skew, key sources,
//! issuer/audience/claim limits, failure policies, authorizer parameters.

use base64::Engine as _;

use super::Checker;
use crate::diagnostics::{push_index, push_key};
use crate::limits::{
    CACHE_HOURS, CLOCK_SKEW_SECS, JWK_ALGS, MAX_AUDIENCES, MAX_AUTHORIZER_PARAMETERS, MAX_CACHE_KEYS, MAX_ISSUERS,
    MAX_STATIC_KEYS, MAX_VERIFY_CLAIMS, RSA_BITS,
};
use crate::model::{
    AdditionalValidationPolicy, AuthenticationPolicy, ClientAppDetails, CustomAuthenticationPolicy, JsonWebKey,
    JsonWebTokenClaim, ModifyResponseValidationFailurePolicy, OAuth2ResponseValidationFailurePolicy, PublicKeySet,
    SourceUriDetails, StaticPublicKey, TokenAuthenticationPolicy, TokenValidationPolicy, ValidationFailurePolicy,
};
use crate::template::ContextVar;

/// Where the token is read from, shared by the token and legacy JWT policies.
struct TokenLocation<'a> {
    header: Option<&'a str>,
    query: Option<&'a str>,
    scheme: Option<&'a str>,
    skew: Option<f64>,
}

impl Checker<'_> {
    pub(super) fn authentication_policy(&mut self, path: &str, policy: &AuthenticationPolicy) {
        match policy {
            AuthenticationPolicy::Token(token) => self.token_policy(path, token),
            AuthenticationPolicy::Jwt(jwt) => {
                self.token_location(
                    path,
                    TokenLocation {
                        header: jwt.token_header.as_deref(),
                        query: jwt.token_query_param.as_deref(),
                        scheme: jwt.token_auth_scheme.as_deref(),
                        skew: jwt.max_clock_skew_in_seconds,
                    },
                );
                for (field, list, max) in [
                    ("issuers", &jwt.issuers, MAX_ISSUERS),
                    ("audiences", &jwt.audiences, MAX_AUDIENCES),
                ] {
                    let list_path = push_key(path, field);
                    if list.is_empty() {
                        self.error(
                            &list_path,
                            format!("JWT_AUTHENTICATION needs at least one entry in {field}"),
                        );
                    }
                    self.string_list(&list_path, list, max, field);
                }
                self.verify_claims(&push_key(path, "verifyClaims"), &jwt.verify_claims);
                let keys = push_key(path, "publicKeys");
                match &jwt.public_keys {
                    PublicKeySet::RemoteJwks(remote) => self.remote_jwks(
                        &keys,
                        &remote.uri,
                        remote.max_cache_duration_in_hours,
                        remote.is_ssl_verify_disabled,
                    ),
                    PublicKeySet::StaticKeys(set) => self.static_keys(&push_key(&keys, "keys"), &set.keys),
                }
            }
            AuthenticationPolicy::Custom(custom) => self.custom_policy(path, custom),
        }
    }

    fn token_policy(&mut self, path: &str, token: &TokenAuthenticationPolicy) {
        self.token_location(
            path,
            TokenLocation {
                header: token.token_header.as_deref(),
                query: token.token_query_param.as_deref(),
                scheme: token.token_auth_scheme.as_deref(),
                skew: token.max_clock_skew_in_seconds,
            },
        );
        let vp = push_key(path, "validationPolicy");
        match &token.validation_policy {
            TokenValidationPolicy::RemoteJwks(remote) => self.remote_jwks(
                &vp,
                &remote.uri,
                remote.max_cache_duration_in_hours,
                remote.is_ssl_verify_disabled,
            ),
            TokenValidationPolicy::StaticKeys(keys) => self.static_keys(&push_key(&vp, "keys"), &keys.keys),
            TokenValidationPolicy::RemoteDiscovery(discovery) => {
                self.client_details(&push_key(&vp, "clientDetails"), &discovery.client_details, false);
                self.source_uri(&push_key(&vp, "sourceUriDetails"), &discovery.source_uri_details, false);
                self.cache_hours(&vp, discovery.max_cache_duration_in_hours);
                self.ssl_verify(&vp, discovery.is_ssl_verify_disabled);
            }
        }
        let additional_path = push_key(&vp, "additionalValidationPolicy");
        if let Some(additional) = token.validation_policy.additional_validation_policy() {
            self.additional_validation(&additional_path, additional);
        }
        let checks_keys_locally = !matches!(token.validation_policy, TokenValidationPolicy::RemoteDiscovery(_));
        let additional = token.validation_policy.additional_validation_policy();
        if checks_keys_locally && additional.is_none_or(|a| a.audiences.is_empty()) {
            self.warn(
                additional_path,
                "no audiences are configured, so tokens issued for any audience are accepted",
            );
        }
        if let Some(failure) = &token.validation_failure_policy {
            let fp = push_key(path, "validationFailurePolicy");
            match failure {
                ValidationFailurePolicy::ModifyResponse(modify) => self.modify_response(&fp, modify),
                ValidationFailurePolicy::OAuth2(oauth2) => {
                    if !matches!(token.validation_policy, TokenValidationPolicy::RemoteDiscovery(_)) {
                        self.error(
                            push_key(&fp, "type"),
                            format!(
                                "OAUTH2 is allowed only with validationPolicy REMOTE_DISCOVERY (this policy uses {})",
                                token.validation_policy.type_name()
                            ),
                        );
                    }
                    self.oauth2(&fp, oauth2);
                }
            }
        }
    }

    fn token_location(&mut self, path: &str, location: TokenLocation<'_>) {
        match (location.header, location.query) {
            (Some(_), Some(_)) => self.error(path, "set either tokenHeader or tokenQueryParam, not both"),
            (None, None) => self.error(path, "set tokenHeader (with tokenAuthScheme) or tokenQueryParam"),
            (Some(header), None) => {
                self.header_name(&push_key(path, "tokenHeader"), header);
                match location.scheme {
                    None => self.error(
                        push_key(path, "tokenAuthScheme"),
                        "is required when tokenHeader is set (usually `Bearer`)",
                    ),
                    Some(scheme) if !super::is_token(scheme) => self.error(
                        push_key(path, "tokenAuthScheme"),
                        format!("`{scheme}` is not a valid authentication scheme"),
                    ),
                    Some(_) => {}
                }
            }
            (None, Some(query)) => {
                self.non_empty(&push_key(path, "tokenQueryParam"), query);
                if location.scheme.is_some() {
                    self.warn(
                        push_key(path, "tokenAuthScheme"),
                        "is ignored when the token is read from tokenQueryParam",
                    );
                }
            }
        }
        if let Some(skew) = location.skew
            && !CLOCK_SKEW_SECS.contains(&skew)
        {
            self.error(
                push_key(path, "maxClockSkewInSeconds"),
                format!("must be between 0 and 120 seconds (got {skew})"),
            );
        }
    }

    fn remote_jwks(&mut self, path: &str, uri: &str, cache_hours: Option<i64>, ssl_disabled: Option<bool>) {
        self.http_url(&push_key(path, "uri"), uri);
        self.cache_hours(path, cache_hours);
        self.ssl_verify(path, ssl_disabled);
    }

    fn cache_hours(&mut self, path: &str, hours: Option<i64>) {
        if let Some(hours) = hours
            && !CACHE_HOURS.contains(&hours)
        {
            self.error(
                push_key(path, "maxCacheDurationInHours"),
                format!("must be between 1 and 24 hours (got {hours})"),
            );
        }
    }

    fn ssl_verify(&mut self, path: &str, disabled: Option<bool>) {
        if disabled == Some(true) {
            self.warn(
                push_key(path, "isSslVerifyDisabled"),
                "TLS certificate verification of the identity provider is disabled",
            );
        }
    }

    fn static_keys(&mut self, path: &str, keys: &[StaticPublicKey]) {
        if keys.is_empty() {
            self.error(path, "STATIC_KEYS needs at least one key");
        }
        self.at_most(path, keys.len(), MAX_STATIC_KEYS, "keys");
        let mut kids: Vec<(&str, String)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let key_path = push_index(path, i);
            let kid_path = push_key(&key_path, "kid");
            if self.non_empty(&kid_path, key.kid()) {
                if let Some((_, first)) = kids.iter().find(|(k, _)| *k == key.kid()) {
                    let message = format!("the kid `{}` is already used by {first}", key.kid());
                    self.error(&kid_path, message);
                } else {
                    kids.push((key.kid(), key_path.clone()));
                }
            }
            match key {
                StaticPublicKey::JsonWebKey(jwk) => self.json_web_key(&key_path, jwk),
                StaticPublicKey::Pem(pem) => {
                    if let Err(message) = check_pem(&pem.key) {
                        self.error(push_key(&key_path, "key"), message);
                    }
                }
            }
        }
    }

    fn json_web_key(&mut self, path: &str, jwk: &JsonWebKey) {
        if jwk.kty != "RSA" {
            self.error(
                push_key(path, "kty"),
                format!("must be `RSA` (got `{}`); OCI accepts RSA keys only", jwk.kty),
            );
        }
        if let Some(use_) = &jwk.use_
            && use_ != "sig"
        {
            self.error(
                push_key(path, "use"),
                format!("must be `sig` when present (got `{use_}`)"),
            );
        }
        if !jwk.key_ops.is_empty() && !jwk.key_ops.iter().any(|op| op == "verify") {
            self.error(push_key(path, "key_ops"), "must include `verify` when present");
        }
        if let Some(alg) = &jwk.alg
            && !JWK_ALGS.contains(&alg.as_str())
        {
            self.error(
                push_key(path, "alg"),
                format!("`{alg}` is not allowed; use RS256, RS384 or RS512 (or PS256, an fngate extension)"),
            );
        }
        match decode_base64url(&jwk.n) {
            Ok(modulus) => {
                let bits = bit_length(&modulus);
                if !RSA_BITS.contains(&bits) {
                    self.error(
                        push_key(path, "n"),
                        format!("the RSA modulus has {bits} bits; OCI requires 2048 to 4096"),
                    );
                }
            }
            Err(message) => self.error(push_key(path, "n"), message),
        }
        if let Err(message) = decode_base64url(&jwk.e) {
            self.error(push_key(path, "e"), message);
        }
    }

    fn client_details(&mut self, path: &str, details: &ClientAppDetails, in_failure_policy: bool) {
        match details {
            ClientAppDetails::Custom(custom) => {
                self.non_empty(&push_key(path, "clientId"), &custom.client_id);
                self.non_empty(&push_key(path, "clientSecretId"), &custom.client_secret_id);
                if custom.client_secret_version_number < 1 {
                    self.error(
                        push_key(path, "clientSecretVersionNumber"),
                        format!("must be at least 1 (got {})", custom.client_secret_version_number),
                    );
                }
            }
            ClientAppDetails::ValidationBlock if !in_failure_policy => self.error(
                push_key(path, "type"),
                "VALIDATION_BLOCK is only valid inside an OAUTH2 validationFailurePolicy; use CUSTOM here",
            ),
            ClientAppDetails::ValidationBlock => {}
        }
    }

    fn source_uri(&mut self, path: &str, details: &SourceUriDetails, in_failure_policy: bool) {
        match details {
            SourceUriDetails::DiscoveryUri(discovery) => self.http_url(&push_key(path, "uri"), &discovery.uri),
            SourceUriDetails::ValidationBlock if !in_failure_policy => self.error(
                push_key(path, "type"),
                "VALIDATION_BLOCK is only valid inside an OAUTH2 validationFailurePolicy; use DISCOVERY_URI here",
            ),
            SourceUriDetails::ValidationBlock => {}
        }
    }

    fn additional_validation(&mut self, path: &str, additional: &AdditionalValidationPolicy) {
        self.string_list(&push_key(path, "issuers"), &additional.issuers, MAX_ISSUERS, "issuers");
        self.string_list(
            &push_key(path, "audiences"),
            &additional.audiences,
            MAX_AUDIENCES,
            "audiences",
        );
        self.verify_claims(&push_key(path, "verifyClaims"), &additional.verify_claims);
    }

    fn string_list(&mut self, path: &str, list: &[String], max: usize, what: &str) {
        self.at_most(path, list.len(), max, what);
        for (i, item) in list.iter().enumerate() {
            self.non_empty(&push_index(path, i), item);
        }
    }

    fn verify_claims(&mut self, path: &str, claims: &[JsonWebTokenClaim]) {
        self.at_most(path, claims.len(), MAX_VERIFY_CLAIMS, "claims");
        for (i, claim) in claims.iter().enumerate() {
            let key_path = push_key(&push_index(path, i), "key");
            if self.non_empty(&key_path, &claim.key) && claims[..i].iter().any(|c| c.key == claim.key) {
                self.warn(key_path, format!("the claim `{}` is checked more than once", claim.key));
            }
            if claim.values.is_empty() && claim.is_required != Some(true) {
                self.warn(
                    push_index(path, i),
                    format!(
                        "the claim `{}` has no values and is not required, so it checks nothing",
                        claim.key
                    ),
                );
            }
        }
    }

    fn modify_response(&mut self, path: &str, modify: &ModifyResponseValidationFailurePolicy) {
        if let Some(code) = &modify.response_code {
            let code_path = push_key(path, "responseCode");
            if let Some(template) = self.template(&code_path, code, None)
                && template.is_literal()
                && !code.trim().parse::<u16>().is_ok_and(|c| (100..=599).contains(&c))
            {
                self.error(
                    code_path,
                    format!("must be an HTTP status between 100 and 599 or a context variable (got `{code}`)"),
                );
            }
        }
        if let Some(message) = &modify.response_message {
            self.template(&push_key(path, "responseMessage"), message, None);
        }
        if let Some(headers) = &modify.response_header_transformations {
            self.header_transformations(&push_key(path, "responseHeaderTransformations"), headers, None);
        }
    }

    fn oauth2(&mut self, path: &str, oauth2: &OAuth2ResponseValidationFailurePolicy) {
        self.client_details(&push_key(path, "clientDetails"), &oauth2.client_details, true);
        self.source_uri(&push_key(path, "sourceUriDetails"), &oauth2.source_uri_details, true);
        if !oauth2.scopes.iter().any(|s| s == "openid") {
            self.error(push_key(path, "scopes"), "must include `openid`");
        }
        if let Some(hours) = oauth2.max_expiry_duration_in_hours
            && !CACHE_HOURS.contains(&hours)
        {
            self.error(
                push_key(path, "maxExpiryDurationInHours"),
                format!("must be between 1 and 24 hours (got {hours})"),
            );
        }
        let paths = [
            ("fallbackRedirectPath", &oauth2.fallback_redirect_path, None),
            ("logoutPath", &oauth2.logout_path, Some("OAUTH2_LOGOUT_BACKEND")),
            ("loginPath", &oauth2.login_path, Some("OAUTH2_LOGIN_BACKEND")),
        ];
        for (field, value, backend) in paths {
            let Some(value) = value else { continue };
            let field_path = push_key(path, field);
            if !value.starts_with('/') {
                self.error(field_path, format!("must be a path starting with `/` (got `{value}`)"));
            } else if let Some(backend) = backend
                && !self.route_with_backend(value, backend)
            {
                self.error(field_path, format!("no route with path `{value}` uses {backend}"));
            }
        }
    }

    fn custom_policy(&mut self, path: &str, custom: &CustomAuthenticationPolicy) {
        let function_id = push_key(path, "functionId");
        self.non_empty(&function_id, &custom.function_id);
        let single = custom.token_header.is_some() || custom.token_query_param.is_some();
        if custom.token_header.is_some() && custom.token_query_param.is_some() {
            self.error(path, "set either tokenHeader or tokenQueryParam, not both");
        }
        if single && !custom.parameters.is_empty() {
            self.error(
                path,
                "use parameters (multi-argument) or tokenHeader/tokenQueryParam (single-argument), not both",
            );
        }
        if !single && custom.parameters.is_empty() {
            self.error(
                path,
                "set parameters (multi-argument) or tokenHeader/tokenQueryParam (single-argument)",
            );
        }
        if let Some(header) = &custom.token_header {
            self.header_name(&push_key(path, "tokenHeader"), header);
        }
        let parameters = push_key(path, "parameters");
        self.at_most(
            &parameters,
            custom.parameters.len(),
            MAX_AUTHORIZER_PARAMETERS,
            "parameters",
        );
        for (name, expression) in &custom.parameters {
            let item = push_key(&parameters, name);
            if name.trim().is_empty() {
                self.error(&item, "an argument name must not be empty");
            }
            match ContextVar::parse(expression) {
                Ok(var) => self.context_var_use(&item, &var, None, true),
                Err(message) => self.error(item, message),
            }
        }
        let cache_key = push_key(path, "cacheKey");
        self.at_most(&cache_key, custom.cache_key.len(), MAX_CACHE_KEYS, "keys");
        for (i, key) in custom.cache_key.iter().enumerate() {
            if !custom.parameters.contains_key(key) {
                self.error(
                    push_index(&cache_key, i),
                    format!("`{key}` is not an argument name in parameters"),
                );
            }
        }
        if let Some(failure) = &custom.validation_failure_policy {
            let fp = push_key(path, "validationFailurePolicy");
            match failure {
                ValidationFailurePolicy::ModifyResponse(modify) => self.modify_response(&fp, modify),
                ValidationFailurePolicy::OAuth2(_) => self.error(
                    push_key(&fp, "type"),
                    "OAUTH2 is allowed only with TOKEN_AUTHENTICATION and validationPolicy REMOTE_DISCOVERY",
                ),
            }
        }
    }
}

fn decode_base64url(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|e| format!("is not base64url: {e}"))
}

fn bit_length(big_endian: &[u8]) -> usize {
    let Some(first) = big_endian.iter().position(|b| *b != 0) else {
        return 0;
    };
    (big_endian.len() - first - 1) * 8 + (8 - big_endian[first].leading_zeros() as usize)
}

/// A PEM public key block whose body is valid base64 (the auth crate parses the key itself).
fn check_pem(pem: &str) -> Result<(), String> {
    use base64::engine::general_purpose::STANDARD;
    let text = pem.trim();
    let labels = ["PUBLIC KEY", "RSA PUBLIC KEY"];
    let Some(label) = labels
        .iter()
        .find(|l| text.starts_with(&format!("-----BEGIN {l}-----")))
    else {
        return Err("must be a PEM block starting with `-----BEGIN PUBLIC KEY-----`".to_owned());
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(body) = text.strip_prefix(&begin).and_then(|t| t.strip_suffix(&end)) else {
        return Err(format!("must end with `{end}`"));
    };
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if body.is_empty() {
        return Err("the PEM block is empty".to_owned());
    }
    STANDARD
        .decode(body)
        .map(|_| ())
        .map_err(|e| format!("the PEM body is not base64: {e}"))
}
