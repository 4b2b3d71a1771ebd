//! `fngate up`: the whole stack in one process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::routing::get;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::GlobalArgs;
use crate::control::{self, AllowedHosts, ControlPlane, Tokens};

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Gateway listener (API deployments).
    #[arg(long, env = "FNGATE_GATEWAY_ADDR", default_value = "127.0.0.1:8080")]
    pub gateway_addr: SocketAddr,

    /// Functions listener: Fn API v2 and /invoke/{fnID} (admin token required), HTTP triggers
    /// /t/{app}/{path} (open, as in Fn).
    #[arg(long, env = "FNGATE_FUNCTIONS_ADDR", default_value = "127.0.0.1:8081")]
    pub functions_addr: SocketAddr,

    /// Dev identity provider listener (plain HTTP and HTTPS on the same port).
    #[arg(long, env = "FNGATE_IDP_ADDR", default_value = "127.0.0.1:8082")]
    pub idp_addr: SocketAddr,

    /// Admin API (admin token required, loopback included), /metrics (admin or metrics token),
    /// /healthz (open: the process answers) and /readyz (open: the store answers and this node
    /// follows it; 503 with the reason otherwise).
    #[arg(long, env = "FNGATE_ADMIN_ADDR", default_value = "127.0.0.1:9090")]
    pub admin_addr: SocketAddr,

    /// OCI REST APIs (Functions, invoke, API Gateway) for the `oci` CLI and the OCI SDKs; every
    /// call needs an OCI request signature from a key registered with `fngate oci api-key add`.
    #[arg(long, env = "FNGATE_OCI_ADDR", default_value = "127.0.0.1:9091")]
    pub oci_addr: SocketAddr,

    /// More names the admin and functions listeners answer to in `Host` (comma-separated), e.g.
    /// the DNS name a proxy or your browser uses. Always allowed: the bound address, `localhost`,
    /// 127.0.0.1 and [::1] when bound to loopback, any IP address when bound to 0.0.0.0 or [::].
    /// Other names get 421 (a DNS-rebinding page comes under its own name).
    #[arg(long, env = "FNGATE_ALLOWED_HOSTS", value_delimiter = ',', value_name = "NAMES")]
    pub allowed_hosts: Vec<String>,

    /// PEM certificate chain for HTTPS on the gateway listener (with --gateway-tls-key).
    #[arg(long, requires = "gateway_tls_key")]
    pub gateway_tls_cert: Option<PathBuf>,

    /// PEM private key for --gateway-tls-cert.
    #[arg(long, requires = "gateway_tls_cert")]
    pub gateway_tls_key: Option<PathBuf>,

    /// PEM file of CA certificates the gateway trusts, besides the system store and this
    /// server's own IdP CA, when it fetches JWKS and discovery documents (a private IdP, a
    /// corporate proxy CA). Repeatable.
    #[arg(long = "trust-ca", value_name = "FILE")]
    pub trust_ca: Vec<PathBuf>,

    /// PEM certificate chain for HTTPS on the admin listener (with --admin-tls-key): what a CLI
    /// on another machine needs (`--server https://…`, `--server-ca` for a private CA).
    #[arg(long, requires = "admin_tls_key")]
    pub admin_tls_cert: Option<PathBuf>,

    /// PEM private key for --admin-tls-cert.
    #[arg(long, requires = "admin_tls_cert")]
    pub admin_tls_key: Option<PathBuf>,

    /// Largest function bundle `fngate deploy` may upload (compressed), in MiB; its files may
    /// unpack to 8 times as much.
    #[arg(long, env = "FNGATE_MAX_BUNDLE_MIB", default_value_t = fngate_functions::bundle::DEFAULT_MAX_BUNDLE_MIB,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_bundle_mib: u64,

    /// Most files, directories and symlinks in one function bundle.
    #[arg(long, env = "FNGATE_MAX_BUNDLE_ENTRIES", default_value_t = fngate_functions::bundle::DEFAULT_MAX_BUNDLE_ENTRIES)]
    pub max_bundle_entries: usize,

    /// Most hot instances one function may run at once.
    #[arg(long, default_value_t = 8)]
    pub max_instances_per_fn: usize,

    /// Most hot instances of all functions together.
    #[arg(long, default_value_t = 64)]
    pub max_instances_total: usize,

    /// Also set up the walkthrough (idempotent): the Python function myapp/python-func, the API
    /// app api://my-oci-api with scope access_as_user and app role Api.Read, a client app with a
    /// fresh secret, and deployment /v1 whose GET /python-func requires a JWT from the dev IdP.
    /// Prints the curl commands to try it.
    #[arg(long)]
    pub demo: bool,

    /// Keep all state in this PostgreSQL database (postgres://user:password@host:5432/db, libpq
    /// options such as ?sslmode=require allowed) instead of the embedded SQLite file in the data
    /// directory. Every node started with the same URL serves the same apps, functions,
    /// triggers, deployments and IdP registrations; each node still needs a data directory of
    /// its own (function code, environments, tokens). Unset: SQLite, nothing to set up.
    #[arg(long, env = "FNGATE_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Enforce gateway rate limits (`TOTAL`, `CLIENT_IP`) across every node through this Redis
    /// (redis://[user:password@]host:6379[/db]): one atomic GCRA script per request. While Redis
    /// does not answer (100 ms), each node falls back to its own limits, with one warning.
    /// Unset: every node enforces each limit on its own.
    #[arg(long, env = "FNGATE_REDIS_URL", value_name = "URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// With --database-url: how often this node compares its state with the database, the
    /// fallback for a change notification it missed (notifications themselves arrive at once).
    #[arg(long, env = "FNGATE_RECONCILE_SECS", value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub reconcile_secs: u64,

    /// YAML file with the same settings (keys: data_dir, database_url, redis_url, gateway_addr, functions_addr, idp_addr,
    /// admin_addr, oci_addr, allowed_hosts (a list), gateway_tls_cert, gateway_tls_key, trust_ca (a list),
    /// max_instances_per_fn, max_instances_total, header_read_timeout, body_read_timeout,
    /// keep_alive_timeout, max_connections, http2_max_concurrent_streams).
    /// Flags and environment variables win over the file.
    #[arg(long, env = "FNGATE_CONFIG")]
    pub config: Option<PathBuf>,

    // Last: its help heading would otherwise also cover the flags after it.
    #[command(flatten)]
    pub limits: crate::listener_limits::ListenerLimits,
}

/// `--config` file contents; every key optional, unknown keys rejected.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpConfigFile {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    gateway_addr: Option<SocketAddr>,
    functions_addr: Option<SocketAddr>,
    idp_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    oci_addr: Option<SocketAddr>,
    allowed_hosts: Option<Vec<String>>,
    gateway_tls_cert: Option<PathBuf>,
    gateway_tls_key: Option<PathBuf>,
    trust_ca: Option<Vec<PathBuf>>,
    max_instances_per_fn: Option<usize>,
    max_instances_total: Option<usize>,
    header_read_timeout: Option<u64>,
    body_read_timeout: Option<u64>,
    keep_alive_timeout: Option<u64>,
    max_connections: Option<u64>,
    http2_max_concurrent_streams: Option<u32>,
}

/// Fills every setting the user did not give as a flag or env var from the `--config` file.
pub fn apply_config_file(args: &mut UpArgs, global: &mut GlobalArgs, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let Some(path) = args.config.clone() else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let file: UpConfigFile = if text.trim().is_empty() {
        UpConfigFile::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|err| match err.location() {
            Some(at) => anyhow::anyhow!("{}:{}:{}: {err}", path.display(), at.line(), at.column()),
            None => anyhow::anyhow!("{}: {err}", path.display()),
        })?
    };
    let up = matches.subcommand_matches("up").unwrap_or(matches);
    let unset = |m: &clap::ArgMatches, id: &str| {
        !matches!(
            m.value_source(id),
            Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
        )
    };
    fn take<T>(slot: &mut T, value: Option<T>, unset: bool) {
        if let (Some(value), true) = (value, unset) {
            *slot = value;
        }
    }
    take(
        &mut global.data_dir,
        file.data_dir,
        unset(matches, "data_dir") && unset(up, "data_dir"),
    );
    take(
        &mut args.database_url,
        file.database_url.map(Some),
        unset(up, "database_url"),
    );
    take(&mut args.redis_url, file.redis_url.map(Some), unset(up, "redis_url"));
    take(&mut args.gateway_addr, file.gateway_addr, unset(up, "gateway_addr"));
    take(
        &mut args.functions_addr,
        file.functions_addr,
        unset(up, "functions_addr"),
    );
    take(&mut args.idp_addr, file.idp_addr, unset(up, "idp_addr"));
    take(&mut args.admin_addr, file.admin_addr, unset(up, "admin_addr"));
    take(&mut args.oci_addr, file.oci_addr, unset(up, "oci_addr"));
    take(&mut args.allowed_hosts, file.allowed_hosts, unset(up, "allowed_hosts"));
    take(
        &mut args.max_instances_per_fn,
        file.max_instances_per_fn,
        unset(up, "max_instances_per_fn"),
    );
    take(
        &mut args.max_instances_total,
        file.max_instances_total,
        unset(up, "max_instances_total"),
    );
    let limits = &mut args.limits;
    take(
        &mut limits.header_read_timeout,
        file.header_read_timeout,
        unset(up, "header_read_timeout"),
    );
    take(
        &mut limits.body_read_timeout,
        file.body_read_timeout,
        unset(up, "body_read_timeout"),
    );
    take(
        &mut limits.keep_alive_timeout,
        file.keep_alive_timeout,
        unset(up, "keep_alive_timeout"),
    );
    take(
        &mut limits.max_connections,
        file.max_connections.map(Some),
        unset(up, "max_connections"),
    );
    take(
        &mut limits.http2_max_concurrent_streams,
        file.http2_max_concurrent_streams,
        unset(up, "http2_max_concurrent_streams"),
    );
    limits
        .check()
        .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    if args.trust_ca.is_empty() {
        args.trust_ca = file.trust_ca.unwrap_or_default();
    }
    if args.gateway_tls_cert.is_none() {
        args.gateway_tls_cert = file.gateway_tls_cert;
    }
    if args.gateway_tls_key.is_none() {
        args.gateway_tls_key = file.gateway_tls_key;
    }
    if args.gateway_tls_cert.is_some() != args.gateway_tls_key.is_some() {
        bail!(
            "gateway_tls_cert and gateway_tls_key must be given together ({})",
            path.display()
        );
    }
    Ok(())
}

pub async fn run(args: UpArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    init_logging();
    let limits = args.limits.resolve(crate::listener_limits::raise_fd_limit());
    let data_dir = global.data_dir.clone();
    let _lock = fngate_store::DataDirLock::acquire(&data_dir)?;
    let store = open_store(&data_dir, args.database_url.as_deref()).await?;
    let tokens = Tokens::load_or_create(&data_dir)?;
    let shutdown = CancellationToken::new();
    // Before anything loads, so a change another node makes meanwhile is not missed.
    let (feed, changes) = fngate_store::changes::ChangeFeed::start(
        &store,
        std::time::Duration::from_secs(args.reconcile_secs),
        shutdown.clone(),
    )
    .await
    .context("cannot start following the database's changes")?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(fngate_gateway::REQUEST_DURATION_METRIC.into()),
            fngate_gateway::REQUEST_DURATION_BUCKETS,
        )
        .context("latency histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;

    // Bind everything first so a port in use fails before anything starts.
    let gateway_listener = bind("gateway", args.gateway_addr).await?;
    let functions_listener = bind("functions", args.functions_addr).await?;
    let idp_listener = bind("idp", args.idp_addr).await?;
    let admin_listener = bind("admin", args.admin_addr).await?;
    let oci_listener = bind("oci", args.oci_addr).await?;
    let gateway_tls = match (&args.gateway_tls_cert, &args.gateway_tls_key) {
        (Some(cert), Some(key)) => Some(load_tls(cert, key, "gateway")?),
        _ => None,
    };
    let admin_tls = match (&args.admin_tls_cert, &args.admin_tls_key) {
        (Some(cert), Some(key)) => Some(load_tls(cert, key, "admin")?),
        _ => None,
    };
    let admin_scheme = if admin_tls.is_some() { "https" } else { "http" };

    let runtime = fngate_functions::Runtime::start(
        store.clone(),
        fngate_functions::RuntimeConfig {
            data_dir: data_dir.clone(),
            max_instances_per_fn: args.max_instances_per_fn,
            max_instances_total: args.max_instances_total,
            bundle_limits: fngate_functions::bundle::Limits::new(args.max_bundle_mib, args.max_bundle_entries.max(1)),
        },
    )
    .await?;
    let invoker: Arc<dyn fngate_invoke::FunctionInvoker> = runtime.clone();
    let idp = fngate_idp::Idp::open(store.clone()).await?;
    let auth = fngate_auth::AuthService::with_options(
        Some(invoker.clone()),
        fngate_auth::AuthOptions {
            trusted_roots: trusted_roots(&idp, &args.trust_ca)?,
            ..fngate_auth::AuthOptions::default()
        },
    );
    let idp_bound = idp_listener.local_addr()?;
    let mut tasks = tokio::task::JoinSet::new();
    // The IdP serves before deployments load: a deployment whose JWKS lives on this same
    // process's IdP fetches its keys while loading.
    tasks.spawn(idp.clone().serve(idp_listener, limits, shutdown.clone()));
    let gateway = fngate_gateway::Gateway::start(store.clone(), invoker, auth).await?;
    if let Some(url) = &args.redis_url {
        let address = gateway
            .share_rate_limits(url)
            .map_err(|err| anyhow::anyhow!("--redis-url (FNGATE_REDIS_URL): {err}"))?;
        tracing::info!(redis = %address, "gateway rate limits are shared through Redis");
    }

    let admin_addr = admin_listener.local_addr()?;
    let functions_addr = functions_listener.local_addr()?;
    let admin_guard = ControlPlane::new(
        &tokens,
        AllowedHosts::for_listener(admin_addr, &args.allowed_hosts)?,
        control::admin_access,
    );
    let functions_guard = ControlPlane::new(
        &tokens,
        AllowedHosts::for_listener(functions_addr, &args.allowed_hosts)?,
        control::functions_access,
    );
    let gateway_scheme = if gateway_tls.is_some() { "https" } else { "http" };
    let gateway_url = format!(
        "{gateway_scheme}://{}",
        crate::demo::loopback(gateway_listener.local_addr()?)
    );
    let oci = fngate_oci::Oci::start(
        store.clone(),
        runtime.clone(),
        gateway.clone(),
        fngate_oci::OciConfig {
            gateway_url: gateway_url.clone(),
        },
    )
    .await?;
    let readiness = crate::feed::follow(
        store.clone(),
        feed,
        changes,
        crate::feed::Reloaders {
            runtime: runtime.clone(),
            gateway: gateway.clone(),
            oci: oci.clone(),
        },
        shutdown.clone(),
    );
    // One set of listener URLs feeds both the printed table and `/fngate/status`.
    let listeners = [
        (
            "gateway",
            format!("{gateway_scheme}://{}", gateway_listener.local_addr()?),
        ),
        ("functions", format!("http://{functions_addr}")),
        ("idp", format!("http://{idp_bound}")),
        ("admin", format!("{admin_scheme}://{admin_addr}")),
        ("oci", format!("http://{}", oci_listener.local_addr()?)),
    ];
    let server_status = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "data_dir": data_dir.display().to_string(),
        "store": store.backend().name(),
        "listeners": listeners
            .iter()
            .map(|(name, url)| (name.to_string(), serde_json::Value::from(url.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    });
    let metrics_runtime = runtime.clone();
    let admin_router = runtime
        .admin_router()
        .merge(gateway.admin_router())
        .merge(idp.admin_router())
        .merge(oci.admin_router())
        .route(
            "/fngate/status",
            get(move || std::future::ready(axum::Json(server_status))),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readiness.check().await }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                metrics_runtime.publish_pool_metrics();
                std::future::ready(metrics.render())
            }),
        );
    // Every component has created its files by now (IdP keys and CA, logs): narrow them too.
    fngate_store::make_private(&data_dir)?;

    println!("fngate {} is up", env!("CARGO_PKG_VERSION"));
    println!("  data dir   {}", data_dir.display());
    for (name, url) in &listeners {
        // The IdP speaks HTTPS on the same port.
        let also = if *name == "idp" {
            format!(" (https://{idp_bound} too)")
        } else {
            String::new()
        };
        println!("  {name:<10} {url}{also}");
    }

    tasks.spawn(
        gateway
            .clone()
            .serve(gateway_listener, gateway_tls, limits, shutdown.clone()),
    );
    tasks.spawn(serve_router(
        fngate_http::Listener::new(functions_listener, "functions", limits),
        functions_guard.guard(runtime.api_router()),
        shutdown.clone(),
    ));
    let admin_serve = fngate_http::serve_router_tls(
        fngate_http::Listener::new(admin_listener, "admin", limits),
        admin_guard.guard(admin_router),
        admin_tls,
        shutdown.clone(),
    );
    tasks.spawn(async move {
        admin_serve.await;
        Ok(())
    });
    // The OCI APIs on their own listener, served as the admin listener is; every call carries an
    // OCI request signature, checked by the OCI router itself.
    tasks.spawn(serve_router(
        fngate_http::Listener::new(oci_listener, "oci", limits),
        oci.router(),
        shutdown.clone(),
    ));

    let mut failure = None;
    if args.demo {
        let demo = crate::demo::set_up(crate::demo::DemoContext {
            data_dir: &data_dir,
            runtime: &runtime,
            gateway: &gateway,
            idp: &idp,
            gateway_url: gateway_url.clone(),
            idp_addr: idp_bound,
        });
        if let Err(err) = demo.await {
            failure = Some(err);
        }
    }
    if failure.is_none() {
        println!("Press Ctrl-C to stop.");
        tokio::select! {
        signal = shutdown_signal() => {
            signal?;
            tracing::info!("shutting down: draining in-flight requests");
        }
        Some(joined) = tasks.join_next() => {
            failure = Some(match joined {
                Ok(Ok(())) => anyhow::anyhow!("a listener stopped unexpectedly"),
                Ok(Err(err)) => err,
                Err(err) => anyhow::anyhow!("a listener task failed: {err}"),
            });
        }
        }
    }
    shutdown.cancel();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Err(err)) = joined {
            tracing::warn!(error = %err, "listener ended with an error during shutdown");
        }
    }
    runtime.shutdown().await;
    store.close().await;
    match failure {
        Some(err) => Err(err),
        None => {
            println!("fngate stopped");
            Ok(())
        }
    }
}

/// The embedded SQLite store, or PostgreSQL when `--database-url` is given; errors name the flag
/// and its variable (and never the URL's password).
async fn open_store(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<fngate_store::Store> {
    let Some(url) = database_url else {
        return Ok(fngate_store::Store::open(data_dir).await?);
    };
    let url = fngate_store::PostgresUrl::parse(url)
        .map_err(|err| anyhow::anyhow!("--database-url (FNGATE_DATABASE_URL): {err}"))?;
    let store = fngate_store::Store::open_postgres(data_dir, &url)
        .await
        .map_err(|err| anyhow::anyhow!("--database-url (FNGATE_DATABASE_URL): {err}"))?;
    tracing::info!(database = %url, "state is kept in PostgreSQL");
    Ok(store)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FNGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so stdout keeps the endpoint table and access log readable by scripts.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

async fn bind(name: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the {name} listener (is another server using it? pass --{name}-addr)")
    })
}

/// The functions and admin listeners: `fngate_http::serve_router` (cap, timeouts, keep-alive grace).
async fn serve_router(
    listener: fngate_http::Listener,
    router: axum::Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    fngate_http::serve_router(listener, router, shutdown).await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

/// Builds a listener's TLS config (`--{listener}-tls-cert/-key`) from PEM files, offering HTTP/2
/// and HTTP/1.1 by ALPN.
fn load_tls(cert: &Path, key: &Path, listener: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "--{listener}-tls-cert {}: not a readable PEM certificate chain",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        bail!("--{listener}-tls-cert {}: no CERTIFICATE block found", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("--{listener}-tls-key {}: not a readable PEM private key", key.display()))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .with_context(|| format!("--{listener}-tls-cert and --{listener}-tls-key do not form a usable pair"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What JWKS and discovery fetches trust besides the system store: this server's own IdP CA (so
/// an `https://` JWKS URI on its IdP works) and every `--trust-ca` file.
fn trusted_roots(idp: &fngate_idp::Idp, extra: &[PathBuf]) -> anyhow::Result<fngate_auth::TrustedRoots> {
    let mut roots = fngate_auth::TrustedRoots::default();
    roots
        .add_pem_file(&idp.ca_cert_path())
        .map_err(|e| anyhow::anyhow!("the IdP's local CA: {e}"))?;
    for path in extra {
        roots
            .add_pem_file(path)
            .map_err(|e| anyhow::anyhow!("--trust-ca {e}"))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Up {
        #[command(flatten)]
        up: UpArgs,
    }

    #[test]
    fn allowed_hosts_take_a_comma_separated_list() {
        let parsed = Up::try_parse_from(["up", "--allowed-hosts", "api.example.com,10.0.0.7"]).unwrap();
        assert_eq!(parsed.up.allowed_hosts, ["api.example.com", "10.0.0.7"]);
        let bad = Up::try_parse_from(["up", "--allowed-hosts", "http://x"]).unwrap();
        let err = AllowedHosts::for_listener("127.0.0.1:1".parse().unwrap(), &bad.up.allowed_hosts).unwrap_err();
        assert!(err.to_string().contains("\"http://x\""), "{err}");
    }
}
