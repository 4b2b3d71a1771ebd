//! `fngate idp …`: register API and client apps, manage secrets and keys, get tokens, export the
//! local CA, and run the Entra ID-compatible dev identity provider on its own.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fngate_idp::api::*;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::GlobalArgs;
use super::client::AdminClient;
use super::output::{OutputFormat, print_json, print_list};

/// Default IdP listener (DESIGN.md).
const DEFAULT_IDP: &str = "http://127.0.0.1:8082";

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// API apps: the resources tokens are issued for (identifier URI, scopes, app roles).
    #[command(subcommand)]
    App(AppCommand),
    /// Client apps: daemons that get tokens with a secret, and the app roles granted to them.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Client secrets: add (shown once), list, remove.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Tenants (a default one exists from the first start).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// List tenants, API apps, client apps (with grants and secrets) and signing keys.
    List,
    /// Get an access token from the token endpoint (client credentials), as a client would.
    ///
    /// Prints the access token alone (`TOKEN=$(fngate idp token …)`); `--output json` prints the
    /// whole token response.
    Token(TokenArgs),
    /// Show the local CA certificate that signs the IdP's HTTPS certificate, so clients can trust it.
    ///
    /// Prints the PEM file's path; `--pem` prints the certificate, `--out FILE` copies it.
    /// Example: `REQUESTS_CA_BUNDLE=$(fngate idp ca) python app.py`.
    Ca(CaArgs),
    /// Signing keys: list, rotate.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the identity provider alone (no gateway, no functions): for teams that only need tokens.
    Serve(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an API app.
    ///
    /// Example: fngate idp app create orders --identifier-uri api://orders --role Orders.Read
    Create(AppCreateArgs),
    /// Delete an API app (by name, identifier URI or client id); grants on it go too.
    Delete {
        /// Name, identifier URI or client id.
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct AppCreateArgs {
    /// Display name, unique in the tenant.
    pub name: String,
    /// Application ID URI (default: api://<client id>, as Entra).
    #[arg(long, value_name = "URI")]
    pub identifier_uri: Option<String>,
    /// Delegated scope to expose (repeatable), e.g. access_as_user.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// App role (application permission) to define (repeatable), e.g. Orders.Read.
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// Access token version this API receives (Entra's requestedAccessTokenVersion).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub token_version: u8,
    /// Tenant id or name (default: the default tenant).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client app; prints its client id and a secret (shown once).
    ///
    /// Example: fngate idp client create daemon --grant orders/Orders.Read
    Create(ClientCreateArgs),
    /// Grant app roles on API apps to a client (admin consent).
    Grant {
        /// Client id or name.
        client: String,
        /// API/ROLE (repeatable); API is the API app's name, identifier URI or client id.
        #[arg(required = true, value_name = "API/ROLE")]
        grants: Vec<String>,
    },
    /// Show one client app with its grants and secrets.
    Show {
        /// Client id or name.
        client: String,
    },
    /// Delete a client app with its secrets and grants.
    Delete {
        /// Client id or name.
        client: String,
    },
}

#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    /// Display name, unique in the tenant.
    pub name: String,
    /// Grant an app role: API/ROLE (repeatable); API is the API app's name, identifier URI or client id.
    #[arg(long = "grant", value_name = "API/ROLE")]
    pub grants: Vec<String>,
    /// Lifetime of the first secret in days (1 to 730).
    #[arg(long, default_value_t = 180)]
    pub secret_expires_days: u32,
    /// Description of the first secret.
    #[arg(long, default_value = "")]
    pub secret_description: String,
    /// Tenant id or name (default: the default tenant).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Add a secret to a client; the value is printed once and only its hash is kept.
    Add {
        /// Client id or name.
        client: String,
        /// Lifetime in days (1 to 730).
        #[arg(long, default_value_t = 180)]
        expires_days: u32,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a client's secrets (ids, hints and expiry; never the values).
    List {
        /// Client id or name.
        client: String,
    },
    /// Remove a secret by its id.
    Remove {
        /// Client id or name.
        client: String,
        /// Secret id (from `fngate idp secret list`).
        secret_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (a new GUID); use its id or name in IdP URLs.
    Create { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the published signing keys.
    List,
    /// Start signing with a new key; the previous one stays in the JWKS for the overlap period.
    Rotate {
        /// Seconds the previous key stays published (default: the server's, 24 hours).
        #[arg(long, value_name = "SECONDS")]
        overlap: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Client (application) id.
    #[arg(long)]
    pub client_id: String,
    /// Client secret value.
    #[arg(long, env = "FNGATE_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,
    /// Scope: <identifier URI or client id>/.default, e.g. api://orders/.default.
    #[arg(long)]
    pub scope: String,
    /// IdP base URL (http or https).
    #[arg(long, env = "FNGATE_IDP", default_value = DEFAULT_IDP)]
    pub idp: String,
    /// Tenant id or name (default: the server's default tenant, asked from the admin API).
    #[arg(long)]
    pub tenant: Option<String>,
    /// CA certificate to trust for an https --idp (default: the server's local CA).
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CaArgs {
    /// Print the certificate itself instead of its path.
    #[arg(long)]
    pub pem: bool,
    /// Copy the certificate to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// IdP listener (plain HTTP and HTTPS on the same port).
    #[arg(long, env = "FNGATE_IDP_ADDR", default_value = "127.0.0.1:8082")]
    pub idp_addr: SocketAddr,
    /// Admin API for the `fngate idp …` commands (admin token required); loopback only.
    #[arg(long, env = "FNGATE_ADMIN_ADDR", default_value = "127.0.0.1:9090")]
    pub admin_addr: SocketAddr,
}

pub async fn run(command: IdpCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let format = global.output;
    match command {
        IdpCommand::Serve(args) => serve(args, global).await,
        IdpCommand::Token(args) => token(args, global).await,
        IdpCommand::Ca(args) => ca(args, global).await,
        IdpCommand::List => {
            let overview: Overview = AdminClient::new(global)?.get("/idp").await?;
            print_overview(format, &overview);
            Ok(())
        }
        IdpCommand::Tenant(TenantCommand::Create { name }) => {
            let tenant: TenantInfo = AdminClient::new(global)?
                .post("/idp/tenants", &NewTenant { name })
                .await?;
            print_tenants(format, std::slice::from_ref(&tenant));
            Ok(())
        }
        IdpCommand::App(AppCommand::Create(args)) => {
            let new = NewApiApp {
                name: args.name,
                tenant: args.tenant,
                identifier_uri: args.identifier_uri,
                scopes: args.scopes,
                app_roles: args.roles,
                token_version: Some(args.token_version),
            };
            let app: ApiAppInfo = AdminClient::new(global)?.post("/idp/apps", &new).await?;
            print_apps(format, std::slice::from_ref(&app));
            Ok(())
        }
        IdpCommand::App(AppCommand::Delete { app }) => {
            AdminClient::new(global)?
                .delete(&format!("/idp/apps/{}", segment(&app)))
                .await?;
            println!("deleted API app {app}");
            Ok(())
        }
        IdpCommand::Client(ClientCommand::Create(args)) => {
            let new = NewClientApp {
                name: args.name,
                tenant: args.tenant,
                grants: args.grants,
                secret: NewSecret {
                    description: args.secret_description,
                    expires_in_days: Some(args.secret_expires_days),
                },
            };
            let created: CreatedClient = AdminClient::new(global)?.post("/idp/clients", &new).await?;
            match format {
                OutputFormat::Json => print_json(&created),
                OutputFormat::Table => {
                    println!("client id      {}", created.client.client_id);
                    println!("tenant id      {}", created.client.tenant_id);
                    println!("client secret  {}", created.secret.value);
                    println!("secret id      {}", created.secret.info.id);
                    println!("expires        {}", created.secret.info.expires_at);
                    for grant in &created.client.grants {
                        println!("granted        {}/{}", grant.api_name, grant.role);
                    }
                    eprintln!("Save the secret now: it is not shown again.");
                }
            }
            Ok(())
        }
        IdpCommand::Client(ClientCommand::Grant { client, grants }) => {
            let path = format!("/idp/clients/{}/grants", segment(&client));
            let info: ClientAppInfo = AdminClient::new(global)?.post(&path, &NewGrants { grants }).await?;
            print_clients(format, std::slice::from_ref(&info));
            Ok(())
        }
        IdpCommand::Client(ClientCommand::Show { client }) => {
            let info: ClientAppInfo = AdminClient::new(global)?
                .get(&format!("/idp/clients/{}", segment(&client)))
                .await?;
            print_clients(format, std::slice::from_ref(&info));
            Ok(())
        }
        IdpCommand::Client(ClientCommand::Delete { client }) => {
            AdminClient::new(global)?
                .delete(&format!("/idp/clients/{}", segment(&client)))
                .await?;
            println!("deleted client app {client}");
            Ok(())
        }
        IdpCommand::Secret(SecretCommand::Add {
            client,
            expires_days,
            description,
        }) => {
            let new = NewSecret {
                description,
                expires_in_days: Some(expires_days),
            };
            let path = format!("/idp/clients/{}/secrets", segment(&client));
            let created: CreatedSecret = AdminClient::new(global)?.post(&path, &new).await?;
            match format {
                OutputFormat::Json => print_json(&created),
                OutputFormat::Table => {
                    println!("client secret  {}", created.value);
                    println!("secret id      {}", created.info.id);
                    println!("expires        {}", created.info.expires_at);
                    eprintln!("Save the secret now: it is not shown again.");
                }
            }
            Ok(())
        }
        IdpCommand::Secret(SecretCommand::List { client }) => {
            let secrets: Vec<SecretInfo> = AdminClient::new(global)?
                .get(&format!("/idp/clients/{}/secrets", segment(&client)))
                .await?;
            print_secrets(format, &secrets);
            Ok(())
        }
        IdpCommand::Secret(SecretCommand::Remove { client, secret_id }) => {
            let path = format!("/idp/clients/{}/secrets/{}", segment(&client), segment(&secret_id));
            AdminClient::new(global)?.delete(&path).await?;
            println!("removed secret {secret_id} of {client}");
            Ok(())
        }
        IdpCommand::Keys(KeysCommand::List) => {
            let keys: Vec<KeyInfo> = AdminClient::new(global)?.get("/idp/keys").await?;
            print_keys(format, &keys);
            Ok(())
        }
        IdpCommand::Keys(KeysCommand::Rotate { overlap }) => {
            let keys: Vec<KeyInfo> = AdminClient::new(global)?
                .post(
                    "/idp/keys/rotate",
                    &RotateKeys {
                        overlap_seconds: overlap,
                    },
                )
                .await?;
            print_keys(format, &keys);
            Ok(())
        }
    }
}

/// A path segment with the characters URLs reserve escaped (names may contain spaces, URIs ':').
fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

async fn token(args: TokenArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let base = url::Url::parse(&args.idp)
        .with_context(|| format!("--idp {:?} is not a URL (expected e.g. {DEFAULT_IDP})", args.idp))?;
    let tenant = match args.tenant {
        Some(tenant) => tenant,
        None => {
            let overview: Overview = AdminClient::new(global)?
                .get("/idp")
                .await
                .context("cannot ask the server for the default tenant (or pass --tenant)")?;
            overview.default_tenant_id
        }
    };
    let mut http = reqwest::Client::builder();
    if base.scheme() == "https" {
        let pem = match &args.cacert {
            Some(path) => std::fs::read(path).with_context(|| format!("--cacert {}: cannot read", path.display()))?,
            None => {
                let ca: CaInfo = AdminClient::new(global)?.get("/idp/ca").await?;
                ca.pem.into_bytes()
            }
        };
        let cert = reqwest::Certificate::from_pem(&pem).context("the CA certificate is not PEM")?;
        http = http.tls_certs_merge([cert]);
    }
    let http = http.build().context("cannot build HTTP client")?;
    let url = base
        .join(&format!("{}/oauth2/v2.0/token", segment(&tenant)))
        .context("token endpoint URL")?;
    let response = http
        .post(url.clone())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", args.client_id.as_str()),
            ("client_secret", args.client_secret.as_str()),
            ("scope", args.scope.as_str()),
        ])
        .send()
        .await
        .map_err(|err| {
            if err.is_connect() {
                anyhow::anyhow!("no identity provider is listening at {base} ({err}); start one with `fngate up` or `fngate idp serve`, or pass --idp")
            } else {
                anyhow::anyhow!("token request to {url} failed: {err}")
            }
        })?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{url} answered {status} with a body that is not JSON"))?;
    if !status.is_success() {
        let description = body["error_description"].as_str().unwrap_or_default();
        let first_line = description.lines().next().unwrap_or_default();
        bail!(
            "{url} refused the request ({status}, {}): {first_line}",
            body["error"].as_str().unwrap_or("error")
        );
    }
    match global.output {
        OutputFormat::Json => print_json(&body),
        OutputFormat::Table => println!("{}", body["access_token"].as_str().unwrap_or_default()),
    }
    Ok(())
}

async fn ca(args: CaArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let info: CaInfo = match AdminClient::new(global)?.get("/idp/ca").await {
        Ok(info) => info,
        Err(err) => {
            // Without a server, the CA of --data-dir still answers (it is created at first start).
            let path = global.data_dir.join(fngate_idp::IDP_DIR).join(fngate_idp::CA_CERT_FILE);
            match std::fs::read_to_string(&path) {
                Ok(pem) => CaInfo {
                    path: path.display().to_string(),
                    pem,
                },
                Err(_) => return Err(err),
            }
        }
    };
    if let Some(out) = &args.out {
        std::fs::write(out, &info.pem).with_context(|| format!("--out {}: cannot write", out.display()))?;
    }
    match (global.output, args.pem) {
        (OutputFormat::Json, _) => print_json(&info),
        (OutputFormat::Table, true) => print!("{}", info.pem),
        (OutputFormat::Table, false) => println!(
            "{}",
            args.out.as_ref().map(|o| o.display().to_string()).unwrap_or(info.path)
        ),
    }
    Ok(())
}

async fn serve(args: ServeArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    if !args.admin_addr.ip().is_loopback() {
        bail!(
            "--admin-addr {}: `fngate idp serve` keeps its admin API on loopback; use `fngate up` to expose an admin API beyond it",
            args.admin_addr
        );
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FNGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let data_dir = global.data_dir.clone();
    let _lock = fngate_store::DataDirLock::acquire(&data_dir)?;
    let store = fngate_store::Store::open(&data_dir).await?;
    let idp = fngate_idp::Idp::open(store.clone()).await?;
    let tokens = crate::control::Tokens {
        admin: crate::control::ensure_token(&data_dir, super::client::ADMIN_TOKEN_FILE)?,
        metrics: None,
    };
    // The IdP has created its keys and CA by now: narrow them with the rest.
    fngate_store::make_private(&data_dir)?;
    let idp_listener = tokio::net::TcpListener::bind(args.idp_addr)
        .await
        .with_context(|| format!("cannot listen on {} for the IdP (pass --idp-addr)", args.idp_addr))?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin_addr).await.with_context(|| {
        format!(
            "cannot listen on {} for the admin API (pass --admin-addr)",
            args.admin_addr
        )
    })?;
    let idp_addr = idp_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let admin_guard = crate::control::ControlPlane::new(
        &tokens,
        crate::control::AllowedHosts::for_listener(admin_addr, &[])?,
        crate::control::idp_admin_access,
    );
    let tid = idp.default_tenant_id();
    let base = format!("http://{idp_addr}");
    println!("fngate idp {} is up", env!("CARGO_PKG_VERSION"));
    println!("  data dir   {}", data_dir.display());
    println!("  idp        http://{idp_addr} (https://{idp_addr} too)");
    println!("  admin      http://{admin_addr}");
    println!("  tenant     {tid}");
    println!("  token      {}", fngate_idp::token_url(&base, &tid));
    println!("  keys       {}", fngate_idp::keys_url(&base, &tid));
    println!(
        "  issuers    {} (v1) {} (v2)",
        fngate_idp::issuer_v1(&tid),
        fngate_idp::issuer_v2(&tid)
    );
    println!("  ca         {}", idp.ca_cert_path().display());
    println!("Press Ctrl-C to stop.");

    let shutdown = CancellationToken::new();
    // The same bounds as `fngate up`'s defaults.
    let limits = crate::listener_limits::ListenerLimits::defaults().resolve(crate::listener_limits::raise_fd_limit());
    let idp_task = tokio::spawn(idp.clone().serve(idp_listener, limits, shutdown.clone()));
    let admin_listener = fngate_http::Listener::new(admin_listener, "admin", limits);
    let admin_shutdown = shutdown.clone();
    let admin_task = tokio::spawn(async move {
        fngate_http::serve_router(admin_listener, admin_guard.guard(idp.admin_router()), admin_shutdown).await;
        anyhow::Ok(())
    });
    wait_for_signal().await?;
    shutdown.cancel();
    for task in [idp_task, admin_task] {
        if let Ok(Err(err)) = task.await {
            tracing::warn!(error = %err, "listener ended with an error during shutdown");
        }
    }
    store.close().await;
    println!("fngate idp stopped");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

fn print_overview(format: OutputFormat, overview: &Overview) {
    if format == OutputFormat::Json {
        print_json(overview);
        return;
    }
    println!("TENANTS");
    print_tenants(format, &overview.tenants);
    println!("\nAPI APPS");
    print_apps(format, &overview.api_apps);
    println!("\nCLIENT APPS");
    print_clients(format, &overview.clients);
    println!("\nSIGNING KEYS");
    print_keys(format, &overview.keys);
    println!("\nCA certificate: {}", overview.ca_cert_path);
}

fn print_tenants(format: OutputFormat, tenants: &[TenantInfo]) {
    let rows = tenants
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                if t.is_default { "yes".into() } else { String::new() },
                t.issuer_v2.clone(),
            ]
        })
        .collect();
    print_list(format, &tenants, &["id", "name", "default", "issuer (v2)"], rows);
}

fn print_apps(format: OutputFormat, apps: &[ApiAppInfo]) {
    let rows = apps
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.client_id.clone(),
                a.identifier_uri.clone(),
                a.app_roles.join(","),
                a.scopes.join(","),
                format!("v{}", a.token_version),
            ]
        })
        .collect();
    print_list(
        format,
        &apps,
        &["name", "client id", "identifier uri", "app roles", "scopes", "tokens"],
        rows,
    );
}

fn print_clients(format: OutputFormat, clients: &[ClientAppInfo]) {
    let rows = clients
        .iter()
        .map(|c| {
            let grants: Vec<String> = c.grants.iter().map(|g| format!("{}/{}", g.api_name, g.role)).collect();
            let live = c.secrets.iter().filter(|s| !s.expired).count();
            vec![
                c.name.clone(),
                c.client_id.clone(),
                grants.join(","),
                format!("{live} valid / {}", c.secrets.len()),
            ]
        })
        .collect();
    print_list(
        format,
        &clients,
        &["name", "client id", "granted roles", "secrets"],
        rows,
    );
}

fn print_secrets(format: OutputFormat, secrets: &[SecretInfo]) {
    let rows = secrets
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                format!("{}…", s.hint),
                s.description.clone(),
                s.expires_at.clone(),
                if s.expired { "expired".into() } else { "valid".into() },
            ]
        })
        .collect();
    print_list(
        format,
        &secrets,
        &["secret id", "hint", "description", "expires", "state"],
        rows,
    );
}

fn print_keys(format: OutputFormat, keys: &[KeyInfo]) {
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.created_at.clone(),
                if k.signing {
                    "signing".into()
                } else {
                    "published".into()
                },
                k.remove_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_list(format, &keys, &["kid", "created", "state", "removed at"], rows);
}
