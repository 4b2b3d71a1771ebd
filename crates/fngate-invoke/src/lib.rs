//! The narrow seam between the gateway (and authorizer functions) and the functions runtime.
//!
//! The gateway depends on this trait, not on `fngate-functions`, so it calls functions in-process
//! without an HTTP hop and without knowing how instances are pooled. The contract both sides of
//! an HTTP call share lives here too: the `Fn-Http-*` wrapping ([`http_front`]) and what each
//! [`InvokeError`] answers (Fn's statuses, the gateway's).

pub mod http_front;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// A call to a function: the headers the FDK should see (already wrapped, e.g. `Fn-Http-*` for
/// gateway calls) and the whole request body.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the FDK answered with status 200: its headers (hop-by-hop removed) and body.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The call id the runtime gave this call (`Fn-Call-Id`).
    pub call_id: String,
}

/// Why a call did not produce a function response. Each variant carries Fn's status and message.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    #[error("function not found")]
    NotFound,
    /// The FDK answered 502: the handler raised.
    #[error("function failed")]
    FunctionFailed,
    /// The FDK answered 504, or the call ran past the function's timeout.
    #[error("Timed out")]
    TimedOut,
    /// The FDK answered with a status other than 200/502/504.
    #[error("invalid function response")]
    InvalidResponse,
    /// The connection broke or the process died mid-call.
    #[error("error receiving function response")]
    ReceiveFailed,
    #[error("Container failed to initialize, please ensure you are using the latest fdk and check the logs")]
    InitFailed,
    #[error("Container initialization timed out, please ensure you are using the latest fdk and check the logs")]
    InitTimedOut,
    /// No instance could be had in time; callers should retry after the given delay.
    #[error("Timed out - server too busy")]
    TooBusy { retry_after: Duration },
    #[error("{0}")]
    Other(String),
}

impl InvokeError {
    /// The HTTP status Fn gives this error.
    pub fn status(&self) -> StatusCode {
        match self {
            InvokeError::NotFound => StatusCode::NOT_FOUND,
            InvokeError::FunctionFailed
            | InvokeError::InvalidResponse
            | InvokeError::ReceiveFailed
            | InvokeError::InitFailed => StatusCode::BAD_GATEWAY,
            InvokeError::TimedOut | InvokeError::InitTimedOut => StatusCode::GATEWAY_TIMEOUT,
            InvokeError::TooBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            InvokeError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The status the API gateway answers its client with when its function backend fails this
    /// way. The gateway is a proxy: a missing function or any other failure of the backend is a
    /// 502 (OCI: "function returns 5xx or errors: 502"), a timeout a 504, and a busy pool a 503
    /// (with `Retry-After`). [`status`](Self::status) is Fn's mapping for its own APIs.
    pub fn gateway_status(&self) -> StatusCode {
        match self {
            InvokeError::TimedOut | InvokeError::InitTimedOut => StatusCode::GATEWAY_TIMEOUT,
            InvokeError::TooBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// A function as the gateway sees it once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub fn_id: String,
    pub app_name: String,
    pub fn_name: String,
}

pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<InvokeResponse, InvokeError>> + Send + 'a>>;

/// Implemented by the functions runtime; used by the gateway and the custom authorizer.
pub trait FunctionInvoker: Send + Sync + 'static {
    /// Resolves a function reference: a function id, its OCI OCID, or the readable `app/function` form.
    fn resolve(&self, reference: &str) -> Option<FunctionRef>;

    /// The current id of `app`'s function `name`, if it exists now. The gateway calls this on
    /// every request (routes follow a function through delete, recreate and redeploy), so an
    /// implementation must answer from memory; the default goes through [`resolve`](Self::resolve).
    fn current_id(&self, app: &str, name: &str) -> Option<String> {
        self.resolve(&format!("{app}/{name}")).map(|r| r.fn_id)
    }

    /// Calls the function synchronously (one call occupies one hot instance).
    fn invoke<'a>(&'a self, fn_id: &'a str, request: InvokeRequest) -> InvokeFuture<'a>;
}

/// The header carrying fngate's admin token on control-plane calls (`Authorization: Bearer` is
/// the other way to send it).
pub const ADMIN_TOKEN_HEADER: &str = "x-fngate-admin-token";

/// The same header as an HTTP trigger or the gateway forwards it to the FDK (`Fn-Http-H-*`).
const WRAPPED_ADMIN_TOKEN_HEADER: &str = "fn-http-h-x-fngate-admin-token";

/// Removes the headers a function must never see, whichever path the call came by: the admin
/// token header, as sent and as wrapped for HTTP requests. The runtime applies this to every call.
pub fn strip_internal_headers(headers: &mut HeaderMap) {
    headers.remove(ADMIN_TOKEN_HEADER);
    headers.remove(WRAPPED_ADMIN_TOKEN_HEADER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fn_and_the_gateway_map_failures_each_their_way() {
        let busy = InvokeError::TooBusy {
            retry_after: Duration::from_secs(1),
        };
        let cases = [
            (InvokeError::NotFound, 404, 502),
            (InvokeError::FunctionFailed, 502, 502),
            (InvokeError::InvalidResponse, 502, 502),
            (InvokeError::ReceiveFailed, 502, 502),
            (InvokeError::InitFailed, 502, 502),
            (InvokeError::TimedOut, 504, 504),
            (InvokeError::InitTimedOut, 504, 504),
            (busy, 503, 503),
            (InvokeError::Other("no code".into()), 500, 502),
        ];
        for (err, fn_status, gateway_status) in cases {
            assert_eq!(err.status().as_u16(), fn_status, "{err:?}");
            assert_eq!(err.gateway_status().as_u16(), gateway_status, "{err:?}");
        }
    }

    #[test]
    fn internal_headers_go_in_every_form_and_others_stay() {
        let mut headers = HeaderMap::new();
        headers.append("X-Fngate-Admin-Token", "a".parse().unwrap());
        headers.append("x-fngate-admin-token", "b".parse().unwrap());
        headers.append("Fn-Http-H-X-Fngate-Admin-Token", "c".parse().unwrap());
        headers.append("fn-http-h-authorization", "Bearer caller".parse().unwrap());
        headers.append("content-type", "application/json".parse().unwrap());
        strip_internal_headers(&mut headers);
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["content-type", "fn-http-h-authorization"]);
    }
}
