//! HTTP-trigger wrapping (`fn:api/server/runner_httptrigger.go`): the request's headers go to
//! the FDK as `Fn-Http-H-*` plus `Fn-Http-Method`, `Fn-Http-Request-Url` and
//! `Fn-Intent: httprequest`; the FDK's `Fn-Http-Status` and `Fn-Http-H-*` come back unwrapped.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

const PREFIX: &str = "fn-http-h-";

/// Headers for the FDK from an inbound HTTP request. `url` is the full request URL.
pub fn wrap_request(method: &Method, url: &str, inbound: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(inbound.len() + 3);
    for (name, value) in inbound {
        // Go keeps Host and Content-Length outside the header map, so Fn never wraps them.
        if name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        if name == CONTENT_TYPE {
            out.append(CONTENT_TYPE, value.clone());
            continue;
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

/// The client's status and headers from the FDK's 200 answer: `Fn-Http-Status` (else 200),
/// `Fn-Http-H-*` un-prefixed, `Content-Type` and `Fn-Call-Id`; everything else is dropped.
///
/// The response's framing belongs to the listener, never to the function: `Fn-Http-H-Content-Length`,
/// `Fn-Http-H-Transfer-Encoding`, `Fn-Http-H-Connection`, `Fn-Http-H-Upgrade` and the other
/// hop-by-hop headers are dropped (a function-chosen length desynchronised the client's connection),
/// and a 1xx `Fn-Http-Status` (not a final status) counts as no status (200).
pub fn unwrap_response(fdk: &HeaderMap) -> (StatusCode, HeaderMap) {
    let status = fdk
        .get("fn-http-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .filter(|code| !code.is_informational())
        .unwrap_or(StatusCode::OK);
    let mut out = HeaderMap::new();
    for (name, value) in fdk {
        if let Some(original) = name.as_str().strip_prefix(PREFIX) {
            if let Ok(name) = HeaderName::from_bytes(original.as_bytes())
                && name != CONTENT_LENGTH
                && !fngate_http::is_hop_by_hop(name.as_str())
            {
                out.append(name, value.clone());
            }
        } else if name == CONTENT_TYPE || name.as_str() == "fn-call-id" {
            out.append(name.clone(), value.clone());
        }
    }
    (status, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_unwraps_like_fn() {
        let mut inbound = HeaderMap::new();
        inbound.insert("x-custom", HeaderValue::from_static("abc"));
        inbound.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        inbound.insert(HOST, HeaderValue::from_static("localhost:8081"));
        let wrapped = wrap_request(&Method::PUT, "http://localhost:8081/t/app/hello?x=1", &inbound);
        assert_eq!(wrapped["fn-http-h-x-custom"], "abc");
        assert_eq!(wrapped[CONTENT_TYPE], "text/plain");
        assert_eq!(wrapped["fn-http-method"], "PUT");
        assert_eq!(wrapped["fn-intent"], "httprequest");
        assert!(!wrapped.contains_key("fn-http-h-host"));

        let mut fdk = HeaderMap::new();
        fdk.insert("fn-http-status", HeaderValue::from_static("404"));
        fdk.insert("fn-http-h-x-resp", HeaderValue::from_static("r1"));
        fdk.insert("fn-fdk-version", HeaderValue::from_static("fdk-python/0.1.128"));
        fdk.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let (status, headers) = unwrap_response(&fdk);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["x-resp"], "r1");
        assert!(!headers.contains_key("fn-fdk-version"));
        assert_eq!(headers.len(), 2);
    }

    /// Found by fuzzing (fuzz target `fdk_response`): a function's `Fn-Http-H-Content-Length`
    /// reached the client as the response's length (hyper trusts it in release builds: the client
    /// read a shorter or longer body than sent), and `Fn-Http-H-Upgrade`/`Connection` and a 1xx
    /// `Fn-Http-Status` went out as the function wrote them (hyper answered the 1xx with 500).
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
        for (given, expected) in [("100", 200), ("101", 200), ("199", 200), ("200", 200), ("599", 599)] {
            fdk.insert("fn-http-status", HeaderValue::from_static(given));
            let (status, headers) = unwrap_response(&fdk);
            assert_eq!(status.as_u16(), expected, "Fn-Http-Status {given}");
            assert_eq!(headers.len(), 1, "{headers:?}");
            assert_eq!(headers["x-kept"], "yes");
        }
    }
}
