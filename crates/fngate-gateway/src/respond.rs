//! Gateway-generated responses: one JSON error shape, `{"code":404,"message":"Not Found"}`.
//!
//! Every stage that refuses a request returns a [`Rejection`]; the pipeline turns it into a
//! response here, so error bodies look the same whichever stage produced them.

use axum::body::Body;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// A request the gateway answers itself instead of forwarding.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub status: StatusCode,
    /// Text for the `message` field; the reason phrase when `None`.
    pub message: Option<String>,
    /// Extra headers (`Allow`, `Retry-After`, `WWW-Authenticate`, ...).
    pub headers: HeaderMap,
    /// What the access log records as the cause (never sent to the client).
    pub log_reason: &'static str,
}

impl Rejection {
    pub fn new(status: StatusCode, log_reason: &'static str) -> Self {
        Rejection {
            status,
            message: None,
            headers: HeaderMap::new(),
            log_reason,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let message = self
            .message
            .unwrap_or_else(|| self.status.canonical_reason().unwrap_or("Error").to_string());
        let mut response = json_error(self.status, &message);
        // `extend` takes a HeaderMap's `(Option<HeaderName>, value)` items as they come: every
        // value of a repeated header (the `None`-named continuations) is kept, and each name
        // replaces what `json_error` set under it (a MODIFY_RESPONSE `Content-Type`).
        response.headers_mut().extend(self.headers);
        response
    }
}

/// `{"code":<status>,"message":<message>}` with `Content-Type: application/json`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "code": status.as_u16(), "message": message }).to_string();
    let mut response = Response::new(Body::from(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_of_a_repeated_header_reaches_the_response() {
        let mut rejection = Rejection::new(StatusCode::UNAUTHORIZED, "authentication")
            .with_header(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
            .with_header(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"x\""),
            )
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        rejection.headers.append("x-why", HeaderValue::from_static("one"));
        rejection.headers.append("x-why", HeaderValue::from_static("two"));
        rejection.headers.append("x-why", HeaderValue::from_static("three"));
        let response = rejection.into_response();
        let all = |name: &str| -> Vec<&str> {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(all("www-authenticate"), ["Bearer", "Basic realm=\"x\""]);
        assert_eq!(all("x-why"), ["one", "two", "three"]);
        assert_eq!(
            all("content-type"),
            ["text/plain"],
            "a rejection header replaces the default"
        );
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
