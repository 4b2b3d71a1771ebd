//! One request through the gateway, stage by stage (the order OCI documents):
//!
//! ```text
//! limits (431/413) → deployment by path prefix → route match (404/405)
//!   → CORS (preflight answered here) → rate limit (429) → authentication + authorization
//!   → validations → header/query transformations → backend → response header transformations
//! ```
//! Every stage either passes the request on or returns a [`Rejection`]; CORS headers are added
//! to whatever comes back, so browsers can read gateway errors too.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CONTENT_LENGTH, HOST, ORIGIN, RETRY_AFTER};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use tokio::time::Instant;

use crate::access_log::{BytesIn, Entry};
use crate::backend::Outbound;
use crate::context::{RequestContext, split_query};
use crate::observe::{self, LogInfo};
use crate::path::{PathRejected, normalise};
use crate::policy::cors::CorsPolicy;
use crate::policy::rate_limit::retry_after_seconds;
use crate::respond::Rejection;
use crate::router::{RouteMatch, wildcard_name};
use crate::table::{Deployment, Route, RouteTable};
use crate::{MAX_HEADER_BYTES, MAX_REQUEST_BODY, Shared};

static OPC_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("opc-request-id");

/// Handles one request; never fails (every failure is a response).
pub(crate) async fn handle(
    shared: &Shared,
    request: Request<Body>,
    client: SocketAddr,
    scheme: &'static str,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = ulid::Ulid::new();
    let mut id_text = [0u8; ulid::ULID_LEN];
    // One header value for the response and the backend request (clones share the bytes).
    let request_id_header =
        HeaderValue::from_str(request_id.array_to_str(&mut id_text)).unwrap_or(HeaderValue::from_static(""));
    let method = request.method().clone();
    // A body of unknown size (chunked) is counted as the pipeline reads it, for the access log.
    let (request, bytes_in) = BytesIn::measure(request);
    // Hold this version of the table for the whole request: a redeploy cannot change it underneath.
    let table = shared.table.load_full();
    let mut info = LogInfo::default();
    let mut response = match process(shared, &table, request, client, scheme, &request_id_header, &mut info).await {
        Ok(response) => response,
        Err(rejection) => {
            info.reason = Some(rejection.log_reason);
            rejection.into_response()
        }
    };
    response.headers_mut().insert(OPC_REQUEST_ID.clone(), request_id_header);
    let status = response.status();
    let latency = started.elapsed();
    observe::record(&info, status, latency);
    if !info.access_log {
        return response;
    }
    let entry = Entry {
        info,
        method,
        status,
        latency,
        client,
        request_id,
    };
    entry.write_or_defer(bytes_in, response, started)
}

async fn process(
    shared: &Shared,
    table: &Arc<RouteTable>,
    request: Request<Body>,
    client: SocketAddr,
    scheme: &'static str,
    request_id: &HeaderValue,
    info: &mut LogInfo,
) -> Result<Response<Body>, Rejection> {
    let (mut parts, body) = request.into_parts();
    if head_size(&parts) > MAX_HEADER_BYTES {
        return Err(Rejection::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
        ));
    }
    if let Some(length) = parts.headers.get(CONTENT_LENGTH) {
        match length.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n > MAX_REQUEST_BODY as u64 => {
                return Err(Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "request_body_too_large"));
            }
            Some(_) => {}
            None => return Err(Rejection::new(StatusCode::BAD_REQUEST, "bad_content_length")),
        }
    }
    // One path, normalised once: the deployment, the route, its policies and the backend all see
    // this one (`crate::path`); a path that cannot be normalised safely is refused here.
    if let Err(why) = normalise_uri(&mut parts.uri) {
        return Err(Rejection::new(StatusCode::BAD_REQUEST, why.log_reason()).with_message(why.to_string()));
    }
    let path = parts.uri.path();
    let Some((deployment, rest)) = table.find(path) else {
        return Err(Rejection::new(StatusCode::NOT_FOUND, "no_deployment"));
    };
    info.deployment = Some(deployment.name.clone());
    info.access_log = deployment.access_log;

    let found = deployment.route(&parts.method, rest);
    // Logged and counted under the route whose path matched, also when its method did not (405).
    match &found {
        RouteMatch::Found { route, .. } | RouteMatch::MethodNotAllowed { route, .. } => {
            info.route = Some(route.metrics.clone());
        }
        RouteMatch::NotFound => {}
    }
    // A preflight asks about the request that follows: it is answered with the CORS policy of the
    // route that will serve `Access-Control-Request-Method` on this path (not of a catch-all `ANY`
    // route that happens to allow OPTIONS), else of the most specific route whose path matched.
    if CorsPolicy::is_preflight(&parts.method, &parts.headers)
        && let Some(target) =
            preflight_route(deployment, rest, &parts.headers).or_else(|| deployment.first_path_match(rest))
        && let Some(cors) = &target.cors
    {
        info.route = Some(target.metrics.clone());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.headers_mut() = cors.preflight_headers(&parts.headers);
        return Ok(response);
    }
    let (route, params) = match found {
        RouteMatch::Found { route, params } => (route, params),
        // 405 carries the path's route policy, 404 the deployment's: browsers can read both.
        RouteMatch::MethodNotAllowed { route, allowed } => {
            let mut rejection = Rejection::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                rejection.headers.insert(ALLOW, value);
            }
            return Ok(answer(rejection, route.cors.as_ref(), &parts.headers, info));
        }
        RouteMatch::NotFound => {
            let rejection = Rejection::new(StatusCode::NOT_FOUND, "no_route");
            return Ok(answer(rejection, deployment.cors.as_ref(), &parts.headers, info));
        }
    };
    let origin = route.cors.as_ref().and_then(|_| parts.headers.get(ORIGIN).cloned());
    let result = run_route(
        shared, deployment, route, parts, body, params, client, scheme, request_id,
    )
    .await;
    let mut response = match result {
        Ok(response) => response,
        Err(rejection) => {
            info.reason = Some(rejection.log_reason);
            rejection.into_response()
        }
    };
    if let Some(cors) = &route.cors {
        cors.apply_to_response(origin.as_ref(), response.headers_mut());
    }
    Ok(response)
}

#[allow(clippy::too_many_arguments)]
async fn run_route(
    shared: &Shared,
    deployment: &Deployment,
    route: &Route,
    mut parts: http::request::Parts,
    body: Body,
    params: Vec<(String, String)>,
    client: SocketAddr,
    scheme: &'static str,
    request_id: &HeaderValue,
) -> Result<Response<Body>, Rejection> {
    // Rate limit before authentication: refusing floods must stay cheap.
    if let Some(limiter) = &deployment.rate_limit
        && let Err(wait) = match shared.shared_limits.get() {
            Some(all_nodes) => all_nodes.check(&deployment.name, limiter, client.ip()).await,
            None => limiter.check(client.ip()),
        }
    {
        observe::count_rate_limited(&route.metrics);
        return Err(Rejection::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            .with_header(RETRY_AFTER, HeaderValue::from(retry_after_seconds(wait))));
    }

    // `Host` as a shared header value (no copy); HTTP/2 requests carry the authority instead.
    let host_value = parts.headers.get(HOST).filter(|h| h.to_str().is_ok()).cloned();
    let authority: String;
    let host: &str = match &host_value {
        Some(value) => value.to_str().unwrap_or_default(),
        None => {
            authority = parts.uri.authority().map(|a| a.to_string()).unwrap_or_default();
            &authority
        }
    };
    let query = split_query(parts.uri.query().unwrap_or(""));

    let principal = match &deployment.auth {
        Some(policy) => {
            let ctx = RequestContext {
                path_params: &params,
                query: &query,
                headers: &parts.headers,
                auth: None,
                host,
                wildcard: wildcard_name(&route.pattern),
            };
            let realm = crate::context::strip_port(host);
            // Boxed: the authentication future is large and only authenticated routes need it;
            // inline it would grow every request's future (moved into hyper per request).
            let outcome = Box::pin(crate::policy::auth::authenticate(
                policy,
                &parts,
                realm,
                &route.authorization,
                &ctx,
            ))
            .await;
            match outcome {
                Ok(principal) => principal,
                Err(rejection) => {
                    auth_failed(deployment, route, client, rejection.status);
                    return Err(rejection);
                }
            }
        }
        None => None,
    };
    // Context variables read the headers as the client sent them, also after the request header
    // transformations and the backend have changed the outgoing ones: keep a copy, but only for
    // routes that read the context after this point (most proxy routes do not).
    let reads_context_late = !route.request_headers.is_empty()
        || !route.query.is_empty()
        || !route.response_headers.is_empty()
        || route.backend.reads_context();
    let original_headers = if reads_context_late {
        parts.headers.clone()
    } else {
        HeaderMap::new()
    };
    let ctx = RequestContext {
        path_params: &params,
        query: &query,
        headers: &original_headers,
        auth: principal.as_ref().map(|p| &p.claims),
        host,
        wildcard: wildcard_name(&route.pattern),
    };

    if let Err(invalid) = route.validations.check(&parts.headers, &query, &body) {
        return Err(Rejection::new(invalid.status, "validation_failed").with_message(invalid.message));
    }

    if !route.request_headers.is_empty() {
        route.request_headers.apply(&mut parts.headers, &ctx);
    }
    let outbound_query = if route.query.is_empty() {
        parts.uri.query().unwrap_or("").to_string()
    } else {
        let mut pairs = query.clone();
        route.query.apply(&mut pairs, &ctx);
        crate::context::join_query(&pairs)
    };

    let original_uri = parts.uri.clone();
    let outbound = Outbound {
        parts,
        body,
        ctx: &ctx,
        query: outbound_query,
        full_path: original_uri.path(),
        client_ip: client.ip(),
        request_id,
        scheme,
    };
    let call = route.backend.call(outbound, shared.invoker.as_ref());
    let mut response = observe::calling_backend(&route.metrics, call).await?;
    if !route.response_headers.is_empty() {
        route.response_headers.apply(response.headers_mut(), &ctx);
    }
    Ok(response)
}

/// The first (most specific) route whose path matches and that serves the method a preflight's
/// `Access-Control-Request-Method` names.
fn preflight_route<'d>(deployment: &'d Deployment, path: &str, headers: &HeaderMap) -> Option<&'d Route> {
    let requested = headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
    let method = Method::from_bytes(requested.as_bytes()).ok()?;
    match deployment.route(&method, path) {
        RouteMatch::Found { route, .. } => Some(route),
        _ => None,
    }
}

/// Counts a failed authentication and logs it, at most one line per second per deployment (a
/// flood of bad tokens must not become a flood of log lines; the line says how many it stands for).
fn auth_failed(deployment: &Deployment, route: &Route, client: SocketAddr, status: StatusCode) {
    observe::count_auth_failure(&route.metrics, status);
    let due = deployment.auth_failure_log.lock().ok().and_then(|mut log| log.hit());
    if let Some(failures) = due {
        tracing::info!(
            target: "fngate::gateway::auth",
            deployment = %deployment.name,
            route = route.path(),
            status = status.as_u16(),
            %client,
            failures,
            "authentication failed ({failures} failure(s) since the last line for this deployment)"
        );
    }
}

/// The gateway's own answer (404, 405) with the CORS headers of `cors`.
fn answer(
    rejection: Rejection,
    cors: Option<&Arc<CorsPolicy>>,
    request_headers: &HeaderMap,
    info: &mut LogInfo,
) -> Response<Body> {
    info.reason = Some(rejection.log_reason);
    let mut response = rejection.into_response();
    if let Some(cors) = cors {
        cors.apply_to_response(request_headers.get(ORIGIN), response.headers_mut());
    }
    response
}

/// Replaces the request path by its normal form (`crate::path::normalise`), the query kept.
fn normalise_uri(uri: &mut Uri) -> Result<(), PathRejected> {
    let path = match normalise(uri.path())? {
        Cow::Borrowed(_) => return Ok(()),
        Cow::Owned(path) => path,
    };
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    // The normal form only holds characters the received path held (and upper-case hex), so it
    // parses; refused all the same if it does not.
    parts.path_and_query = Some(PathAndQuery::try_from(target).map_err(|_| PathRejected::BadPercent)?);
    *uri = Uri::from_parts(parts).map_err(|_| PathRejected::BadPercent)?;
    Ok(())
}

/// Method + URI + header names and values: what OCI's 8 KB header limit counts.
fn head_size(parts: &http::request::Parts) -> usize {
    let uri = parts.uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(0);
    parts.method.as_str().len()
        + uri
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>()
}
