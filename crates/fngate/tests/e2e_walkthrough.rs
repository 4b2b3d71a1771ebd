//! The walkthrough end to end, with real processes: the built `fngate` binary, the real `fdk`
//! from PyPI, real sockets, a real SQLite store — restarted, and stopped under load.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BIN, Ports, Server, ServerOptions, fngate_up_on_free_ports};

/// `fngate up` on `data` at fixed `ports`, so a restarted server keeps its addresses.
fn up(data: &Path, ports: Ports, args: &[&str]) -> Server {
    Server::start_with(ServerOptions {
        ports: Some(ports),
        data: Some(data.to_path_buf()),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        ..ServerOptions::default()
    })
}

/// Registers the API and a client with the dev IdP through the CLI, as the README's
/// walkthrough does; returns (tenant, client id, secret).
fn register_identities(stack: &Server, dir: &Path) -> (String, String, String) {
    stack.cli_ok(
        dir,
        &[
            "idp",
            "app",
            "create",
            "my-oci-api",
            "--identifier-uri",
            "api://my-oci-api",
            "--scope",
            "access_as_user",
            "--role",
            "Api.Read",
        ],
        None,
    );
    stack.cli_ok(
        dir,
        &[
            "idp",
            "app",
            "create",
            "other-api",
            "--identifier-uri",
            "api://other-api",
            "--role",
            "Api.Read",
        ],
        None,
    );
    let created: Value = serde_json::from_str(&stack.cli_ok(
        dir,
        &[
            "idp",
            "client",
            "create",
            "my-client",
            "--grant",
            "my-oci-api/Api.Read",
            "--grant",
            "other-api/Api.Read",
            "--output",
            "json",
        ],
        None,
    ))
    .expect("client create --output json prints JSON");
    let overview: Value = serde_json::from_str(&stack.cli_ok(dir, &["idp", "list", "--output", "json"], None))
        .expect("idp list --output json");
    (
        overview["default_tenant_id"].as_str().expect("tenant id").to_string(),
        created["client"]["client_id"].as_str().expect("client id").to_string(),
        created["secret"]["value"].as_str().expect("secret value").to_string(),
    )
}

/// `gateway validate --server-check` resolves `functionId` against the running functions: the
/// deployed function passes; a misspelt one is an error naming its JSON path, which the offline
/// check (no server) cannot see.
fn validate_against_live_functions(stack: &Server, dir: &Path, spec: &Path) {
    let spec_arg = spec.to_str().unwrap();
    let out = stack.cli_ok(
        dir,
        &["gateway", "validate", "--server-check", "--spec", spec_arg],
        None,
    );
    assert!(out.contains("valid"), "{out}");

    let misspelt = dir.join("misspelt.json");
    let text = std::fs::read_to_string(spec).unwrap();
    assert!(
        text.contains("myapp/python-func"),
        "the seed spec names the function: {text}"
    );
    std::fs::write(&misspelt, text.replace("myapp/python-func", "myapp/pyhton-func")).unwrap();
    let misspelt_arg = misspelt.to_str().unwrap();
    let live = stack.cli(
        dir,
        &["gateway", "validate", "--server-check", "--spec", misspelt_arg],
        None,
    );
    let stderr = String::from_utf8_lossy(&live.stderr);
    assert!(
        !live.status.success(),
        "an unknown function must fail validation: {stderr}"
    );
    assert!(
        stderr.contains("backend.functionId") && stderr.contains("pyhton-func"),
        "the error names the field and the function: {stderr}"
    );
    let offline = stack.cli_ok(dir, &["gateway", "validate", "--spec", misspelt_arg], None);
    assert!(
        offline.contains("valid"),
        "offline validation cannot know the functions: {offline}"
    );
}

/// The walkthrough's form post to the token endpoint.
async fn client_credentials(
    stack: &Server,
    http: &reqwest::Client,
    tenant: &str,
    client: &str,
    secret: &str,
    scope: &str,
) -> String {
    let response = http
        .post(stack.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_string()
}

/// Writes a specification to `dir/<name>.json` for the CLI.
fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `fngate gateway deploy` of `spec` as deployment `name` on `prefix`.
fn deploy(stack: &Server, dir: &Path, name: &str, prefix: &str, spec: &Path) {
    let spec = spec.to_str().unwrap();
    let args = [
        "gateway",
        "deploy",
        "--name",
        name,
        "--path-prefix",
        prefix,
        "--spec",
        spec,
    ];
    stack.cli_ok(dir, &args, None);
}

/// The seed example with its placeholders filled for the dev IdP and the deployed function.
fn seed_spec(example: &str, stack: &Server, tenant: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    text.replace(
        "https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys",
        &stack.idp(&format!("/{tenant}/discovery/v2.0/keys")),
    )
    .replace("<tenant-id>", tenant)
    .replace("api://<oci-app-client-id>", "api://my-oci-api")
    .replace("<function-id>", "myapp/python-func")
}

async fn call(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn hello(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walkthrough_end_to_end_survives_restart_and_drains_on_sigterm() {
    let tmp = tempfile::Builder::new().prefix("fng-e2e").tempdir().unwrap();
    let data = tmp.path().join("data");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let http = reqwest::Client::new();
    let mut stack = up(&data, Ports::free(), &[]);

    // Create the function, deploy, invoke.
    stack.cli_ok(&work, &["init", "--runtime", "python", "python-func"], None);
    let func_dir = work.join("python-func");
    for file in ["func.yaml", "func.py", "requirements.txt"] {
        assert!(func_dir.join(file).is_file(), "fngate init wrote no {file}");
    }
    stack.cli_ok(&func_dir, &["deploy", "--app", "myapp", "--create-app"], None);
    let out = stack.cli_ok(&func_dir, &["invoke", "myapp", "python-func"], None);
    assert_eq!(hello(&out), json!({"message": "Hello World"}));

    // Identities and the deployment from the seed example.
    let (tenant, client, secret) = register_identities(&stack, &work);
    let spec = write_spec(
        &work,
        "demo",
        &seed_spec("seed-deployment.token-auth.json", &stack, &tenant),
    );
    validate_against_live_functions(&stack, &work, &spec);
    deploy(&stack, &work, "demo", "/v1", &spec);

    // No token: 401 with a Bearer challenge.
    let url = stack.gateway("/v1/python-func");
    let (status, headers, _) = call(&http, &url, None).await;
    assert_eq!(status, 401);
    let challenge = headers
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without a token: {challenge}"
    );

    // A token from the client-credentials flow: 200 and the function's answer.
    let token = client_credentials(&stack, &http, &tenant, &client, &secret, "api://my-oci-api/.default").await;
    let (status, headers, body) = call(&http, &url, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(hello(&body), json!({"message": "Hello World"}));

    // Its access-log line on stdout, found by the request id the response carries.
    let request_id = headers["opc-request-id"].to_str().unwrap().to_string();
    let line = stack.stdout_line(&request_id);
    let logged: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(logged["type"], "gateway.access", "{line}");
    assert_eq!(logged["deployment"], "demo", "{line}");
    assert_eq!(logged["route"], "/python-func", "{line}");
    assert_eq!(logged["method"], "GET", "{line}");
    assert_eq!(logged["status"], 200, "{line}");
    assert_eq!(logged["client"], "127.0.0.1", "{line}");
    assert_eq!(logged["bytes_out"], body.len(), "{line}");
    assert!(logged["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");

    // Prometheus on the admin listener, with the read-only metrics token: the gateway's requests
    // by route and status, and the function's pool (its hot instance stays alive between calls).
    let metrics_token = std::fs::read_to_string(data.join("metrics-token")).unwrap();
    let metrics = http
        .get(stack.admin("/metrics"))
        .bearer_auth(metrics_token.trim())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = |name: &str, labels: &[&str]| -> Option<f64> {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let route = ["deployment=\"demo\"", "route=\"/python-func\""];
    let requests = "fngate_gateway_requests_total";
    assert_eq!(
        series(requests, &[route[0], route[1], "status=\"401\""]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        series(requests, &[route[0], route[1], "status=\"200\""]),
        Some(1.0),
        "{metrics}"
    );
    let pool = ["app=\"myapp\"", "function=\"python-func\""];
    assert_eq!(series("fngate_function_instances", &pool), Some(1.0), "{metrics}");
    assert_eq!(series("fngate_function_idle_instances", &pool), Some(1.0), "{metrics}");

    // A valid token for another audience: 401 invalid_token.
    let other = client_credentials(&stack, &http, &tenant, &client, &secret, "api://other-api/.default").await;
    let (status, headers, _) = call(&http, &url, Some(&other)).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // Restart on the same data directory: everything is still there.
    let ports = stack.ports();
    assert!(stack.terminate().success(), "fngate up must exit 0 on SIGTERM");
    let stack = up(&data, ports, &[]);
    let (status, _, body) = call(&http, &url, Some(&token)).await;
    assert_eq!(status, 200, "after restart: {body}");
    assert_eq!(hello(&body), json!({"message": "Hello World"}));
    let (status, _, _) = call(&http, &url, None).await;
    assert_eq!(status, 401, "after restart the deployment still requires a token");

    // The legacy JWT_AUTHENTICATION variant of the seed spec behaves the same.
    let legacy = write_spec(
        &work,
        "legacy",
        &seed_spec("seed-deployment.jwt-auth.json", &stack, &tenant),
    );
    deploy(&stack, &work, "legacy", "/legacy", &legacy);
    let legacy_url = stack.gateway("/legacy/python-func");
    assert_eq!(call(&http, &legacy_url, None).await.0, 401);
    assert_eq!(call(&http, &legacy_url, Some(&other)).await.0, 401);
    let (status, _, body) = call(&http, &legacy_url, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(hello(&body), json!({"message": "Hello World"}));

    // SIGTERM during a stream of requests through the gateway and straight to the function's
    // `/invoke`: no request fails with a connection error before the server has drained (after it
    // stops accepting, new connections are refused — that is the end).
    let status = stack.status().await;
    let fn_id = status["items"][0]["fn_id"]
        .as_str()
        .expect("the deployed function")
        .to_string();
    let invoke = stack.functions(&format!("/invoke/{fn_id}"));
    let admin_token = stack.admin_token();
    let gateway_call = move |http: &reqwest::Client| http.get(&url).bearer_auth(&token);
    let invoke_call = move |http: &reqwest::Client| http.post(&invoke).bearer_auth(&admin_token).body("{}");
    drain_under_load(stack, vec![Arc::new(gateway_call), Arc::new(invoke_call)]).await;
}

type Caller = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

async fn drain_under_load(mut stack: Server, callers: Vec<Caller>) {
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for caller in callers.iter().cycle().take(2 * callers.len()) {
        let (caller, stop, completed) = (caller.clone(), stop.clone(), completed.clone());
        workers.push(tokio::spawn(async move {
            // One keep-alive connection per worker, as a client library would use.
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match caller(&http).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.text().await;
                        match (status, body) {
                            (200, Ok(_)) => {
                                completed.fetch_add(1, Ordering::Relaxed);
                            }
                            (status, body) => failures.push(format!("status {status}: {body:?}")),
                        }
                    }
                    // Refused connections mean the listener is closed: shutdown has begun.
                    Err(err) if err.is_connect() => break,
                    Err(err) => failures.push(format!("request error: {err}")),
                }
            }
            failures
        }));
    }
    // Let the stream run, then SIGTERM while it is in full flow.
    let started = Instant::now();
    while completed.load(Ordering::Relaxed) < 40 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = completed.load(Ordering::Relaxed);
    assert!(before >= 40, "the request stream never got going ({before} requests)");
    let status = tokio::task::spawn_blocking(move || stack.terminate()).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for worker in workers {
        failures.extend(worker.await.unwrap());
    }
    assert!(status.success(), "fngate up must exit 0 after draining");
    assert!(failures.is_empty(), "requests failed during the drain: {failures:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_sets_up_the_walkthrough_idempotently() {
    let tmp = tempfile::Builder::new().prefix("fng-demo").tempdir().unwrap();
    let data = tmp.path().join("data");
    let http = reqwest::Client::new();
    let first = up(&data, Ports::free(), &["--demo"]);
    let printed = first.stdout();
    let (tenant, client, secret) = demo_credentials(&printed);
    let url = first.gateway("/v1/python-func");
    assert_eq!(call(&http, &url, None).await.0, 401);
    let token = client_credentials(&first, &http, &tenant, &client, &secret, "api://my-oci-api/.default").await;
    let (status, _, body) = call(&http, &url, Some(&token)).await;
    assert_eq!((status, hello(&body)), (200, json!({"message": "Hello World"})));

    // A second --demo on the same data: same registrations, a fresh secret, the old one revoked.
    let mut first = first;
    let ports = first.ports();
    assert!(first.terminate().success());
    let second = up(&data, ports, &["--demo"]);
    let printed = second.stdout();
    assert!(printed.contains("already deployed"), "{printed}");
    let (tenant2, client2, secret2) = demo_credentials(&printed);
    assert_eq!((tenant2.as_str(), client2.as_str()), (tenant.as_str(), client.as_str()));
    assert_ne!(secret2, secret);
    let token = client_credentials(&second, &http, &tenant, &client, &secret2, "api://my-oci-api/.default").await;
    assert_eq!(call(&http, &url, Some(&token)).await.0, 200);
    let stale = http
        .post(second.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client),
            ("client_secret", &secret),
            ("scope", "api://my-oci-api/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401, "the previous demo secret must no longer work");
}

/// (tenant, client id, secret) from the demo's printed instructions.
fn demo_credentials(printed: &str) -> (String, String, String) {
    let after = |marker: &str| -> String {
        let start = printed
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} not printed:\n{printed}"))
            + marker.len();
        printed[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '\'')
            .collect()
    };
    let tenant = {
        let start = printed.find("/oauth2/v2.0/token").expect("token URL printed");
        let before = &printed[..start];
        before.rsplit('/').next().unwrap().to_string()
    };
    (tenant, after("client_id="), after("client_secret="))
}

#[test]
fn config_file_sets_listeners_and_bad_keys_are_refused_with_their_line() {
    let tmp = tempfile::Builder::new().prefix("fng-config").tempdir().unwrap();
    let ports = Ports::free();
    let oci_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = tmp.path().join("fngate.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\ngateway_addr: 127.0.0.1:{}\nfunctions_addr: 127.0.0.1:{}\nidp_addr: 127.0.0.1:{}\nadmin_addr: 127.0.0.1:{}\noci_addr: 127.0.0.1:{oci_port}\n",
            tmp.path().join("data").display(),
            ports.gateway,
            ports.functions,
            ports.idp,
            ports.admin
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["up", "--config"])
        .arg(&config)
        .env("FNGATE_LOG", "warn")
        .env_remove("FNGATE_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.starts_with("Press Ctrl-C");
            printed.push(line);
            if done {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let printed = printed.join("\n");
    assert!(
        printed.contains(&format!("gateway    http://127.0.0.1:{}", ports.gateway)),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("admin      http://127.0.0.1:{}", ports.admin)),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("oci        http://127.0.0.1:{oci_port}")),
        "{printed}"
    );
    assert!(
        printed.contains(&tmp.path().join("data").display().to_string()),
        "{printed}"
    );
    assert!(
        tmp.path().join("data/fngate.db").is_file(),
        "the store lives in the configured data dir"
    );

    std::fs::write(&config, "gateway_addr: 127.0.0.1:0\ngatway_adr: 127.0.0.1:1\n").unwrap();
    let out = Command::new(BIN)
        .args(["up", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:", config.display())),
        "names file and line: {stderr}"
    );
    assert!(stderr.contains("gatway_adr"), "names the field: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_tls_flags_serve_https_with_h2_and_a_bad_certificate_is_refused_by_flag() {
    let tmp = tempfile::Builder::new().prefix("fng-tls").tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = tmp.path().join("gateway.crt");
    let key_pem = tmp.path().join("gateway.key");
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();

    // A certificate file that is not PEM: `up` refuses to start and names the flag and the file.
    let bad = tmp.path().join("bad.crt");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let refused = fngate_up_on_free_ports(&tmp.path().join("bad-data"))
        .arg("--gateway-tls-cert")
        .arg(&bad)
        .arg("--gateway-tls-key")
        .arg(&key_pem)
        .env("FNGATE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "up started with a bad certificate");
    assert!(
        stderr.contains("--gateway-tls-cert") && stderr.contains(bad.to_str().unwrap()),
        "{stderr}"
    );

    let data = tmp.path().join("data");
    let ports = Ports::free();
    let stack = up(
        &data,
        ports,
        &[
            "--gateway-tls-cert",
            cert_pem.to_str().unwrap(),
            "--gateway-tls-key",
            key_pem.to_str().unwrap(),
        ],
    );
    let spec = json!({"routes": [{"path": "/hello", "methods": ["GET"],
        "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "over https"}}]});
    let spec = write_spec(tmp.path(), "tls", &spec.to_string());
    deploy(&stack, tmp.path(), "tls", "/s", &spec);
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], ports.gateway).into())
        .build()
        .unwrap();
    let response = https
        .get(format!("https://localhost:{}/s/hello", ports.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    assert_eq!(response.text().await.unwrap(), "over https");
}

/// An HTTP backend whose answers stream (chunked, no `Content-Length`): `/echo` sends the request
/// body back ten times, `/stall` sends 1000 bytes of `=` and then nothing, holding the response
/// open.
async fn streaming_backend() -> std::net::SocketAddr {
    use axum::body::{Body, Bytes};
    use futures_util::stream::{self, StreamExt as _};

    async fn echo(body: Bytes) -> Body {
        Body::from_stream(stream::iter(
            (0..10).map(move |_| Ok::<_, std::io::Error>(body.clone())),
        ))
    }
    async fn stall() -> Body {
        let first = stream::once(async { Ok::<_, std::io::Error>(Bytes::from(vec![b'='; 1000])) });
        Body::from_stream(first.chain(stream::pending()))
    }
    let app = axum::Router::new()
        .route("/echo", axum::routing::post(echo))
        .route("/stall", axum::routing::get(stall));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_counts_streamed_bodies_and_logs_an_abandoned_response_once() {
    use futures_util::stream;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let tmp = tempfile::Builder::new().prefix("fng-log").tempdir().unwrap();
    let backend = streaming_backend().await;
    let stack = up(&tmp.path().join("data"), Ports::free(), &[]);
    let spec = json!({"routes": [{"path": "/{rest*}", "methods": ["ANY"],
        "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/${{request.path[rest]}}")}}]});
    let spec = write_spec(tmp.path(), "streams", &spec.to_string());
    deploy(&stack, tmp.path(), "streams", "/s", &spec);

    // A chunked request body, a chunked response: both sizes are only known once streamed.
    let parts = ["hello ", "chunked ", "world"];
    let response = reqwest::Client::new()
        .post(stack.gateway("/s/echo"))
        .body(reqwest::Body::wrap_stream(stream::iter(
            parts.map(Ok::<_, std::io::Error>),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), None, "the response streams");
    let request_id = response.headers()["opc-request-id"].to_str().unwrap().to_string();
    let body = response.text().await.unwrap();
    assert_eq!(body, parts.concat().repeat(10));
    let line = stack.stdout_line(&request_id);
    let logged: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(logged["status"], 200, "{line}");
    assert_eq!(logged["bytes_in"], parts.concat().len(), "{line}");
    assert_eq!(logged["bytes_out"], body.len(), "{line}");
    assert_eq!(logged["reason"], Value::Null, "{line}");
    let latency = logged["latency_ms"].as_f64().expect("latency_ms");
    let duration = logged["duration_ms"]
        .as_f64()
        .expect("duration_ms on a line written at the body's end");
    assert!(duration >= latency, "{line}");

    // A client that reads the first 1000 bytes of a response that goes on, then hangs up.
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", stack.ports().gateway))
        .await
        .unwrap();
    conn.write_all(b"GET /s/stall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("the gateway streams the first part")
            .unwrap();
        assert!(read > 0, "closed early: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&chunk[..read]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n")
            && received[end..].iter().filter(|b| **b == b'=').count() == 1000
        {
            break end;
        }
    };
    drop(conn);
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let request_id = head
        .lines()
        .find_map(|l| l.strip_prefix("opc-request-id: "))
        .expect("opc-request-id")
        .trim()
        .to_uppercase();
    let line = stack.stdout_line(&request_id);
    let logged: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(logged["status"], 200, "{line}");
    assert_eq!(logged["bytes_in"], 0, "{line}");
    assert_eq!(
        logged["bytes_out"], 1000,
        "the bytes sent before the client left: {line}"
    );
    assert_eq!(logged["reason"], "client_aborted", "{line}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = stack.stdout().lines().filter(|l| l.contains(&request_id)).count();
    assert_eq!(lines, 1, "logged once");
}
