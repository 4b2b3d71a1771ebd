//! `fngate oci api-key add | list | remove` and `fngate oci config`: the API keys the `oci` CLI
//! and the OCI SDKs sign with, registered through the admin API, and the `~/.oci/config` profile
//! and `--endpoint` that point them at fngate.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fngate_oci::admin::{AddKeyRequest, KeyInfo, OciInfo};
use serde_json::{Value, json};

use super::GlobalArgs;
use super::client::AdminClient;
use super::output::{OutputFormat, print_json, print_list};

/// A region name for `~/.oci/config`: the SDKs require one; with fngate's endpoint it only
/// appears in the config (fngate has one region).
const REGION: &str = "us-ashburn-1";

#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// API signing keys (the public half of `oci setup keys`' key pair).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print a ready `~/.oci/config` profile for a registered key, and the `--endpoint` value
    /// to pass to `oci fn ...` and `oci api-gateway ...` (and to the SDKs as their endpoint).
    Config(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Register a public key for a user; prints the tenancy, user and fingerprint for
    /// `~/.oci/config`.
    Add(AddArgs),
    /// List registered keys.
    List,
    /// Remove a key: requests signed with it get 401 NotAuthenticated from then on.
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user OCID the key belongs to (any ocid1.user.… string; fngate has no IAM users).
    #[arg(long)]
    pub user: String,
    /// PEM public key file (`oci_api_key_public.pem`; make a pair with `oci setup keys` or
    /// `openssl genrsa -out key.pem 2048 && openssl rsa -pubout -in key.pem`).
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[arg(long)]
    pub user: String,
    /// The key's fingerprint (aa:bb:…), as `fngate oci api-key list` shows it.
    #[arg(long)]
    pub fingerprint: String,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The key's user (default: the only registered key's).
    #[arg(long)]
    pub user: Option<String>,
    /// The key's fingerprint (default: the only key of that user).
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Where the private key is, for the profile's key_file.
    #[arg(long, default_value = "~/.oci/oci_api_key.pem")]
    pub key_file: String,
    /// Profile name.
    #[arg(long, default_value = "DEFAULT")]
    pub profile: String,
}

pub async fn run(command: OciCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    match command {
        OciCommand::ApiKey(ApiKeyCommand::Add(args)) => add(&client, args, global.output).await,
        OciCommand::ApiKey(ApiKeyCommand::List) => {
            let keys: Vec<KeyInfo> = client.get("/fngate/oci/keys").await?;
            let rows = keys
                .iter()
                .map(|k| vec![k.user.clone(), k.fingerprint.clone(), k.created_at.clone()])
                .collect();
            print_list(global.output, &keys, &["user", "fingerprint", "created"], rows);
            Ok(())
        }
        OciCommand::ApiKey(ApiKeyCommand::Remove(args)) => {
            let path = format!("/fngate/oci/keys/{}/{}", encode(&args.user), encode(&args.fingerprint));
            client.delete(&path).await?;
            println!("removed API key {} of {}", args.fingerprint, args.user);
            Ok(())
        }
        OciCommand::Config(args) => config(&client, args, global.output).await,
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

async fn add(client: &AdminClient, args: AddArgs, output: OutputFormat) -> anyhow::Result<()> {
    let pem = std::fs::read_to_string(&args.public_key)
        .with_context(|| format!("cannot read public key {}", args.public_key.display()))?;
    let request = AddKeyRequest {
        user: args.user,
        public_key_pem: pem,
    };
    let key: KeyInfo = client
        .post("/fngate/oci/keys", &request)
        .await
        .with_context(|| format!("--public-key {}", args.public_key.display()))?;
    if output == OutputFormat::Json {
        print_json(&key);
        return Ok(());
    }
    println!("Registered API key {}", key.fingerprint);
    println!("  tenancy      {}", key.tenancy);
    println!("  user         {}", key.user);
    println!("  fingerprint  {}", key.fingerprint);
    println!("Put these in ~/.oci/config (or run `fngate oci config`).");
    Ok(())
}

async fn config(client: &AdminClient, args: ConfigArgs, output: OutputFormat) -> anyhow::Result<()> {
    let keys: Vec<KeyInfo> = client.get("/fngate/oci/keys").await?;
    let info: OciInfo = client.get("/fngate/oci").await?;
    let status: Value = client.get("/fngate/status").await?;
    let endpoint = status["listeners"]["oci"]
        .as_str()
        .context("the server lists no oci listener (is it an older fngate?)")?
        .to_string();
    let matching: Vec<&KeyInfo> = keys
        .iter()
        .filter(|k| args.user.as_deref().is_none_or(|u| u == k.user))
        .filter(|k| args.fingerprint.as_deref().is_none_or(|f| f == k.fingerprint))
        .collect();
    let key = match matching.as_slice() {
        [one] => *one,
        [] if keys.is_empty() => bail!(
            "no API key is registered; register one with `fngate oci api-key add --user <ocid> --public-key <file>`"
        ),
        [] => bail!("no registered API key matches --user/--fingerprint (see `fngate oci api-key list`)"),
        _ => bail!(
            "{} API keys match; pick one with --user and --fingerprint (see `fngate oci api-key list`)",
            matching.len()
        ),
    };
    if output == OutputFormat::Json {
        print_json(&json!({
            "profile": args.profile,
            "user": key.user,
            "fingerprint": key.fingerprint,
            "tenancy": info.tenancy,
            "region": REGION,
            "key_file": args.key_file,
            "endpoint": endpoint,
        }));
        return Ok(());
    }
    println!("[{}]", args.profile);
    println!("user={}", key.user);
    println!("fingerprint={}", key.fingerprint);
    println!("tenancy={}", info.tenancy);
    println!("region={REGION}");
    println!("key_file={}", args.key_file);
    println!();
    println!("# fngate serves every OCI API on one endpoint; pass it to each command:");
    println!("#   oci fn ... --endpoint {endpoint}");
    println!("#   oci api-gateway ... --endpoint {endpoint}");
    println!("# SDKs: service_endpoint=\"{endpoint}\" (Python), client.endpoint = \"{endpoint}\" (TypeScript)");
    Ok(())
}
