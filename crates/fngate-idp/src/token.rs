//! The token endpoints: `POST /{tenant}/oauth2/v2.0/token` (scope=…) and the v1
//! `POST /{tenant}/oauth2/token` (resource=…). Client authentication (a secret in the body
//! (`client_secret_post`) or in HTTP Basic (`client_secret_basic`), a certificate's assertion)
//! is checked here; the grants live in their own files: client credentials here, the
//! authorization code in `code.rs`, refresh tokens in `refresh.rs`, device code in `device.rs`.
//!
//! Registrations and keys are read from memory; only refresh tokens touch the database.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::{EntraError, correlation_id, json_body, no_store};
use crate::registry::{ApiApp, ClientApp, Platform, Registry, Tenant};
use crate::server::ConnInfo;
use crate::{Idp, assertion, code, device, discovery, issuer_v1, issuer_v2, refresh, secret};

/// Entra back-dates `iat`/`nbf` by five minutes to absorb clock skew.
pub const BACKDATE_SECS: i64 = 300;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Endpoint {
    /// `/oauth2/v2.0/token`: `scope=<resource>/.default`.
    V2,
    /// `/oauth2/token`: `resource=<resource>`.
    V1,
}

pub async fn token_v2(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = discovery::base_url(&conn, &headers, &uri);
    respond(&idp, &tenant, &base, &headers, &body, Endpoint::V2).await
}

pub async fn token_v1(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = discovery::base_url(&conn, &headers, &uri);
    respond(&idp, &tenant, &base, &headers, &body, Endpoint::V1).await
}

/// CORS preflight of the token endpoints: single-page apps redeem codes and refresh tokens
/// from the browser (Entra answers them too).
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

/// `base` is `scheme://host` as the client reached this server: a client assertion's `aud`
/// names the token endpoint under it.
async fn respond(
    idp: &Idp,
    tenant: &str,
    base: &str,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
) -> Response {
    let mut response = match issue(idp, tenant, base, headers, body, endpoint).await {
        Ok(body) => {
            let mut response = (StatusCode::OK, json_body(body.to_string())).into_response();
            let out = response.headers_mut();
            no_store(out);
            if let Ok(value) = HeaderValue::from_str(&correlation_id(headers)) {
                out.insert("client-request-id", value);
            }
            response
        }
        Err(err) => {
            if err.status.is_server_error() {
                tracing::error!(error = %err.message, "token endpoint failed");
            } else {
                tracing::debug!(code = err.code, error = %err.message, "token request refused");
            }
            err.into_response_for(headers)
        }
    };
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// The form fields of the token endpoint (later duplicates are ignored, as the first value
/// wins in Entra's parser too).
#[derive(Default)]
pub struct Form {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub device_code: Option<String>,
    /// `client_info=1`: MSAL asks for uid/utid in the response.
    pub client_info: bool,
}

impl Form {
    fn parse(body: &[u8]) -> Form {
        let mut form = Form::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let slot = match name.as_ref() {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "client_assertion" => &mut form.client_assertion,
                "client_assertion_type" => &mut form.client_assertion_type,
                "scope" => &mut form.scope,
                "resource" => &mut form.resource,
                "code" => &mut form.code,
                "redirect_uri" => &mut form.redirect_uri,
                "code_verifier" => &mut form.code_verifier,
                "refresh_token" => &mut form.refresh_token,
                "device_code" => &mut form.device_code,
                "client_info" => {
                    form.client_info = value == "1";
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        form
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> Option<String> {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// A token request whose tenant and client are known and whose credential (if any) checked out.
pub struct TokenRequest<'a> {
    pub idp: &'a Idp,
    pub registry: &'a Registry,
    pub tenant: Arc<Tenant>,
    pub client: Arc<ClientApp>,
    pub form: &'a Form,
    pub headers: &'a HeaderMap,
    pub endpoint: Endpoint,
    /// `"1"` (secret) or `"2"` (certificate) when the request carried a credential.
    pub credential: Option<&'static str>,
}

/// How a grant's client must authenticate.
pub enum ClientCheck {
    /// By the platform the sign-in used: web needs a credential; spa must come cross-origin
    /// (from the browser); public clients need none.
    Platform(Platform),
    /// Device code: a credential, or a client that allows public flows.
    Device,
}

impl TokenRequest<'_> {
    /// The `azpacr`/`appidacr` of the token: "0" public, "1" secret, "2" certificate.
    pub fn check_client(&self, check: ClientCheck) -> Result<&'static str, EntraError> {
        if let Some(acr) = self.credential {
            return Ok(acr);
        }
        match check {
            ClientCheck::Platform(Platform::Web) => Err(EntraError::confidential_needs_credential()),
            ClientCheck::Platform(Platform::Spa) if !refresh::is_cross_origin(self.headers) => {
                Err(EntraError::spa_needs_origin())
            }
            ClientCheck::Platform(_) => Ok("0"),
            ClientCheck::Device if self.client.public_client => Ok("0"),
            ClientCheck::Device => Err(EntraError::not_public_client(&self.client.client_id)),
        }
    }
}

async fn issue(
    idp: &Idp,
    tenant_ref: &str,
    base: &str,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
) -> Result<Value, EntraError> {
    let registry = idp.registry_full();
    let tenant = match registry.tenant(tenant_ref) {
        Some(tenant) => tenant.clone(),
        None if matches!(
            tenant_ref.to_ascii_lowercase().as_str(),
            "common" | "organizations" | "consumers"
        ) =>
        {
            return Err(EntraError::multi_tenant_endpoint(tenant_ref));
        }
        None => return Err(EntraError::unknown_tenant(tenant_ref)),
    };
    let mut form = Form::parse(body);
    let grant = match form.grant_type.as_deref() {
        None => return Err(EntraError::missing_parameter("grant_type")),
        Some(
            grant @ ("client_credentials"
            | "authorization_code"
            | "refresh_token"
            | device::GRANT_TYPE
            | device::GRANT_TYPE_V1),
        ) => grant.to_string(),
        Some(other) => return Err(EntraError::unsupported_grant_type(other)),
    };
    if let Some((id, secret)) = basic_credentials(headers) {
        form.client_id = Some(id);
        form.client_secret = Some(secret);
    }
    let client_id = form
        .client_id
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    if grant == "client_credentials" {
        match endpoint {
            Endpoint::V2 if form.scope.is_none() => return Err(EntraError::missing_parameter("scope")),
            Endpoint::V1 if form.resource.is_none() => return Err(EntraError::missing_parameter("resource")),
            _ => {}
        }
    }
    let client = registry
        .client(client_id)
        .filter(|c| c.tenant_id == tenant.id)
        .ok_or_else(|| EntraError::unknown_client(client_id, &tenant.id))?
        .clone();
    // `appidacr`/`azpacr`: "1" for a secret, "2" for a certificate.
    let credential = match (form.client_assertion.as_deref(), form.client_secret.as_deref()) {
        (Some(jwt), _) => {
            let audiences = token_endpoints(base, tenant_ref, &tenant);
            let ctx = assertion::Context {
                client: &client,
                audiences: &audiences,
                replay: &idp.replay,
                now: OffsetDateTime::now_utc(),
            };
            assertion::verify(form.client_assertion_type.as_deref(), jwt, &ctx)?;
            Some("2")
        }
        (None, Some(secret)) => {
            authenticate(&client, Some(secret))?;
            Some("1")
        }
        (None, None) => None,
    };
    let req = TokenRequest {
        idp,
        registry: &registry,
        tenant,
        client,
        form: &form,
        headers,
        endpoint,
        credential,
    };
    match grant.as_str() {
        "client_credentials" => client_credentials(&req),
        "authorization_code" => code::grant(&req).await,
        "refresh_token" => refresh::grant(&req).await,
        _ => device::grant(&req).await,
    }
}

fn client_credentials(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    let Some(client_auth) = req.credential else {
        return Err(EntraError::missing_credential());
    };
    let (tenant, client, form) = (&req.tenant, &req.client, req.form);
    let resource = match req.endpoint {
        Endpoint::V2 => resource_of_scope(form.scope.as_deref().unwrap_or_default())?,
        Endpoint::V1 => form.resource.as_deref().unwrap_or_default().trim(),
    };
    let api = req
        .registry
        .api(&tenant.id, resource)
        .ok_or_else(|| EntraError::unknown_resource(resource, &tenant.name, &tenant.id))?;
    if api.assignment_required && client.grants.get(&api.client_id).is_none_or(|g| g.is_empty()) {
        return Err(EntraError::not_assigned_client(
            &client.client_id,
            &client.name,
            &api.client_id,
            &api.name,
        ));
    }
    let keys = req.idp.key_set();
    let expires_in = req.idp.options().token_lifetime.as_secs();
    let claims = claims(tenant, client, client_auth, api, resource, expires_in);
    let access_token = keys
        .signing
        .sign(&claims, api.token_version == 1)
        .map_err(|err| EntraError::server_error(format!("cannot sign the token: {err}")))?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
    }))
}

/// The token endpoint URLs a client assertion may name as `aud`: v2 and v1, under the tenant as
/// the request named it, its id and its name, at the scheme and host the client used, and
/// Entra's own (code written for Entra signs for `https://login.microsoftonline.com/…`).
fn token_endpoints(base: &str, tenant_ref: &str, tenant: &Tenant) -> Vec<String> {
    let mut out = Vec::new();
    let hosts = [base.to_string(), "https://login.microsoftonline.com".to_string()];
    for host in &hosts {
        for name in [tenant_ref, tenant.id.as_str(), tenant.name.as_str()] {
            for path in ["oauth2/v2.0/token", "oauth2/token"] {
                let url = format!("{host}/{name}/{path}");
                if !out.contains(&url) {
                    out.push(url);
                }
            }
        }
    }
    out
}

/// Checks the presented secret against every secret of the client, in constant time each.
fn authenticate(client: &ClientApp, presented: Option<&str>) -> Result<(), EntraError> {
    let Some(presented) = presented else {
        return Err(EntraError::missing_credential());
    };
    let hash = secret::hash(presented);
    let matched = client.secrets.iter().find(|s| secret::matches(&hash, &s.sha256));
    match matched {
        None => Err(EntraError::wrong_secret(&client.client_id)),
        Some(s) if s.expires_at <= OffsetDateTime::now_utc() => Err(EntraError::expired_secret(&client.client_id)),
        Some(_) => Ok(()),
    }
}

/// `api://x/.default` -> `api://x`. Client credentials take exactly one scope, and it must be
/// the resource's `.default`.
fn resource_of_scope(scope: &str) -> Result<&str, EntraError> {
    let mut parts = scope.split_whitespace();
    let (Some(only), None) = (parts.next(), parts.next()) else {
        return Err(EntraError::invalid_scope(scope));
    };
    match only.strip_suffix("/.default") {
        Some(resource) if !resource.is_empty() => Ok(resource),
        _ => Err(EntraError::invalid_scope(scope)),
    }
}

pub fn random_b64(len: usize, url_safe: bool) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    if url_safe {
        URL_SAFE_NO_PAD.encode(bytes)
    } else {
        STANDARD.encode(bytes)
    }
}

/// The claims of an app-only (client-credentials) access token, in Entra's order for the API's
/// token version.
fn claims(
    tenant: &Tenant,
    client: &ClientApp,
    client_auth: &str,
    api: &ApiApp,
    requested: &str,
    expires_in: u64,
) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let iat = now - BACKDATE_SECS;
    let exp = now + i64::try_from(expires_in).unwrap_or(3599);
    let v1 = api.token_version == 1;
    let mut c = Map::new();
    // v1: the identifier the client asked for (URI or GUID); v2: always the API's client id.
    c.insert("aud".into(), json!(if v1 { requested } else { api.client_id.as_str() }));
    c.insert(
        "iss".into(),
        json!(if v1 {
            issuer_v1(&tenant.id)
        } else {
            issuer_v2(&tenant.id)
        }),
    );
    c.insert("iat".into(), json!(iat));
    c.insert("nbf".into(), json!(iat));
    c.insert("exp".into(), json!(exp));
    c.insert("aio".into(), json!(random_b64(39, false)));
    let (id_claim, acr_claim) = if v1 { ("appid", "appidacr") } else { ("azp", "azpacr") };
    c.insert(id_claim.into(), json!(client.client_id));
    c.insert(acr_claim.into(), json!(client_auth));
    c.insert("idp".into(), json!(issuer_v1(&tenant.id)));
    c.insert("oid".into(), json!(client.object_id));
    c.insert("rh".into(), json!(format!("0.A{}.", random_b64(33, true))));
    let roles: Vec<&String> = client
        .grants
        .get(&api.client_id)
        .map(|granted| granted.iter().filter(|r| api.app_roles.contains(r)).collect())
        .unwrap_or_default();
    // Entra leaves `roles` out when nothing is granted.
    if !roles.is_empty() {
        c.insert("roles".into(), json!(roles));
    }
    c.insert("sub".into(), json!(client.object_id));
    c.insert("tid".into(), json!(tenant.id));
    c.insert("uti".into(), json!(random_b64(16, true)));
    c.insert("ver".into(), json!(if v1 { "1.0" } else { "2.0" }));
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_must_be_one_default_scope() {
        assert_eq!(resource_of_scope("api://orders/.default").unwrap(), "api://orders");
        assert_eq!(resource_of_scope(" api://orders/.default ").unwrap(), "api://orders");
        for bad in [
            "api://orders",
            "api://orders/Orders.Read",
            "/.default",
            "a/.default b/.default",
        ] {
            assert_eq!(resource_of_scope(bad).unwrap_err().code, 70011, "{bad}");
        }
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20id:a%2Bb~c");
        headers.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        assert_eq!(basic_credentials(&headers), Some(("my id".into(), "a+b~c".into())));
    }
}
