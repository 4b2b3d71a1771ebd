//! Context variables' values for one request: `${request.path[id]}`, `request.query[..]`,
//! `request.headers[..]`, `request.auth[..]`, `request.host`, `request.subdomain[..]`,
//! substituted as OCI documents: first value of a repeated parameter, URL encoding preserved,
//! missing key = empty string, a dot inside a key is literal. The grammar (templates and bare
//! references) is `fngate-spec`'s, parsed once at load time; this module only fills it in.

use std::fmt::Write as _;

pub(crate) use fngate_spec::{ContextTable, ContextVar, Template, TemplatePart};
use http::HeaderMap;
use serde_json::{Map, Value};

/// What context variables read from, for one request.
pub(crate) struct RequestContext<'a> {
    pub path_params: &'a [(String, String)],
    /// Raw `name=value` pairs of the query string, in order, still URL-encoded.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub auth: Option<&'a Map<String, Value>>,
    pub host: &'a str,
    /// The matched route's `{name*}` wildcard, whose value may span `/` in a backend URL path.
    pub wildcard: Option<&'a str>,
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
            wildcard: None,
        }
    }

    pub fn value(&self, var: &ContextVar) -> String {
        let mut out = String::new();
        self.write_value(var.table, var.key.as_deref(), var.subkey.as_deref(), &mut out);
        out
    }

    /// The template with every variable filled in (a missing value is empty).
    pub fn render(&self, template: &Template) -> String {
        let mut out = String::new();
        for part in &template.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Var { table, key, subkey } => {
                    self.write_value(*table, key.as_deref(), subkey.as_deref(), &mut out)
                }
            }
        }
        out
    }

    /// Renders an `HTTP_BACKEND` URL path. A value can add `/` segments only as the route's
    /// wildcard matched them (from the normalised request path); any other value is one piece of
    /// one segment: a `/`, `\`, `?`, `#` or an encoded `/`, `.`, `\` in it, or a dot segment in
    /// the result, refuses the request. Characters a URI path cannot carry are percent-encoded.
    pub fn render_path(&self, template: &Template) -> Result<String, UnsafePathValue> {
        let mut out = String::new();
        for part in &template.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Var { table, key, subkey } => {
                    let mut value = String::new();
                    self.write_value(*table, key.as_deref(), subkey.as_deref(), &mut value);
                    let spans_segments =
                        *table == ContextTable::Path && key.is_some() && key.as_deref() == self.wildcard;
                    push_path_value(&value, spans_segments, &mut out)?;
                }
            }
        }
        let body = out.split(['?', '#']).next().unwrap_or("");
        if body.split('/').any(|segment| {
            let name = segment.split(';').next().unwrap_or("");
            name == "." || name == ".."
        }) {
            return Err(UnsafePathValue);
        }
        Ok(out)
    }

    fn write_value(&self, table: ContextTable, key: Option<&str>, subkey: Option<&str>, out: &mut String) {
        let key = key.unwrap_or("");
        match table {
            ContextTable::Path => {
                if let Some((_, v)) = self.path_params.iter().find(|(n, _)| n == key) {
                    out.push_str(v);
                }
            }
            ContextTable::Query => {
                if let Some((_, v)) = self.query.iter().find(|(n, _)| n == key) {
                    out.push_str(v);
                }
            }
            ContextTable::Headers => {
                if let Some(v) = self.headers.get(key).and_then(|v| v.to_str().ok()) {
                    out.push_str(v);
                }
            }
            ContextTable::Auth => {
                let claim = self.auth.and_then(|claims| claims.get(key));
                let claim = match subkey {
                    Some(sub) => claim.and_then(|c| c.get(sub)),
                    None => claim,
                };
                write_claim(claim, out);
            }
            ContextTable::Host => out.push_str(self.host),
            ContextTable::Subdomain => out.push_str(subdomain(self.host, key)),
            // `request.body` is only an authorizer argument; the gateway fills no `cert` or
            // `usage_plan` table (mutual TLS and usage plans are refused at deploy).
            ContextTable::Body | ContextTable::Cert | ContextTable::UsagePlan => {}
        }
    }
}

fn write_claim(claim: Option<&Value>, out: &mut String) {
    match claim {
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
    }
}

/// A context value would have changed the backend path's segments (`/`, `..`, an encoded slash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnsafePathValue;

/// Appends one substituted value to a URL path: kept `%XX` as they are (OCI keeps encoding),
/// everything a path segment cannot hold raw percent-encoded; refuses what could make segments.
fn push_path_value(value: &str, spans_segments: bool, out: &mut String) -> Result<(), UnsafePathValue> {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'/' if spans_segments => out.push('/'),
            b'/' | b'\\' | b'?' | b'#' => return Err(UnsafePathValue),
            b'%' => {
                let escaped = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                match escaped {
                    Some(hex) if matches!(hex.to_ascii_uppercase().as_slice(), b"2F" | b"2E" | b"5C") => {
                        return Err(UnsafePathValue);
                    }
                    Some(_) => out.push('%'),
                    None => out.push_str("%25"),
                }
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) => out.push(char::from(b)),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(())
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
            wildcard: None,
        }
    }

    fn t(text: &str) -> Template {
        Template::parse(text).unwrap()
    }

    #[test]
    fn renders_every_table_with_oci_rules() {
        let params = vec![("id".to_string(), "42".to_string())];
        let query = split_query("name=San+Jos%C3%A9&name=second&flag");
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "k1".parse().unwrap());
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"sub":"u1","a.b":"dot","n":7,"roles":["r1","r2"],"id_token_claims":{"oid":"o1"}}"#,
        )
        .unwrap();
        let c = ctx(&params, &query, &headers, Some(&claims));
        let out = c.render(&t(
            "/items/${request.path[id]}?q=${request.query[name]}&k=${request.headers[X-Api-Key]}&s=${request.auth[sub]}",
        ));
        assert_eq!(out, "/items/42?q=San+Jos%C3%A9&k=k1&s=u1");
        let out = c.render(&t(
            "${request.auth[a.b]}|${request.auth[n]}|${request.auth[roles]}|${request.auth[none]}|${request.auth[id_token_claims][oid]}",
        ));
        assert_eq!(out, "dot|7|r1||o1");
        let out = c.render(&t("${request.host} ${request.subdomain[example.com]}"));
        assert_eq!(out, "api.eu.example.com:8443 api.eu");
    }

    #[test]
    fn backend_paths_gain_segments_only_from_the_wildcard() {
        let params = vec![
            ("rest".to_string(), "a/b/c.txt".to_string()),
            ("id".to_string(), "42".to_string()),
        ];
        let query = split_query("u=..&s=x%2Fy&ok=San+Jos%C3%A9&sp=a%20b");
        let mut headers = HeaderMap::new();
        headers.insert("x-user", "../admin".parse().unwrap());
        headers.insert("x-name", "a b\"c".parse().unwrap());
        let mut c = ctx(&params, &query, &headers, None);
        c.wildcard = Some("rest");
        assert_eq!(
            c.render_path(&t("/public/${request.path[rest]}")).unwrap(),
            "/public/a/b/c.txt"
        );
        assert_eq!(c.render_path(&t("/i/${request.path[id]}")).unwrap(), "/i/42");
        assert_eq!(
            c.render_path(&t("/q/${request.query[ok]}/${request.query[sp]}"))
                .unwrap(),
            "/q/San+Jos%C3%A9/a%20b"
        );
        assert_eq!(
            c.render_path(&t("/h/${request.headers[x-name]}")).unwrap(),
            "/h/a%20b%22c"
        );
        for unsafe_template in [
            "/u/${request.headers[x-user]}",
            "/u/${request.query[u]}",
            "/u/${request.query[s]}",
            "/u/.${request.query[missing]}./x",
        ] {
            assert_eq!(
                c.render_path(&t(unsafe_template)),
                Err(UnsafePathValue),
                "{unsafe_template}"
            );
        }
        c.wildcard = None;
        assert_eq!(
            c.render_path(&t("/public/${request.path[rest]}")),
            Err(UnsafePathValue),
            "only the route's own wildcard may carry `/`"
        );
    }
}
