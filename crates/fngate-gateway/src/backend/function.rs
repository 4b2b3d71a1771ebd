//! `ORACLE_FUNCTIONS_BACKEND`: calls a function of the functions runtime in-process, with the
//! headers OCI API Gateway sends (`Fn-Intent: httprequest`, `Fn-Http-Method`,
//! `Fn-Http-Request-Url`, `Fn-Http-H-*`, ...) and unwraps `Fn-Http-Status` / `Fn-Http-H-*` from
//! the answer, as Fn's HTTP trigger does.

use axum::body::Body;
use bytes::Bytes;
use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeRequest};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use super::forwarded::forwarded_for;
use super::{Outbound, strip_hop_by_hop};
use crate::MAX_FUNCTION_BODY;
use crate::observe::count_backend_error;
use crate::respond::Rejection;

pub(crate) struct FunctionBackend {
    /// The function as the deployment named it when it loaded (an id, an OCID or `app/name`,
    /// resolved by `FunctionInvoker::resolve`). Calls go by its app and name, not this id.
    target: FunctionRef,
}

const FN_HTTP_H: &str = "fn-http-h-";

impl FunctionBackend {
    pub fn new(target: FunctionRef) -> Self {
        FunctionBackend { target }
    }

    pub async fn invoke(
        &self,
        outbound: Outbound<'_>,
        invoker: &dyn FunctionInvoker,
    ) -> Result<Response<Body>, Rejection> {
        // The function's id now, by app and name (from the runtime's in-memory snapshot): a
        // function deleted and created again, or redeployed, is served at once without
        // reloading the deployment.
        let Some(fn_id) = invoker.current_id(&self.target.app_name, &self.target.fn_name) else {
            return Err(self.missing());
        };
        let body = read_body(outbound.body, MAX_FUNCTION_BODY).await?;
        let mut client_headers = outbound.parts.headers;
        strip_hop_by_hop(&mut client_headers);
        let mut headers = HeaderMap::with_capacity(client_headers.len() + 8);
        headers.insert("fn-intent", HeaderValue::from_static("httprequest"));
        headers.insert("fn-invoke-type", HeaderValue::from_static("sync"));
        if let Ok(v) = HeaderValue::from_str(outbound.parts.method.as_str()) {
            headers.insert("fn-http-method", v);
        }
        let mut url = String::from(outbound.full_path);
        if !outbound.query.is_empty() {
            url.push('?');
            url.push_str(&outbound.query);
        }
        if let Ok(v) = HeaderValue::from_str(&url) {
            headers.insert("fn-http-request-url", v);
        }
        if let Some(ct) = client_headers.get(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, ct.clone());
        }
        for (name, value) in &client_headers {
            if let Ok(wrapped) = HeaderName::from_bytes(format!("{FN_HTTP_H}{}", name.as_str()).as_bytes()) {
                headers.append(wrapped, value.clone());
            }
        }
        let via = forwarded_for(outbound.client_ip, client_headers.get("x-forwarded-for"));
        if let Some(v) = via.x_forwarded_for {
            headers.insert("x-forwarded-for", v);
        }
        if let Some(v) = via.x_real_ip {
            headers.insert("x-real-ip", v);
        }
        if let Some(v) = via.forwarded {
            headers.insert("forwarded", v);
        }
        headers.insert("opc-request-id", outbound.request_id.clone());

        match invoker.invoke(&fn_id, InvokeRequest { headers, body }).await {
            Ok(answer) => Ok(unwrap_response(answer.status, &answer.headers, answer.body)),
            // Deleted between the lookup and the call.
            Err(InvokeError::NotFound) => Err(self.missing()),
            Err(err) => Err(function_error(&fn_id, err)),
        }
    }

    /// The route's function does not exist (deleted, not yet created again): 502, as OCI
    /// answers when the Functions service cannot run a backend, with a body that says why but
    /// names nothing internal (the log names the function).
    fn missing(&self) -> Rejection {
        tracing::warn!(
            target: "fngate::gateway::backend",
            app = %self.target.app_name,
            function = %self.target.fn_name,
            "the route's function does not exist"
        );
        count_backend_error("function_not_found");
        Rejection::new(StatusCode::BAD_GATEWAY, "function_not_found")
            .with_message("The function behind this route does not exist")
    }
}

/// Reads a whole request body, refusing more than `limit` bytes with 413.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Rejection> {
    // A declared length over the limit is refused before reading anything.
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "request_body_too_large"));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "request_body_too_large"))
        }
        Err(err) if is_body_timeout(&*err) => Err(body_timed_out()),
        Err(_) => Err(Rejection::new(StatusCode::BAD_REQUEST, "request_body_unreadable")),
    }
}

/// The client stalled its request body past the listener's body-read timeout.
pub(crate) fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    fngate_http::error_sources(err).any(|e| e.is::<fngate_http::BodyReadTimeout>())
}

/// 408, as nginx answers a `client_body_timeout`; the connection closes after it.
pub(crate) fn body_timed_out() -> Rejection {
    Rejection::new(StatusCode::REQUEST_TIMEOUT, "request_body_timeout")
}

/// Fn trigger semantics: status from `Fn-Http-Status` (else 200) unless the call itself failed;
/// `Fn-Http-H-<Name>` becomes `<Name>`; `Content-Type` passes through; everything else drops.
fn unwrap_response(outer: StatusCode, headers: &HeaderMap, body: Bytes) -> Response<Body> {
    let mut status = headers
        .get("fn-http-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    if outer.as_u16() >= 400 {
        status = outer;
    }
    let mut out = HeaderMap::new();
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        out.insert(CONTENT_TYPE, ct.clone());
    }
    for (name, value) in headers {
        if let Some(plain) = name.as_str().strip_prefix(FN_HTTP_H)
            && let Ok(plain) = HeaderName::from_bytes(plain.as_bytes())
        {
            if plain == CONTENT_TYPE {
                out.insert(CONTENT_TYPE, value.clone());
            } else {
                out.append(plain, value.clone());
            }
        }
    }
    strip_hop_by_hop(&mut out);
    out.remove(http::header::CONTENT_LENGTH);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = out;
    response
}

fn function_error(fn_id: &str, err: InvokeError) -> Rejection {
    let (status, kind) = match &err {
        InvokeError::TimedOut | InvokeError::InitTimedOut => (StatusCode::GATEWAY_TIMEOUT, "function_timeout"),
        InvokeError::TooBusy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "function_busy"),
        _ => (StatusCode::BAD_GATEWAY, "function_error"),
    };
    tracing::warn!(target: "fngate::gateway::backend", fn_id, error = %err, "function call failed");
    count_backend_error(kind);
    let mut rejection = Rejection::new(status, kind);
    if let InvokeError::TooBusy { retry_after } = err {
        let secs = crate::policy::rate_limit::retry_after_seconds(retry_after);
        rejection.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    rejection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_fn_http_headers_and_status() {
        let mut h = HeaderMap::new();
        h.insert("fn-http-status", "201".parse().unwrap());
        h.insert("fn-http-h-x-custom", "v".parse().unwrap());
        h.insert("fn-http-h-content-type", "application/json".parse().unwrap());
        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        h.insert("fn-call-id", "01ABC".parse().unwrap());
        h.insert("x-internal", "drop".parse().unwrap());
        let r = unwrap_response(StatusCode::OK, &h, Bytes::from_static(b"{}"));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["x-custom"], "v");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert!(!r.headers().contains_key("x-internal"));
        let r = unwrap_response(StatusCode::BAD_GATEWAY, &h, Bytes::new());
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let r = unwrap_response(StatusCode::OK, &HeaderMap::new(), Bytes::new());
        assert_eq!(r.status(), StatusCode::OK);
    }
}
