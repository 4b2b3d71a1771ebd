//! Backend checks: HTTP URL and timeouts, function id, stock response limits, dynamic routing,
//! OAuth2 login/logout.

use super::{Checker, check_http_url};
use crate::diagnostics::{push_index, push_key};
use crate::limits::{
    HTTP_CONNECT_TIMEOUT_SECS, HTTP_READ_SEND_TIMEOUT_SECS, MAX_POST_LOGOUT_URIS, MAX_ROUTING_BACKENDS, MAX_STOCK_BODY,
    MAX_STOCK_HEADER_NAME, MAX_STOCK_HEADER_VALUE, MAX_STOCK_HEADERS, MAX_STOCK_HEADERS_JSON, STOCK_BODY_LIMITS_PAGE,
    STOCK_STATUS,
};
use crate::model::{Backend, HttpBackend, StockResponseBackend};
use crate::path::PathPattern;
use crate::template::{Template, TemplatePart};

impl Checker<'_> {
    pub(super) fn backend(&mut self, path: &str, backend: &Backend, route: Option<&PathPattern>, nested: bool) {
        match backend {
            Backend::Http(http) => self.http_backend(path, http, route),
            Backend::OracleFunctions(function) => {
                let id = push_key(path, "functionId");
                if self.non_empty(&id, &function.function_id) && function.function_id.chars().any(char::is_whitespace) {
                    self.error(id, format!("`{}` must not contain whitespace", function.function_id));
                }
            }
            Backend::StockResponse(stock) => self.stock_response(path, stock),
            Backend::DynamicRouting(dynamic) => {
                if nested {
                    self.error(push_key(path, "type"), "dynamic routing backends cannot be nested");
                    return;
                }
                let selector = push_key(&push_key(path, "selectionSource"), "selector");
                self.selector(&selector, dynamic.selection_source.selector());
                let list = push_key(path, "routingBackends");
                if dynamic.routing_backends.is_empty() {
                    self.error(&list, "needs at least one backend");
                }
                self.at_most(&list, dynamic.routing_backends.len(), MAX_ROUTING_BACKENDS, "backends");
                let keys = dynamic
                    .routing_backends
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (push_key(&push_index(&list, i), "key"), &b.key))
                    .collect();
                self.selection_keys(keys);
                for (i, entry) in dynamic.routing_backends.iter().enumerate() {
                    let inner = push_key(&push_index(&list, i), "backend");
                    match entry.backend.as_ref() {
                        Backend::Http(_) | Backend::OracleFunctions(_) | Backend::StockResponse(_) => {
                            self.backend(&inner, &entry.backend, route, true)
                        }
                        other => self.error(
                            push_key(&inner, "type"),
                            format!(
                                "{} cannot be a dynamic routing target; use HTTP_BACKEND, ORACLE_FUNCTIONS_BACKEND \
                                 or STOCK_RESPONSE_BACKEND",
                                other.type_name()
                            ),
                        ),
                    }
                }
            }
            Backend::OAuth2Login => self.needs_oauth2(path, "OAUTH2_LOGIN_BACKEND"),
            Backend::OAuth2Logout(logout) => {
                self.needs_oauth2(path, "OAUTH2_LOGOUT_BACKEND");
                let uris = push_key(path, "allowedPostLogoutUris");
                self.at_most(
                    &uris,
                    logout.allowed_post_logout_uris.len(),
                    MAX_POST_LOGOUT_URIS,
                    "URIs",
                );
                for (i, uri) in logout.allowed_post_logout_uris.iter().enumerate() {
                    self.http_url(&push_index(&uris, i), uri);
                }
            }
        }
    }

    fn needs_oauth2(&mut self, path: &str, backend_type: &str) {
        if !self.authentication_unknown() && !self.has_oauth2_failure_policy() {
            self.error(
                push_key(path, "type"),
                format!("{backend_type} needs a TOKEN_AUTHENTICATION policy with an OAUTH2 validationFailurePolicy"),
            );
        }
    }

    fn http_backend(&mut self, path: &str, http: &HttpBackend, route: Option<&PathPattern>) {
        let url_path = push_key(path, "url");
        if let Some(template) = self.template(&url_path, &http.url, route)
            && let Err(message) = check_backend_url(&http.url, &template)
        {
            self.error(&url_path, message);
        }
        let timeouts = [
            (
                "connectTimeoutInSeconds",
                http.connect_timeout_in_seconds,
                HTTP_CONNECT_TIMEOUT_SECS,
            ),
            (
                "readTimeoutInSeconds",
                http.read_timeout_in_seconds,
                HTTP_READ_SEND_TIMEOUT_SECS,
            ),
            (
                "sendTimeoutInSeconds",
                http.send_timeout_in_seconds,
                HTTP_READ_SEND_TIMEOUT_SECS,
            ),
        ];
        for (field, value, range) in timeouts {
            if let Some(value) = value
                && !range.contains(&value)
            {
                let (min, max) = range.into_inner();
                self.error(
                    push_key(path, field),
                    format!("must be between {min} and {max} seconds (got {value})"),
                );
            }
        }
        if http.is_ssl_verify_disabled == Some(true) {
            self.warn(
                push_key(path, "isSslVerifyDisabled"),
                "TLS certificate verification of this backend is disabled",
            );
        }
    }

    fn stock_response(&mut self, path: &str, stock: &StockResponseBackend) {
        if !STOCK_STATUS.contains(&stock.status) {
            self.error(
                push_key(path, "status"),
                format!("must be an HTTP status between 100 and 599 (got {})", stock.status),
            );
        }
        if let Some(body) = &stock.body {
            let body_path = push_key(path, "body");
            if body.len() > MAX_STOCK_BODY {
                self.error(
                    body_path,
                    format!("is {} bytes; OCI allows at most {MAX_STOCK_BODY}", body.len()),
                );
            } else if body.len() > STOCK_BODY_LIMITS_PAGE {
                self.warn(
                    body_path,
                    format!(
                        "is {} bytes; OCI's limits page allows {STOCK_BODY_LIMITS_PAGE} (the stock response page 5 KB)",
                        body.len()
                    ),
                );
            }
        }
        let headers = push_key(path, "headers");
        self.at_most(&headers, stock.headers.len(), MAX_STOCK_HEADERS, "headers");
        for (i, header) in stock.headers.iter().enumerate() {
            let item = push_index(&headers, i);
            let name = push_key(&item, "name");
            self.header_name(&name, &header.name);
            if header.name.len() > MAX_STOCK_HEADER_NAME {
                self.error(
                    name,
                    format!(
                        "is {} bytes; OCI allows at most {MAX_STOCK_HEADER_NAME}",
                        header.name.len()
                    ),
                );
            }
            let value = push_key(&item, "value");
            if header.value.contains(['\r', '\n', '\0']) {
                self.error(&value, "a header value must not contain CR, LF or NUL");
            }
            if header.value.len() > MAX_STOCK_HEADER_VALUE {
                self.error(
                    value,
                    format!(
                        "is {} bytes; OCI allows at most {MAX_STOCK_HEADER_VALUE}",
                        header.value.len()
                    ),
                );
            }
        }
        let json_len = serde_json::to_string(&stock.headers).map(|s| s.len()).unwrap_or(0);
        if json_len > MAX_STOCK_HEADERS_JSON {
            self.error(
                headers,
                format!("take {json_len} bytes of JSON; OCI allows at most {MAX_STOCK_HEADERS_JSON}"),
            );
        }
    }
}

/// The HTTP backend URL: `http(s)://host[:port][/path]`, context variables only in the path.
fn check_backend_url(text: &str, template: &Template) -> Result<(), String> {
    let scheme_end = text.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = text[scheme_end..]
        .find(['/', '?', '#'])
        .map(|i| i + scheme_end)
        .unwrap_or(text.len());
    let query_start = text.find('?');
    let mut offset = 0;
    let mut placeholder = String::with_capacity(text.len());
    for part in &template.parts {
        match part {
            TemplatePart::Literal(literal) => {
                placeholder.push_str(literal);
                offset += literal.len();
            }
            TemplatePart::Var { .. } => {
                if offset < authority_end {
                    return Err("context variables are allowed only in the URL path, not in the scheme or host".into());
                }
                if query_start.is_some_and(|q| offset > q) {
                    return Err(
                        "context variables are not allowed in the query string; use queryParameterTransformations"
                            .into(),
                    );
                }
                placeholder.push('x');
                // Advance past the `${...}` text this variable came from.
                offset = text[offset..].find('}').map(|i| offset + i + 1).unwrap_or(text.len());
            }
        }
    }
    let url = check_http_url(&placeholder).map_err(|e| e.replace(&placeholder, text))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the backend URL are not supported; set an Authorization header instead".into());
    }
    if url.fragment().is_some() {
        return Err("a backend URL cannot have a #fragment".into());
    }
    Ok(())
}
