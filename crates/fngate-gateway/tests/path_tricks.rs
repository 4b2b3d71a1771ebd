//! Policy bypass through path tricks (#12): every request path is normalised once before routing
//! or refused, and the backend receives the path the policy was decided on. Requests go over raw
//! TCP (HTTP clients normalise paths themselves) to a gateway in front of a raw-TCP backend that
//! records every request target it receives.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::TestGateway;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers every request `200` with the request target as body, and records the target.
struct RecordingBackend {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingBackend {
    async fn start() -> RecordingBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, record.clone()));
            }
        });
        RecordingBackend { addr, seen, task }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for RecordingBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut buffered = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffered.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffered[..head_end]).to_string();
        buffered.drain(..head_end);
        let target = head.split(' ').nth(1).unwrap_or("").to_string();
        seen.lock().unwrap().push(target.clone());
        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{target}", target.len());
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Sends `GET target` as given (no client-side normalisation) and returns the status and body.
async fn raw_get(gateway: SocketAddr, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(gateway).await.unwrap();
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {target}: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

struct Keys {
    encoding: jsonwebtoken::EncodingKey,
    public_pem: String,
}

fn admin_token(keys: &Keys) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://issuer.example.com/", "aud": "api://fngate-test", "sub": "admin-1",
                        "scp": "Api.Admin", "iat": now, "exp": now + 600});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &keys.encoding).unwrap()
}

fn spec(backend: SocketAddr, keys: &Keys) -> Value {
    let anonymous = json!({"authorization": {"type": "ANONYMOUS"}});
    json!({
        "requestPolicies": {"authentication": {
            "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
            "isAnonymousAccessAllowed": true,
            "validationPolicy": {"type": "STATIC_KEYS", "keys": [{"format": "PEM", "kid": "k1", "key": keys.public_pem}],
                "additionalValidationPolicy": {"issuers": ["https://issuer.example.com/"], "audiences": ["api://fngate-test"]}}}},
        "routes": [
            {"path": "/pub/{rest*}", "requestPolicies": anonymous,
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/public/${{request.path[rest]}}")}},
            {"path": "/internal/{x*}",
             "requestPolicies": {"authorization": {"type": "ANY_OF", "allowedScope": ["Api.Admin"]}},
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/internal/${{request.path[x]}}")}},
            {"path": "/users/{id}", "requestPolicies": anonymous,
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/users/${{request.headers[X-User]}}")}},
            {"path": "/caf%c3%a9", "requestPolicies": anonymous,
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/cafe")}}
        ]
    })
}

/// (request target, headers, status, what the backend received: `None` = nothing).
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, Option<&'a str>);

#[tokio::test]
async fn path_tricks_are_refused_or_arrive_normalised_under_the_policy_that_applied() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let keys = Keys {
        encoding: jsonwebtoken::EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap(),
        public_pem: pair.public_key_pem(),
    };
    let backend = RecordingBackend::start().await;
    let gw = TestGateway::start().await;
    gw.deploy("tricks", "/p", spec(backend.addr, &keys)).await;
    let admin = format!("Bearer {}", admin_token(&keys));
    let as_admin: &[(&str, &str)] = &[("Authorization", admin.as_str())];

    let cases: Vec<Case<'_>> = vec![
        // The reported bypass: `..` out of the anonymous wildcard into the admin-only route. It
        // is now the admin route's request, and its policy applies.
        ("/p/pub/../internal/secret", &[], 401, None),
        ("/p/pub/../internal/secret", as_admin, 200, Some("/internal/secret")),
        // Encoded dots and slashes: refused, whatever their case.
        ("/p/pub/%2e%2e/internal/secret", &[], 400, None),
        ("/p/pub/%2E%2E/internal/secret", &[], 400, None),
        ("/p/pub/.%2e/internal/secret", &[], 400, None),
        ("/p/pub/..%2finternal/secret", &[], 400, None),
        ("/p/pub/..%2Finternal%2Fsecret", &[], 400, None),
        // `//` merges.
        ("/p//pub//a///b", &[], 200, Some("/public/a/b")),
        ("/p/pub//..//internal/secret", &[], 401, None),
        // Backslashes, raw or encoded.
        ("/p/pub/..\\internal\\secret", &[], 400, None),
        ("/p/pub/..%5cinternal", &[], 400, None),
        // `;` parameters: a dot segment with parameters is refused (servlet containers read
        // `..;` as `..`); a `;` in an ordinary segment is part of it.
        ("/p/pub/..;/internal/secret", &[], 400, None),
        ("/p/pub/.;x=1/a", &[], 400, None),
        ("/p/pub;x=1/../internal/secret", &[], 401, None),
        ("/p/pub/a;v=1/b", &[], 200, Some("/public/a;v=1/b")),
        // Mixed-case percent-encoding: unreserved characters decoded (so `%69nternal` is the
        // admin route), the rest upper-cased, also in route literals.
        ("/p/%70ub/x", &[], 200, Some("/public/x")),
        ("/p/%69nternal/secret", &[], 401, None),
        ("/p/pub/%7euser/caf%c3%A9", &[], 200, Some("/public/~user/caf%C3%A9")),
        ("/p/caf%C3%A9", &[], 200, Some("/cafe")),
        ("/p/pub/%zz", &[], 400, None),
        // A wildcard with dot segments inside it: removed before matching and forwarding.
        ("/p/pub/a/./b/../c", &[], 200, Some("/public/a/c")),
        ("/p/pub/a/b/..", &[], 200, Some("/public/a/")),
        ("/p/pub/../../x", &[], 404, None),
        ("/p/../../x", &[], 400, None),
        // A context variable in the URL cannot add segments, `..` or encoded slashes.
        ("/p/users/1", &[("X-User", "alice")], 200, Some("/users/alice")),
        ("/p/users/1", &[("X-User", "../internal/secret")], 400, None),
        ("/p/users/1", &[("X-User", "..")], 400, None),
        ("/p/users/1", &[("X-User", "a/b")], 400, None),
        ("/p/users/1", &[("X-User", "a%2Fb")], 400, None),
        ("/p/users/1", &[("X-User", "a b")], 200, Some("/users/a%20b")),
        // The query string is not part of the path.
        ("/p/pub/x?a=../b&c=%2F", &[], 200, Some("/public/x?a=../b&c=%2F")),
    ];
    let mut failures = Vec::new();
    for (target, headers, status, received) in &cases {
        let (got, body) = raw_get(gw.addr, target, headers).await;
        let seen = backend.take();
        let expected: Vec<String> = received.iter().map(|s| s.to_string()).collect();
        if got != *status || seen != expected {
            failures.push(format!(
                "{target} {headers:?}: status {got} (want {status}), backend saw {seen:?} (want {expected:?}); body {body}"
            ));
        }
        if *status == 400 && got == 400 && !body.is_empty() {
            assert!(body.contains("\"code\":400"), "{target}: {body}");
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    gw.stop().await;
}

#[tokio::test]
async fn route_paths_that_could_never_match_are_refused_at_deploy() {
    let gw = TestGateway::start().await;
    let spec = json!({"routes": [{"path": "/a/../b", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}}]});
    let err = gw
        .gateway
        .deploy("never", "/n", fngate_spec::SpecFormat::Json, &spec.to_string())
        .await
        .unwrap_err();
    let fngate_gateway::DeployError::Invalid { errors, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        errors
            .iter()
            .any(|e| e.path == "routes[0].path" && e.message.contains("could never match")),
        "{errors:?}"
    );
    gw.stop().await;
}

#[test]
fn the_normaliser_is_public_for_fuzzing() {
    assert_eq!(fngate_gateway::path::normalise("/a/./b/../c").unwrap(), "/a/c");
    assert_eq!(
        fngate_gateway::path::normalise("/a/%2e%2e/c"),
        Err(fngate_gateway::path::PathRejected::EncodedDot)
    );
}
