//! Who may call the control plane: the admin listener, the Fn API and `/invoke` on the functions
//! listener, and `fngate idp serve`'s admin API. One guard wraps each listener's whole router, with
//! an explicit allow-list of public paths, so a route added later is guarded by default.
//!
//! A control-plane request passes three checks, in this order:
//! 1. `Host` (and an absolute URI's authority) names this listener ([`AllowedHosts`]); else
//!    **421**. A DNS-rebinding page reaches the listener under the attacker's name.
//! 2. It carries the admin token, as `Authorization: Bearer <token>` (what the `fn` CLI sends) or
//!    `x-fngate-admin-token: <token>`, compared in constant time; else **401**. Loopback is no
//!    exception: every local user reaches loopback.
//! 3. A POST, PUT or PATCH sends `application/json` (or `application/*+json`), unless its route
//!    takes any body (`/invoke`, whose body is the function's input); else **415**. A cross-site
//!    form can only send form and text types.
//!
//! `/metrics` takes the admin token or the read-only metrics token; `/healthz` and the data-plane
//! paths of the functions listener pass untouched. Refusals are `{"message": …}` JSON, Fn's shape.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use futures_util::future::{Either, Ready, ready};

use crate::cli::client::ADMIN_TOKEN_FILE;

/// File in the data directory holding the read-only token for `/metrics`.
pub const METRICS_TOKEN_FILE: &str = "metrics-token";

/// What a path of a listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Served to anyone, as configured (data plane, health).
    Public,
    /// `/metrics`: the admin token or the metrics token.
    Metrics,
    /// Needs the admin token; `any_body` when a state-changing call may send any content type.
    Control { any_body: bool },
}

/// The admin listener of `fngate up`: `/healthz` is public, `/metrics` takes the metrics token,
/// everything else (the admin API, the Fn API and `/invoke`, unknown paths) is control plane.
pub fn admin_access(path: &str) -> Access {
    match path {
        "/healthz" | "/readyz" => Access::Public,
        "/metrics" => Access::Metrics,
        _ => Access::Control {
            any_body: fngate_functions::api::takes_any_body(path),
        },
    }
}

/// The functions listener: Fn's data plane (`/`, HTTP triggers) is public, the rest control plane.
pub fn functions_access(path: &str) -> Access {
    if fngate_functions::api::is_data_plane_path(path) {
        Access::Public
    } else {
        Access::Control {
            any_body: fngate_functions::api::takes_any_body(path),
        }
    }
}

/// `fngate idp serve`'s admin listener: all control plane.
pub fn idp_admin_access(_path: &str) -> Access {
    Access::Control { any_body: false }
}

/// The tokens a server accepts.
pub struct Tokens {
    pub admin: String,
    /// `None` where there is no `/metrics` (`fngate idp serve`).
    pub metrics: Option<String>,
}

impl Tokens {
    /// The admin and metrics tokens of `data_dir`, created (0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Tokens> {
        Ok(Tokens {
            admin: ensure_token(data_dir, ADMIN_TOKEN_FILE)?,
            metrics: Some(ensure_token(data_dir, METRICS_TOKEN_FILE)?),
        })
    }
}

/// Reads the token in `data_dir/file`, creating it (0600, 32 random bytes in hex) when missing.
pub fn ensure_token(data_dir: &Path, file: &str) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read token {}", path.display())),
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(fngate_store::FILE_MODE)
        .open(&path)
        .with_context(|| format!("cannot write token {}", path.display()))?;
    out.write_all(token.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write token {}", path.display()))?;
    Ok(token)
}

/// The names a listener answers to in `Host`: its bound address, `localhost`, the loopback
/// addresses when bound to loopback, any IP address when bound to all interfaces (an address
/// literal cannot come from DNS rebinding, and NAT or a new interface may put any address in
/// front of such a listener), and the `--allowed-hosts` names. Ports are not compared: a port
/// forward (`ssh -L`) legitimately changes it.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    names: HashSet<String>,
    ips: HashSet<IpAddr>,
    any_ip: bool,
}

impl AllowedHosts {
    pub fn for_listener(bound: SocketAddr, extra: &[String]) -> anyhow::Result<AllowedHosts> {
        let mut hosts = AllowedHosts {
            names: HashSet::from(["localhost".to_string()]),
            ips: HashSet::new(),
            any_ip: bound.ip().is_unspecified(),
        };
        let ip = canonical_ip(bound.ip());
        hosts.ips.insert(ip);
        if ip.is_loopback() {
            hosts
                .ips
                .extend([IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        }
        for entry in extra {
            match parse_allowed_host(entry)? {
                Host::Ip(ip) => hosts.ips.insert(ip),
                Host::Name(name) => hosts.names.insert(name),
            };
        }
        Ok(hosts)
    }

    /// Whether a `Host` header value (`name[:port]`, `[v6][:port]`) names this listener.
    pub fn allows(&self, authority: &str) -> bool {
        match parse_authority(authority) {
            Some(Host::Ip(ip)) => self.any_ip || self.ips.contains(&ip),
            Some(Host::Name(name)) => self.names.contains(&name),
            None => false,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// IPv4-mapped IPv6 addresses compare as their IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// A host (no port) as a name or an address: names lowercased, one trailing dot dropped.
fn parse_host(host: &str) -> Option<Host> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if let Some(ip) = bare {
        return Ipv6Addr::from_str(ip)
            .ok()
            .map(|ip| Host::Ip(canonical_ip(IpAddr::V6(ip))));
    }
    if let Ok(ip) = IpAddr::from_str(host) {
        return Some(Host::Ip(canonical_ip(ip)));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(Host::Name(name))
}

/// `Host` header syntax (RFC 9110 §7.2): `uri-host [":" port]`, no userinfo.
fn parse_authority(value: &str) -> Option<Host> {
    let authority = axum::http::uri::Authority::from_str(value).ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    parse_host(authority.host())
}

fn parse_allowed_host(entry: &str) -> anyhow::Result<Host> {
    let entry = entry.trim();
    let host = parse_host(entry).or_else(|| {
        // A bare IPv6 address without brackets is fine here (no port to confuse it with).
        Ipv6Addr::from_str(entry).ok().map(|ip| Host::Ip(IpAddr::V6(ip)))
    });
    match host {
        Some(host) => Ok(host),
        None => bail!(
            "--allowed-hosts {entry:?}: not a host name or IP address (give the name alone, without scheme, port or path, e.g. fngate.example.com)"
        ),
    }
}

/// The guard of one listener; [`ControlPlane::guard`] puts it in front of the listener's router.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

struct Inner {
    admin_token: String,
    metrics_token: Option<String>,
    hosts: AllowedHosts,
    access: fn(&str) -> Access,
}

impl ControlPlane {
    pub fn new(tokens: &Tokens, hosts: AllowedHosts, access: fn(&str) -> Access) -> ControlPlane {
        ControlPlane {
            inner: Arc::new(Inner {
                admin_token: tokens.admin.clone(),
                metrics_token: tokens.metrics.clone(),
                hosts,
                access,
            }),
        }
    }

    /// `router` behind the guard: every request goes through it, whatever route it matches.
    pub fn guard(self, router: axum::Router) -> axum::Router {
        axum::Router::new().fallback_service(Guarded {
            inner: router,
            guard: self,
        })
    }

    /// The answer refusing `request`, or `None` to let it through.
    fn refusal<B>(&self, request: &Request<B>) -> Option<Response> {
        let access = (self.inner.access)(request.uri().path());
        if access == Access::Public {
            return None;
        }
        if let Some(host) = self.misdirected(request) {
            return Some(refuse(
                StatusCode::MISDIRECTED_REQUEST,
                &format!(
                    "Host {host:?} is not a name of this listener; if it is yours, add it with --allowed-hosts (env FNGATE_ALLOWED_HOSTS, config allowed_hosts)"
                ),
            ));
        }
        let presented = presented_tokens(request.headers());
        let admin = presented.iter().any(|t| same_token(t, &self.inner.admin_token));
        let allowed = match access {
            Access::Metrics => {
                admin
                    || self
                        .inner
                        .metrics_token
                        .as_deref()
                        .is_some_and(|metrics| presented.iter().any(|t| same_token(t, metrics)))
            }
            _ => admin,
        };
        if !allowed {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                if presented.is_empty() {
                    "admin token required: send Authorization: Bearer <token>, the token fngate up keeps in <data-dir>/admin-token"
                } else {
                    "wrong admin token: send the one fngate up keeps in <data-dir>/admin-token"
                },
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"fngate\""),
            );
            return Some(response);
        }
        if let Access::Control { any_body: false } = access
            && matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH)
            && !is_json(request.headers())
        {
            return Some(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            ));
        }
        None
    }

    /// The `Host` (or absolute-form authority) that does not name this listener, if any.
    fn misdirected<B>(&self, request: &Request<B>) -> Option<String> {
        let hosts = &self.inner.hosts;
        if let Some(authority) = request.uri().authority()
            && !hosts.allows(authority.as_str())
        {
            return Some(authority.to_string());
        }
        let mut values = request.headers().get_all(header::HOST).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => {
                let text = String::from_utf8_lossy(value.as_bytes());
                (!hosts.allows(&text)).then(|| text.into_owned())
            }
            // Two Hosts (RFC 9112 §3.2: 400): whichever the check read, a proxy may read the other.
            (Some(_), Some(second)) => Some(String::from_utf8_lossy(second.as_bytes()).into_owned()),
            // HTTP/2 sends `:authority` instead (checked above); a request with neither is refused.
            (None, _) if request.uri().authority().is_some() => None,
            (None, _) => Some(String::new()),
        }
    }
}

/// Tokens in `Authorization: Bearer …` and `x-fngate-admin-token`.
fn presented_tokens(headers: &HeaderMap) -> Vec<&[u8]> {
    let mut tokens = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        let bytes = value.as_bytes();
        if bytes.len() > 7 && bytes[..7].eq_ignore_ascii_case(b"bearer ") {
            tokens.push(bytes[7..].trim_ascii());
        }
    }
    for value in headers.get_all(fngate_invoke::ADMIN_TOKEN_HEADER) {
        tokens.push(value.as_bytes().trim_ascii());
    }
    tokens
}

/// Constant time in the token's contents (the length, 64 hex digits, is no secret).
fn same_token(presented: &[u8], expected: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(presented, expected.as_bytes()).into()
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || (subtype.ends_with("+json") && !subtype.contains('/')),
        None => false,
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The guard as a service in front of a router.
#[derive(Clone)]
struct Guarded {
    inner: axum::Router,
    guard: ControlPlane,
}

impl tower::Service<Request<Body>> for Guarded {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, <axum::Router as tower::Service<Request<Body>>>::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        tower::Service::<Request<Body>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.guard.refusal(&request) {
            Some(refusal) => Either::Left(ready(Ok(refusal))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn guarded(access: fn(&str) -> Access) -> axum::Router {
        let tokens = Tokens {
            admin: TOKEN.into(),
            metrics: Some("m3trics".into()),
        };
        let hosts = AllowedHosts::for_listener("127.0.0.1:9090".parse().unwrap(), &["fngate.test".into()]).unwrap();
        let router = axum::Router::new()
            .route("/v2/apps", get(|| async { "list" }).post(|| async { "created" }))
            .route("/invoke/{id}", post(|| async { "called" }))
            .route("/metrics", get(|| async { "metrics" }))
            .route("/healthz", get(|| async { "ok" }))
            .route("/t/{app}/{*source}", post(|| async { "trigger" }));
        ControlPlane::new(&tokens, hosts, access).guard(router)
    }

    async fn send(router: &axum::Router, method: &str, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(name, _)| *name == "host") {
            request = request.header("host", "127.0.0.1:9090");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_admin_token_is_needed_on_every_control_route_loopback_included() {
        let router = guarded(admin_access);
        let bearer = format!("Bearer {TOKEN}");
        let json = ("content-type", "application/json");
        for (method, path) in [
            ("GET", "/v2/apps"),
            ("POST", "/v2/apps"),
            ("POST", "/invoke/x"),
            ("GET", "/nope"),
        ] {
            let (status, body) = send(&router, method, path, &[json]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(body.contains("\"message\""), "{body}");
            for wrong in ["Bearer wrong", &format!("Bearer {}", &TOKEN[1..]), "Basic Zm9vOmJhcg=="] {
                let (status, _) = send(&router, method, path, &[json, ("authorization", wrong)]).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} {wrong}");
            }
            let (status, _) = send(&router, method, path, &[json, ("x-fngate-admin-token", "nope")]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        assert_eq!(
            send(&router, "GET", "/v2/apps", &[("authorization", &bearer)]).await.1,
            "list"
        );
        assert_eq!(
            send(
                &router,
                "GET",
                "/v2/apps",
                &[("authorization", &format!("bearer  {TOKEN}"))]
            )
            .await
            .1,
            "list",
            "the scheme is case-insensitive"
        );
        assert_eq!(
            send(&router, "GET", "/v2/apps", &[("x-fngate-admin-token", TOKEN)])
                .await
                .1,
            "list"
        );
        assert_eq!(
            send(&router, "GET", "/nope", &[("authorization", &bearer)]).await.0,
            StatusCode::NOT_FOUND,
            "unknown paths are guarded, then not found"
        );
        // The metrics token opens /metrics and nothing else; /healthz is open.
        let metrics = ("authorization", "Bearer m3trics");
        assert_eq!(send(&router, "GET", "/metrics", &[]).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(send(&router, "GET", "/metrics", &[metrics]).await.1, "metrics");
        assert_eq!(
            send(&router, "GET", "/metrics", &[("authorization", &bearer)]).await.1,
            "metrics"
        );
        assert_eq!(
            send(&router, "GET", "/v2/apps", &[metrics]).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(send(&router, "GET", "/healthz", &[]).await.1, "ok");
    }

    #[tokio::test]
    async fn state_changes_take_json_but_invoke_takes_any_body() {
        let router = guarded(admin_access);
        let bearer = format!("Bearer {TOKEN}");
        let auth = ("authorization", bearer.as_str());
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let (status, body) = send(&router, "POST", "/v2/apps", &[auth, ("content-type", content_type)]).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
            assert!(body.contains("application/json"), "{body}");
        }
        assert_eq!(
            send(&router, "POST", "/v2/apps", &[auth]).await.0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        for content_type in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            let (status, _) = send(&router, "POST", "/v2/apps", &[auth, ("content-type", content_type)]).await;
            assert_eq!(status, StatusCode::OK, "{content_type}");
        }
        assert_eq!(
            send(&router, "POST", "/invoke/x", &[auth, ("content-type", "text/plain")])
                .await
                .1,
            "called"
        );
    }

    #[tokio::test]
    async fn the_functions_listener_leaves_its_data_plane_open() {
        let router = guarded(functions_access);
        assert_eq!(
            send(&router, "POST", "/t/app/hook", &[("host", "anything.example")])
                .await
                .1,
            "trigger"
        );
        assert_eq!(send(&router, "GET", "/v2/apps", &[]).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            send(&router, "POST", "/invoke/x", &[]).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(send(&router, "GET", "/tx/app", &[]).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(send(&router, "GET", "//t/app/x", &[]).await.0, StatusCode::UNAUTHORIZED);
        // Dot segments are not resolved: an open prefix can only reach the trigger routes.
        assert_eq!(send(&router, "POST", "/t/../v2/apps", &[]).await.1, "trigger");
        assert_eq!(
            send(&router, "GET", "/%74/app/x", &[]).await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn a_host_that_is_not_the_listener_is_refused_before_the_token() {
        let router = guarded(admin_access);
        let bearer = format!("Bearer {TOKEN}");
        let request = |host: &str| {
            Request::builder()
                .uri("/v2/apps")
                .header("host", host)
                .header("authorization", bearer.as_str())
                .body(Body::empty())
                .unwrap()
        };
        for host in [
            "evil.example",
            "evil.example:9090",
            "127.0.0.2",
            "localhost.evil.example",
            "",
            "a b",
        ] {
            let response = router.clone().oneshot(request(host)).await.unwrap();
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host:?}");
        }
        for host in [
            "127.0.0.1:9090",
            "localhost:9090",
            "LOCALHOST",
            "localhost.",
            "[::1]:9090",
            "fngate.test:443",
        ] {
            let response = router.clone().oneshot(request(host)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{host:?}");
        }
        // An absolute-form target names the host too; it must be allowed as well.
        let absolute = Request::builder()
            .uri("http://evil.example/v2/apps")
            .header("host", "127.0.0.1")
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            router.clone().oneshot(absolute).await.unwrap().status(),
            StatusCode::MISDIRECTED_REQUEST
        );
        // Two Hosts, the second foreign: refused.
        let twice = Request::builder()
            .uri("/v2/apps")
            .header("host", "127.0.0.1")
            .header("host", "evil.example")
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            router.clone().oneshot(twice).await.unwrap().status(),
            StatusCode::MISDIRECTED_REQUEST
        );
        // No Host at all (no browser sends that): refused.
        let bare = Request::builder()
            .uri("/v2/apps")
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            router.oneshot(bare).await.unwrap().status(),
            StatusCode::MISDIRECTED_REQUEST
        );
    }

    #[test]
    fn listener_names_follow_the_bind_address() {
        let loopback = AllowedHosts::for_listener("127.0.0.1:1".parse().unwrap(), &[]).unwrap();
        assert!(loopback.allows("127.0.0.1") && loopback.allows("[::1]:1") && loopback.allows("localhost"));
        assert!(!loopback.allows("10.0.0.5"));
        let lan = AllowedHosts::for_listener("10.0.0.5:1".parse().unwrap(), &["Api.Example.COM".into()]).unwrap();
        assert!(lan.allows("10.0.0.5:1") && lan.allows("api.example.com") && lan.allows("localhost"));
        assert!(
            !lan.allows("127.0.0.1"),
            "bound elsewhere, loopback cannot reach it by that address"
        );
        assert!(!lan.allows("example.com"));
        let all = AllowedHosts::for_listener("0.0.0.0:1".parse().unwrap(), &[]).unwrap();
        assert!(all.allows("192.168.1.9:1") && all.allows("[fe80::1]") && all.allows("[::ffff:1.2.3.4]"));
        assert!(
            !all.allows("rebind.attacker.example"),
            "names still need --allowed-hosts"
        );
        for bad in ["http://x", "x:80", "a/b", "*", "", "x y"] {
            let err = AllowedHosts::for_listener("127.0.0.1:1".parse().unwrap(), &[bad.into()]).unwrap_err();
            assert!(err.to_string().contains("--allowed-hosts"), "{bad}: {err}");
        }
        let v6 = AllowedHosts::for_listener("127.0.0.1:1".parse().unwrap(), &["fd00::7".into(), "[fd00::8]".into()])
            .unwrap();
        assert!(v6.allows("[fd00::7]:1") && v6.allows("[fd00::8]"));
    }

    #[test]
    fn tokens_are_created_once_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::load_or_create(dir.path()).unwrap();
        assert_eq!(tokens.admin.len(), 64, "32 random bytes, hex");
        assert_ne!(Some(&tokens.admin), tokens.metrics.as_ref());
        for file in [ADMIN_TOKEN_FILE, METRICS_TOKEN_FILE] {
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let again = Tokens::load_or_create(dir.path()).unwrap();
        assert_eq!(
            (again.admin, again.metrics),
            (tokens.admin, tokens.metrics),
            "restarts keep the tokens"
        );
    }
}
