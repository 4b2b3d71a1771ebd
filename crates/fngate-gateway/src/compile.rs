//! Specification → compiled deployment: everything the data plane needs, checked and resolved
//! once (route order, templates, header names, functions, HTTP client pools, authenticator), so
//! a request never parses configuration. Every problem is reported with its JSON path.

use std::sync::Arc;

use bytes::Bytes;
use fngate_auth::{AuthService, Authorization};
use fngate_invoke::FunctionInvoker;
use fngate_spec as spec;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::backend::{self, Backend, DynamicBackend};
use crate::context::{ContextVar, Template};
use crate::observe::RouteMetrics;
use crate::policy::auth::{AuthPolicy, ModifyResponse};
use crate::policy::cors::CorsPolicy;
use crate::policy::rate_limit::RateLimiter;
use crate::policy::transform::{FilterKind, HeaderTransforms, IfExists, QueryTransforms, SetItem};
use crate::policy::validate::{BodyCheck, Check, Mode, Validations};
use crate::router::{self, MethodSet};
use crate::table::{Deployment, Route, match_prefix};

/// At most one log line per this interval for a deployment's failed authentications.
const AUTH_FAILURE_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// One problem found while compiling, with the JSON path it concerns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What compilation may use. Offline validation passes no invoker (functions are not checked)
/// and no auth service (keys are not fetched).
pub(crate) struct Env<'a> {
    pub invoker: Option<&'a dyn FunctionInvoker>,
    pub clients: &'a backend::http::Clients,
    pub auth: Option<&'a Arc<AuthService>>,
    pub unknown_function: UnknownFunction,
}

/// What a `functionId` that names no function means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum UnknownFunction {
    /// Deploy and validate: an error at `functionId`.
    Refuse,
    /// A stored deployment loading at start: the function was deleted while the server was
    /// down; its route answers 502 as after a delete at run time, the other routes serve.
    ServeAsDeleted,
}

/// Checks a deployment path prefix with the spec crate's OCI rules (leading `/`, at most 255
/// characters, no `//`, no trailing `/` unless it is just `/`, OCI's path characters only).
pub fn check_path_prefix(prefix: &str) -> Result<(), String> {
    fngate_spec::validate_path_prefix(prefix)
}

pub(crate) async fn compile(
    name: &str,
    path_prefix: &str,
    spec: &spec::ApiSpecification,
    env: &Env<'_>,
) -> Result<Deployment, Vec<Problem>> {
    let name: Arc<str> = Arc::from(name);
    let mut problems = Vec::new();
    let mut problem = |path: String, message: String| problems.push(Problem { path, message });
    if let Err(message) = check_path_prefix(path_prefix) {
        problem("pathPrefix".into(), message);
    }
    let policies = spec.request_policies.clone().unwrap_or_default();

    let global_cors = match &policies.cors {
        Some(c) => match cors(c) {
            Ok(p) => Some(Arc::new(p)),
            Err(m) => {
                problem("requestPolicies.cors".into(), m);
                None
            }
        },
        None => None,
    };
    let rate_limit = policies.rate_limiting.as_ref().and_then(|r| {
        let per_second = u32::try_from(r.rate_in_requests_per_second).ok().filter(|n| *n > 0);
        match per_second {
            Some(n) => RateLimiter::new(n, r.rate_key == spec::RateKey::ClientIp),
            None => {
                problem(
                    "requestPolicies.rateLimiting.rateInRequestsPerSecond".into(),
                    "must be a positive whole number".into(),
                );
                None
            }
        }
    });
    if policies.mutual_tls.is_some() {
        problem(
            "requestPolicies.mutualTls".into(),
            "client-certificate verification is not supported by fngate; remove the policy".into(),
        );
    }
    if policies.usage_plans.is_some() {
        problem(
            "requestPolicies.usagePlans".into(),
            "usage plans are not supported by fngate; remove the policy (rateLimiting limits per client)".into(),
        );
    }
    if policies.dynamic_authentication.is_some() {
        problem(
            "requestPolicies.dynamicAuthentication".into(),
            "dynamic authentication is not supported by fngate; use one authentication policy".into(),
        );
    }

    let mut auth_policy = None;
    let mut anonymous_allowed = true;
    if let Some(authentication) = &policies.authentication {
        anonymous_allowed = authentication.is_anonymous_access_allowed();
        match crate::auth_bridge::auth_config(authentication, env.invoker) {
            Ok((config, failure_spec)) => {
                let failure = match failure_spec {
                    Some(policy) => match modify_response(&policy) {
                        Ok(f) => Some(f),
                        Err((field, m)) => {
                            problem(
                                format!("requestPolicies.authentication.validationFailurePolicy.{field}"),
                                m,
                            );
                            None
                        }
                    },
                    None => None,
                };
                if let Some(service) = env.auth {
                    match service.build(config).await {
                        Ok(authenticator) => auth_policy = Some(AuthPolicy { authenticator, failure }),
                        Err(err) => problem("requestPolicies.authentication".into(), err.to_string()),
                    }
                }
            }
            Err((field, message)) => problem(join("requestPolicies.authentication", &field), message),
        }
    }

    let mut routes = Vec::new();
    for (i, r) in spec.routes.iter().enumerate() {
        let at = format!("routes[{i}]");
        match route(
            r,
            &at,
            &name,
            global_cors.as_ref(),
            policies.authentication.is_some(),
            anonymous_allowed,
            env,
        ) {
            Ok(route) => routes.push(route),
            Err(mut found) => problems.append(&mut found),
        }
    }
    for (i, a) in routes.iter().enumerate() {
        if let Some(b) = routes[..i]
            .iter()
            .find(|b| b.pattern == a.pattern && methods_overlap(&a.methods, &b.methods))
        {
            problems.push(Problem {
                path: format!("routes[{i}].path"),
                message: format!("{:?} repeats route {:?} for the same method(s)", a.path(), b.path()),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    routes.sort_by(|a, b| router::precedence(&a.pattern, &b.pattern));
    let access_log = spec
        .logging_policies
        .as_ref()
        .and_then(|l| l.access_log.as_ref())
        .and_then(|a| a.is_enabled)
        .unwrap_or(true);
    Ok(Deployment {
        name,
        path_prefix: path_prefix.to_string(),
        match_prefix: match_prefix(path_prefix),
        routes,
        cors: global_cors,
        rate_limit,
        auth: auth_policy,
        access_log,
        auth_failure_log: std::sync::Mutex::new(fngate_http::LogEvery::new(AUTH_FAILURE_LOG_EVERY)),
    })
}

fn join(base: &str, field: &str) -> String {
    if field.is_empty() {
        base.to_string()
    } else {
        format!("{base}.{field}")
    }
}

fn methods_overlap(a: &MethodSet, b: &MethodSet) -> bool {
    match (a, b) {
        (MethodSet::Any, _) | (_, MethodSet::Any) => true,
        (MethodSet::Only(x), MethodSet::Only(y)) => x.iter().any(|m| y.contains(m)),
    }
}

fn route(
    r: &spec::Route,
    at: &str,
    deployment: &Arc<str>,
    global_cors: Option<&Arc<CorsPolicy>>,
    has_authentication: bool,
    anonymous_allowed: bool,
    env: &Env<'_>,
) -> Result<Route, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(Problem {
            path: join(at, field),
            message,
        })
    };
    // The spec's grammar (already checked by `fngate_spec::parse`), with its literals normalised
    // as request paths are, so they compare with what requests become.
    let pattern = match spec::PathPattern::parse(&r.path).and_then(|p| router::normalise_pattern(&p)) {
        Ok(p) => Some(p),
        Err(e) => {
            problem("path", e);
            None
        }
    };
    let methods = if r.methods.is_empty() || r.methods.contains(&spec::Method::Any) {
        MethodSet::Any
    } else {
        MethodSet::Only(
            r.methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_str().as_bytes()).ok())
                .collect(),
        )
    };
    let backend = match backend(&r.backend, env) {
        Ok(b) => Some(b),
        Err((field, message)) => {
            problem(&join("backend", &field), message);
            None
        }
    };
    let rp = r.request_policies.clone().unwrap_or_default();
    let authorization = fngate_auth::authorization_from_spec(&r.authorization());
    if has_authentication && let Err(e) = fngate_auth::check_route_authorization(anonymous_allowed, &authorization) {
        problem("requestPolicies.authorization", e.0);
    }
    if !has_authentication && matches!(authorization, Authorization::AnyOf(_)) {
        problem(
            "requestPolicies.authorization",
            "ANY_OF needs a deployment-wide authentication policy (requestPolicies.authentication)".into(),
        );
    }
    let cors = match &rp.cors {
        Some(c) => match cors(c) {
            Ok(p) => Some(Arc::new(p)),
            Err(m) => {
                problem("requestPolicies.cors", m);
                None
            }
        },
        None => global_cors.cloned(),
    };
    let validations = Validations {
        headers: rp.header_validations.as_ref().and_then(|v| {
            let names: Result<Vec<HeaderName>, _> = v
                .headers
                .iter()
                .filter(|h| h.required.unwrap_or(false))
                .map(|h| HeaderName::from_bytes(h.name.as_bytes()))
                .collect();
            match names {
                Ok(required) => Some(Check {
                    mode: mode(v.validation_mode),
                    required,
                }),
                Err(_) => {
                    problem(
                        "requestPolicies.headerValidations.headers",
                        "contains an invalid header name".into(),
                    );
                    None
                }
            }
        }),
        query: rp.query_parameter_validations.as_ref().map(|v| Check {
            mode: mode(v.validation_mode),
            required: v
                .parameters
                .iter()
                .filter(|p| p.required.unwrap_or(false))
                .map(|p| p.name.clone())
                .collect(),
        }),
        body: rp.body_validation.as_ref().map(|b| BodyCheck {
            mode: mode(b.validation_mode),
            required: b.required.unwrap_or(false),
            media_ranges: b.content.keys().map(|k| k.trim().to_ascii_lowercase()).collect(),
        }),
    };
    let request_headers = match &rp.header_transformations {
        Some(t) => header_transforms(t).unwrap_or_else(|(f, m)| {
            problem(&join("requestPolicies.headerTransformations", &f), m);
            HeaderTransforms::default()
        }),
        None => HeaderTransforms::default(),
    };
    let query = match &rp.query_parameter_transformations {
        Some(t) => query_transforms(t).unwrap_or_else(|(f, m)| {
            problem(&join("requestPolicies.queryParameterTransformations", &f), m);
            QueryTransforms::default()
        }),
        None => QueryTransforms::default(),
    };
    let response_headers = match r
        .response_policies
        .as_ref()
        .and_then(|p| p.header_transformations.as_ref())
    {
        Some(t) => header_transforms(t).unwrap_or_else(|(f, m)| {
            problem(&join("responsePolicies.headerTransformations", &f), m);
            HeaderTransforms::default()
        }),
        None => HeaderTransforms::default(),
    };
    match (pattern, backend) {
        (Some(pattern), Some(backend)) if problems.is_empty() => Ok(Route {
            metrics: Arc::new(RouteMetrics::new(deployment.clone(), Arc::from(r.path.as_str()))),
            pattern,
            methods,
            backend,
            cors,
            authorization,
            validations,
            request_headers,
            query,
            response_headers,
        }),
        _ => Err(problems),
    }
}

fn mode(m: Option<spec::ValidationMode>) -> Mode {
    match m.unwrap_or_default() {
        spec::ValidationMode::Enforcing => Mode::Enforcing,
        spec::ValidationMode::Permissive => Mode::Permissive,
        spec::ValidationMode::Disabled => Mode::Disabled,
    }
}

fn cors(c: &spec::CorsPolicy) -> Result<CorsPolicy, String> {
    CorsPolicy::new(
        &c.allowed_origins,
        &c.allowed_methods,
        &c.allowed_headers,
        &c.exposed_headers,
        c.is_allow_credentials_enabled.unwrap_or(false),
        c.max_age_in_seconds.unwrap_or(0),
    )
}

type FieldError = (String, String);

fn backend(b: &spec::Backend, env: &Env<'_>) -> Result<Backend, FieldError> {
    match b {
        spec::Backend::StockResponse(s) => {
            let status = u16::try_from(s.status)
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .filter(|c| c.as_u16() >= 200)
                .ok_or_else(|| {
                    (
                        "status".to_string(),
                        format!("{} is not an HTTP status code (200-599)", s.status),
                    )
                })?;
            let mut headers = HeaderMap::new();
            for (i, h) in s.headers.iter().enumerate() {
                let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
                    (
                        format!("headers[{i}].name"),
                        format!("{:?} is not a valid header name", h.name),
                    )
                })?;
                let value = HeaderValue::from_str(&h.value)
                    .map_err(|_| (format!("headers[{i}].value"), "is not a valid header value".to_string()))?;
                headers.append(name, value);
            }
            Ok(Backend::Stock(backend::stock::StockBackend {
                status,
                body: Bytes::from(s.body.clone().unwrap_or_default()),
                headers,
            }))
        }
        spec::Backend::Http(h) => {
            let url_error = |m: String| ("url".to_string(), m);
            let (before_query, url_query) = match h.url.split_once('?') {
                Some((a, q)) => (a, Some(q.to_string())),
                None => (h.url.as_str(), None),
            };
            if url_query.as_deref().is_some_and(|q| q.contains("${")) {
                return Err(url_error(
                    "context variables are allowed in the URL path only, not in the query string (use queryParameterTransformations)".into(),
                ));
            }
            let (scheme, rest) = before_query
                .split_once("://")
                .ok_or_else(|| url_error(format!("{:?} is not an http:// or https:// URL", h.url)))?;
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(url_error(format!("scheme {scheme:?} is not supported (http or https)")));
            }
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            if authority.contains("${") {
                return Err(url_error("context variables may not appear in the host".into()));
            }
            let origin = format!("{scheme}://{authority}");
            let parsed = url::Url::parse(&origin).map_err(|e| url_error(format!("{:?}: {e}", h.url)))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(url_error(format!("{:?} has no host", h.url)));
            }
            let path = Template::parse(path).map_err(url_error)?;
            let host_header = HeaderValue::from_str(authority).map_err(|_| url_error("bad host".into()))?;
            let upstream = if scheme == "http" {
                let host = parsed.host_str().unwrap_or_default();
                let port = parsed.port_or_known_default().unwrap_or(80);
                env.clients
                    .plain(&format!("{host}:{port}"), h.connect_timeout())
                    .map(backend::http::Upstream::Plain)
            } else {
                env.clients
                    .get(h.connect_timeout(), h.verifies_tls())
                    .map(|client| backend::http::Upstream::Tls(Box::new(client)))
            }
            .map_err(|m| (String::new(), format!("cannot build the HTTP client: {m}")))?;
            Ok(Backend::Http(Box::new(backend::http::HttpBackend::new(
                origin,
                path,
                url_query,
                host_header,
                upstream,
                backend::http::Timeouts {
                    connect: h.connect_timeout(),
                    send: h.send_timeout(),
                    read: h.read_timeout(),
                },
            ))))
        }
        spec::Backend::OracleFunctions(f) => {
            let target = match env.invoker {
                Some(invoker) => match invoker.resolve(&f.function_id) {
                    Some(target) => target,
                    None if env.unknown_function == UnknownFunction::ServeAsDeleted => {
                        tracing::warn!(
                            target: "fngate::gateway",
                            function_id = %f.function_id,
                            "a stored route names a function that no longer exists; it answers 502 until redeployed"
                        );
                        return Ok(Backend::Function(backend::function::FunctionBackend::gone(
                            &f.function_id,
                        )));
                    }
                    None => {
                        return Err((
                            "functionId".to_string(),
                            format!(
                                "no function {:?} (give a function id or app/function; see `fngate list fns`)",
                                f.function_id
                            ),
                        ));
                    }
                },
                // Offline validation: nothing is called.
                None => fngate_invoke::FunctionRef {
                    fn_id: f.function_id.clone(),
                    app_name: String::new(),
                    fn_name: String::new(),
                },
            };
            Ok(Backend::Function(backend::function::FunctionBackend::new(target)))
        }
        spec::Backend::DynamicRouting(d) => {
            let selector = ContextVar::parse(d.selection_source.selector().trim())
                .map_err(|e| ("selectionSource.selector".to_string(), e))?;
            let mut keys = Vec::new();
            let mut default = None;
            for (i, rb) in d.routing_backends.iter().enumerate() {
                if matches!(*rb.backend, spec::Backend::DynamicRouting(_)) {
                    return Err((
                        format!("routingBackends[{i}].backend"),
                        "a dynamic routing backend cannot nest another one".into(),
                    ));
                }
                let inner = backend(&rb.backend, env)
                    .map_err(|(f, m)| (join(&format!("routingBackends[{i}].backend"), &f), m))?;
                if rb.key.is_default() {
                    if default.is_some() {
                        return Err((
                            format!("routingBackends[{i}].key.isDefault"),
                            "only one key may be the default".into(),
                        ));
                    }
                    default = Some(i);
                }
                keys.push((rb.key.clone(), inner));
            }
            Ok(Backend::Dynamic(DynamicBackend {
                selector,
                keys,
                default,
            }))
        }
        spec::Backend::OAuth2Login | spec::Backend::OAuth2Logout(_) => Err((
            "type".to_string(),
            format!(
                "{} is not supported by fngate (it needs the OAUTH2 failure policy)",
                b.type_name()
            ),
        )),
    }
}

fn set_items<N>(items: &[spec::SetItem], name: impl Fn(&str) -> Option<N>) -> Result<Vec<SetItem<N>>, FieldError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let n = name(&item.name).ok_or_else(|| {
                (
                    format!("items[{i}].name"),
                    format!("{:?} is not a valid name", item.name),
                )
            })?;
            let values = item
                .values
                .iter()
                .enumerate()
                .map(|(j, v)| Template::parse(v).map_err(|e| (format!("items[{i}].values[{j}]"), e)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SetItem {
                name: n,
                values,
                if_exists: match item.if_exists() {
                    spec::IfExists::Overwrite => IfExists::Overwrite,
                    spec::IfExists::Append => IfExists::Append,
                    spec::IfExists::Skip => IfExists::Skip,
                },
            })
        })
        .collect()
}

fn filter_kind(t: spec::FilterType) -> FilterKind {
    match t {
        spec::FilterType::Allow => FilterKind::Allow,
        spec::FilterType::Block => FilterKind::Block,
    }
}

fn header_name(text: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(text.as_bytes()).ok()
}

pub(crate) fn header_transforms(t: &spec::HeaderTransformationPolicy) -> Result<HeaderTransforms, FieldError> {
    let prefix = |base: &str, (f, m): FieldError| (join(base, &f), m);
    let filter = match &t.filter_headers {
        Some(f) => Some((
            filter_kind(f.filter_type),
            f.items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    header_name(&item.name).ok_or_else(|| {
                        (
                            format!("filterHeaders.items[{i}].name"),
                            format!("{:?} is not a valid header name", item.name),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        None => None,
    };
    let rename = match &t.rename_headers {
        Some(r) => r
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| match (header_name(&item.from), header_name(&item.to)) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err((
                    format!("renameHeaders.items[{i}]"),
                    "from/to must be valid header names".to_string(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let set = match &t.set_headers {
        Some(s) => set_items(&s.items, header_name).map_err(|e| prefix("setHeaders", e))?,
        None => Vec::new(),
    };
    Ok(HeaderTransforms { filter, rename, set })
}

fn query_transforms(t: &spec::QueryParameterTransformationPolicy) -> Result<QueryTransforms, FieldError> {
    Ok(QueryTransforms {
        filter: t.filter_query_parameters.as_ref().map(|f| {
            (
                filter_kind(f.filter_type),
                f.items.iter().map(|i| i.name.clone()).collect(),
            )
        }),
        rename: t
            .rename_query_parameters
            .as_ref()
            .map(|r| r.items.iter().map(|i| (i.from.clone(), i.to.clone())).collect())
            .unwrap_or_default(),
        set: match &t.set_query_parameters {
            Some(s) => {
                set_items(&s.items, |n| Some(n.to_string())).map_err(|(f, m)| (join("setQueryParameters", &f), m))?
            }
            None => Vec::new(),
        },
    })
}

fn modify_response(p: &spec::ModifyResponseValidationFailurePolicy) -> Result<ModifyResponse, FieldError> {
    Ok(ModifyResponse {
        code: p
            .response_code
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(|e| ("responseCode".to_string(), e))?,
        message: p
            .response_message
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(|e| ("responseMessage".to_string(), e))?,
        headers: match &p.response_header_transformations {
            Some(t) => header_transforms(t).map_err(|(f, m)| (join("responseHeaderTransformations", &f), m))?,
            None => HeaderTransforms::default(),
        },
    })
}
