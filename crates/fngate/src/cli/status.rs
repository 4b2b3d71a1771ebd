//! `fngate status`: what is running — listeners, deployments and their routes, functions with
//! live instance counts, identity-provider registrations.

use serde_json::{Value, json};

use super::GlobalArgs;
use super::client::AdminClient;
use super::output::{OutputFormat, print_json, print_list};

pub async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    let server: Value = client.get("/fngate/status").await?;
    let deployments: Value = client.get("/fngate/gateway/status").await?;
    let functions: Value = client.get("/fngate/functions/status").await?;
    let idp: Value = client.get("/idp").await?;
    if global.output == OutputFormat::Json {
        print_json(
            &json!({"server": server, "deployments": deployments, "functions": functions["items"],
            "sandbox": functions["sandbox"], "idp": idp}),
        );
        return Ok(());
    }

    println!(
        "fngate {} — data dir {}",
        text(&server["version"]),
        text(&server["data_dir"])
    );
    let listeners = server["listeners"].as_object().cloned().unwrap_or_default();
    let rows = listeners
        .iter()
        .map(|(name, url)| vec![name.clone(), text(url)])
        .collect();
    print_list(OutputFormat::Table, &listeners, &["listener", "address"], rows);

    println!("\nDeployments");
    let mut rows = Vec::new();
    for deployment in deployments.as_array().into_iter().flatten() {
        for route in deployment["routes"].as_array().into_iter().flatten() {
            let methods: Vec<String> = route["methods"].as_array().into_iter().flatten().map(text).collect();
            rows.push(vec![
                text(&deployment["name"]),
                format!("{}{}", text(&deployment["pathPrefix"]), text(&route["path"])),
                methods.join(","),
                text(&route["backend"]),
            ]);
        }
    }
    print_list(
        OutputFormat::Table,
        &deployments,
        &["deployment", "route", "methods", "backend"],
        rows,
    );

    println!("\nFunctions");
    let rows = functions["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            vec![
                text(&f["app"]),
                text(&f["fn"]),
                text(&f["version"]),
                text(&f["instances"]),
                text(&f["idle"]),
                text(&f["provisioned"]),
                text(&f["fn_id"]),
            ]
        })
        .collect();
    print_list(
        OutputFormat::Table,
        &functions,
        &["app", "function", "version", "instances", "idle", "provisioned", "id"],
        rows,
    );

    let sandbox = &functions["sandbox"];
    println!("\nFunction sandbox: {}", text(&sandbox["mode"]));
    for item in sandbox["enforced"].as_array().into_iter().flatten() {
        println!("  enforced      {}", text(item));
    }
    for item in sandbox["not_enforced"].as_array().into_iter().flatten() {
        println!("  NOT enforced  {}", text(item));
    }

    println!("\nIdentity provider (tenant {})", text(&idp["default_tenant_id"]));
    let mut rows: Vec<Vec<String>> = idp["api_apps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                "api".into(),
                text(&a["name"]),
                text(&a["client_id"]),
                text(&a["identifier_uri"]),
            ]
        })
        .collect();
    rows.extend(
        idp["clients"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| vec!["client".into(), text(&c["name"]), text(&c["client_id"]), String::new()]),
    );
    print_list(
        OutputFormat::Table,
        &idp,
        &["kind", "name", "client id", "identifier uri"],
        rows,
    );
    Ok(())
}

/// A JSON value as table text: strings bare, null empty.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
