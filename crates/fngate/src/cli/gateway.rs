//! `fngate gateway deploy | list | show | delete | validate`: API deployments (OCI API Gateway
//! specifications) on the running server's admin API; `validate` also works without a server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fngate_gateway::admin::{DeployRequest, DeploymentInfo, ValidateRequest};
use fngate_gateway::{Problem, ValidationReport};
use reqwest::{Method, StatusCode};

use super::GlobalArgs;
use super::client::AdminClient;
use super::output::{OutputFormat, print_json, print_list};

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Create or update a deployment from a specification file (JSON as `oci api-gateway
    /// deployment create --specification` takes it, or the same in YAML).
    Deploy(DeployArgs),
    /// List deployments.
    List,
    /// Show one deployment: prefix, routes and the specification as deployed.
    Show { name: String },
    /// Delete a deployment (its routes stop answering at once).
    Delete { name: String },
    /// Check a specification and print every problem with its JSON path (no server needed).
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Deployment name (letters, digits, '-', '_', '.').
    #[arg(long)]
    pub name: String,
    /// Path prefix the routes live under, e.g. /v1.
    #[arg(long)]
    pub path_prefix: String,
    /// Specification file (.json, or .yaml / .yml).
    #[arg(long)]
    pub spec: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Specification file (.json, or .yaml / .yml).
    #[arg(long)]
    pub spec: PathBuf,
    /// Also check this path prefix.
    #[arg(long)]
    pub path_prefix: Option<String>,
    /// Validate on the running server too: functions must exist, and every JWKS / discovery URI
    /// is fetched now, as the server would (its trusted CAs, redirect rules); a failure is an
    /// error at the URI's JSON path (e.g. requestPolicies.authentication.validationPolicy.uri).
    #[arg(long)]
    pub server_check: bool,
}

pub async fn run(command: GatewayCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    match command {
        GatewayCommand::Deploy(args) => deploy(args, global).await,
        GatewayCommand::List => list(global).await,
        GatewayCommand::Show { name } => show(&name, global).await,
        GatewayCommand::Delete { name } => {
            AdminClient::new(global)?.delete(&deployment_path(&name)).await?;
            println!("deleted deployment {name}");
            Ok(())
        }
        GatewayCommand::Validate(args) => validate(args, global).await,
    }
}

fn deployment_path(name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/fngate/gateway/deployments/{encoded}")
}

fn read_spec(path: &Path) -> anyhow::Result<(String, &'static str)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read specification {}", path.display()))?;
    let format = fngate_gateway::format_name(fngate_spec::SpecFormat::from_path(&path.to_string_lossy()));
    Ok((text, format))
}

/// Prints problems as `file: path: message`, errors first.
fn print_problems(file: &Path, errors: &[Problem], warnings: &[Problem]) {
    for e in errors {
        eprintln!("{}: error: {}: {}", file.display(), e.path, e.message);
    }
    for w in warnings {
        eprintln!("{}: warning: {}: {}", file.display(), w.path, w.message);
    }
}

async fn deploy(args: DeployArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let (text, format) = read_spec(&args.spec)?;
    let client = AdminClient::new(global)?;
    let body = DeployRequest {
        path_prefix: args.path_prefix.clone(),
        format: Some(format.to_string()),
        specification: serde_json::Value::String(text),
    };
    let response = client
        .send(client.request(Method::PUT, &deployment_path(&args.name))?.json(&body))
        .await?;
    let status = response.status();
    if status == StatusCode::BAD_REQUEST {
        let value: serde_json::Value = response
            .json()
            .await
            .context("server sent an answer that is not JSON")?;
        let errors: Vec<Problem> = serde_json::from_value(value["errors"].clone()).unwrap_or_default();
        let warnings: Vec<Problem> = serde_json::from_value(value["warnings"].clone()).unwrap_or_default();
        print_problems(&args.spec, &errors, &warnings);
        bail!(
            "deployment {} not changed: {}",
            args.name,
            value["message"].as_str().unwrap_or("the specification is invalid")
        );
    }
    let response = super::client::check(response).await?;
    let info: DeploymentInfo = response
        .json()
        .await
        .context("server sent an answer that is not the expected JSON")?;
    print_problems(&args.spec, &[], &info.warnings);
    if global.output == OutputFormat::Json {
        print_json(&info);
        return Ok(());
    }
    let verb = if status == StatusCode::CREATED {
        "created"
    } else {
        "updated"
    };
    println!(
        "{verb} deployment {} at {} ({} routes)",
        info.name,
        info.path_prefix,
        info.routes.len()
    );
    print_routes(&info);
    Ok(())
}

fn print_routes(info: &DeploymentInfo) {
    let prefix = info.path_prefix.trim_end_matches('/');
    for route in &info.routes {
        println!(
            "  {:<20} {}{}  -> {}",
            route.methods.join(","),
            prefix,
            route.path,
            route.backend
        );
    }
}

async fn list(global: &GlobalArgs) -> anyhow::Result<()> {
    let all: Vec<DeploymentInfo> = AdminClient::new(global)?.get("/fngate/gateway/deployments").await?;
    let rows = all
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.path_prefix.clone(),
                d.routes.len().to_string(),
                if d.serving {
                    "serving".into()
                } else {
                    "NOT LOADED (see server log)".into()
                },
                d.updated_at.clone(),
            ]
        })
        .collect();
    print_list(
        global.output,
        &all,
        &["name", "path prefix", "routes", "state", "updated"],
        rows,
    );
    Ok(())
}

async fn show(name: &str, global: &GlobalArgs) -> anyhow::Result<()> {
    let info: DeploymentInfo = AdminClient::new(global)?.get(&deployment_path(name)).await?;
    if global.output == OutputFormat::Json {
        print_json(&info);
        return Ok(());
    }
    println!("name         {}", info.name);
    println!("path prefix  {}", info.path_prefix);
    println!(
        "state        {}",
        if info.serving {
            "serving"
        } else {
            "not loaded (see server log)"
        }
    );
    println!("updated      {}", info.updated_at);
    println!("routes");
    print_routes(&info);
    println!("specification ({})", info.format);
    println!("{}", info.specification.unwrap_or_default());
    Ok(())
}

async fn validate(args: ValidateArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let (text, format) = read_spec(&args.spec)?;
    let report: ValidationReport = if args.server_check {
        let body = ValidateRequest {
            path_prefix: args.path_prefix.clone(),
            format: Some(format.to_string()),
            specification: serde_json::Value::String(text),
        };
        AdminClient::new(global)?
            .post("/fngate/gateway/validate", &body)
            .await?
    } else {
        fngate_gateway::validate_offline(args.path_prefix.as_deref(), fngate_gateway::format_of(format), &text).await
    };
    if global.output == OutputFormat::Json {
        print_json(&report);
    } else {
        print_problems(&args.spec, &report.errors, &report.warnings);
    }
    if !report.valid {
        bail!("{}: {} error(s)", args.spec.display(), report.errors.len());
    }
    if global.output != OutputFormat::Json {
        println!("{}: valid ({} warning(s))", args.spec.display(), report.warnings.len());
    }
    Ok(())
}
