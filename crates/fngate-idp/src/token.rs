//! The token endpoints: `POST /{tenant}/oauth2/v2.0/token` (scope=…/.default) and the v1
//! `POST /{tenant}/oauth2/token` (resource=…), client-credentials grant with a client secret in
//! the body (`client_secret_post`) or in HTTP Basic (`client_secret_basic`).
//!
//! Everything is read from the in-memory registry and key set: no database on this path.

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
use crate::registry::{ApiApp, ClientApp, Tenant};
use crate::server::ConnInfo;
use crate::{Idp, assertion, discovery, issuer_v1, issuer_v2, secret};

/// Entra back-dates `iat`/`nbf` by five minutes to absorb clock skew.
const BACKDATE_SECS: i64 = 300;

#[derive(Clone, Copy, PartialEq, Eq)]
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
    respond(&idp, &tenant, &base, &headers, &body, Endpoint::V2)
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
    respond(&idp, &tenant, &base, &headers, &body, Endpoint::V1)
}

/// `base` is `scheme://host` as the client reached this server: a client assertion's `aud`
/// names the token endpoint under it.
fn respond(idp: &Idp, tenant: &str, base: &str, headers: &HeaderMap, body: &[u8], endpoint: Endpoint) -> Response {
    match issue(idp, tenant, base, headers, body, endpoint) {
        Ok(issued) => {
            let body = json!({
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "ext_expires_in": issued.expires_in,
                "access_token": issued.access_token,
            });
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
    }
}

struct Issued {
    access_token: String,
    expires_in: u64,
}

/// The form fields the client-credentials grant uses (later duplicates are ignored, as the
/// first value wins in Entra's parser too).
#[derive(Default)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
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

fn issue(
    idp: &Idp,
    tenant_ref: &str,
    base: &str,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
) -> Result<Issued, EntraError> {
    let registry = idp.registry();
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
    match form.grant_type.as_deref() {
        None => return Err(EntraError::missing_parameter("grant_type")),
        Some("client_credentials") => {}
        Some(other) => return Err(EntraError::unsupported_grant_type(other)),
    }
    if let Some((id, secret)) = basic_credentials(headers) {
        form.client_id = Some(id);
        form.client_secret = Some(secret);
    }
    let client_id = form
        .client_id
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let requested = match endpoint {
        Endpoint::V2 => form
            .scope
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("scope"))?,
        Endpoint::V1 => form
            .resource
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("resource"))?,
    };
    let client = registry
        .client(client_id)
        .filter(|c| c.tenant_id == tenant.id)
        .ok_or_else(|| EntraError::unknown_client(client_id, &tenant.id))?;
    // `appidacr`/`azpacr`: "1" for a secret, "2" for a certificate.
    let client_auth = match form.client_assertion.as_deref() {
        Some(jwt) => {
            let audiences = token_endpoints(base, tenant_ref, &tenant);
            let ctx = assertion::Context {
                client,
                audiences: &audiences,
                replay: &idp.replay,
                now: OffsetDateTime::now_utc(),
            };
            assertion::verify(form.client_assertion_type.as_deref(), jwt, &ctx)?;
            "2"
        }
        None => {
            authenticate(client, form.client_secret.as_deref())?;
            "1"
        }
    };

    let resource = match endpoint {
        Endpoint::V2 => resource_of_scope(requested)?,
        Endpoint::V1 => requested.trim(),
    };
    let api = registry
        .api(&tenant.id, resource)
        .ok_or_else(|| EntraError::unknown_resource(resource, &tenant.name, &tenant.id))?;
    let keys = idp.key_set();
    let expires_in = idp.options().token_lifetime.as_secs();
    let claims = claims(&tenant, client, client_auth, api, resource, expires_in);
    let access_token = keys
        .signing
        .sign(&claims, api.token_version == 1)
        .map_err(|err| EntraError::server_error(format!("cannot sign the token: {err}")))?;
    Ok(Issued {
        access_token,
        expires_in,
    })
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

fn random_b64(len: usize, url_safe: bool) -> String {
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
