//! `opc-retry-token` on creates: the first answer to a token is kept for 24 hours, and a retry
//! with the same token and body gets that answer again instead of creating a second resource.
//! The same token with another body is OCI's 409 `InvalidatedRetryToken`. Only successful
//! answers are kept (a failed create may be retried to succeed); invokes take no token.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use fngate_store::oci::{self as db, RetryRow};
use serde_json::{Map, Value};

use crate::Shared;
use crate::error::OciError;

const TOKEN_HEADER: &str = "opc-retry-token";
const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
/// Headers of a kept answer worth replaying (the request id is the retry's own).
const KEPT_HEADERS: [&str; 4] = ["content-type", "etag", "opc-work-request-id", "location"];

pub(crate) async fn run(shared: &Arc<Shared>, parts: Parts, body: Bytes, next: Next) -> Response {
    let token = parts.headers.get(TOKEN_HEADER).map(|v| v.to_str().map(str::to_string));
    let applies = parts.method == Method::POST && !parts.uri.path().ends_with("/actions/invoke");
    let token = match token {
        Some(Ok(token)) if applies => token,
        Some(Err(_)) if applies => return OciError::invalid("opc-retry-token must be text").into_response(),
        _ => return next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    if token.is_empty() || token.len() > 64 {
        return OciError::invalid("opc-retry-token must be 1 to 64 characters").into_response();
    }
    let operation = format!("{} {}", parts.method, parts.uri.path());
    let body_sha256 =
        base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body));
    let now = time::OffsetDateTime::now_utc();
    let since = rfc3339(now - KEEP_FOR);
    let _serial = shared.retries.lock().await;
    match db::get_retry(shared.store.pool(), &token, &operation, &since).await {
        Err(err) => return OciError::internal(err).into_response(),
        Ok(Some(kept)) if kept.body_sha256 != body_sha256 => {
            return OciError::new(
                StatusCode::CONFLICT,
                "InvalidatedRetryToken",
                "this opc-retry-token was used with a different request body; use a new token for a new request",
            )
            .into_response();
        }
        Ok(Some(kept)) => return replay(kept),
        Ok(None) => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if !response.status().is_success() {
        return response;
    }
    let (head, answer) = response.into_parts();
    let Ok(answer) = axum::body::to_bytes(answer, usize::MAX).await else {
        return OciError::internal("cannot read the answer to keep it for retries").into_response();
    };
    let mut headers = Map::new();
    for name in KEPT_HEADERS {
        if let Some(value) = head.headers.get(name).and_then(|v| v.to_str().ok()) {
            headers.insert(name.into(), Value::String(value.into()));
        }
    }
    let row = RetryRow {
        token,
        operation,
        body_sha256,
        status: i64::from(head.status.as_u16()),
        headers: Value::Object(headers).to_string(),
        body: answer.to_vec(),
        created_at: rfc3339(now),
    };
    if let Err(err) = db::put_retry(shared.store.pool(), &row, &since).await {
        tracing::warn!(target: "fngate::oci", error = %err, "cannot keep an answer for its retry token");
    }
    Response::from_parts(head, Body::from(answer))
}

fn replay(kept: RetryRow) -> Response {
    let status = StatusCode::from_u16(kept.status as u16).unwrap_or(StatusCode::OK);
    let mut response = (status, kept.body).into_response();
    let headers: Map<String, Value> = serde_json::from_str(&kept.headers).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
