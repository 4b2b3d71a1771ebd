//! CORS: preflight answered by the gateway, `Access-Control-*` headers on actual responses.
//! A route's own policy replaces the deployment-wide one.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

#[derive(Debug, Clone)]
pub(crate) struct CorsPolicy {
    /// Exact origins, lowercased (`scheme://host[:port]`).
    pub origins: Vec<String>,
    pub any_origin: bool,
    pub null_origin: bool,
    /// `None` = `*` (echo the requested method).
    pub methods: Option<HeaderValue>,
    pub any_method: bool,
    pub headers: Option<HeaderValue>,
    pub any_header: bool,
    pub exposed: Option<HeaderValue>,
    pub credentials: bool,
    pub max_age: Option<HeaderValue>,
}

impl CorsPolicy {
    pub fn new(
        origins: &[String],
        methods: &[String],
        headers: &[String],
        exposed: &[String],
        credentials: bool,
        max_age_seconds: i64,
    ) -> Result<Self, String> {
        let join = |items: &[String], what: &str| -> Result<Option<HeaderValue>, String> {
            let listed: Vec<&str> = items.iter().map(String::as_str).filter(|i| *i != "*").collect();
            if listed.is_empty() {
                return Ok(None);
            }
            HeaderValue::from_str(&listed.join(", "))
                .map(Some)
                .map_err(|_| format!("{what} contains characters not allowed in a header"))
        };
        Ok(CorsPolicy {
            origins: origins
                .iter()
                .filter(|o| *o != "*" && *o != "null")
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            any_origin: origins.iter().any(|o| o == "*"),
            null_origin: origins.iter().any(|o| o == "null"),
            methods: join(methods, "allowedMethods")?,
            any_method: methods.iter().any(|m| m == "*"),
            headers: join(headers, "allowedHeaders")?,
            any_header: headers.iter().any(|h| h == "*"),
            exposed: if exposed.iter().any(|h| h == "*") {
                Some(HeaderValue::from_static("*"))
            } else {
                join(exposed, "exposedHeaders")?
            },
            credentials,
            max_age: (max_age_seconds > 0).then(|| HeaderValue::from(max_age_seconds)),
        })
    }

    /// The origin to echo back, if this request's `Origin` is allowed.
    fn allowed_origin<'a>(&self, origin: Option<&'a HeaderValue>) -> Option<&'a HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?;
        let allowed = self.any_origin
            || (text == "null" && self.null_origin)
            || self
                .origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(text.trim_end_matches('/')));
        allowed.then_some(origin)
    }

    /// Whether a request is a CORS preflight (OPTIONS + Origin + Access-Control-Request-Method).
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(ORIGIN) && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Headers for the gateway's answer to a preflight (empty when the origin is not allowed,
    /// so the browser refuses the call).
    pub fn preflight_headers(&self, request: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        out.insert(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = self.allowed_origin(request.get(ORIGIN)) else {
            return out;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.any_method {
            if let Some(m) = request.get(ACCESS_CONTROL_REQUEST_METHOD) {
                out.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
            }
        } else if let Some(m) = &self.methods {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
        }
        if self.any_header {
            if let Some(h) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
                out.insert(ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
            }
        } else if let Some(h) = &self.headers {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
        }
        if self.credentials {
            out.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(age) = &self.max_age {
            out.insert(ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        out
    }

    /// Adds the actual-response CORS headers (origin, credentials, exposed headers).
    pub fn apply_to_response(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        let Some(origin) = self.allowed_origin(origin) else {
            return;
        };
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.append(VARY, HeaderValue::from_static("Origin"));
        if self.credentials {
            response.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(exposed) = &self.exposed {
            response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn req(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, origin.parse().unwrap());
        h.insert(ACCESS_CONTROL_REQUEST_METHOD, "PUT".parse().unwrap());
        h.insert(ACCESS_CONTROL_REQUEST_HEADERS, "x-a, x-b".parse().unwrap());
        h
    }

    #[test]
    fn preflight_echoes_the_matching_origin_only() {
        let p = CorsPolicy::new(
            &s(&["https://app.example.com"]),
            &s(&["GET", "POST"]),
            &s(&["Authorization"]),
            &s(&["opc-request-id"]),
            true,
            600,
        )
        .unwrap();
        let h = p.preflight_headers(&req("https://APP.example.com"));
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://APP.example.com");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "Authorization");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(!h.contains_key(ACCESS_CONTROL_EXPOSE_HEADERS));
        let h = p.preflight_headers(&req("https://evil.example.com"));
        assert!(!h.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        let mut resp = HeaderMap::new();
        p.apply_to_response(req("https://app.example.com").get(ORIGIN), &mut resp);
        assert_eq!(resp[ACCESS_CONTROL_EXPOSE_HEADERS], "opc-request-id");
        assert!(!resp.contains_key(ACCESS_CONTROL_ALLOW_METHODS));
    }

    #[test]
    fn wildcards_echo_the_request() {
        let p = CorsPolicy::new(&s(&["*"]), &s(&["*"]), &s(&["*"]), &[], false, 0).unwrap();
        let h = p.preflight_headers(&req("null"));
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "null");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "PUT");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "x-a, x-b");
        assert!(!h.contains_key(ACCESS_CONTROL_MAX_AGE));
        assert!(!h.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }
}
