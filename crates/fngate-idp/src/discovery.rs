//! OIDC discovery documents, JWKS and MSAL's instance discovery, with every URL pointing at this
//! server as the client reached it (scheme and Host of the request).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::error::{EntraError, json_body};
use crate::server::ConnInfo;
use crate::{Idp, issuer_v1, issuer_v2};

/// `scheme://host[:port]` the client used. The Host header is only trusted when it looks like a
/// host name or address, so a crafted header cannot inject text into the documents.
pub fn base_url(conn: &ConnInfo, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| conn.local_addr.to_string());
    format!("{}://{host}", conn.scheme)
}

/// Client authentication methods the token endpoint takes (`private_key_jwt`: a certificate's
/// RFC 7523 assertion).
const AUTH_METHODS: [&str; 3] = ["client_secret_post", "private_key_jwt", "client_secret_basic"];

/// Grants the token endpoint takes.
const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// Entra serves metadata with a day of private caching and open CORS.
fn metadata_response(body: Value) -> Response {
    let mut response = (StatusCode::OK, json_body(body.to_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn tenant_id(idp: &Idp, tenant: &str) -> Result<String, EntraError> {
    match idp.registry().tenant(tenant) {
        Some(t) => Ok(t.id.clone()),
        None => Err(EntraError::unknown_tenant(tenant)),
    }
}

pub async fn openid_configuration_v2(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let tid = match tenant_id(&idp, &tenant) {
        Ok(tid) => tid,
        Err(err) => return err.into_response_for(&headers),
    };
    let base = base_url(&conn, &headers, &uri);
    metadata_response(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer_v2(&tid),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": GRANT_TYPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username", "name",
            "tid", "ver", "email", "oid"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

pub async fn openid_configuration_v1(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let tid = match tenant_id(&idp, &tenant) {
        Ok(tid) => tid,
        Err(err) => return err.into_response_for(&headers),
    };
    let base = base_url(&conn, &headers, &uri);
    metadata_response(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/token"),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "jwks_uri": format!("{base}/{tid}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid"],
        "issuer": issuer_v1(&tid),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{base}/{tid}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/devicecode"),
        "userinfo_endpoint": format!("{base}/{tid}/openid/userinfo"),
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": GRANT_TYPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "given_name",
            "family_name", "unique_name", "upn"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

fn keys_document(idp: &Idp, issuer: &str) -> Response {
    let now = OffsetDateTime::now_utc();
    let keys: Vec<Value> = idp
        .key_set()
        .all
        .iter()
        .filter(|k| k.is_published_at(now))
        .map(|k| k.jwk(issuer))
        .collect();
    metadata_response(json!({ "keys": keys }))
}

pub async fn keys_v2(State(idp): State<Arc<Idp>>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    match tenant_id(&idp, &tenant) {
        Ok(tid) => keys_document(&idp, &issuer_v2(&tid)),
        Err(err) => err.into_response_for(&headers),
    }
}

pub async fn keys_v1(State(idp): State<Arc<Idp>>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    match tenant_id(&idp, &tenant) {
        Ok(tid) => keys_document(&idp, &issuer_v1(&tid)),
        Err(err) => err.into_response_for(&headers),
    }
}

#[derive(Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// MSAL's instance discovery (`/common/discovery/instance?authorization_endpoint=…`): confirms
/// the authority and tells MSAL where the tenant's metadata is — on this server.
pub async fn instance_discovery(
    Extension(conn): Extension<ConnInfo>,
    Query(query): Query<InstanceQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let base = base_url(&conn, &headers, &uri);
    let host = base.split_once("://").map(|(_, h)| h.to_string()).unwrap_or_default();
    let tenant = query
        .authorization_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| u.path_segments().and_then(|mut s| s.next().map(str::to_string)))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".to_string());
    let body = json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    });
    (StatusCode::OK, Json(body)).into_response()
}
