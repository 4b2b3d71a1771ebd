//! Semantic checks that serde cannot express: OCI's documented limits (reference §7) and the
//! cross-field rules of §1–§3. Every finding names the JSON path of the value concerned.

mod auth;
mod backend;
mod policies;
mod route;

use crate::diagnostics::{SpecError, SpecWarning, push_index, push_key};
use crate::limits::{MAX_ROUTES, MAX_SELECTION_KEY_VALUES};
use crate::model::{
    ApiSpecification, AuthenticationPolicy, DynamicAuthenticationPolicy, DynamicSelectionKey, Route,
    TokenAuthenticationPolicy, ValidationFailurePolicy,
};
use crate::path::PathPattern;
use crate::template::{ContextTable, Template};

/// Errors and warnings from one validation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems that make the specification unusable.
    pub errors: Vec<SpecError>,
    /// Findings worth showing but not fatal.
    pub warnings: Vec<SpecWarning>,
}

/// Runs every semantic check.
pub fn check(spec: &ApiSpecification) -> Report {
    check_partial(spec, None)
}

/// What is known about a document whose structure is partly broken: `spec` then holds only
/// the pieces that parsed.
pub(crate) struct Partial {
    /// For each route of the partial spec, its index in the document.
    pub route_index: Vec<usize>,
    /// Number of routes in the document, if `routes` itself was a list.
    pub total_routes: Option<usize>,
    /// Some global request policy failed to parse: checks that depend on authentication are
    /// skipped rather than guessed.
    pub policies_broken: bool,
}

/// Runs the checks on a spec that may be missing the pieces that failed to parse.
pub(crate) fn check_partial(spec: &ApiSpecification, partial: Option<&Partial>) -> Report {
    let mut checker = Checker {
        report: Report::default(),
        spec,
        partial,
    };
    checker.spec_level();
    checker.report
}

/// Collects findings while walking the specification.
pub(crate) struct Checker<'a> {
    report: Report,
    spec: &'a ApiSpecification,
    partial: Option<&'a Partial>,
}

impl<'a> Checker<'a> {
    /// The document index of the `i`th route of the spec being checked.
    fn doc_index(&self, i: usize) -> usize {
        self.partial.and_then(|p| p.route_index.get(i).copied()).unwrap_or(i)
    }

    /// Whether the authentication policies are unknown (they failed to parse).
    pub(crate) fn authentication_unknown(&self) -> bool {
        self.partial.is_some_and(|p| p.policies_broken)
    }

    /// Whether some routes failed to parse (cross-route lookups cannot be trusted).
    fn routes_incomplete(&self) -> bool {
        self.partial
            .is_some_and(|p| p.total_routes != Some(p.route_index.len()))
    }

    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.errors.push(SpecError::new(path, message));
    }

    pub(crate) fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.warnings.push(SpecWarning::new(path, message));
    }

    fn spec_level(&mut self) {
        let spec = self.spec;
        let total = match self.partial {
            Some(partial) => partial.total_routes,
            None => Some(spec.routes.len()),
        };
        match total {
            Some(0) => self.error("routes", "at least one route is required"),
            Some(n) if n > MAX_ROUTES => self.error(
                "routes",
                format!("has {n} routes; OCI allows at most {MAX_ROUTES} per deployment"),
            ),
            _ => {}
        }
        if let Some(policies) = &spec.request_policies {
            self.global_policies(policies);
        }
        for (i, route) in spec.routes.iter().enumerate() {
            self.route(&push_index("routes", self.doc_index(i)), route);
        }
        self.overlapping_routes();
        let not_acted_on = crate::diagnostics::not_acted_on(spec, &|i| self.doc_index(i));
        self.report.warnings.extend(not_acted_on);
    }

    /// The deployment's authentication policy, if any.
    pub(crate) fn authentication(&self) -> Option<&'a AuthenticationPolicy> {
        self.spec.request_policies.as_ref()?.authentication.as_ref()
    }

    /// The dynamic authentication policy, if any.
    pub(crate) fn dynamic_authentication(&self) -> Option<&'a DynamicAuthenticationPolicy> {
        self.spec.request_policies.as_ref()?.dynamic_authentication.as_ref()
    }

    /// Every authentication policy in force (the global one, or each dynamic server).
    pub(crate) fn all_authentication(&self) -> Vec<&'a AuthenticationPolicy> {
        let mut all: Vec<&AuthenticationPolicy> = self.authentication().into_iter().collect();
        if let Some(dynamic) = self.dynamic_authentication() {
            all.extend(
                dynamic
                    .authentication_servers
                    .iter()
                    .map(|s| &s.authentication_server_detail),
            );
        }
        all
    }

    /// Whether some token policy uses an OAUTH2 failure policy (needed by OAUTH2_* backends).
    pub(crate) fn has_oauth2_failure_policy(&self) -> bool {
        self.all_authentication().into_iter().any(|a| {
            matches!(
                a,
                AuthenticationPolicy::Token(TokenAuthenticationPolicy {
                    validation_failure_policy: Some(ValidationFailurePolicy::OAuth2(_)),
                    ..
                })
            )
        })
    }

    /// Whether some route with `path` uses a backend of `backend_type`.
    pub(crate) fn route_with_backend(&self, path: &str, backend_type: &str) -> bool {
        self.routes_incomplete()
            || self
                .spec
                .routes
                .iter()
                .any(|r| r.path == path && r.backend.type_name() == backend_type)
    }

    /// Two routes answering the same path shape and method make the target ambiguous.
    fn overlapping_routes(&mut self) {
        let mut seen: Vec<(String, &Route, usize)> = Vec::new();
        for (position, route) in self.spec.routes.iter().enumerate() {
            let i = self.doc_index(position);
            let Ok(pattern) = PathPattern::parse(&route.path) else {
                continue;
            };
            let shape = route_shape(&pattern);
            let mut clashes = Vec::new();
            for (other_shape, other, j) in &seen {
                if *other_shape == shape
                    && let Some(method) = shared_method(route, other)
                {
                    clashes.push((method, *j));
                }
            }
            for (method, j) in clashes {
                self.error(
                    format!("routes[{i}].path"),
                    format!(
                        "`{}` with method {method} is already defined by routes[{j}]",
                        route.path
                    ),
                );
            }
            seen.push((shape, route, i));
        }
    }

    /// Checks a `${...}` template field. `request.body` is never allowed in templates.
    pub(crate) fn template(&mut self, path: &str, text: &str, route: Option<&PathPattern>) -> Option<Template> {
        match Template::parse(text) {
            Ok(template) => {
                for var in template.vars() {
                    self.context_var_use(path, &var, route, false);
                }
                Some(template)
            }
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    /// Checks where a context variable is used: `request.body` only as an authorizer argument,
    /// `request.path[x]` only for a parameter of the route.
    pub(crate) fn context_var_use(
        &mut self,
        path: &str,
        var: &crate::template::ContextVar,
        route: Option<&PathPattern>,
        body_allowed: bool,
    ) {
        if var.table == ContextTable::Body && !body_allowed {
            self.error(
                path,
                "`request.body` can only be used as an authorizer function argument",
            );
        }
        if var.table == ContextTable::Auth && !self.authentication_unknown() && self.all_authentication().is_empty() {
            self.warn(
                path,
                format!("`{var}` is always empty: the deployment has no authentication policy"),
            );
        }
        if var.table == ContextTable::Path
            && let (Some(pattern), Some(key)) = (route, &var.key)
            && !pattern.param_names().any(|p| p == key)
        {
            self.warn(
                path,
                format!("`{var}` is not a parameter of the route path `{pattern}`; it will always be empty"),
            );
        }
    }

    /// At most `max` entries.
    pub(crate) fn at_most(&mut self, path: &str, count: usize, max: usize, what: &str) {
        if count > max {
            self.error(path, format!("has {count} {what}; OCI allows at most {max}"));
        }
    }

    /// An absolute `http`/`https` URL (no context variables).
    pub(crate) fn http_url(&mut self, path: &str, text: &str) {
        if let Err(message) = check_http_url(text) {
            self.error(path, message);
        }
    }

    /// A header name (RFC 9110 token).
    pub(crate) fn header_name(&mut self, path: &str, name: &str) {
        if !is_token(name) {
            self.error(path, format!("`{name}` is not a valid header name"));
        }
    }

    /// A non-empty string.
    pub(crate) fn non_empty(&mut self, path: &str, text: &str) -> bool {
        if text.trim().is_empty() {
            self.error(path, "must not be empty");
            false
        } else {
            true
        }
    }

    /// Dynamic selection keys (routing backends or authentication servers): unique names, one
    /// default, ANY_OF values, WILDCARD expressions. `items` yields (key path, key).
    pub(crate) fn selection_keys(&mut self, items: Vec<(String, &DynamicSelectionKey)>) {
        let mut names: Vec<(&str, String)> = Vec::new();
        let mut values: Vec<(&str, String)> = Vec::new();
        let mut default: Option<String> = None;
        for (path, key) in items {
            let name_path = push_key(&path, "name");
            if self.non_empty(&name_path, key.name()) {
                if let Some((_, first)) = names.iter().find(|(n, _)| *n == key.name()) {
                    let message = format!("the name `{}` is already used by {first}", key.name());
                    self.error(&name_path, message);
                } else {
                    names.push((key.name(), path.clone()));
                }
            }
            if key.is_default() {
                match &default {
                    Some(first) => self.error(
                        push_key(&path, "isDefault"),
                        format!("only one key may be the default; {first} already is"),
                    ),
                    None => default = Some(path.clone()),
                }
            }
            match key {
                DynamicSelectionKey::AnyOf(any) => {
                    let values_path = push_key(&path, "values");
                    if any.values.is_empty() && !key.is_default() {
                        self.error(&values_path, "ANY_OF needs at least one value (or isDefault: true)");
                    }
                    self.at_most(&values_path, any.values.len(), MAX_SELECTION_KEY_VALUES, "values");
                    for (k, value) in any.values.iter().enumerate() {
                        let value_path = push_index(&values_path, k);
                        if let Some((_, first)) = values.iter().find(|(v, _)| *v == value.as_str()) {
                            let message = format!("`{value}` is already matched by {first}");
                            self.error(&value_path, message);
                        } else {
                            values.push((value, value_path));
                        }
                    }
                }
                DynamicSelectionKey::Wildcard(wild) => {
                    if let Err(message) = check_wildcard(&wild.expression) {
                        self.error(push_key(&path, "expression"), message);
                    }
                }
            }
        }
    }

    /// A bare selector expression (`request.headers[Accept]`).
    pub(crate) fn selector(&mut self, path: &str, selector: &str) {
        match crate::template::ContextVar::parse(selector) {
            Ok(var) => self.context_var_use(path, &var, None, false),
            Err(message) => self.error(path, message),
        }
    }
}

/// The path with parameter names erased: `/items/{id}` and `/items/{x}` have the same shape.
fn route_shape(pattern: &PathPattern) -> String {
    use crate::path::PathSegment;
    let mut shape = String::new();
    for segment in &pattern.segments {
        shape.push('/');
        match segment {
            PathSegment::Literal(text) => shape.push_str(text),
            PathSegment::Param(_) => shape.push_str("{}"),
            PathSegment::Wildcard(_) => shape.push_str("{*}"),
        }
    }
    if pattern.trailing_slash || shape.is_empty() {
        shape.push('/');
    }
    shape
}

/// A method both routes accept (absent `methods` and `ANY` accept every method).
fn shared_method(a: &Route, b: &Route) -> Option<&'static str> {
    use crate::model::Method;
    let all = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];
    let accepts = |r: &Route, m: Method| r.methods.is_empty() || r.methods.iter().any(|x| *x == Method::Any || *x == m);
    let both_any = |r: &Route| r.methods.is_empty() || r.methods.contains(&Method::Any);
    if both_any(a) && both_any(b) {
        return Some("ANY");
    }
    all.into_iter()
        .find(|m| accepts(a, *m) && accepts(b, *m))
        .map(Method::as_str)
}

/// `*`/`+` once, at the start or the end.
fn check_wildcard(expression: &str) -> Result<(), String> {
    let count = expression.chars().filter(|c| *c == '*' || *c == '+').count();
    let at_edge = expression.starts_with(['*', '+']) || expression.ends_with(['*', '+']);
    if count == 1 && at_edge {
        Ok(())
    } else {
        Err(format!(
            "must contain exactly one `*` or `+`, at the start or the end (got `{expression}`)"
        ))
    }
}

/// An absolute http(s) URL with a host.
pub(crate) fn check_http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{text}` must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(url)
}

/// RFC 9110 `token` (header names, methods, schemes).
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
