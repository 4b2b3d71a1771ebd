//! The authorization endpoints, `GET|POST /{tenant}/oauth2/v2.0/authorize` and the v1
//! `/{tenant}/oauth2/authorize`: check the request, then show the sign-in page.
//!
//! Until the redirect URI is known to be one the client registered, every error is a page here
//! (never a redirect to a URI nobody registered, which would make this IdP an open
//! redirector); after that, errors go back to the app as `error`, `error_description`
//! (AADSTS text) and `state` in the response mode asked for.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::EntraError;
use crate::registry::{ClientApp, Platform};
use crate::scopes;
use crate::server::ConnInfo;
use crate::session::{AuthRequest, Pending, Purpose, ResponseMode};
use crate::signin_page::{error_page, form_post};
use crate::{Idp, signin};

pub async fn authorize_v2(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = params(&method, query.as_deref(), &body);
    authorize(&idp, &tenant, conn.scheme == "https", &params, false)
}

pub async fn authorize_v1(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = params(&method, query.as_deref(), &body);
    authorize(&idp, &tenant, conn.scheme == "https", &params, true)
}

/// The request's parameters: the query of a GET, the form body of a POST; the first value of a
/// repeated name wins.
fn params(method: &Method, query: Option<&str>, body: &[u8]) -> HashMap<String, String> {
    let raw = if method == Method::POST {
        body
    } else {
        query.unwrap_or_default().as_bytes()
    };
    let mut out = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        if !value.is_empty() {
            out.entry(name.into_owned()).or_insert_with(|| value.into_owned());
        }
    }
    out
}

fn page_for(err: &EntraError) -> Response {
    error_page(err.status, err.code, &err.message)
}

/// The platform of the registered redirect URI `uri` matches: exactly, or for the public
/// platform's `http://localhost` any port (RFC 8252 §7.3, as Entra).
pub fn match_redirect_uri(client: &ClientApp, uri: &str) -> Option<Platform> {
    if let Some((_, platform)) = client.redirect_uris.iter().find(|(registered, _)| registered == uri) {
        return Some(*platform);
    }
    let asked = url::Url::parse(uri).ok()?;
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !loopback(&asked) {
        return None;
    }
    client
        .redirect_uris
        .iter()
        .filter(|(_, platform)| *platform == Platform::Public)
        .find(|(registered, _)| {
            url::Url::parse(registered).is_ok_and(|r| {
                loopback(&r)
                    && r.host_str() == asked.host_str()
                    && r.path() == asked.path()
                    && r.query() == asked.query()
            })
        })
        .map(|(_, platform)| *platform)
}

fn authorize(idp: &Idp, tenant_ref: &str, secure: bool, p: &HashMap<String, String>, v1: bool) -> Response {
    let registry = idp.registry();
    let Some(tenant) = registry.tenant(tenant_ref) else {
        return page_for(&EntraError::unknown_tenant(tenant_ref));
    };
    let Some(client_id) = p.get("client_id") else {
        return page_for(&EntraError::missing_parameter("client_id"));
    };
    let Some(client) = registry.client(client_id).filter(|c| c.tenant_id == tenant.id) else {
        return page_for(&EntraError::unknown_client(client_id, &tenant.id));
    };
    let Some(redirect_uri) = p.get("redirect_uri") else {
        return page_for(&EntraError::missing_parameter("redirect_uri"));
    };
    let Some(platform) = match_redirect_uri(client, redirect_uri) else {
        return page_for(&EntraError::redirect_uri_mismatch(redirect_uri, &client.client_id));
    };
    // From here on the redirect URI is trusted: errors go back to the app.
    let (response_mode, mode_error) = match p.get("response_mode").map(String::as_str) {
        None | Some("query") => (ResponseMode::Query, None),
        Some("fragment") => (ResponseMode::Fragment, None),
        Some("form_post") => (ResponseMode::FormPost, None),
        Some(other) => (ResponseMode::Query, Some(EntraError::unsupported_response_mode(other))),
    };
    let mut request = AuthRequest {
        redirect_uri: redirect_uri.clone(),
        platform,
        response_mode,
        state: p.get("state").cloned(),
        nonce: p.get("nonce").cloned(),
        code_challenge: None,
    };
    if let Some(err) = mode_error {
        return redirect_error(&request, &err);
    }
    match p.get("response_type").map(String::as_str) {
        Some("code") => {}
        None => return redirect_error(&request, &EntraError::missing_parameter("response_type")),
        Some(other) => return redirect_error(&request, &EntraError::unsupported_response_type(other)),
    }
    let requested = if v1 {
        scopes::parse_v1(
            &registry,
            tenant,
            p.get("resource").map(String::as_str),
            p.get("scope").map(String::as_str),
        )
    } else {
        match p.get("scope") {
            Some(scope) => scopes::parse_v2(&registry, tenant, scope),
            None => Err(EntraError::missing_parameter("scope")),
        }
    };
    let requested = match requested {
        Ok(requested) => requested,
        Err(err) => return redirect_error(&request, &err),
    };
    match (
        p.get("code_challenge"),
        p.get("code_challenge_method").map(String::as_str),
    ) {
        (None, _) if platform == Platform::Spa => return redirect_error(&request, &EntraError::pkce_required()),
        (None, _) => {}
        // RFC 7636's default method is `plain`, which fngate refuses as Entra's docs advise.
        (Some(_), None) => return redirect_error(&request, &EntraError::bad_challenge_method("plain")),
        (Some(challenge), Some("S256")) => {
            let valid = (43..=128).contains(&challenge.len())
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return redirect_error(&request, &EntraError::bad_challenge_size());
            }
            request.code_challenge = Some(challenge.clone());
        }
        (Some(_), Some(other)) => return redirect_error(&request, &EntraError::bad_challenge_method(other)),
    }
    if p.get("prompt").map(String::as_str) == Some("none") {
        return redirect_error(&request, &EntraError::login_required());
    }
    let login_hint = p.get("login_hint").cloned().unwrap_or_default();
    let pending = Pending::new(
        tenant.id.clone(),
        client.client_id.clone(),
        requested,
        Purpose::Authorize(request),
        login_hint,
    );
    signin::begin(idp, pending, secure)
}

/// Sends `err` back to the app's redirect URI.
pub fn redirect_error(request: &AuthRequest, err: &EntraError) -> Response {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let description = format!(
        "{}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {}\r\nTimestamp: {}",
        err.description(),
        uuid::Uuid::new_v4(),
        time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default()
    );
    redirect(
        request,
        vec![
            ("error", err.error.to_string()),
            ("error_description", description),
            (
                "error_uri",
                format!("https://login.microsoftonline.com/error?code={}", err.code),
            ),
        ],
    )
}

/// Hands `params` (and `state`) to the app in its response mode: a 302 with them in the query
/// or fragment, or a page that posts them.
pub fn redirect(request: &AuthRequest, mut params: Vec<(&str, String)>) -> Response {
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let uri = &request.redirect_uri;
    let location = match request.response_mode {
        ResponseMode::FormPost => return form_post(uri, &params),
        ResponseMode::Query if uri.contains('?') => format!("{uri}&{encoded}"),
        ResponseMode::Query => format!("{uri}?{encoded}"),
        ResponseMode::Fragment => format!("{uri}#{encoded}"),
    };
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            headers.insert(header::LOCATION, value);
        }
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                50011,
                "The redirect URI cannot be used in a Location header.",
            );
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
