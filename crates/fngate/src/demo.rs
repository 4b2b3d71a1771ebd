//! `fngate up --demo`: sets up the walkthrough (idempotently) on the running stack and prints
//! the commands to try it.
//!
//! Everything goes through the components' own management paths — the function as the bundle
//! `fngate deploy` uploads, through the same deploy steps (in-process), registrations through
//! the IdP, the deployment through the gateway — so the demo exercises what a user would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use fngate_functions::bundle::{IgnoreRules, Limits, pack_dir as pack_dir_bundle};
use fngate_functions::deploy::{DeployEvent, DeployRequest, deploy_bundle};
use fngate_functions::lang::{Lang, init_files};
use fngate_idp::api::{NewApiApp, NewClientApp, NewSecret};
use fngate_invoke::FunctionInvoker;
use fngate_spec::SpecFormat;

pub const APP: &str = "myapp";
pub const FUNCTION: &str = "python-func";
pub const API_APP: &str = "my-oci-api";
pub const API_IDENTIFIER: &str = "api://my-oci-api";
pub const API_SCOPE: &str = "access_as_user";
pub const API_ROLE: &str = "Api.Read";
pub const CLIENT_APP: &str = "demo-client";
pub const DEPLOYMENT: &str = "demo";
pub const PATH_PREFIX: &str = "/v1";

/// What the demo needs from the running stack.
pub struct DemoContext<'a> {
    pub data_dir: &'a Path,
    pub runtime: &'a Arc<fngate_functions::Runtime>,
    pub gateway: &'a Arc<fngate_gateway::Gateway>,
    pub idp: &'a Arc<fngate_idp::Idp>,
    pub gateway_url: String,
    pub idp_addr: SocketAddr,
}

pub async fn set_up(ctx: DemoContext<'_>) -> anyhow::Result<()> {
    println!("demo: setting up the walkthrough");
    ensure_function(&ctx).await?;

    let api = ctx
        .idp
        .ensure_api_app(NewApiApp {
            name: API_APP.into(),
            identifier_uri: Some(API_IDENTIFIER.into()),
            scopes: vec![API_SCOPE.into()],
            app_roles: vec![API_ROLE.into()],
            ..Default::default()
        })
        .await
        .context("demo: cannot register the API app")?;
    let (client, created) = ctx
        .idp
        .ensure_client_app(NewClientApp {
            name: CLIENT_APP.into(),
            grants: vec![format!("{API_APP}/{API_ROLE}")],
            ..Default::default()
        })
        .await
        .context("demo: cannot register the client app")?;
    // Secrets are stored only as hashes, so a restarted demo cannot show the old one: it
    // replaces the demo client's secrets with a fresh one and prints that.
    let secret = match created {
        Some(secret) => secret.value,
        None => {
            for old in &client.secrets {
                ctx.idp.remove_secret(&client.client_id, &old.id).await?;
            }
            let new = NewSecret {
                description: "fngate up --demo".into(),
                ..Default::default()
            };
            ctx.idp.add_secret(&client.client_id, new, None).await?.value
        }
    };

    let tenant = ctx.idp.default_tenant_id();
    let idp_base = format!("http://{}", loopback(ctx.idp_addr));
    let spec = serde_json::json!({
        "requestPolicies": {
            "authentication": {
                "type": "TOKEN_AUTHENTICATION",
                "tokenHeader": "Authorization",
                "tokenAuthScheme": "Bearer",
                "isAnonymousAccessAllowed": false,
                "maxClockSkewInSeconds": 0,
                "validationPolicy": {
                    "type": "REMOTE_JWKS",
                    "uri": fngate_idp::keys_url(&idp_base, &tenant),
                    "isSslVerifyDisabled": false,
                    "maxCacheDurationInHours": 1,
                    "additionalValidationPolicy": {
                        "issuers": [fngate_idp::issuer_v1(&tenant)],
                        "audiences": [api.identifier_uri],
                    }
                }
            }
        },
        "routes": [{
            "path": format!("/{FUNCTION}"),
            "methods": ["GET"],
            "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": format!("{APP}/{FUNCTION}")}
        }]
    });
    let text = serde_json::to_string_pretty(&spec)?;
    if let Err(err) = ctx
        .gateway
        .deploy(DEPLOYMENT, PATH_PREFIX, SpecFormat::Json, &text)
        .await
    {
        bail!("demo: cannot create the deployment: {err}");
    }

    let token_url = fngate_idp::token_url(&idp_base, &tenant);
    let api_url = format!("{}{PATH_PREFIX}/{FUNCTION}", ctx.gateway_url);
    println!(
        "\
demo: ready
  function    {APP}/{FUNCTION}            fngate invoke {APP} {FUNCTION}
  API app     {API_APP} ({API_IDENTIFIER}, scope {API_SCOPE}, app role {API_ROLE})
  client      {CLIENT_APP} client_id={client_id}
              client_secret={secret}   (new on every --demo start; only its hash is stored)
  deployment  {DEPLOYMENT}: GET {PATH_PREFIX}/{FUNCTION}, JWT required (REMOTE_JWKS on the dev IdP)

Try it:
  # without a token: 401 Unauthorized with WWW-Authenticate: Bearer realm=...
  curl -i {api_url}

  # a token by client credentials (the same form post as Entra ID)
  TOKEN=$(curl -s -X POST {token_url} \\
    -d grant_type=client_credentials -d client_id={client_id} \\
    --data-urlencode 'client_secret={secret}' -d scope={API_IDENTIFIER}/.default \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')

  # with the token: 200 {{\"message\": \"Hello World\"}}
  curl -H \"Authorization: Bearer $TOKEN\" {api_url}
",
        client_id = client.client_id,
    );
    Ok(())
}

/// Writes `fn init --runtime python python-func` output under the data dir and deploys it,
/// unless the function is already deployed.
async fn ensure_function(ctx: &DemoContext<'_>) -> anyhow::Result<()> {
    if ctx.runtime.resolve(&format!("{APP}/{FUNCTION}")).is_some() {
        println!("demo: {APP}/{FUNCTION} is already deployed");
        return Ok(());
    }
    let dir = ctx.data_dir.join("demo").join(FUNCTION);
    if !dir.join("func.yaml").is_file() {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, contents) in init_files(Lang::Python, FUNCTION, false, None) {
            let path = dir.join(name);
            std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    println!(
        "demo: deploying {APP}/{FUNCTION} from {} (first time: pip install fdk)",
        dir.display()
    );
    let request = DeployRequest {
        app: APP.into(),
        create_app: true,
        version: None,
    };
    // The bundle `fngate deploy` would upload, deployed in-process (same steps as the upload).
    let pack_dir = dir.clone();
    let packed = tokio::task::spawn_blocking(move || {
        let rules = IgnoreRules::load(&pack_dir)?;
        Ok::<_, anyhow::Error>(pack_dir_bundle(&pack_dir, &rules, &Limits::default())?)
    })
    .await
    .context("demo: packing the function")??;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeployEvent>();
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                DeployEvent::Step(step) => println!("demo:   {step}"),
                DeployEvent::Warning(warning) => println!("demo:   warning: {warning}"),
                DeployEvent::Error(_) | DeployEvent::Done(_) => {}
            }
        }
    });
    let result = deploy_bundle(ctx.runtime, &request, packed.bytes, &tx).await;
    drop(tx);
    let _ = printer.await;
    match result {
        Ok(_) => Ok(()),
        Err(message) => bail!("demo: deploying {FUNCTION} failed: {message}"),
    }
}

/// The address clients on this machine use: a wildcard bind is reached through loopback.
pub fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], v4.port())),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v6.port())),
        other => other,
    }
}
