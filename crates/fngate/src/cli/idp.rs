//! `fngate idp …`: register API and client apps, manage secrets and keys, get tokens, export the
//! local CA, and run the Entra ID-compatible dev identity provider on its own.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fngate_idp::api::*;
use reqwest::Method;
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
    /// Client certificates (key credentials): add a PEM certificate, list, remove.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Users who sign in (authorization code, device code): create, list, show, update, delete.
    #[command(subcommand)]
    User(UserCommand),
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
    /// Change an API app's assignment requirement, optional claims or group claims.
    Update(AppUpdateArgs),
}

#[derive(Debug, Args)]
pub struct AppUpdateArgs {
    /// Name, identifier URI or client id.
    pub app: String,
    /// Only assigned users and clients get tokens (true/false).
    #[arg(long, value_name = "BOOL")]
    pub assignment_required: Option<bool>,
    /// Optional access-token claim (repeatable; replaces the list): email, upn, given_name,
    /// family_name, idtyp, ipaddr, auth_time.
    #[arg(long = "optional-claim", value_name = "CLAIM")]
    pub optional_claims: Vec<String>,
    /// Remove every optional claim.
    #[arg(long, conflicts_with = "optional_claims")]
    pub no_optional_claims: bool,
    /// Put the user's group object ids in `groups` (true/false).
    #[arg(long, value_name = "BOOL")]
    pub group_claims: Option<bool>,
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
    /// Only assigned users (`fngate idp user create --assign`) and clients granted an app role
    /// get tokens for it (Entra's "Assignment required"; AADSTS501051 otherwise).
    #[arg(long)]
    pub assignment_required: bool,
    /// Optional access-token claim (repeatable): email, upn, given_name, family_name, idtyp,
    /// ipaddr, auth_time.
    #[arg(long = "optional-claim", value_name = "CLAIM")]
    pub optional_claims: Vec<String>,
    /// Put the user's group object ids in `groups` (groupMembershipClaims SecurityGroup).
    #[arg(long)]
    pub group_claims: bool,
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
    /// Add or remove redirect URIs, allow or forbid public-client flows.
    Update(ClientUpdateArgs),
}

#[derive(Debug, Args)]
pub struct ClientUpdateArgs {
    /// Client id or name.
    pub client: String,
    #[command(flatten)]
    pub redirects: RedirectArgs,
    /// Redirect URI to remove (repeatable).
    #[arg(long = "remove-redirect-uri", value_name = "URI")]
    pub remove_redirect_uris: Vec<String>,
    /// allowPublicClient: device code and other public flows without a credential (true/false).
    #[arg(long, value_name = "BOOL")]
    pub public_client: Option<bool>,
}

/// Redirect URIs by platform, as Entra's Authentication blade.
#[derive(Debug, Args)]
pub struct RedirectArgs {
    /// Web redirect URI (server-side app redeeming codes with its secret or certificate; repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub web: Vec<String>,
    /// Single-page app redirect URI (browser, PKCE, rotating refresh tokens; repeatable).
    #[arg(long = "spa-redirect-uri", value_name = "URI")]
    pub spa: Vec<String>,
    /// Mobile and desktop redirect URI (public client, PKCE; http://localhost matches any port; repeatable).
    #[arg(long = "public-redirect-uri", value_name = "URI")]
    pub public: Vec<String>,
}

impl RedirectArgs {
    fn uris(&self) -> Vec<RedirectUri> {
        let of = |uris: &[String], platform: &str| {
            uris.iter()
                .map(|uri| RedirectUri {
                    uri: uri.clone(),
                    platform: platform.into(),
                })
                .collect::<Vec<_>>()
        };
        [of(&self.web, "web"), of(&self.spa, "spa"), of(&self.public, "public")].concat()
    }
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Register a certificate (PEM, RSA 2048+) as a credential; the private key stays with the client.
    ///
    /// Example: openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -subj /CN=daemon
    ///          fngate idp cert add daemon cert.pem
    Add {
        /// Client id or name.
        client: String,
        /// PEM certificate file.
        certificate: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a client's certificates (thumbprints, validity).
    List {
        /// Client id or name.
        client: String,
    },
    /// Remove a certificate by its id or thumbprint.
    Remove {
        /// Client id or name.
        client: String,
        /// Certificate id or SHA-1 / SHA-256 thumbprint (hex).
        certificate: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user who signs in with a password.
    ///
    /// Example: fngate idp user create alice --password 'S3cure pass' --display-name "Alice Smith" \
    ///          --group Sales --assign orders/Orders.Read
    Create(UserCreateArgs),
    /// List users.
    List,
    /// Show one user (by object id, user name or UPN).
    Show { user: String },
    /// Change a user's password, add groups or assignments.
    Update(UserUpdateArgs),
    /// Delete a user with their consents and refresh tokens.
    Delete { user: String },
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// Sign-in name (letters, digits, '.', '-', '_').
    pub user_name: String,
    /// Password, 8 characters or more (default: a generated one, printed once).
    #[arg(long, env = "FNGATE_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// `name` claim (default: the user name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// userPrincipalName (default: NAME@<tenant name>.onmicrosoft.com).
    #[arg(long)]
    pub upn: Option<String>,
    #[arg(long, default_value = "")]
    pub given_name: String,
    #[arg(long, default_value = "")]
    pub surname: String,
    /// Default: the UPN.
    #[arg(long)]
    pub email: Option<String>,
    /// Group to join (repeatable), created when missing.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Assign to an API app: API/ROLE for an app role, API for default access (repeatable).
    #[arg(long = "assign", value_name = "API[/ROLE]")]
    pub assignments: Vec<String>,
    /// Tenant id or name (default: the default tenant).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserUpdateArgs {
    /// Object id, user name or UPN.
    pub user: String,
    #[arg(long, env = "FNGATE_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    #[arg(long = "assign", value_name = "API[/ROLE]")]
    pub assignments: Vec<String>,
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
    /// Register a certificate (PEM file) as a credential too (repeatable).
    #[arg(long = "certificate", value_name = "PEM")]
    pub certificates: Vec<PathBuf>,
    #[command(flatten)]
    pub redirects: RedirectArgs,
    /// allowPublicClient: device code and other public flows without a credential.
    #[arg(long)]
    pub public_client: bool,
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
    /// IdP base URL (http or https); default: the IdP of the server `--server` names, as its
    /// admin API reports it.
    #[arg(long, env = "FNGATE_IDP")]
    pub idp: Option<String>,
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
                assignment_required: args.assignment_required,
                optional_claims: args.optional_claims,
                group_claims: args.group_claims,
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
        IdpCommand::App(AppCommand::Update(args)) => {
            let changes = ApiSettings {
                assignment_required: args.assignment_required,
                optional_claims: if args.no_optional_claims {
                    Some(Vec::new())
                } else if args.optional_claims.is_empty() {
                    None
                } else {
                    Some(args.optional_claims)
                },
                group_claims: args.group_claims,
            };
            let client = AdminClient::new(global)?;
            let path = format!("/idp/apps/{}", segment(&args.app));
            let app: ApiAppInfo = client
                .json(client.request(Method::PATCH, &path)?.json(&changes))
                .await?;
            print_apps(format, std::slice::from_ref(&app));
            Ok(())
        }
        IdpCommand::Client(ClientCommand::Update(args)) => {
            let changes = ClientSettings {
                add_redirect_uris: args.redirects.uris(),
                remove_redirect_uris: args.remove_redirect_uris,
                public_client: args.public_client,
            };
            let client = AdminClient::new(global)?;
            let path = format!("/idp/clients/{}", segment(&args.client));
            let info: ClientAppInfo = client
                .json(client.request(Method::PATCH, &path)?.json(&changes))
                .await?;
            print_clients(format, std::slice::from_ref(&info));
            Ok(())
        }
        IdpCommand::Cert(command) => cert(command, global).await,
        IdpCommand::User(command) => user(command, global).await,
        IdpCommand::Client(ClientCommand::Create(args)) => {
            let certificates = args
                .certificates
                .iter()
                .map(|path| read_certificate(path, String::new()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let new = NewClientApp {
                name: args.name,
                tenant: args.tenant,
                grants: args.grants,
                secret: NewSecret {
                    description: args.secret_description,
                    expires_in_days: Some(args.secret_expires_days),
                },
                certificates,
                redirect_uris: args.redirects.uris(),
                public_client: args.public_client,
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
                    for cert in &created.client.certificates {
                        println!("certificate    {} (thumbprint {})", cert.id, cert.thumbprint);
                    }
                    for redirect in &created.client.redirect_uris {
                        println!("redirect uri   {} ({})", redirect.uri, redirect.platform);
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

fn read_certificate(path: &std::path::Path, description: String) -> anyhow::Result<NewCertificate> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the certificate", path.display()))?;
    Ok(NewCertificate { pem, description })
}

async fn cert(command: CertCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let format = global.output;
    let client = AdminClient::new(global)?;
    match command {
        CertCommand::Add {
            client: app,
            certificate,
            description,
        } => {
            let new = read_certificate(&certificate, description)?;
            let path = format!("/idp/clients/{}/certificates", segment(&app));
            let info: CertificateInfo = client
                .post(&path, &new)
                .await
                .with_context(|| format!("{}: not registered", certificate.display()))?;
            print_certificates(format, std::slice::from_ref(&info));
        }
        CertCommand::List { client: app } => {
            let certs: Vec<CertificateInfo> = client
                .get(&format!("/idp/clients/{}/certificates", segment(&app)))
                .await?;
            print_certificates(format, &certs);
        }
        CertCommand::Remove {
            client: app,
            certificate,
        } => {
            let path = format!("/idp/clients/{}/certificates/{}", segment(&app), segment(&certificate));
            client.delete(&path).await?;
            println!("removed certificate {certificate} of {app}");
        }
    }
    Ok(())
}

async fn user(command: UserCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let format = global.output;
    let client = AdminClient::new(global)?;
    match command {
        UserCommand::Create(args) => {
            let new = NewUser {
                user_name: args.user_name,
                password: args.password,
                tenant: args.tenant,
                upn: args.upn,
                display_name: args.display_name,
                given_name: args.given_name,
                surname: args.surname,
                email: args.email,
                groups: args.groups,
                assignments: args.assignments,
            };
            let created: CreatedUser = client.post("/idp/users", &new).await?;
            match format {
                OutputFormat::Json => print_json(&created),
                OutputFormat::Table => {
                    print_users(format, std::slice::from_ref(&created.user));
                    if let Some(password) = &created.password {
                        println!("password  {password}");
                        eprintln!("Save the password now: it is not shown again.");
                    }
                }
            }
        }
        UserCommand::List => {
            let users: Vec<UserInfo> = client.get("/idp/users").await?;
            print_users(format, &users);
        }
        UserCommand::Show { user } => {
            let info: UserInfo = client.get(&format!("/idp/users/{}", segment(&user))).await?;
            print_users(format, std::slice::from_ref(&info));
        }
        UserCommand::Update(args) => {
            let changes = UserChanges {
                password: args.password,
                add_groups: args.groups,
                add_assignments: args.assignments,
            };
            let path = format!("/idp/users/{}", segment(&args.user));
            let info: UserInfo = client
                .json(client.request(Method::PATCH, &path)?.json(&changes))
                .await?;
            print_users(format, std::slice::from_ref(&info));
        }
        UserCommand::Delete { user } => {
            client.delete(&format!("/idp/users/{}", segment(&user))).await?;
            println!("deleted user {user}");
        }
    }
    Ok(())
}

/// A path segment with the characters URLs reserve escaped (names may contain spaces, URIs ':').
fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

async fn token(args: TokenArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    // One question to the server answers both the tenant and where its IdP listens, so
    // `--server` alone is enough (and a token request never goes to another server's IdP).
    let overview = if args.tenant.is_none() || args.idp.is_none() {
        let overview: Overview = AdminClient::new(global)?
            .get("/idp")
            .await
            .context("cannot ask the server for its IdP address and default tenant (or pass --idp and --tenant)")?;
        Some(overview)
    } else {
        None
    };
    let idp = match (&args.idp, overview.as_ref().and_then(|o| o.idp_url.clone())) {
        (Some(idp), _) => idp.clone(),
        (None, Some(url)) => url,
        (None, None) => bail!(
            "the server at {} runs no identity provider (its admin API reports no IdP address); pass --idp",
            global.server
        ),
    };
    let base =
        url::Url::parse(&idp).with_context(|| format!("--idp {idp:?} is not a URL (expected e.g. {DEFAULT_IDP})"))?;
    let tenant = match args.tenant {
        Some(tenant) => tenant,
        None => overview
            .map(|o| o.default_tenant_id)
            .context("no default tenant (pass --tenant)")?,
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
    println!("\nUSERS");
    print_users(format, &overview.users);
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
            let redirects: Vec<String> = c
                .redirect_uris
                .iter()
                .map(|r| format!("{} ({})", r.uri, r.platform))
                .collect();
            vec![
                c.name.clone(),
                c.client_id.clone(),
                grants.join(","),
                format!("{live} valid / {}", c.secrets.len()),
                c.certificates.len().to_string(),
                redirects.join(","),
            ]
        })
        .collect();
    print_list(
        format,
        &clients,
        &[
            "name",
            "client id",
            "granted roles",
            "secrets",
            "certificates",
            "redirect uris",
        ],
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

fn print_certificates(format: OutputFormat, certs: &[CertificateInfo]) {
    let rows = certs
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.thumbprint.clone(),
                c.subject.clone(),
                c.not_after.clone(),
                if c.expired { "expired".into() } else { "valid".into() },
            ]
        })
        .collect();
    print_list(
        format,
        &certs,
        &["certificate id", "thumbprint (sha-1)", "subject", "expires", "state"],
        rows,
    );
}

fn print_users(format: OutputFormat, users: &[UserInfo]) {
    let rows = users
        .iter()
        .map(|u| {
            let groups: Vec<&str> = u.groups.iter().map(|g| g.name.as_str()).collect();
            vec![
                u.user_name.clone(),
                u.upn.clone(),
                u.display_name.clone(),
                u.object_id.clone(),
                groups.join(","),
                u.assignments.join(","),
            ]
        })
        .collect();
    print_list(
        format,
        &users,
        &["user", "upn", "name", "object id", "groups", "assignments"],
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
