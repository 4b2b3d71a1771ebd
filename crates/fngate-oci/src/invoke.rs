//! `POST /{20181201|20260325}/functions/{functionId}/actions/invoke`: the OCI invoke endpoint,
//! through the same runtime calls and status rules as the Fn API's `/invoke/{fnID}`.
//!
//! `fn-invoke-type: sync` (default) answers with the function's body and headers;
//! `detached` answers 202 at once and runs the call in the background. `fn-intent` and the other
//! request headers reach the function as they do on `/invoke`, less `authorization` (the
//! caller's signature is not the function's business). The body was read whole (at most 6 MB)
//! to check its `x-content-sha256` before the call.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fngate_invoke::{InvokeError, InvokeRequest};

use crate::Shared;
use crate::error::OciError;

pub(crate) async fn invoke(
    State(shared): State<Arc<Shared>>,
    Path(function): Path<String>,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fn_id) = crate::functions::invoke_target(&shared, &function) else {
        return OciError::not_found(format!("function {function}")).into_response();
    };
    let invoke_type = headers
        .get("fn-invoke-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("sync")
        .to_ascii_lowercase();
    let detached = match invoke_type.as_str() {
        "sync" => false,
        "detached" => true,
        other => {
            return OciError::invalid(format!("fn-invoke-type must be sync or detached, got {other:?}"))
                .into_response();
        }
    };
    headers.remove(http::header::AUTHORIZATION);
    let call_id = fngate_functions::model::new_id();
    let request = InvokeRequest { headers, body };
    if detached {
        shared.runtime.spawn_detached(fn_id, call_id.clone(), request);
        let mut response = StatusCode::ACCEPTED.into_response();
        insert_call_id(&mut response, &call_id);
        return response;
    }
    match shared.runtime.invoke_with_id(&fn_id, call_id.clone(), request).await {
        Ok(output) => {
            let mut response = Response::new(Body::from(output.body));
            *response.headers_mut() = output.headers;
            insert_call_id(&mut response, &call_id);
            response
        }
        Err(err) => {
            let mut response = invoke_error(err).into_response();
            insert_call_id(&mut response, &call_id);
            response
        }
    }
}

/// The Fn status of the failure, with an OCI-style code (see docs/notes/oci.md).
fn invoke_error(err: InvokeError) -> OciError {
    let status = err.status();
    let code = match &err {
        InvokeError::NotFound => "NotAuthorizedOrNotFound",
        InvokeError::FunctionFailed
        | InvokeError::InvalidResponse
        | InvokeError::ReceiveFailed
        | InvokeError::InitFailed => "FunctionInvokeExecutionFailed",
        InvokeError::TimedOut | InvokeError::InitTimedOut => "FunctionInvokeTimeout",
        InvokeError::TooBusy { .. } => "TooManyRequests",
        InvokeError::Other(_) => "InternalServerError",
    };
    let message = match &err {
        InvokeError::NotFound => "function not found".to_string(),
        other => other.to_string(),
    };
    OciError::new(status, code, message)
}

fn insert_call_id(response: &mut Response, call_id: &str) {
    if let Ok(value) = HeaderValue::from_str(call_id) {
        response.headers_mut().insert("fn-call-id", value);
    }
}
