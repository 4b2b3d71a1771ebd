//! RFC 6750 §3 challenges and the rejections the gateway answers with.

use http::StatusCode;

use crate::AuthRejection;

/// Keeps only the characters RFC 6750 allows inside a quoted auth-param (%x20-21 / %x23-5B / %x5D-7E).
pub(crate) fn quote_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

fn bearer(realm: &str, params: &[(&str, &str)]) -> String {
    let mut out = format!("Bearer realm=\"{}\"", quote_safe(realm));
    for (name, value) in params {
        out.push_str(&format!(", {name}=\"{}\"", quote_safe(value)));
    }
    out
}

/// No credentials at all: 401 with a bare challenge (no `error`), as RFC 6750 §3.1 asks.
pub(crate) fn missing_token(realm: &str, log_message: &str) -> AuthRejection {
    AuthRejection {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(bearer(realm, &[])),
        message: "Unauthorized".into(),
        log_message: log_message.into(),
    }
}

/// A token that is malformed, badly signed, expired or not for us: 401 `invalid_token`.
/// `description` goes to the client and must not leak configuration; `log_message` is for the log.
pub(crate) fn invalid_token(realm: &str, description: &str, log_message: impl Into<String>) -> AuthRejection {
    AuthRejection {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(bearer(
            realm,
            &[("error", "invalid_token"), ("error_description", description)],
        )),
        message: "Unauthorized".into(),
        log_message: log_message.into(),
    }
}

/// The token was sent more than once (header and query, or a repeated header): 400 `invalid_request`.
pub(crate) fn invalid_request(realm: &str, description: &str) -> AuthRejection {
    AuthRejection {
        status: StatusCode::BAD_REQUEST,
        www_authenticate: Some(bearer(
            realm,
            &[("error", "invalid_request"), ("error_description", description)],
        )),
        message: "Bad Request".into(),
        log_message: format!("Invalid authentication request: {description}."),
    }
}

/// Authenticated, but none of the route's scopes: 403 `insufficient_scope` naming what is needed.
pub(crate) fn insufficient_scope(realm: &str, required: &[String]) -> AuthRejection {
    let scope = required.join(" ");
    AuthRejection {
        status: StatusCode::FORBIDDEN,
        www_authenticate: Some(bearer(
            realm,
            &[
                ("error", "insufficient_scope"),
                ("error_description", "The access token does not carry a required scope"),
                ("scope", &scope),
            ],
        )),
        message: "Forbidden".into(),
        log_message: format!("Authorization failed: none of the required scopes ({scope}) granted."),
    }
}

/// The gateway cannot check tokens at all (no keys ever fetched): 500, as OCI does.
pub(crate) fn keys_unavailable(log_message: impl Into<String>) -> AuthRejection {
    AuthRejection {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        www_authenticate: None,
        message: "Internal Server Error".into(),
        log_message: log_message.into(),
    }
}

/// The authorizer function failed: 502, body of the function ignored.
pub(crate) fn authorizer_failed(log_message: impl Into<String>) -> AuthRejection {
    AuthRejection {
        status: StatusCode::BAD_GATEWAY,
        www_authenticate: None,
        message: "Bad Gateway".into(),
        log_message: log_message.into(),
    }
}

/// The authorizer said `active:false`: 401 with its `wwwAuthenticate`, or a bare challenge.
pub(crate) fn authorizer_denied(realm: &str, www_authenticate: Option<&str>) -> AuthRejection {
    let header = www_authenticate
        .filter(|v| !v.is_empty() && http::HeaderValue::from_str(v).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| bearer(realm, &[]));
    AuthRejection {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(header),
        message: "Unauthorized".into(),
        log_message: "Authorizer function returned an inactive result.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_drop_quotes_and_backslashes() {
        let r = invalid_token("ex\"am\\ple.com", "bad \"x\"", "log");
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(r#"Bearer realm="example.com", error="invalid_token", error_description="bad x""#)
        );
    }

    #[test]
    fn missing_token_has_no_error_code() {
        let r = missing_token("api.example.com", "x");
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="api.example.com""#));
    }

    #[test]
    fn authorizer_header_that_is_not_a_header_value_falls_back() {
        let r = authorizer_denied("h", Some("Bearer\nx"));
        assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="h""#));
        let r = authorizer_denied("h", Some(r#"Bearer realm="example.com""#));
        assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="example.com""#));
    }
}
