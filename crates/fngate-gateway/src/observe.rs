//! Per-request Prometheus metrics through the `metrics` facade (the binary installs the exporter
//! and serves `/metrics`), recorded when the response head is ready. Metrics are labelled by
//! deployment and route pattern, never by raw path. The access-log line is `access_log`'s.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use http::StatusCode;
use metrics::{Counter, Histogram, SharedString};

/// What the pipeline learned about a request, for its metrics and its access-log line.
pub(crate) struct LogInfo {
    pub deployment: Option<Arc<str>>,
    /// The matched route (its pattern and metric handles); none when no route matched.
    pub route: Option<Arc<RouteMetrics>>,
    /// Why the gateway answered itself (`no_route`, `rate_limited`, `backend_timeout`...).
    pub reason: Option<&'static str>,
    /// `loggingPolicies.accessLog.isEnabled` of the deployment (on unless set to false).
    pub access_log: bool,
}

impl Default for LogInfo {
    fn default() -> Self {
        LogInfo {
            deployment: None,
            route: None,
            reason: None,
            access_log: true,
        }
    }
}

/// Counts the request by status and records its latency (`elapsed`: to the response head).
pub(crate) fn record(info: &LogInfo, status: StatusCode, elapsed: Duration) {
    match &info.route {
        Some(route) => route.record(status, elapsed),
        None => {
            let deployment = label(&info.deployment);
            let no_route = SharedString::const_str("");
            requests_counter(deployment.clone(), no_route.clone(), status).increment(1);
            duration_histogram(deployment, no_route).record(elapsed.as_secs_f64());
        }
    }
}

/// One route's metric handles, each looked up in the registry on its first use and then kept:
/// the labelled lookup per request cost ≈ 5 % of the proxy path's user-space CPU. Nothing is
/// registered before a request comes, so `/metrics` shows only series that happened.
pub(crate) struct RouteMetrics {
    deployment: Arc<str>,
    route: Arc<str>,
    duration: OnceLock<Histogram>,
    /// Requests by status code; a route sees few distinct codes, so a scan is cheap.
    requests: RwLock<Vec<(StatusCode, Counter)>>,
}

impl RouteMetrics {
    pub fn new(deployment: Arc<str>, route: Arc<str>) -> Self {
        RouteMetrics {
            deployment,
            route,
            duration: OnceLock::new(),
            requests: RwLock::new(Vec::new()),
        }
    }

    /// The route's path pattern as the spec wrote it (`/items/{id}`).
    pub fn pattern(&self) -> &str {
        &self.route
    }

    fn record(&self, status: StatusCode, elapsed: Duration) {
        self.count(status);
        self.duration
            .get_or_init(|| duration_histogram(self.deployment_label(), self.route_label()))
            .record(elapsed.as_secs_f64());
    }

    fn count(&self, status: StatusCode) {
        if let Ok(known) = self.requests.read()
            && let Some((_, counter)) = known.iter().find(|(s, _)| *s == status)
        {
            counter.increment(1);
            return;
        }
        let counter = requests_counter(self.deployment_label(), self.route_label(), status);
        counter.increment(1);
        if let Ok(mut known) = self.requests.write()
            && !known.iter().any(|(s, _)| *s == status)
        {
            known.push((status, counter));
        }
    }

    fn deployment_label(&self) -> SharedString {
        SharedString::from(self.deployment.clone())
    }

    fn route_label(&self) -> SharedString {
        SharedString::from(self.route.clone())
    }
}

fn requests_counter(deployment: SharedString, route: SharedString, status: StatusCode) -> Counter {
    metrics::counter!(
        "fngate_gateway_requests_total",
        "deployment" => deployment,
        "route" => route,
        "status" => status_label(status)
    )
}

tokio::task_local! {
    /// The route whose backend is being called, so backend errors counted deep in a backend
    /// (or later, while its response body streams) carry the deployment and route labels.
    static BACKEND_ROUTE: Arc<RouteMetrics>;
}

/// Runs a backend call with `route` as the route its errors are counted under.
pub(crate) async fn calling_backend<F: std::future::Future>(route: &Arc<RouteMetrics>, call: F) -> F::Output {
    BACKEND_ROUTE.scope(route.clone(), call).await
}

/// The route of the backend call in progress (see [`calling_backend`]), if any.
pub(crate) fn current_route() -> Option<Arc<RouteMetrics>> {
    BACKEND_ROUTE.try_with(Arc::clone).ok()
}

/// Counts a failed backend call in `fngate_gateway_backend_errors_total` by deployment, route and
/// `kind` (`connect`, `connect_timeout`, `timeout`, `read_timeout`, `protocol`, or a function
/// failure's kind), under the route of the call in progress.
pub(crate) fn count_backend_error(kind: &'static str) {
    count_backend_error_for(current_route().as_deref(), kind);
}

/// [`count_backend_error`] for a known route (a response body outlives the backend call).
pub(crate) fn count_backend_error_for(route: Option<&RouteMetrics>, kind: &'static str) {
    let (deployment, route) = labels_of(route);
    metrics::counter!(
        "fngate_gateway_backend_errors_total",
        "deployment" => deployment,
        "route" => route,
        "kind" => kind
    )
    .increment(1);
}

/// Counts a refusal by the deployment's rate limit (`fngate_gateway_rate_limited_total`).
pub(crate) fn count_rate_limited(route: &RouteMetrics) {
    metrics::counter!(
        "fngate_gateway_rate_limited_total",
        "deployment" => route.deployment_label(),
        "route" => route.route_label()
    )
    .increment(1);
}

/// Counts a failed authentication or authorization (`fngate_gateway_auth_failures_total`, by
/// deployment, route and the status answered).
pub(crate) fn count_auth_failure(route: &RouteMetrics, status: StatusCode) {
    metrics::counter!(
        "fngate_gateway_auth_failures_total",
        "deployment" => route.deployment_label(),
        "route" => route.route_label(),
        "status" => status_label(status)
    )
    .increment(1);
}

fn labels_of(route: Option<&RouteMetrics>) -> (SharedString, SharedString) {
    match route {
        Some(route) => (route.deployment_label(), route.route_label()),
        None => (SharedString::const_str(""), SharedString::const_str("")),
    }
}

/// The request latency series (seconds, by deployment and route).
pub const REQUEST_DURATION_METRIC: &str = "fngate_gateway_request_duration_seconds";

/// Bucket bounds (seconds) for [`REQUEST_DURATION_METRIC`]: the exporter must be told them to
/// render a Prometheus histogram (it renders a summary otherwise, which cannot be aggregated).
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

fn duration_histogram(deployment: SharedString, route: SharedString) -> Histogram {
    metrics::histogram!(
        REQUEST_DURATION_METRIC,
        "deployment" => deployment,
        "route" => route
    )
}

fn label(value: &Option<Arc<str>>) -> SharedString {
    match value {
        Some(text) => SharedString::from(text.clone()),
        None => SharedString::const_str(""),
    }
}

/// The status code as a label value; the codes the gateway commonly answers are static strings.
fn status_label(status: StatusCode) -> SharedString {
    let text = match status.as_u16() {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        431 => "431",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return SharedString::from(status.as_str().to_owned()),
    };
    SharedString::const_str(text)
}
