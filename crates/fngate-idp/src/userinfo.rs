//! The OIDC userinfo endpoint (`GET|POST /oidc/userinfo`, and v1's `/{tenant}/openid/userinfo`).
//! Entra serves it on Microsoft Graph for Graph access tokens; here the IdP serves it itself for
//! the "Graph" tokens it issues when only OIDC scopes were asked (`aud` Graph's app id).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::json_body;
use crate::scopes::GRAPH_APP_ID;
use crate::user_token::pairwise_sub;
use crate::{Idp, issuer_v1};

fn refuse(description: &str) -> Response {
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        json_body(json!({"error": {"code": "InvalidAuthenticationToken", "message": description}}).to_string()),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

pub async fn userinfo(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return refuse("Access token is empty.");
    };
    let keys = idp.key_set();
    let now = OffsetDateTime::now_utc();
    let Some(claims) = keys
        .all
        .iter()
        .filter(|k| k.is_published_at(now))
        .find_map(|k| k.verify(token.trim()))
    else {
        return refuse("Access token validation failure: not signed by this IdP.");
    };
    if claims.get("aud").and_then(Value::as_str) != Some(GRAPH_APP_ID) {
        return refuse("Access token validation failure: the audience is not userinfo's (ask openid only).");
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now.unix_timestamp())
    {
        return refuse("Lifetime validation failed, the token is expired.");
    }
    let registry = idp.registry();
    let tid = claims.get("tid").and_then(Value::as_str).unwrap_or_default();
    let issued_here = claims.get("iss").and_then(Value::as_str) == Some(issuer_v1(tid).as_str());
    let oid = claims.get("oid").and_then(Value::as_str).unwrap_or_default();
    let Some(user) = registry.user(oid).filter(|u| issued_here && u.tenant_id == tid) else {
        return refuse("Access token validation failure: the user is unknown.");
    };
    let client_id = claims.get("appid").and_then(Value::as_str).unwrap_or_default();
    let scp = claims.get("scp").and_then(Value::as_str).unwrap_or_default();
    let has = |s: &str| scp.split(' ').any(|x| x == s);
    let mut body = Map::new();
    body.insert("sub".into(), json!(pairwise_sub(&user.object_id, client_id)));
    if has("profile") {
        body.insert("name".into(), json!(user.display_name));
        body.insert("family_name".into(), json!(user.surname));
        body.insert("given_name".into(), json!(user.given_name));
    }
    if has("email") {
        body.insert("email".into(), json!(user.email));
    }
    let mut response = (StatusCode::OK, json_body(Value::Object(body).to_string())).into_response();
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
