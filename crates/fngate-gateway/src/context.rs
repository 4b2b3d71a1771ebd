//! Context variables: `${request.path[id]}`, `request.query[..]`, `request.headers[..]`,
//! `request.auth[..]`, `request.host`, `request.subdomain[..]`, substituted as OCI documents:
//! first value of a repeated parameter, URL encoding preserved, missing key = empty string, a dot
//! inside a key is literal.

use std::fmt::Write as _;

use http::HeaderMap;
use serde_json::{Map, Value};

/// One context variable reference, parsed once at deployment load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContextVar {
    Path(String),
    Query(String),
    Header(String),
    Auth(String),
    Host,
    Subdomain(String),
    /// `request.body`: only meaningful as an authorizer argument; empty elsewhere.
    Body,
    /// Tables the gateway does not fill (`request.cert`, `request.usage_plan`): always empty.
    Unsupported(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ContextError {
    #[error("unterminated `${{` in {0:?}")]
    Unterminated(String),
    #[error(
        "unknown context variable {0:?} (expected request.path[..], request.query[..], request.headers[..], request.auth[..], request.host or request.subdomain[..])"
    )]
    Unknown(String),
}

impl ContextVar {
    /// Parses a bare reference such as `request.headers[X-Api-Key]`.
    pub fn parse(text: &str) -> Result<Self, ContextError> {
        let text = text.trim();
        if text == "request.host" {
            return Ok(ContextVar::Host);
        }
        if text == "request.body" {
            return Ok(ContextVar::Body);
        }
        let unknown = || ContextError::Unknown(text.to_string());
        let rest = text.strip_prefix("request.").ok_or_else(unknown)?;
        let open = rest.find('[').ok_or_else(unknown)?;
        let key = rest[open + 1..].strip_suffix(']').ok_or_else(unknown)?.to_string();
        match &rest[..open] {
            "path" => Ok(ContextVar::Path(key)),
            "query" => Ok(ContextVar::Query(key)),
            "headers" => Ok(ContextVar::Header(key)),
            "auth" => Ok(ContextVar::Auth(key)),
            "subdomain" => Ok(ContextVar::Subdomain(key)),
            "cert" | "usage_plan" => Ok(ContextVar::Unsupported(text.to_string())),
            _ => Err(unknown()),
        }
    }
}

/// A string with embedded `${...}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(ContextVar),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, ContextError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| ContextError::Unterminated(text.to_string()))?;
            parts.push(Part::Var(ContextVar::parse(&after[..end])?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    #[cfg(test)]
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The text itself when the template has no context variables (rendering is then a no-op).
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    pub fn render(&self, ctx: &RequestContext<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => ctx.write_value(var, &mut out),
            }
        }
        out
    }
}

/// What context variables read from, for one request.
pub(crate) struct RequestContext<'a> {
    pub path_params: &'a [(String, String)],
    /// Raw `name=value` pairs of the query string, in order, still URL-encoded.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub auth: Option<&'a Map<String, Value>>,
    pub host: &'a str,
}

impl<'a> RequestContext<'a> {
    /// A context with no path, query, auth or host values (only `headers`).
    #[cfg(test)]
    pub fn empty_with(headers: &'a HeaderMap) -> Self {
        RequestContext {
            path_params: &[],
            query: &[],
            headers,
            auth: None,
            host: "",
        }
    }

    pub fn value(&self, var: &ContextVar) -> String {
        let mut out = String::new();
        self.write_value(var, &mut out);
        out
    }

    fn write_value(&self, var: &ContextVar, out: &mut String) {
        match var {
            ContextVar::Path(key) => {
                if let Some((_, v)) = self.path_params.iter().find(|(n, _)| n == key) {
                    out.push_str(v);
                }
            }
            ContextVar::Query(key) => {
                if let Some((_, v)) = self.query.iter().find(|(n, _)| n == key) {
                    out.push_str(v);
                }
            }
            ContextVar::Header(key) => {
                if let Some(v) = self.headers.get(key.as_str()).and_then(|v| v.to_str().ok()) {
                    out.push_str(v);
                }
            }
            ContextVar::Auth(key) => match self.auth.and_then(|claims| claims.get(key)) {
                Some(Value::String(s)) => out.push_str(s),
                // Arrays follow the "first value" rule of repeated parameters.
                Some(Value::Array(items)) => match items.first() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => {
                        let _ = write!(out, "{other}");
                    }
                    None => {}
                },
                Some(Value::Null) | None => {}
                Some(other) => {
                    let _ = write!(out, "{other}");
                }
            },
            ContextVar::Host => out.push_str(self.host),
            ContextVar::Subdomain(suffix) => out.push_str(subdomain(self.host, suffix)),
            ContextVar::Body | ContextVar::Unsupported(_) => {}
        }
    }
}

/// `request.subdomain[example.com]` for host `a.b.example.com` is `a.b`; the port is ignored.
fn subdomain<'h>(host: &'h str, suffix: &str) -> &'h str {
    let host = strip_port(host);
    match host.len().checked_sub(suffix.len()) {
        Some(cut) if host[cut..].eq_ignore_ascii_case(suffix) => host[..cut].trim_end_matches('.'),
        _ => "",
    }
}

pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &host[..h.len() + 1]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Splits a raw query string into `(name, value)` pairs without decoding (OCI keeps encoding).
pub(crate) fn split_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (pair.to_string(), String::new()),
        })
        .collect()
}

pub(crate) fn join_query(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(
        params: &'a [(String, String)],
        query: &'a [(String, String)],
        headers: &'a HeaderMap,
        auth: Option<&'a Map<String, Value>>,
    ) -> RequestContext<'a> {
        RequestContext {
            path_params: params,
            query,
            headers,
            auth,
            host: "api.eu.example.com:8443",
        }
    }

    #[test]
    fn renders_every_table_with_oci_rules() {
        let params = vec![("id".to_string(), "42".to_string())];
        let query = split_query("name=San+Jos%C3%A9&name=second&flag");
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "k1".parse().unwrap());
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"sub":"u1","a.b":"dot","n":7,"roles":["r1","r2"]}"#).unwrap();
        let c = ctx(&params, &query, &headers, Some(&claims));
        let t = Template::parse(
            "/items/${request.path[id]}?q=${request.query[name]}&k=${request.headers[X-Api-Key]}&s=${request.auth[sub]}",
        )
        .unwrap();
        assert_eq!(c_render(&t, &c), "/items/42?q=San+Jos%C3%A9&k=k1&s=u1");
        let t =
            Template::parse("${request.auth[a.b]}|${request.auth[n]}|${request.auth[roles]}|${request.auth[none]}|")
                .unwrap();
        assert_eq!(c_render(&t, &c), "dot|7|r1||");
        let t = Template::parse("${request.host} ${request.subdomain[example.com]}").unwrap();
        assert_eq!(c_render(&t, &c), "api.eu.example.com:8443 api.eu");
    }

    fn c_render(t: &Template, c: &RequestContext<'_>) -> String {
        t.render(c)
    }

    #[test]
    fn rejects_bad_references() {
        assert!(matches!(
            Template::parse("${request.path[id]"),
            Err(ContextError::Unterminated(_))
        ));
        assert!(matches!(
            Template::parse("${request.nope[x]}"),
            Err(ContextError::Unknown(_))
        ));
        assert!(matches!(Template::parse("${foo}"), Err(ContextError::Unknown(_))));
        assert!(Template::parse("plain").unwrap().is_literal());
    }
}
