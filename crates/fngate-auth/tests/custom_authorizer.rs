//! CUSTOM_AUTHENTICATION through a FunctionInvoker implemented by the test (the trait is the boundary;
//! the functions runtime is another crate).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fngate_auth::{
    AuthConfig, AuthOutcome, AuthRequest, AuthService, Authorization, CustomConfig, TokenLocation, authorize_in_realm,
};
use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeFuture, InvokeRequest, InvokeResponse};
use http::StatusCode;
use serde_json::{Value, json};
use support::{REALM, principal, rejected, request};

type Behaviour = dyn Fn(&Value) -> Result<(StatusCode, String), InvokeError> + Send + Sync;

/// An authorizer "function" whose answers the test scripts; records every input it receives.
struct ScriptedAuthorizer {
    behaviour: Box<Behaviour>,
    inputs: Mutex<Vec<Value>>,
    calls: AtomicUsize,
}

impl ScriptedAuthorizer {
    fn new(
        behaviour: impl Fn(&Value) -> Result<(StatusCode, String), InvokeError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(ScriptedAuthorizer {
            behaviour: Box::new(behaviour),
            inputs: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn last_input(&self) -> Value {
        self.inputs.lock().unwrap().last().cloned().unwrap()
    }
}

impl FunctionInvoker for ScriptedAuthorizer {
    fn resolve(&self, reference: &str) -> Option<FunctionRef> {
        matches!(reference, "app/authorizer" | "01AUTHZ").then(|| FunctionRef {
            fn_id: "01AUTHZ".into(),
            app_name: "app".into(),
            fn_name: "authorizer".into(),
        })
    }

    fn invoke<'a>(&'a self, fn_id: &'a str, request: InvokeRequest) -> InvokeFuture<'a> {
        Box::pin(async move {
            assert_eq!(fn_id, "01AUTHZ");
            assert_eq!(request.headers["content-type"], "application/json");
            let input: Value = serde_json::from_slice(&request.body).unwrap();
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inputs.lock().unwrap().push(input.clone());
            let (status, body) = (self.behaviour)(&input)?;
            Ok(InvokeResponse {
                status,
                headers: Default::default(),
                body: Bytes::from(body),
                call_id: "call-1".into(),
            })
        })
    }
}

/// Accepts the API key "good-key" (any other is inactive), granting scope "orders.read".
fn api_key_authorizer() -> Arc<ScriptedAuthorizer> {
    ScriptedAuthorizer::new(|input| {
        let key = input["data"]["apiKey"]
            .as_str()
            .or(input["token"].as_str())
            .unwrap_or("");
        let body = if key == "good-key" {
            json!({"active": true, "principal": "alice", "scope": ["orders.read", "orders.list"],
                   "expiresAt": "2099-01-01T00:00:00+00:00", "context": {"tenant": "acme", "email": "alice@acme.test"}})
        } else {
            json!({"active": false, "wwwAuthenticate": "Bearer realm=\"acme.test\", error=\"invalid_token\""})
        };
        Ok((StatusCode::OK, body.to_string()))
    })
}

fn multi_arg_config(anonymous: bool) -> AuthConfig {
    AuthConfig::Custom(CustomConfig {
        function_id: "app/authorizer".into(),
        token_location: None,
        parameters: vec![
            ("apiKey".into(), "request.headers[X-Api-Key]".into()),
            ("state".into(), "request.query[state]".into()),
            ("body".into(), "request.body".into()),
        ],
        cache_key: vec![],
        is_anonymous_access_allowed: anonymous,
    })
}

async fn call_with(auth: &fngate_auth::Authenticator, head: &http::request::Parts, body: &[u8]) -> AuthOutcome {
    auth.authenticate(AuthRequest {
        head,
        body,
        realm: REALM,
    })
    .await
}

#[tokio::test]
async fn user_defined_input_context_scopes_and_caching() {
    let function = api_key_authorizer();
    let service = AuthService::new(Some(function.clone()));
    let auth = service.build(multi_arg_config(false)).await.unwrap();

    let head = request("/orders?state=open&state=closed", &[("x-api-key", "good-key")]);
    let outcome = call_with(&auth, &head, b"{\"q\":1}").await;
    let p = principal(&outcome);
    assert_eq!(p.claims["tenant"], "acme");
    assert_eq!(p.claims["email"], "alice@acme.test");
    assert_eq!(p.scopes, vec!["orders.read", "orders.list"]);
    assert_eq!(
        function.last_input(),
        json!({"type": "USER_DEFINED", "data": {"apiKey": "good-key", "state": ["open", "closed"], "body": "{\"q\":1}"}})
    );
    assert!(authorize_in_realm(&outcome, &Authorization::AnyOf(vec!["orders.read".into()]), REALM).is_ok());
    let err = authorize_in_realm(&outcome, &Authorization::AnyOf(vec!["orders".into()]), REALM).unwrap_err();
    assert_eq!(err.status, StatusCode::FORBIDDEN);

    // Same cache key (body is not part of the default key): answered from the cache.
    principal(&call_with(&auth, &head, b"other body").await);
    assert_eq!(function.calls(), 1);
    // An absent argument is omitted, not null; a different key value is a new call.
    let head = request("/orders", &[("x-api-key", "good-key")]);
    principal(&call_with(&auth, &head, b"").await);
    assert_eq!(function.calls(), 2);
    assert_eq!(
        function.last_input(),
        json!({"type": "USER_DEFINED", "data": {"apiKey": "good-key"}})
    );
}

#[tokio::test]
async fn inactive_answers_are_401_with_the_functions_challenge_and_not_cached() {
    let function = api_key_authorizer();
    let auth = AuthService::new(Some(function.clone()))
        .build(multi_arg_config(false))
        .await
        .unwrap();
    let head = request("/orders", &[("x-api-key", "stolen")]);
    for _ in 0..2 {
        let outcome = call_with(&auth, &head, b"").await;
        let r = rejected(&outcome);
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(r#"Bearer realm="acme.test", error="invalid_token""#)
        );
    }
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn function_failures_are_502() {
    let failing = ScriptedAuthorizer::new(|_| Err(InvokeError::FunctionFailed));
    let auth = AuthService::new(Some(failing))
        .build(multi_arg_config(false))
        .await
        .unwrap();
    let head = request("/", &[("x-api-key", "good-key")]);
    let outcome = call_with(&auth, &head, b"").await;
    assert_eq!(rejected(&outcome).status, StatusCode::BAD_GATEWAY);

    for (status, body) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "{\"active\":true}"),
        (StatusCode::OK, "not json"),
    ] {
        let function = ScriptedAuthorizer::new(move |_| Ok((status, body.to_string())));
        let auth = AuthService::new(Some(function))
            .build(multi_arg_config(false))
            .await
            .unwrap();
        let outcome = call_with(&auth, &head, b"").await;
        let r = rejected(&outcome);
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{status} {body}");
        assert_eq!(r.message, "Bad Gateway");
    }
    // A missing `active` counts as false.
    let vague = ScriptedAuthorizer::new(|_| Ok((StatusCode::OK, "{}".into())));
    let auth = AuthService::new(Some(vague))
        .build(multi_arg_config(false))
        .await
        .unwrap();
    let outcome = call_with(&auth, &head, b"").await;
    assert_eq!(
        rejected(&outcome).www_authenticate.as_deref(),
        Some(r#"Bearer realm="api.example.com""#)
    );
}

#[tokio::test]
async fn token_mode_and_anonymous_access() {
    let function = api_key_authorizer();
    let service = AuthService::new(Some(function.clone()));
    let config = AuthConfig::Custom(CustomConfig {
        function_id: "01AUTHZ".into(),
        token_location: Some(TokenLocation::Header {
            name: "X-Api-Key".into(),
            scheme: None,
        }),
        parameters: vec![],
        cache_key: vec![],
        is_anonymous_access_allowed: true,
    });
    let auth = service.build(config).await.unwrap();
    principal(&call_with(&auth, &request("/", &[("x-api-key", "good-key")]), b"").await);
    assert_eq!(function.last_input(), json!({"type": "TOKEN", "token": "good-key"}));
    assert!(matches!(
        call_with(&auth, &request("/", &[]), b"").await,
        AuthOutcome::Anonymous
    ));

    // Without anonymous access, no argument at all (an empty body counts as absent) is a bare 401
    // challenge, and the function is not called.
    let auth = service.build(multi_arg_config(false)).await.unwrap();
    let before = function.calls();
    let outcome = call_with(&auth, &request("/", &[]), b"").await;
    let r = rejected(&outcome);
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="api.example.com""#));
    assert_eq!(function.calls(), before);
}

#[tokio::test]
async fn configuration_errors() {
    let function = api_key_authorizer();
    let service = AuthService::new(Some(function));
    let mut bad = multi_arg_config(false);
    if let AuthConfig::Custom(c) = &mut bad {
        c.parameters.push(("id".into(), "request.path[id]".into()));
    }
    let err = service.build(bad).await.err().unwrap();
    assert!(
        err.0
            .starts_with("parameters.id: 'request.path[id]' is not supported here"),
        "{err}"
    );
    let mut bad = multi_arg_config(false);
    if let AuthConfig::Custom(c) = &mut bad {
        c.function_id = "app/missing".into();
    }
    assert_eq!(
        service.build(bad).await.err().unwrap().0,
        "functionId: function 'app/missing' does not exist"
    );
    let err = AuthService::new(None)
        .build(multi_arg_config(false))
        .await
        .err()
        .unwrap();
    assert!(err.0.contains("needs the functions runtime"), "{err}");
}
