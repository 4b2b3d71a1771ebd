//! `ORACLE_FUNCTIONS_BACKEND`: calls a function of the functions runtime in-process, wrapped and
//! unwrapped as OCI API Gateway does (`fngate_invoke::http_front`, `HttpFront::ApiGateway`), plus
//! what the gateway adds itself (`Fn-Invoke-Type`, forwarding headers, `opc-request-id`).

use axum::body::Body;
use bytes::Bytes;
use fngate_invoke::http_front::{HttpFront, unwrap_response, wrap_request};
use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeRequest};
use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use super::Outbound;
use super::forwarded::forwarded_for;
use crate::MAX_FUNCTION_BODY;
use crate::observe::count_backend_error;
use crate::respond::Rejection;

pub(crate) struct FunctionBackend {
    /// The function as the deployment named it when it loaded (an id, an OCID or `app/name`,
    /// resolved by `FunctionInvoker::resolve`). Calls go by its app and name, not this id.
    /// `None`: the reference named no function when a stored deployment loaded at start.
    target: Option<FunctionRef>,
    /// The `functionId` as the specification wrote it, for the log.
    reference: String,
}

impl FunctionBackend {
    pub fn new(target: FunctionRef) -> Self {
        let reference = target.fn_id.clone();
        FunctionBackend {
            target: Some(target),
            reference,
        }
    }

    /// A route whose function was deleted while the server was down: it answers as a route
    /// whose function is deleted at run time does (502), and the deployment's other routes serve.
    /// An `app/function` reference still names the function, so it is served again once the
    /// function is created again; a bare id cannot be followed.
    pub fn gone(reference: &str) -> Self {
        let target = reference.split_once('/').map(|(app, name)| FunctionRef {
            fn_id: String::new(),
            app_name: app.to_string(),
            fn_name: name.to_string(),
        });
        FunctionBackend {
            target,
            reference: reference.to_string(),
        }
    }

    pub async fn invoke(
        &self,
        outbound: Outbound<'_>,
        invoker: &dyn FunctionInvoker,
    ) -> Result<Response<Body>, Rejection> {
        // The function's id now, by app and name (from the runtime's in-memory snapshot): a
        // function deleted and created again, or redeployed, is served at once without
        // reloading the deployment.
        let Some(fn_id) = self
            .target
            .as_ref()
            .and_then(|target| invoker.current_id(&target.app_name, &target.fn_name))
        else {
            return Err(self.missing());
        };
        let body = read_body(outbound.body, MAX_FUNCTION_BODY).await?;
        let mut url = String::from(outbound.full_path);
        if !outbound.query.is_empty() {
            url.push('?');
            url.push_str(&outbound.query);
        }
        let mut client_headers = outbound.parts.headers;
        // Before reading X-Forwarded-For: a header `Connection` names is gone (proxy rule).
        super::strip_hop_by_hop(&mut client_headers);
        let via = forwarded_for(outbound.client_ip, client_headers.get("x-forwarded-for"));
        let mut headers = wrap_request(HttpFront::ApiGateway, &outbound.parts.method, &url, client_headers);
        // What OCI's Functions service and the gateway add beside the wrapped request.
        headers.insert("fn-invoke-type", HeaderValue::from_static("sync"));
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
            Ok(answer) => {
                let (status, headers) = unwrap_response(HttpFront::ApiGateway, answer.status, &answer.headers);
                let mut response = Response::new(Body::from(answer.body));
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                Ok(response)
            }
            // Deleted between the lookup and the call.
            Err(InvokeError::NotFound) => Err(self.missing()),
            Err(err) => Err(function_error(&fn_id, err)),
        }
    }

    /// The route's function does not exist (deleted, not yet created again): 502, as OCI
    /// answers when the Functions service cannot run a backend, with a body that says why but
    /// names nothing internal (the log names the function).
    fn missing(&self) -> Rejection {
        let (app, function) = match &self.target {
            Some(target) => (target.app_name.as_str(), target.fn_name.as_str()),
            None => ("", ""),
        };
        tracing::warn!(
            target: "fngate::gateway::backend",
            app,
            function,
            reference = %self.reference,
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

fn function_error(fn_id: &str, err: InvokeError) -> Rejection {
    let status = err.gateway_status();
    let kind = match status {
        StatusCode::GATEWAY_TIMEOUT => "function_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "function_busy",
        _ => "function_error",
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
