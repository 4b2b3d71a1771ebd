//! The OCI listener against raw signed requests (a signer in the test, real sockets, the real
//! `fngate up`): every unsigned, mis-signed, tampered or stale call is 401 `NotAuthenticated`
//! and changes nothing; retry tokens, etags, paging, errors and the Fn view of the same objects.

mod oci_support;
mod support;

use std::time::{Duration, SystemTime};

use oci_support::{OciKey, Signed, answer, register};
use serde_json::{Value, json};
use support::Server;

async fn fn_app_names(server: &Server) -> Vec<String> {
    let apps: Value = server
        .http()
        .get(server.functions("/v2/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

fn app_body(env: &oci_support::OciEnv, name: &str) -> Vec<u8> {
    json!({"compartmentId": env.tenancy, "displayName": name, "subnetIds": []})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn only_correctly_signed_requests_are_served_and_refusals_change_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let env = register(&server, dir.path(), "ocid1.user.fngate..alice");
    let key_id = env.key_id();
    let apps = server.oci("/20181201/applications");
    let list = format!("{apps}?compartmentId={}", env.tenancy);

    // Signed GET works; the answer carries the client's opc-request-id.
    let mut get = Signed::new(&env, &key_id, "GET", &list, b"");
    get.extra.push(("opc-request-id", "my-request-1".into()));
    let (status, request_id, body) = answer(get.send().await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(request_id.as_deref(), Some("my-request-1"));
    assert_eq!(body, json!([]));

    // Unsigned: 401 with OCI's body and a request id of fngate's own.
    let (status, request_id, body) = answer(reqwest::get(&list).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "NotAuthenticated", "{body}");
    assert!(request_id.is_some_and(|id| !id.is_empty()));
    let unsigned = reqwest::Client::new()
        .post(&apps)
        .header("content-type", "application/json")
        .body(app_body(&env, "unsigned"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // Unknown paths are behind the signature check too.
    assert_eq!(reqwest::get(server.oci("/nothing")).await.unwrap().status(), 401);

    let body_a = app_body(&env, "aaaa");
    let body_b = app_body(&env, "bbbb");
    assert_eq!(body_a.len(), body_b.len(), "the tampered body keeps the signed length");
    let cases: Vec<(&str, Signed)> = vec![
        ("a tampered body", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            s.send_body = Some(&body_b);
            s
        }),
        ("another key pair under the registered keyId", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            let other = Box::leak(Box::new(OciKey::generate()));
            s.key = other;
            s
        }),
        ("an unregistered fingerprint", {
            let unknown = Box::leak(format!("{}/{}/00:11:22", env.tenancy, env.user).into_boxed_str());
            Signed::new(&env, unknown, "POST", &apps, &body_a)
        }),
        ("another tenancy", {
            let other =
                Box::leak(format!("ocid1.tenancy.fngate..other/{}/{}", env.user, env.fingerprint).into_boxed_str());
            Signed::new(&env, other, "POST", &apps, &body_a)
        }),
        ("a date six minutes old", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            s.date = SystemTime::now() - Duration::from_secs(360);
            s
        }),
        ("a date six minutes ahead", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            s.date = SystemTime::now() + Duration::from_secs(360);
            s
        }),
        ("x-content-sha256 not signed", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            s.headers = Some(vec![
                "date",
                "(request-target)",
                "host",
                "content-length",
                "content-type",
            ]);
            s
        }),
        ("host not signed", {
            let mut s = Signed::new(&env, &key_id, "POST", &apps, &body_a);
            s.headers = Some(vec![
                "date",
                "(request-target)",
                "content-length",
                "content-type",
                "x-content-sha256",
            ]);
            s
        }),
    ];
    for (what, request) in cases {
        let (status, _, body) = answer(request.send().await).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "NotAuthenticated", "{what}: {body}");
    }
    assert!(
        fn_app_names(&server).await.is_empty(),
        "no refused call created anything"
    );

    // The same body, correctly signed, is created — and is the Fn API's app.
    let (status, _, created) = answer(Signed::new(&env, &key_id, "POST", &apps, &body_a).send().await).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(fn_app_names(&server).await, ["aaaa"]);

    // A removed key is refused from then on.
    server.cli_ok(
        dir.path(),
        &[
            "oci",
            "api-key",
            "remove",
            "--user",
            &env.user,
            "--fingerprint",
            &env.fingerprint,
        ],
        None,
    );
    let (status, _, body) = answer(Signed::new(&env, &key_id, "GET", &list, b"").send().await).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn retry_tokens_etags_paging_and_errors_follow_oci() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let env = register(&server, dir.path(), "ocid1.user.fngate..bob");
    let key_id = env.key_id();
    let apps = server.oci("/20260325/applications");

    // opc-retry-token: the same body again is the same answer, not a second app.
    let body = app_body(&env, "retried");
    let mut first = Signed::new(&env, &key_id, "POST", &apps, &body);
    first.extra.push(("opc-retry-token", "token-1".into()));
    let (status, _, created) = answer(first.send().await).await;
    assert_eq!(status, 200, "{created}");
    let mut again = Signed::new(&env, &key_id, "POST", &apps, &body);
    again.extra.push(("opc-retry-token", "token-1".into()));
    let (status, _, replayed) = answer(again.send().await).await;
    assert_eq!(status, 200);
    assert_eq!(replayed["id"], created["id"], "the kept answer");
    let other = app_body(&env, "other-app");
    let mut reused = Signed::new(&env, &key_id, "POST", &apps, &other);
    reused.extra.push(("opc-retry-token", "token-1".into()));
    let (status, _, refused) = answer(reused.send().await).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "InvalidatedRetryToken");
    assert_eq!(
        fn_app_names(&server).await,
        ["retried"],
        "one app, nothing from the reused token"
    );

    // etag / if-match on update.
    let app_url = format!("{apps}/{}", created["id"].as_str().unwrap());
    let got = Signed::new(&env, &key_id, "GET", &app_url, b"").send().await;
    let etag = got.headers()["etag"].to_str().unwrap().to_string();
    let update = json!({"config": {"GREETING": "hi"}, "freeformTags": {"team": "a"}}).to_string();
    let mut stale = Signed::new(&env, &key_id, "PUT", &app_url, update.as_bytes());
    stale.extra.push(("if-match", "not-the-etag".into()));
    let (status, _, body) = answer(stale.send().await).await;
    assert_eq!((status, body["code"].as_str()), (412, Some("NoEtagMatch")), "{body}");
    let mut fresh = Signed::new(&env, &key_id, "PUT", &app_url, update.as_bytes());
    fresh.extra.push(("if-match", etag.clone()));
    let (status, _, updated) = answer(fresh.send().await).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["config"], json!({"GREETING": "hi"}));
    assert_eq!(updated["freeformTags"], json!({"team": "a"}), "recorded and returned");
    let fn_view: Value = server
        .http()
        .get(server.functions(&format!(
            "/v2/apps/{}",
            created["id"].as_str().unwrap().rsplit('.').next().unwrap().to_uppercase()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        fn_view["config"],
        json!({"GREETING": "hi"}),
        "the Fn view of the same app"
    );

    // Paging: limit, opc-next-page, then the rest; a bad token is a 400.
    for name in ["p1", "p2"] {
        let body = app_body(&env, name);
        assert_eq!(
            Signed::new(&env, &key_id, "POST", &apps, &body).send().await.status(),
            200
        );
    }
    let page1 = format!("{apps}?compartmentId={}&limit=2&sortBy=displayName", env.tenancy);
    let response = Signed::new(&env, &key_id, "GET", &page1, b"").send().await;
    let next = response.headers()["opc-next-page"].to_str().unwrap().to_string();
    let (_, _, first) = answer(response).await;
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["displayName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["p1", "p2"]);
    let page2 = format!("{page1}&page={next}");
    let response = Signed::new(&env, &key_id, "GET", &page2, b"").send().await;
    assert!(response.headers().get("opc-next-page").is_none(), "the last page");
    assert_eq!(names(&answer(response).await.2), ["retried"]);
    let bad = format!("{page1}&page=nope");
    let (status, _, body) = answer(Signed::new(&env, &key_id, "GET", &bad, b"").send().await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("InvalidParameter")),
        "{body}"
    );
    let other_compartment = format!("{apps}?compartmentId=ocid1.compartment.fngate..other");
    let (_, _, none) = answer(Signed::new(&env, &key_id, "GET", &other_compartment, b"").send().await).await;
    assert_eq!(none, json!([]), "apps are filtered by compartment");

    // Errors: an image fngate does not have; a function that does not exist; too large a body.
    let functions = server.oci("/20181201/functions");
    let create = json!({
        "applicationId": created["id"], "displayName": "f", "image": "nope:0.0.1", "memoryInMBs": 128
    })
    .to_string();
    let (status, _, body) = answer(
        Signed::new(&env, &key_id, "POST", &functions, create.as_bytes())
            .send()
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "NotAuthorizedOrNotFound");
    assert!(body["message"].as_str().unwrap().contains("fngate deploy"), "{body}");
    let missing = server.oci("/20181201/functions/ocid1.fnfunc.fngate..01jzzzzzzzzzzzzzzzzzzzzzzz");
    let (status, _, body) = answer(Signed::new(&env, &key_id, "GET", &missing, b"").send().await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NotAuthorizedOrNotFound")),
        "{body}"
    );
    let invoke = format!("{missing}/actions/invoke");
    let big = vec![b'x'; 6 * 1024 * 1024 + 1];
    let (status, _, body) = answer(Signed::new(&env, &key_id, "POST", &invoke, &big).send().await).await;
    assert_eq!(status, 413, "{body}");

    // Deleting an application with functions is refused (OCI), then allowed once it is empty.
    let fn_create =
        json!({"app_id": created["id"].as_str().unwrap().rsplit('.').next().unwrap().to_uppercase(), "name": "plain"});
    let made: Value = server
        .http()
        .post(server.functions("/v2/fns"))
        .json(&fn_create)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _, body) = answer(Signed::new(&env, &key_id, "DELETE", &app_url, b"").send().await).await;
    assert_eq!(status, 409, "{body}");
    // A function made through the Fn API is the OCI function of the same id, in both versions.
    let fn_ocid = format!("ocid1.fnfunc.fngate..{}", made["id"].as_str().unwrap().to_lowercase());
    for version in ["20181201", "20260325"] {
        let url = server.oci(&format!("/{version}/functions/{fn_ocid}"));
        let (status, _, got) = answer(Signed::new(&env, &key_id, "GET", &url, b"").send().await).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["displayName"], "plain");
        assert_eq!(got["invokeEndpoint"], server.oci(""));
    }
    let fn_url = server.oci(&format!("/20181201/functions/{fn_ocid}"));
    assert_eq!(
        Signed::new(&env, &key_id, "DELETE", &fn_url, b"").send().await.status(),
        204
    );
    assert_eq!(
        Signed::new(&env, &key_id, "DELETE", &app_url, b"")
            .send()
            .await
            .status(),
        204
    );
    let (status, _, _) = answer(Signed::new(&env, &key_id, "GET", &app_url, b"").send().await).await;
    assert_eq!(status, 404);
}
