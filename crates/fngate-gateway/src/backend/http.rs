//! `HTTP_BACKEND`: a streaming reverse proxy over pooled keep-alive connections (HTTP/1.1, and
//! HTTP/2 when TLS ALPN offers it). Context variables fill the URL path; the client's query
//! string (after transformations) is appended. `Host` becomes the backend's; the client address
//! goes into `X-Forwarded-For`, `X-Real-IP` and `Forwarded`, as OCI does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use fngate_http::{error_chain, error_sources};
use http::header::{HOST, HeaderValue};
use http::{HeaderName, Response, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::client_body::{ClientBody, ClientBodyError};
use super::forwarded::forwarded_for;
use super::h1_pool::{H1Pool, UpstreamError};
use super::read_timeout::ReadTimeout;
use super::{Outbound, strip_hop_by_hop};
use crate::MAX_REQUEST_BODY;
use crate::context::Template;
use crate::observe::count_backend_error;
use crate::respond::Rejection;

pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, Body>;

/// How requests reach the backend.
pub(crate) enum Upstream {
    /// Plain `http://`: HTTP/1.1 connections driven by the request's own task.
    Plain(Arc<H1Pool>),
    /// `https://` (HTTP/1.1 or HTTP/2 by ALPN): hyper-util's pooled client.
    Tls(Box<UpstreamClient>),
}

pub(crate) struct HttpBackend {
    /// What goes before the path in the request target: hyper-util's client (`https://`) takes
    /// the absolute form, `scheme://authority` (it picks the connection by it); a connection of
    /// our own (`http://`) is sent the origin form, so this is empty.
    pub target_prefix: String,
    /// Path template (may hold context variables).
    pub path: Template,
    /// Query the URL itself carries (literal; OCI forbids variables there).
    pub url_query: Option<String>,
    pub host_header: HeaderValue,
    pub upstream: Upstream,
    /// Send + read: the time allowed, once connected, until the backend's response head arrives.
    pub response_timeout: Duration,
    /// How long connecting may take (a separate limit, before `response_timeout` starts).
    pub connect_timeout: Duration,
    /// The longest pause allowed while the response body streams.
    pub read_timeout: Duration,
    /// The whole target URI when the path has no context variables, parsed once at load time and
    /// used as is for requests without a query string (the common case).
    pub fixed_uri: Option<Uri>,
}

/// `connectTimeoutInSeconds`, `sendTimeoutInSeconds`, `readTimeoutInSeconds`.
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub send: Duration,
    pub read: Duration,
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static OPC_REQUEST_ID: HeaderName = HeaderName::from_static("opc-request-id");

impl HttpBackend {
    pub fn new(
        origin: String,
        path: Template,
        url_query: Option<String>,
        host_header: HeaderValue,
        upstream: Upstream,
        timeouts: Timeouts,
    ) -> Self {
        let target_prefix = match upstream {
            Upstream::Plain(_) => String::new(),
            Upstream::Tls(_) => origin,
        };
        let fixed_uri = path
            .as_literal()
            .and_then(|literal| target(&target_prefix, literal, url_query.as_deref(), "").parse().ok());
        HttpBackend {
            target_prefix,
            path,
            url_query,
            host_header,
            upstream,
            response_timeout: timeouts.send + timeouts.read,
            connect_timeout: timeouts.connect,
            read_timeout: timeouts.read,
            fixed_uri,
        }
    }

    pub async fn forward(&self, outbound: Outbound<'_>) -> Result<Response<Body>, Rejection> {
        let Outbound {
            mut parts,
            body,
            ctx,
            query,
            client_ip,
            request_id,
            scheme,
            ..
        } = outbound;
        let uri = match (&self.fixed_uri, query.is_empty()) {
            (Some(uri), true) => uri.clone(),
            _ => {
                let path = ctx.render_path(&self.path).map_err(|_| {
                    Rejection::new(StatusCode::BAD_REQUEST, "unsafe_backend_path").with_message(
                        "a request value would change the backend path's segments (`/`, `..` or an encoded slash)",
                    )
                })?;
                target(&self.target_prefix, &path, self.url_query.as_deref(), &query)
                    .parse()
                    .map_err(|_| {
                        Rejection::new(StatusCode::BAD_GATEWAY, "backend_url_invalid").with_message("Bad Gateway")
                    })?
            }
        };

        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        let original_host = headers.insert(HOST, self.host_header.clone());
        let via = forwarded_for(client_ip, headers.get(&X_FORWARDED_FOR));
        if let Some(v) = via.x_forwarded_for {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
        if let Some(v) = via.x_real_ip {
            headers.insert(X_REAL_IP.clone(), v);
        }
        if let Some(v) = via.forwarded {
            headers.insert(FORWARDED.clone(), v);
        }
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(scheme));
        if let Some(host) = original_host
            && !headers.contains_key(&X_FORWARDED_HOST)
        {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        headers.insert(OPC_REQUEST_ID.clone(), request_id.clone());
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        // A body of known size was checked against the limit by the pipeline (and hyper holds it
        // to its Content-Length); only streamed bodies of unknown size need counting on the way.
        let body = ClientBody(body);
        let body = match http_body::Body::size_hint(&body).exact() {
            Some(n) if n <= MAX_REQUEST_BODY as u64 => Body::new(body),
            _ => Body::new(http_body_util::Limited::new(body, MAX_REQUEST_BODY)),
        };
        let request = http::Request::from_parts(parts, body);

        let response = match &self.upstream {
            Upstream::Plain(pool) => match pool.send(request, self.response_timeout, self.read_timeout).await {
                Ok(response) => response,
                Err(UpstreamError::ConnectTimeout) => return Err(timed_out("connect_timeout")),
                Err(UpstreamError::Timeout) => return Err(timed_out("timeout")),
                Err(err) => return Err(classify(&err, err.is_connect())),
            },
            Upstream::Tls(client) => {
                // The connector holds the connect to its timeout; connect + send + read bound the rest.
                let limit = self.connect_timeout + self.response_timeout;
                match tokio::time::timeout(limit, client.request(request)).await {
                    Ok(Ok(response)) => response.map(|body| Body::new(ReadTimeout::new(body, self.read_timeout))),
                    Err(_) => return Err(timed_out("timeout")),
                    Ok(Err(err)) if err.is_connect() && caused_by_timeout(&err) => {
                        return Err(timed_out("connect_timeout"));
                    }
                    Ok(Err(err)) => return Err(classify(&err, err.is_connect())),
                }
            }
        };
        let (mut head, body) = response.into_parts();
        strip_hop_by_hop(&mut head.headers);
        Ok(Response::from_parts(head, body))
    }
}

/// `prefix` + `path` (with a leading `/`) + the URL's own query and the request's, `&`-joined.
fn target(prefix: &str, path: &str, url_query: Option<&str>, query: &str) -> String {
    let mut target = String::with_capacity(prefix.len() + path.len() + query.len() + 16);
    target.push_str(prefix);
    if !path.starts_with('/') {
        target.push('/');
    }
    target.push_str(path);
    match (url_query, query.is_empty()) {
        (Some(fixed), true) => {
            target.push('?');
            target.push_str(fixed);
        }
        (Some(fixed), false) => {
            target.push('?');
            target.push_str(fixed);
            target.push('&');
            target.push_str(query);
        }
        (None, false) => {
            target.push('?');
            target.push_str(query);
        }
        (None, true) => {}
    }
    target
}

/// 504: the backend did not connect, or did not answer, in time (`kind` labels the metric).
fn timed_out(kind: &'static str) -> Rejection {
    count_backend_error(kind);
    Rejection::new(StatusCode::GATEWAY_TIMEOUT, "backend_timeout")
}

fn caused_by_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    error_sources(err)
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::TimedOut)
}

fn classify(err: &(dyn std::error::Error + 'static), is_connect: bool) -> Rejection {
    if error_sources(err).any(|e| e.is::<http_body_util::LengthLimitError>()) {
        return Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "request_body_too_large");
    }
    if super::function::is_body_timeout(err) {
        return super::function::body_timed_out();
    }
    // The client's own body broke the exchange (bad chunked framing, cut mid-body): its fault.
    if let Some(client) = error_sources(err).find_map(|e| e.downcast_ref::<ClientBodyError>()) {
        tracing::debug!(target: "fngate::gateway::client", error = %error_chain(client), "client sent a malformed or truncated request body");
        return Rejection::new(StatusCode::BAD_REQUEST, "client_body_invalid")
            .with_message("the request body is malformed or was cut short");
    }
    let kind = if is_connect { "connect" } else { "protocol" };
    tracing::warn!(target: "fngate::gateway::backend", error = %error_chain(err), kind, "HTTP backend failed");
    count_backend_error(kind);
    Rejection::new(StatusCode::BAD_GATEWAY, "backend_error")
}

// === impl Clients ===

/// Upstream connection pools, shared across deployments and redeploys: for `https://`, one
/// client per (connect timeout, TLS verification) combination; for `http://`, one pool per
/// (address, connect timeout).
#[derive(Default)]
pub(crate) struct Clients {
    pools: Mutex<HashMap<(u128, bool), UpstreamClient>>,
    plain: Mutex<HashMap<(String, u128), Arc<H1Pool>>>,
}

impl Clients {
    /// `addr` is `host:port`.
    pub fn plain(&self, addr: &str, connect_timeout: Duration) -> Result<Arc<H1Pool>, String> {
        let key = (addr.to_string(), connect_timeout.as_millis());
        let mut pools = self.plain.lock().map_err(|_| "client pool lock poisoned".to_string())?;
        Ok(pools
            .entry(key)
            .or_insert_with(|| H1Pool::new(addr.to_string(), connect_timeout))
            .clone())
    }

    pub fn get(&self, connect_timeout: Duration, verify_tls: bool) -> Result<UpstreamClient, String> {
        let key = (connect_timeout.as_millis(), verify_tls);
        let mut pools = self.pools.lock().map_err(|_| "client pool lock poisoned".to_string())?;
        if let Some(client) = pools.get(&key) {
            return Ok(client.clone());
        }
        let client = build_client(connect_timeout, verify_tls)?;
        pools.insert(key, client.clone());
        Ok(client)
    }
}

fn build_client(connect_timeout: Duration, verify_tls: bool) -> Result<UpstreamClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if verify_tls {
        match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            Err(err) => {
                tracing::warn!(target: "fngate::gateway::backend", error = %err, "no system CA certificates; HTTPS backends will fail verification");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        }
    } else {
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth();
        builder.with_tls_config(config)
    };
    let connector = builder.https_or_http().enable_all_versions().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        // `forward` always sets `Host` (the backend's authority): skip the client's own lookup.
        .set_host(false)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector))
}

/// `isSslVerifyDisabled: true`: accept any backend certificate (signatures still checked so the
/// handshake is well-formed).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
