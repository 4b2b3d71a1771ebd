//! How an HTTP request becomes a function call and the FDK's answer becomes the HTTP response:
//! the `Fn-Http-*` wrapping of Fn's HTTP trigger (`fn:api/server/runner_httptrigger.go`
//! `ServeHTTPTrigger`, `triggerResponseWriter`), which OCI API Gateway also speaks to functions.
//!
//! One implementation for both fronts; [`HttpFront`] names every place where they differ, because
//! Fn and OCI differ there.
//!
//! Request: each client header `H` goes as `Fn-Http-H-H` (hop-by-hop headers dropped, proxy rule);
//! `Content-Type` also goes un-prefixed; `Fn-Http-Method`, `Fn-Http-Request-Url` and
//! `Fn-Intent: httprequest` are set.
//!
//! Response: the status is the call's own when it is ≥ 400 (the function failed or timed out),
//! else `Fn-Http-Status` when it is a number from 200 to 599, else 200. `Fn-Http-H-<Name>` becomes
//! `<Name>`; one `Content-Type` is kept (the function's `Fn-Http-H-Content-Type`, else the FDK's
//! `Content-Type`); everything else the FDK sent is dropped, and so are hop-by-hop headers and
//! `Content-Length` a function tries to set (the body's real length frames the response).

use fngate_http::{HopByHop, strip_hop_by_hop};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

const PREFIX: &str = "fn-http-h-";
const CALL_ID: &str = "fn-call-id";

/// The HTTP front end a function call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFront {
    /// Fn's HTTP trigger, `/t/{app}/{path}` on the functions listener.
    FnTrigger,
    /// OCI API Gateway's `ORACLE_FUNCTIONS_BACKEND`.
    ApiGateway,
}

impl HttpFront {
    /// Whether `Content-Type` is *also* sent as `Fn-Http-H-Content-Type`. OCI API Gateway does
    /// (observed in Oracle's own sample dumps, where fdk-python's `ctx.Headers()["content-type"]`
    /// is therefore a two-item list); Fn's trigger sends it un-prefixed only.
    pub fn prefixes_content_type(self) -> bool {
        self == HttpFront::ApiGateway
    }

    /// Whether `Host` and `Content-Length` are wrapped. OCI API Gateway wraps every client header,
    /// those included (observed `Fn-Http-H-Host`, `Fn-Http-H-Content-Length`); Fn's trigger never
    /// sees `Host` in Go's header map and fngate's does not pass the trigger's own framing on.
    pub fn wraps_host_and_length(self) -> bool {
        self == HttpFront::ApiGateway
    }

    /// Whether the FDK's `Fn-Call-Id` reaches the client. Fn's trigger writer keeps it; OCI API
    /// Gateway's clients get `opc-request-id` instead.
    pub fn passes_call_id(self) -> bool {
        self == HttpFront::FnTrigger
    }
}

/// The headers for the FDK from an inbound HTTP request. `url` is what `Fn-Http-Request-Url`
/// carries (Fn: the absolute URL; OCI: prefix + path + query).
pub fn wrap_request(front: HttpFront, method: &Method, url: &str, mut inbound: HeaderMap) -> HeaderMap {
    strip_hop_by_hop(&mut inbound, HopByHop::Proxy);
    let mut out = HeaderMap::with_capacity(inbound.len() + 4);
    for (name, value) in &inbound {
        if (name == HOST || name == CONTENT_LENGTH) && !front.wraps_host_and_length() {
            continue;
        }
        if name == CONTENT_TYPE {
            out.append(CONTENT_TYPE, value.clone());
            if !front.prefixes_content_type() {
                continue;
            }
        }
        if let Ok(wrapped) = HeaderName::from_bytes(format!("{PREFIX}{}", name.as_str()).as_bytes()) {
            out.append(wrapped, value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(method.as_str()) {
        out.insert("fn-http-method", value);
    }
    if let Ok(value) = HeaderValue::from_str(url) {
        out.insert("fn-http-request-url", value);
    }
    out.insert("fn-intent", HeaderValue::from_static("httprequest"));
    out
}

/// The client's status and headers from the FDK's answer (`outer` is the call's own status).
pub fn unwrap_response(front: HttpFront, outer: StatusCode, fdk: &HeaderMap) -> (StatusCode, HeaderMap) {
    let status = if outer.as_u16() >= 400 {
        outer
    } else {
        fdk.get("fn-http-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u16>().ok())
            .filter(|code| (200..=599).contains(code))
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::OK)
    };
    let mut out = HeaderMap::new();
    for (name, value) in fdk {
        if let Some(original) = name.as_str().strip_prefix(PREFIX) {
            match HeaderName::from_bytes(original.as_bytes()) {
                // The function's own Content-Type wins over the FDK's default.
                Ok(plain) if plain == CONTENT_TYPE => {
                    out.insert(CONTENT_TYPE, value.clone());
                }
                Ok(plain) => {
                    out.append(plain, value.clone());
                }
                // `Fn-Http-H-` alone, or not a header name once unwrapped.
                Err(_) => {}
            }
        } else if name.as_str() == CALL_ID && front.passes_call_id() {
            out.append(name.clone(), value.clone());
        }
    }
    if !out.contains_key(CONTENT_TYPE)
        && let Some(content_type) = fdk.get(CONTENT_TYPE)
    {
        out.insert(CONTENT_TYPE, content_type.clone());
    }
    strip_hop_by_hop(&mut out, HopByHop::Proxy);
    out.remove(CONTENT_LENGTH);
    (status, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-custom", HeaderValue::from_static("abc"));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(HOST, HeaderValue::from_static("localhost:8081"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert("connection", HeaderValue::from_static("keep-alive, x-conn"));
        h.insert("x-conn", HeaderValue::from_static("hop"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h
    }

    #[test]
    fn the_fn_trigger_wraps_like_serve_http_trigger() {
        let wrapped = wrap_request(
            HttpFront::FnTrigger,
            &Method::PUT,
            "http://localhost:8081/t/app/hello?x=1",
            inbound(),
        );
        assert_eq!(wrapped["fn-http-h-x-custom"], "abc");
        assert_eq!(wrapped[CONTENT_TYPE], "text/plain");
        assert!(
            !wrapped.contains_key("fn-http-h-content-type"),
            "Content-Type goes un-prefixed only"
        );
        assert!(!wrapped.contains_key("fn-http-h-host"));
        assert!(!wrapped.contains_key("fn-http-h-content-length"));
        assert_eq!(wrapped["fn-http-method"], "PUT");
        assert_eq!(wrapped["fn-http-request-url"], "http://localhost:8081/t/app/hello?x=1");
        assert_eq!(wrapped["fn-intent"], "httprequest");
        for hop in ["fn-http-h-connection", "fn-http-h-x-conn", "fn-http-h-te"] {
            assert!(!wrapped.contains_key(hop), "{hop}");
        }
    }

    #[test]
    fn the_api_gateway_wraps_like_oci() {
        let wrapped = wrap_request(HttpFront::ApiGateway, &Method::POST, "/v1/hello?x=1", inbound());
        assert_eq!(wrapped[CONTENT_TYPE], "text/plain");
        assert_eq!(
            wrapped["fn-http-h-content-type"], "text/plain",
            "OCI also wraps Content-Type"
        );
        assert_eq!(wrapped["fn-http-h-host"], "localhost:8081");
        assert_eq!(wrapped["fn-http-h-content-length"], "3");
        assert_eq!(wrapped["fn-http-request-url"], "/v1/hello?x=1");
        assert!(!wrapped.contains_key("fn-http-h-x-conn"));
    }

    fn fdk_answer() -> HeaderMap {
        let mut fdk = HeaderMap::new();
        fdk.insert("fn-http-status", HeaderValue::from_static("404"));
        fdk.insert("fn-http-h-x-resp", HeaderValue::from_static("r1"));
        fdk.append("fn-http-h-x-resp", HeaderValue::from_static("r2"));
        fdk.insert("fn-fdk-version", HeaderValue::from_static("fdk-python/0.1.128"));
        fdk.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        fdk.insert("fn-http-h-content-type", HeaderValue::from_static("application/json"));
        fdk.insert("fn-http-h-content-length", HeaderValue::from_static("999"));
        fdk.insert("fn-http-h-transfer-encoding", HeaderValue::from_static("chunked"));
        fdk.insert(CALL_ID, HeaderValue::from_static("01CALL"));
        fdk
    }

    #[test]
    fn both_fronts_unwrap_the_same_but_for_the_call_id() {
        for front in [HttpFront::FnTrigger, HttpFront::ApiGateway] {
            let (status, headers) = unwrap_response(front, StatusCode::OK, &fdk_answer());
            assert_eq!(status, StatusCode::NOT_FOUND, "{front:?}");
            let resp: Vec<_> = headers.get_all("x-resp").iter().collect();
            assert_eq!(resp, ["r1", "r2"], "{front:?}");
            let types: Vec<_> = headers.get_all(CONTENT_TYPE).iter().collect();
            assert_eq!(
                types,
                ["application/json"],
                "{front:?}: one Content-Type, the function's"
            );
            for dropped in [
                "fn-fdk-version",
                "content-length",
                "transfer-encoding",
                "fn-http-status",
            ] {
                assert!(!headers.contains_key(dropped), "{front:?}: {dropped}");
            }
            assert_eq!(headers.contains_key(CALL_ID), front == HttpFront::FnTrigger);
        }
    }

    #[test]
    fn a_failed_call_keeps_its_status_and_odd_statuses_fall_back_to_200() {
        let (status, _) = unwrap_response(HttpFront::ApiGateway, StatusCode::BAD_GATEWAY, &fdk_answer());
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        for odd in ["101", "99", "600", "abc", ""] {
            let mut fdk = HeaderMap::new();
            fdk.insert("fn-http-status", HeaderValue::from_str(odd).unwrap());
            let (status, headers) = unwrap_response(HttpFront::FnTrigger, StatusCode::OK, &fdk);
            assert_eq!(status, StatusCode::OK, "{odd:?}");
            assert!(headers.is_empty());
        }
        let mut fdk = HeaderMap::new();
        fdk.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let (_, headers) = unwrap_response(HttpFront::FnTrigger, StatusCode::OK, &fdk);
        assert_eq!(
            headers[CONTENT_TYPE], "text/plain",
            "the FDK's Content-Type when the function set none"
        );
    }

    /// Found by fuzzing (fuzz target `fdk_response`): a function's `Fn-Http-H-Content-Length`,
    /// `Upgrade`, `Connection` or a 1xx `Fn-Http-Status` must never reach the client as written
    /// (a function-chosen length desynchronises the client's connection).
    #[test]
    fn the_function_cannot_set_framing_or_an_interim_status() {
        let mut fdk = HeaderMap::new();
        for name in [
            "fn-http-h-content-length",
            "fn-http-h-transfer-encoding",
            "fn-http-h-connection",
            "fn-http-h-keep-alive",
            "fn-http-h-upgrade",
            "fn-http-h-te",
            "fn-http-h-trailer",
        ] {
            fdk.insert(HeaderName::from_static(name), HeaderValue::from_static("1"));
        }
        fdk.insert("fn-http-h-x-kept", HeaderValue::from_static("yes"));
        for front in [HttpFront::FnTrigger, HttpFront::ApiGateway] {
            for (given, expected) in [("100", 200), ("101", 200), ("199", 200), ("200", 200), ("599", 599)] {
                fdk.insert("fn-http-status", HeaderValue::from_static(given));
                let (status, headers) = unwrap_response(front, StatusCode::OK, &fdk);
                assert_eq!(status.as_u16(), expected, "{front:?} Fn-Http-Status {given}");
                assert_eq!(headers.len(), 1, "{front:?} {headers:?}");
                assert_eq!(headers["x-kept"], "yes");
            }
        }
    }
}
