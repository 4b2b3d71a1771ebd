//! The real OCI clients against the real `fngate up`: the `oci` CLI (PyPI `oci-cli`), the OCI
//! Python SDK (`oci`) and the OCI TypeScript SDK (`oci-functions` from npm), signing with a key
//! the test makes and registers with `fngate oci api-key add`. The Python hello function is
//! deployed with `fngate deploy`, as in the walkthrough.

mod oci_support;
mod support;

use std::path::Path;
use std::process::Command;

use oci_support::{OciEnv, oci, oci_json, register};
use serde_json::{Value, json};
use support::{Server, test_tools};

/// `fngate deploy` of the `fngate init` Python function into app `myapp`; returns its image.
fn deploy_hello(server: &Server, dir: &Path) -> String {
    let function = support::init(server, dir, "python", "python-func", false);
    let out = server.cli_ok(&function, &["deploy", "--app", "myapp", "--create-app"], None);
    let image = out
        .split_once("Successfully deployed python-func (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(image, _)| image.to_string())
        .unwrap_or_else(|| panic!("fngate deploy prints the image: {out}"));
    assert!(image.starts_with("python-func:"), "{image}");
    image
}

/// Registers the API and a client with the dev IdP; returns (tenant, client id, secret).
fn register_identities(server: &Server, dir: &Path) -> (String, String, String) {
    server.cli_ok(
        dir,
        &[
            "idp",
            "app",
            "create",
            "my-oci-api",
            "--identifier-uri",
            "api://my-oci-api",
            "--role",
            "Api.Read",
        ],
        None,
    );
    let created: Value = serde_json::from_str(&server.cli_ok(
        dir,
        &[
            "idp",
            "client",
            "create",
            "my-client",
            "--grant",
            "my-oci-api/Api.Read",
            "--output",
            "json",
        ],
        None,
    ))
    .unwrap();
    let overview: Value =
        serde_json::from_str(&server.cli_ok(dir, &["idp", "list", "--output", "json"], None)).unwrap();
    (
        overview["default_tenant_id"].as_str().unwrap().to_string(),
        created["client"]["client_id"].as_str().unwrap().to_string(),
        created["secret"]["value"].as_str().unwrap().to_string(),
    )
}

/// examples/seed-deployment.token-auth.json with its placeholders filled (as the walkthrough
/// does), the function named by its OCI OCID as an OCI user would.
fn seed_spec(server: &Server, tenant: &str, function_ocid: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-deployment.token-auth.json");
    std::fs::read_to_string(path)
        .unwrap()
        .replace(
            "https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys",
            &server.idp(&format!("/{tenant}/discovery/v2.0/keys")),
        )
        .replace("<tenant-id>", tenant)
        .replace("api://<oci-app-client-id>", "api://my-oci-api")
        .replace("<function-id>", function_ocid)
}

async fn token(server: &Server, tenant: &str, client: &str, secret: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(server.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", "api://my-oci-api/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn python_sdk(env: &OciEnv, app: &str, function: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci/sdk.py");
    let out = Command::new(test_tools().join("venv/bin/python"))
        .arg(script)
        .arg(&env.config)
        .args([&env.endpoint, app, function])
        .env("HOME", &env.dir)
        .env("SUPPRESS_LABEL_WARNING", "True")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdk.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn typescript_sdk(env: &OciEnv, function: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci/invoke.js");
    let modules = test_tools().join("node/node_modules");
    assert!(
        modules.join("oci-functions").is_dir(),
        "oci-functions is missing from {} — run scripts/test.sh",
        modules.display()
    );
    let out = Command::new("node")
        .arg(script)
        .args([&env.tenancy, &env.user, &env.fingerprint])
        .arg(&env.key_file)
        .args([&env.endpoint, function])
        .env("NODE_PATH", modules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "invoke.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_oci_cli_and_sdks_manage_and_invoke_fngate() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let image = deploy_hello(&server, dir.path());
    let env = register(&server, dir.path(), "ocid1.user.fngate..ci");
    let tenancy = env.tenancy.clone();

    // Applications.
    let created = oci_json(
        &env,
        &[
            "fn",
            "application",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "ociapp",
            "--subnet-ids",
            "[]",
        ],
    );
    let app = created["data"]["id"].as_str().unwrap().to_string();
    assert!(app.starts_with("ocid1.fnapp.fngate.."), "{created}");
    assert_eq!(created["data"]["lifecycle-state"], "ACTIVE");
    oci_json(
        &env,
        &[
            "fn",
            "application",
            "update",
            "--application-id",
            &app,
            "--config",
            r#"{"GREETING":"hi"}"#,
            "--force",
        ],
    );
    let got = oci_json(&env, &["fn", "application", "get", "--application-id", &app]);
    assert_eq!(got["data"]["config"], json!({"GREETING": "hi"}));
    let listed = oci_json(
        &env,
        &[
            "fn",
            "application",
            "list",
            "--compartment-id",
            &tenancy,
            "--all",
            "--page-size",
            "1",
        ],
    );
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["display-name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["myapp", "ociapp"],
        "--all follows opc-next-page across pages of one"
    );

    // Functions: an image fngate deploy made, under the OCI application.
    let created = oci_json(
        &env,
        &[
            "fn",
            "function",
            "create",
            "container-function",
            "--application-id",
            &app,
            "--display-name",
            "hello",
            "--image",
            &image,
            "--memory-in-mbs",
            "256",
        ],
    );
    let function = created["data"]["id"].as_str().unwrap().to_string();
    let digest = created["data"]["source-details"]["image-digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{created}");
    assert_eq!(created["data"]["invoke-endpoint"], env.endpoint.as_str());
    oci_json(
        &env,
        &[
            "fn",
            "function",
            "update",
            "container-function",
            "--function-id",
            &function,
            "--memory-in-mbs",
            "512",
            "--force",
        ],
    );
    let got = oci_json(&env, &["fn", "function", "get", "--function-id", &function]);
    assert_eq!(got["data"]["memory-in-mbs"], 512);
    let listed = oci_json(&env, &["fn", "function", "list", "--application-id", &app]);
    assert_eq!(listed["data"][0]["display-name"], "hello");
    // One store, two views: the Fn API sees the same function.
    let fn_view = server.cli_ok(dir.path(), &["list", "fns", "ociapp"], None);
    assert!(fn_view.contains("hello") && fn_view.contains(&image), "{fn_view}");

    let out = oci(
        &env,
        &[
            "fn",
            "function",
            "invoke",
            "--function-id",
            &function,
            "--file",
            "-",
            "--body",
            r#"{"name":"CLI"}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"message": "Hello CLI"}"#
    );

    // The Python SDK: management, invoke sync and detached, API Gateway, paging.
    let sdk = python_sdk(&env, &app, &function);
    assert_eq!(sdk["apps"], json!(["myapp", "ociapp"]), "{sdk}");
    assert_eq!(sdk["function"]["memory"], 512);
    assert_eq!(sdk["function"]["digest"], digest.as_str());
    assert_eq!(sdk["sync"]["status"], 200);
    assert_eq!(sdk["sync"]["body"], r#"{"message": "Hello SDK"}"#);
    assert!(sdk["sync"]["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(sdk["detached"], 202);
    assert_eq!(
        sdk["gateway"]["hostname"],
        server.gateway("").trim_start_matches("http://")
    );
    assert_eq!(sdk["gateway_work"], "SUCCEEDED");
    assert_eq!(sdk["deployment"]["endpoint"], server.gateway("/sdk1").as_str());
    assert_eq!(sdk["deployment"]["routes"], json!(["/hello"]));
    assert_eq!(
        sdk["listed"],
        json!(["sdk1", "sdk2", "sdk3"]),
        "list_call_get_all_results with limit=1"
    );
    assert_eq!(sdk["deleted_work"], json!(["SUCCEEDED", "SUCCEEDED"]));
    assert_eq!(
        get(&server.gateway("/sdk1/hello"), None).await,
        (200, "stock".to_string())
    );
    assert_eq!(
        get(&server.gateway("/sdk2/hello"), None).await.0,
        404,
        "deleted through the SDK"
    );

    // The TypeScript SDK (20181201, x-date).
    let ts = typescript_sdk(&env, &function);
    assert_eq!(ts["body"], r#"{"message": "Hello TS"}"#, "{ts}");

    // API Gateway through the CLI: the seed's JWT-protected spec, waited for.
    let gateway = oci_json(
        &env,
        &[
            "api-gateway",
            "gateway",
            "create",
            "--compartment-id",
            &tenancy,
            "--endpoint-type",
            "PUBLIC",
            "--subnet-id",
            "ocid1.subnet.fngate..none",
            "--display-name",
            "cli-gw",
            "--wait-for-state",
            "SUCCEEDED",
        ],
    );
    assert_eq!(gateway["data"]["status"], "SUCCEEDED", "{gateway}");
    let gateway_id = gateway["data"]["resources"][0]["identifier"]
        .as_str()
        .unwrap()
        .to_string();
    let (tenant, client, secret) = register_identities(&server, dir.path());
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, seed_spec(&server, &tenant, &function)).unwrap();
    let spec_arg = format!("file://{}", spec.display());
    let deployed = oci_json(
        &env,
        &[
            "api-gateway",
            "deployment",
            "create",
            "--gateway-id",
            &gateway_id,
            "--compartment-id",
            &tenancy,
            "--path-prefix",
            "/v1",
            "--display-name",
            "walkthrough",
            "--specification",
            &spec_arg,
            "--wait-for-state",
            "SUCCEEDED",
        ],
    );
    assert_eq!(deployed["data"]["status"], "SUCCEEDED", "{deployed}");
    let deployment = deployed["data"]["resources"][0]["identifier"]
        .as_str()
        .unwrap()
        .to_string();
    let got = oci_json(
        &env,
        &["api-gateway", "deployment", "get", "--deployment-id", &deployment],
    );
    assert_eq!(got["data"]["lifecycle-state"], "ACTIVE");
    assert_eq!(got["data"]["endpoint"], server.gateway("/v1").as_str());
    assert_eq!(
        get(&server.gateway("/v1/python-func"), None).await.0,
        401,
        "the JWT is required"
    );
    let jwt = token(&server, &tenant, &client, &secret).await;
    let (status, body) = get(&server.gateway("/v1/python-func"), Some(&jwt)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"message": "Hello World"}"#));
    // The same deployment as `fngate gateway` sees it.
    let listed = server.cli_ok(dir.path(), &["gateway", "list"], None);
    assert!(listed.contains("/v1"), "{listed}");

    // Update: the route moves; delete: it is gone.
    std::fs::write(
        &spec,
        seed_spec(&server, &tenant, &function).replace("\"/python-func\"", "\"/hello\""),
    )
    .unwrap();
    let updated = oci_json(
        &env,
        &[
            "api-gateway",
            "deployment",
            "update",
            "--deployment-id",
            &deployment,
            "--specification",
            &spec_arg,
            "--force",
            "--wait-for-state",
            "SUCCEEDED",
        ],
    );
    assert_eq!(updated["data"]["operation-type"], "UPDATE_DEPLOYMENT", "{updated}");
    assert_eq!(get(&server.gateway("/v1/hello"), Some(&jwt)).await.0, 200);
    assert_eq!(get(&server.gateway("/v1/python-func"), Some(&jwt)).await.0, 404);
    let listed = oci_json(
        &env,
        &[
            "api-gateway",
            "deployment",
            "list",
            "--compartment-id",
            &tenancy,
            "--all",
            "--page-size",
            "1",
        ],
    );
    assert_eq!(listed["data"]["items"].as_array().map(Vec::len), Some(2), "{listed}");
    oci_json(
        &env,
        &[
            "api-gateway",
            "deployment",
            "delete",
            "--deployment-id",
            &deployment,
            "--force",
            "--wait-for-state",
            "SUCCEEDED",
        ],
    );
    assert_eq!(get(&server.gateway("/v1/hello"), Some(&jwt)).await.0, 404);

    // Deleting: function, then application; a deleted one is OCI's 404.
    oci_json(
        &env,
        &["fn", "function", "delete", "--function-id", &function, "--force"],
    );
    oci_json(
        &env,
        &["fn", "application", "delete", "--application-id", &app, "--force"],
    );
    let out = oci(&env, &["fn", "application", "get", "--application-id", &app]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("NotAuthorizedOrNotFound"),
        "{}",
        stderr_of(&out)
    );
}
