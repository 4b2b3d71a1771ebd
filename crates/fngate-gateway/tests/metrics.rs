//! The gateway's Prometheus series, rendered by the real exporter: requests by deployment, route
//! and status; the latency histogram; backend errors and rate-limit rejections by deployment and
//! route (as the README says; #13 item 8), backend errors also by kind. Its own test
//! binary, because the metrics recorder is global to the process.

mod common;

use common::{TestGateway, Upstream, client};
use serde_json::json;

/// The value of the series whose name and labels all appear on one exposition line.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.split(['{', ' ']).next() == Some(name) && labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn requests_latency_backend_errors_and_rate_limits_are_counted_by_route() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(fngate_gateway::REQUEST_DURATION_METRIC.into()),
            fngate_gateway::REQUEST_DURATION_BUCKETS,
        )
        .unwrap()
        .install_recorder()
        .expect("install the metrics recorder");
    let upstream = Upstream::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gw = TestGateway::start().await;
    gw.deploy(
        "shop",
        "/v1",
        json!({"routes": [
            {"path": "/items/{id}", "methods": ["GET"],
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/items", upstream.addr)}},
            {"path": "/down", "methods": ["GET"],
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{closed}/"), "connectTimeoutInSeconds": 2}}
        ]}),
    )
    .await;
    gw.deploy(
        "limited",
        "/lim",
        json!({"requestPolicies": {"rateLimiting": {"rateInRequestsPerSecond": 1, "rateKey": "TOTAL"}},
               "routes": [{"path": "/x", "methods": ["GET"],
                           "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}}]}),
    )
    .await;

    let http = client();
    for id in 1..=3 {
        let response = http.get(gw.url(&format!("/v1/items/{id}"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = http.post(gw.url("/v1/items/1")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = http.get(gw.url("/v1/down")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(http.get(gw.url("/lim/x")).send().await.unwrap().status().as_u16());
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        limited >= 1,
        "a 1 req/s limit let 5 quick requests through: {statuses:?}"
    );

    let text = recorder.render();
    let requests = "fngate_gateway_requests_total";
    let items = ["deployment=\"shop\"", "route=\"/items/{id}\""];
    // Labelled by the route pattern, never the raw path: three ids, one series.
    assert_eq!(
        value(&text, requests, &[items[0], items[1], "status=\"200\""]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(&text, requests, &[items[0], items[1], "status=\"405\""]),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("/v1/items/1"), "a raw path became a label:\n{text}");
    assert_eq!(
        value(
            &text,
            requests,
            &["deployment=\"shop\"", "route=\"/down\"", "status=\"502\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, requests, &["deployment=\"limited\"", "status=\"429\""]),
        Some(limited as f64),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "fngate_gateway_rate_limited_total",
            &["deployment=\"limited\"", "route=\"/x\""]
        ),
        Some(limited as f64),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "fngate_gateway_backend_errors_total",
            &["deployment=\"shop\"", "route=\"/down\"", "kind=\"connect\""]
        ),
        Some(1.0),
        "{text}"
    );
    // The latency histogram (buckets, not a summary): every request of the route is in `+Inf`.
    assert_eq!(
        value(&text, "fngate_gateway_request_duration_seconds_count", &items),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "fngate_gateway_request_duration_seconds_bucket",
            &[items[0], items[1], "le=\"+Inf\""]
        ),
        Some(4.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE fngate_gateway_request_duration_seconds histogram"),
        "{text}"
    );
    gw.stop().await;
}
