//! CORS: preflight answered by the gateway, `Access-Control-*` headers on actual responses.
//! A route's own policy replaces the deployment-wide one.
//!
//! Origin matching (OCI documents `*`, `null` and full `scheme://host[:port]` origins; the rest is
//! fngate's choice, listed in docs/notes/gateway.md):
//! - `*` allows any origin (including `null`); `null` allows the `null` origin (`file:` pages).
//! - `scheme://host[:port]` allows exactly that origin: scheme and host compared case-insensitively,
//!   a missing port is the scheme's default (`https://a.com` = `https://a.com:443`).
//! - `scheme://*.example.com[:port]` allows every origin one or more labels below `example.com`
//!   (`https://a.example.com`, `https://a.b.example.com`), with the same scheme and port, but not
//!   `example.com` itself. `*` is only allowed as the whole leftmost label.
//!
//! Patterns are parsed once when the deployment loads; matching a request's `Origin` reads the
//! header in place and allocates nothing.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

#[derive(Debug, Clone)]
pub(crate) struct CorsPolicy {
    /// `allowedOrigins` other than `*` and `null`, parsed.
    pub origins: Vec<OriginPattern>,
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
        let patterns = origins
            .iter()
            .enumerate()
            .filter(|(_, o)| *o != "*" && *o != "null")
            .map(|(i, o)| OriginPattern::parse(o).map_err(|m| format!("allowedOrigins[{i}]: {m}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CorsPolicy {
            origins: patterns,
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
        if self.any_origin {
            return Some(origin);
        }
        if text == "null" {
            return self.null_origin.then_some(origin);
        }
        let (scheme, host, port) = split_origin(text.strip_suffix('/').unwrap_or(text))?;
        self.origins
            .iter()
            .any(|p| p.matches(scheme, host, port))
            .then_some(origin)
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

    /// Adds the actual-response CORS headers (origin, credentials, exposed headers). `Vary: Origin`
    /// goes on every response the policy covers, allowed or not: the answer depends on `Origin`,
    /// and a shared cache must not hand one origin's answer to another.
    pub fn apply_to_response(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        if !varies_by_origin(response) {
            response.append(VARY, HeaderValue::from_static("Origin"));
        }
        let Some(origin) = self.allowed_origin(origin) else {
            return;
        };
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.credentials {
            response.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(exposed) = &self.exposed {
            response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
        }
    }
}

/// Whether `Vary` already names `Origin` (or is `*`), e.g. set by the backend.
fn varies_by_origin(headers: &HeaderMap) -> bool {
    headers.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
        })
    })
}

// === impl OriginPattern ===

/// One `allowedOrigins` entry other than `*` / `null`: `scheme://host[:port]` or
/// `scheme://*.domain[:port]`, parsed when the deployment loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginPattern {
    /// Lowercase.
    scheme: Box<str>,
    host: HostPattern,
    /// The explicit port or the scheme's default; `None` for schemes without one
    /// (`capacitor://localhost`).
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Lowercase ASCII (IDNs in punycode, as browsers send them; IPv6 in brackets).
    Exact(Box<str>),
    /// `*.example.com`, kept as `.example.com`: one or more labels must come before it.
    Subdomains(Box<str>),
}

impl OriginPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` must be `*`, `null`, scheme://host[:port] or scheme://*.domain[:port]");
        let trimmed = text.strip_suffix('/').unwrap_or(text);
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
        let (wildcard, rest) = match rest.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        if rest.contains('*') {
            return Err(format!(
                "`{text}`: `*` may only stand for whole leftmost labels (`https://*.example.com`)"
            ));
        }
        // The url crate normalises as browsers serialise origins: lowercase, punycode, IPv4/IPv6
        // forms, default ports dropped.
        let url = url::Url::parse(&format!("{scheme}://{rest}")).map_err(|_| bad())?;
        let bare = matches!(url.path(), "" | "/")
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) if !wildcard => {
                url.host_str().unwrap_or_default().to_string()
            }
            _ => return Err(bad()),
        };
        if !bare {
            return Err(bad());
        }
        Ok(OriginPattern {
            scheme: url.scheme().into(),
            host: if wildcard {
                HostPattern::Subdomains(format!(".{host}").into())
            } else {
                HostPattern::Exact(host.into())
            },
            port: url.port_or_known_default(),
        })
    }

    /// Whether a request origin, split by [`split_origin`], matches.
    fn matches(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if self.port != port || !self.scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        match &self.host {
            HostPattern::Exact(expected) => expected.eq_ignore_ascii_case(host),
            HostPattern::Subdomains(suffix) => {
                let (host, suffix) = (host.as_bytes(), suffix.as_bytes());
                // At least one non-empty label before the suffix (`.example.com`).
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host[host.len() - suffix.len() - 1] != b'.'
            }
        }
    }
}

/// `scheme://host[:port]` → (scheme, host, port or the scheme's default), without allocating.
/// `None` for anything that is not a serialised origin (a path, credentials, a bad port).
fn split_origin(text: &str) -> Option<(&str, &str, Option<u16>)> {
    let (scheme, authority) = text.split_once("://")?;
    if scheme.is_empty() || authority.is_empty() || authority.contains(['/', '?', '#', '@', '*']) {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let after = &authority[end..];
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (&authority[..end], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().ok()?),
        Some(_) => return None,
        None => default_port(scheme),
    };
    Some((scheme, host, port))
}

/// The default ports the url crate knows (and drops from serialised origins).
fn default_port(scheme: &str) -> Option<u16> {
    const DEFAULTS: [(&str, u16); 5] = [("http", 80), ("https", 443), ("ws", 80), ("wss", 443), ("ftp", 21)];
    DEFAULTS
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, p)| *p)
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

    fn allows(origins: &[&str], origin: &str) -> bool {
        let p = CorsPolicy::new(&s(origins), &[], &[], &[], false, 0).unwrap();
        let value = HeaderValue::from_str(origin).unwrap();
        p.allowed_origin(Some(&value)).is_some()
    }

    #[test]
    fn wildcard_subdomains_match_one_or_more_labels_with_the_same_scheme_and_port() {
        let wild = ["https://*.example.com"];
        for origin in [
            "https://a.example.com",
            "https://a.b.example.com",
            "https://A.Example.COM",
            "https://a.example.com:443",
            "https://a.example.com/",
        ] {
            assert!(allows(&wild, origin), "{origin}");
        }
        for origin in [
            "https://example.com",
            "https://.example.com",
            "https://a..example.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://a.example.org",
            "https://example.org",
            "https://a.notexample.com",
            "https://a.example.com.evil.net",
            "https://a.example.com/path",
            "https://user@a.example.com",
            "null",
            "a.example.com",
        ] {
            assert!(!allows(&wild, origin), "{origin}");
        }
        let with_port = ["http://*.localhost:3000"];
        assert!(allows(&with_port, "http://app.localhost:3000"));
        assert!(!allows(&with_port, "http://app.localhost"));
        assert!(!allows(&with_port, "http://app.localhost:3001"));
    }

    #[test]
    fn exact_origins_normalise_case_default_ports_and_hosts() {
        assert!(allows(&["https://app.example.com"], "https://app.example.com:443"));
        assert!(allows(&["https://app.example.com:443/"], "https://APP.example.com"));
        assert!(allows(&["HTTP://App.Example.com"], "http://app.example.com"));
        assert!(!allows(&["https://app.example.com"], "https://app.example.com:8443"));
        assert!(!allows(&["https://app.example.com"], "http://app.example.com"));
        assert!(!allows(&["https://app.example.com"], "https://sub.app.example.com"));
        assert!(allows(&["http://localhost:3000"], "http://localhost:3000"));
        assert!(!allows(&["http://localhost:3000"], "http://localhost"));
        assert!(!allows(&["http://localhost:3000"], "http://localhost:+3000"));
        assert!(allows(&["http://[::1]:8080"], "http://[::1]:8080"));
        assert!(!allows(&["http://[::1]:8080"], "http://[::1]"));
        assert!(allows(&["capacitor://localhost"], "capacitor://localhost"));
        assert!(allows(&["https://*.bücher.de"], "https://shop.xn--bcher-kva.de"));
        assert!(allows(&["null"], "null"));
        assert!(!allows(&["https://app.example.com"], "null"));
        assert!(allows(&["*"], "https://anything.example"));
    }

    #[test]
    fn patterns_that_cannot_match_sensibly_are_refused_at_load() {
        for bad in [
            "https://a*.example.com",
            "https://*",
            "https://*.*.example.com",
            "https://example.*",
            "https://*.127.0.0.1",
            "https://app.example.com/path",
            "app.example.com",
        ] {
            let err = CorsPolicy::new(&s(&["https://ok.example.com", bad]), &[], &[], &[], false, 0).unwrap_err();
            assert!(err.starts_with("allowedOrigins[1]: "), "{bad}: {err}");
        }
    }
}
