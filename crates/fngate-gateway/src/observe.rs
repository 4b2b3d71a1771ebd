//! Per-request access log (one JSON line on stdout) and Prometheus metrics through the `metrics`
//! facade (the binary installs the exporter and serves `/metrics`). Metrics are labelled by
//! deployment and route pattern, never by raw path.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use metrics::SharedString;

/// What the pipeline learned about a request, for the log line.
pub(crate) struct LogInfo {
    pub deployment: Option<Arc<str>>,
    pub route: Option<Arc<str>>,
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    info: &LogInfo,
    method: &Method,
    status: StatusCode,
    elapsed: Duration,
    client: SocketAddr,
    request_id: &str,
    bytes_in: u64,
    bytes_out: Option<u64>,
) {
    // Labels share the route table's `Arc<str>`s and static status strings: no allocation.
    let deployment = label(&info.deployment);
    let route = label(&info.route);
    metrics::counter!(
        "fngate_gateway_requests_total",
        "deployment" => deployment.clone(),
        "route" => route.clone(),
        "status" => status_label(status)
    )
    .increment(1);
    metrics::histogram!(
        "fngate_gateway_request_duration_seconds",
        "deployment" => deployment,
        "route" => route
    )
    .record(elapsed.as_secs_f64());
    if info.access_log {
        let line = serde_json::json!({
            "ts": time_now(),
            "type": "gateway.access",
            "deployment": info.deployment.as_deref(),
            "route": info.route.as_deref(),
            "method": method.as_str(),
            "status": status.as_u16(),
            "latency_ms": (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "request_id": request_id,
            "client": client.ip().to_string(),
            "reason": info.reason,
        });
        // Not println!: a closed stdout (e.g. `fngate up | head`) must not panic a request.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
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

fn time_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}
