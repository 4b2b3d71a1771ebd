//! Request validations: required headers, required query parameters, body presence and content
//! type. ENFORCING refuses (400, or 415 for a content type no media range accepts), PERMISSIVE
//! only logs, DISABLED skips.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, StatusCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Enforcing,
    Permissive,
    Disabled,
}

#[derive(Debug, Clone)]
pub(crate) struct Check<N> {
    pub mode: Mode,
    pub required: Vec<N>,
}

#[derive(Debug, Clone)]
pub(crate) struct BodyCheck {
    pub mode: Mode,
    pub required: bool,
    /// Lowercased media ranges: `application/json`, `text/*`, `*/*`.
    pub media_ranges: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Validations {
    pub headers: Option<Check<HeaderName>>,
    pub query: Option<Check<String>>,
    pub body: Option<BodyCheck>,
}

/// Why validation failed: status and a message naming the culprit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub status: StatusCode,
    pub message: String,
}

impl Validations {
    /// Checks the request head; `body` is only asked whether it is empty (never read).
    pub fn check(
        &self,
        headers: &HeaderMap,
        query: &[(String, String)],
        body: &impl http_body::Body,
    ) -> Result<(), Invalid> {
        if let Some(check) = &self.headers
            && let Some(missing) = check.required.iter().find(|n| !headers.contains_key(*n))
        {
            outcome(
                check.mode,
                StatusCode::BAD_REQUEST,
                format!("Missing required header {missing}"),
            )?;
        }
        if let Some(check) = &self.query
            && let Some(missing) = check.required.iter().find(|n| !query.iter().any(|(q, _)| q == *n))
        {
            outcome(
                check.mode,
                StatusCode::BAD_REQUEST,
                format!("Missing required query parameter {missing}"),
            )?;
        }
        if let Some(check) = &self.body {
            if !has_body(headers, body) {
                if check.required {
                    outcome(
                        check.mode,
                        StatusCode::BAD_REQUEST,
                        "Missing required request body".into(),
                    )?;
                }
            } else {
                let content_type = headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if !check
                    .media_ranges
                    .iter()
                    .any(|range| media_matches(range, &content_type))
                {
                    outcome(
                        check.mode,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "Unsupported Media Type".into(),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Whether the request carries a body. `Content-Length` decides when present; otherwise a chunked
/// HTTP/1.1 body (`Transfer-Encoding`), or the body's own signal: an HTTP/2 (or HTTP/3) request
/// whose headers did not end the stream is streaming a body without `Content-Length`.
fn has_body(headers: &HeaderMap, body: &impl http_body::Body) -> bool {
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        return length
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    }
    headers.contains_key(TRANSFER_ENCODING) || (!body.is_end_stream() && body.size_hint().exact() != Some(0))
}

fn outcome(mode: Mode, status: StatusCode, message: String) -> Result<(), Invalid> {
    match mode {
        Mode::Enforcing => Err(Invalid { status, message }),
        Mode::Permissive => {
            tracing::info!(target: "fngate::gateway::validation", %message, "request failed validation (PERMISSIVE: forwarded)");
            Ok(())
        }
        Mode::Disabled => Ok(()),
    }
}

/// `type/subtype` against `type/subtype`, `type/*` or `*/*`.
fn media_matches(range: &str, content_type: &str) -> bool {
    if range == "*/*" {
        return true;
    }
    match range.strip_suffix("/*") {
        Some(major) => content_type.split('/').next() == Some(major) && content_type.contains('/'),
        None => range == content_type,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{Empty, StreamBody};

    use super::*;

    /// A body still streaming, size unknown (HTTP/2 DATA frames without `Content-Length`).
    fn streaming() -> StreamBody<futures_util::stream::Pending<Result<http_body::Frame<Bytes>, Infallible>>> {
        StreamBody::new(futures_util::stream::pending())
    }

    #[test]
    fn enforcing_refuses_and_permissive_forwards() {
        let mut v = Validations {
            headers: Some(Check {
                mode: Mode::Enforcing,
                required: vec![HeaderName::from_static("x-api-key")],
            }),
            query: Some(Check {
                mode: Mode::Enforcing,
                required: vec!["name".into()],
            }),
            body: Some(BodyCheck {
                mode: Mode::Enforcing,
                required: false,
                media_ranges: vec!["application/json".into(), "text/*".into()],
            }),
        };
        let mut h = HeaderMap::new();
        let err = v.check(&h, &[], &Empty::<Bytes>::new()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("x-api-key"));
        h.insert("x-api-key", "k".parse().unwrap());
        let err = v
            .check(&h, &[("Name".into(), "x".into())], &Empty::<Bytes>::new())
            .unwrap_err();
        assert!(
            err.message.contains("query parameter name"),
            "case-sensitive: {}",
            err.message
        );
        let q = vec![("name".to_string(), "x".to_string())];
        assert_eq!(v.check(&h, &q, &Empty::<Bytes>::new()), Ok(()));
        h.insert(CONTENT_LENGTH, "5".parse().unwrap());
        h.insert(CONTENT_TYPE, "application/xml".parse().unwrap());
        assert_eq!(
            v.check(&h, &q, &Empty::<Bytes>::new()).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        h.insert(CONTENT_TYPE, "text/plain; charset=utf-8".parse().unwrap());
        assert_eq!(v.check(&h, &q, &Empty::<Bytes>::new()), Ok(()));
        h.insert(CONTENT_TYPE, "application/xml".parse().unwrap());
        if let Some(b) = v.body.as_mut() {
            b.mode = Mode::Permissive;
        }
        assert_eq!(v.check(&h, &q, &Empty::<Bytes>::new()), Ok(()));
    }

    #[test]
    fn a_body_is_seen_from_content_length_chunking_or_the_stream_itself() {
        let v = Validations {
            body: Some(BodyCheck {
                mode: Mode::Enforcing,
                required: true,
                media_ranges: vec!["application/json".into()],
            }),
            ..Validations::default()
        };
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "text/xml".parse().unwrap());
        // No Content-Length, no Transfer-Encoding, stream not ended: a streamed HTTP/2 body.
        assert_eq!(
            v.check(&h, &[], &streaming()).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        // An ended stream is no body.
        let err = v.check(&h, &[], &Empty::<Bytes>::new()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.message, "Missing required request body");
        // Content-Length decides when given, whatever the stream says.
        h.insert(CONTENT_LENGTH, "0".parse().unwrap());
        assert_eq!(
            v.check(&h, &[], &streaming()).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        h.insert(CONTENT_LENGTH, "3".parse().unwrap());
        assert_eq!(
            v.check(&h, &[], &Empty::<Bytes>::new()).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        h.remove(CONTENT_LENGTH);
        h.insert(TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(v.check(&h, &[], &Empty::<Bytes>::new()), Ok(()));
    }
}
