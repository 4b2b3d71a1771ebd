//! The token endpoints with curl-style form posts, the tokens they issue checked against the
//! served JWKS, discovery documents, and every error in Entra's shape.

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use fngate_idp::api::NewSecret;
use serde_json::Value;

#[tokio::test]
async fn v2_client_secret_post_token_validates_against_served_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 2).await;
    let tid = idp.tid();
    let http = http_client();

    // As in the walkthrough: curl -d client_id=… -d client_secret=… -d scope=api://…/.default -d grant_type=…
    let response = http
        .post(format!("{}/{tid}/oauth2/v2.0/token", idp.http))
        .form(&[
            ("client_id", client.client.client_id.as_str()),
            ("client_secret", client.secret.value.as_str()),
            ("scope", "api://orders/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        keys_of(&body),
        set(&["token_type", "expires_in", "ext_expires_in", "access_token"])
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();

    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(
        keys_of(&header),
        set(&["typ", "alg", "kid"]),
        "v2 header has no x5t: {header}"
    );
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "RS256");

    let keys = jwks(&http, &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    // v2: aud is always the API's client id, even when the scope used the identifier URI.
    let claims = verify(token, &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(
        keys_of(&claims),
        set(&[
            "aud", "iss", "iat", "nbf", "exp", "aio", "azp", "azpacr", "idp", "oid", "rh", "roles", "sub", "tid",
            "uti", "ver"
        ])
    );
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["azp"], client.client.client_id);
    assert_eq!(claims["azpacr"], "1");
    assert_eq!(claims["idp"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(claims["oid"], client.client.object_id);
    assert_eq!(claims["sub"], client.client.object_id);
    assert_eq!(claims["tid"], tid);
    assert_eq!(
        claims["roles"],
        serde_json::json!(["Orders.Read"]),
        "only the granted role"
    );
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["iat"], claims["nbf"]);
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3599 + 300, "nbf back-dated 5 minutes as Entra does");
    assert_eq!(claims["uti"].as_str().unwrap().len(), 22);
    // A token for another audience is refused by the same validation.
    assert!(verify(token, &keys, &issuer, "api://other").is_err());
    idp.stop().await;
}

#[tokio::test]
async fn v1_token_with_basic_auth_carries_x5t_appid_and_requested_audience() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 1).await;
    let tid = idp.tid();
    let http = http_client();
    let keys = jwks(&http, &format!("{}/{tid}/discovery/keys", idp.http)).await;
    let issuer = format!("https://sts.windows.net/{tid}/");

    // v2 endpoint, client_secret_basic, scope by identifier URI: a v1 token (the API decides).
    let response = http
        .post(format!("{}/{tid}/oauth2/v2.0/token", idp.http))
        .basic_auth(&client.client.client_id, Some(&client.secret.value))
        .form(&[("grant_type", "client_credentials"), ("scope", "api://orders/.default")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(keys_of(&header), set(&["typ", "alg", "x5t", "kid"]));
    assert_eq!(header["x5t"], header["kid"]);
    let claims = verify(token, &keys, &issuer, "api://orders").unwrap();
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], client.client.client_id);
    assert_eq!(claims["appidacr"], "1");
    assert!(claims.get("azp").is_none());

    // v1 endpoint with resource=<client id GUID>: aud is the GUID as requested; tenant by name.
    let response = http
        .post(format!("{}/default/oauth2/token", idp.http))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.client.client_id.as_str()),
            ("client_secret", client.secret.value.as_str()),
            ("resource", api.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let claims = verify(body["access_token"].as_str().unwrap(), &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(claims["tid"], tid);
    idp.stop().await;
}

#[tokio::test]
async fn jwks_and_discovery_documents_have_entra_shape_and_this_servers_urls() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let tid = idp.tid();
    let http = http_client();

    let response = http
        .get(format!("{}/{tid}/discovery/v2.0/keys", idp.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "max-age=86400, private");
    let doc: Value = response.json().await.unwrap();
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        keys_of(key),
        set(&["kty", "use", "kid", "x5t", "n", "e", "x5c", "issuer"]),
        "no alg: {key}"
    );
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["issuer"], format!("https://login.microsoftonline.com/{tid}/v2.0"));
    // kid == x5t == base64url(SHA-1(certificate)).
    let cert = STANDARD.decode(key["x5c"][0].as_str().unwrap()).unwrap();
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
    assert_eq!(key["x5t"], URL_SAFE_NO_PAD.encode(sha1));
    assert_eq!(key["kid"], key["x5t"]);

    let v1keys: Value = http
        .get(format!("{}/{tid}/discovery/keys", idp.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1keys["keys"][0]["kid"], key["kid"]);
    assert_eq!(v1keys["keys"][0]["issuer"], format!("https://sts.windows.net/{tid}/"));

    let v2: Value = http
        .get(format!("{}/{tid}/v2.0/.well-known/openid-configuration", idp.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v2["issuer"], format!("https://login.microsoftonline.com/{tid}/v2.0"));
    assert_eq!(v2["token_endpoint"], format!("{}/{tid}/oauth2/v2.0/token", idp.http));
    assert_eq!(v2["jwks_uri"], format!("{}/{tid}/discovery/v2.0/keys", idp.http));
    assert_eq!(
        v2["authorization_endpoint"],
        format!("{}/{tid}/oauth2/v2.0/authorize", idp.http)
    );
    assert_eq!(
        v2["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );

    let v1: Value = http
        .get(format!("{}/{tid}/.well-known/openid-configuration", idp.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(v1["token_endpoint"], format!("{}/{tid}/oauth2/token", idp.http));
    assert_eq!(v1["jwks_uri"], format!("{}/{tid}/discovery/keys", idp.http));
    assert_eq!(v1["scopes_supported"], serde_json::json!(["openid"]));

    // The same port speaks HTTPS with a certificate from the exported CA.
    let ca = reqwest::Certificate::from_pem(idp.idp.ca_info().pem.as_bytes()).unwrap();
    let https = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
    let v2s: Value = https
        .get(format!(
            "{}/{tid}/v2.0/.well-known/openid-configuration",
            idp.https_base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v2s["token_endpoint"],
        format!("{}/{tid}/oauth2/v2.0/token", idp.https_base())
    );
    idp.stop().await;
}

struct Case {
    name: &'static str,
    path_tenant: String,
    form: Vec<(&'static str, String)>,
    status: u16,
    error: &'static str,
    code: u32,
}

#[tokio::test]
async fn every_error_has_entra_shape_code_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (_api, client) = register(&idp.idp, 2).await;
    let expired = idp
        .idp
        .add_secret(
            &client.client.client_id,
            NewSecret::default(),
            Some(time::OffsetDateTime::now_utc() - time::Duration::days(1)),
        )
        .await
        .unwrap();
    let tid = idp.tid();
    let id = client.client.client_id.clone();
    let good = client.secret.value.clone();
    let base = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", id.clone()),
            ("client_secret", good.clone()),
            ("scope", "api://orders/.default".to_string()),
        ];
        for (name, value) in extra {
            form.retain(|(n, _)| n != name);
            if !value.is_empty() {
                form.push((name, value.to_string()));
            }
        }
        form
    };
    let cases = vec![
        Case {
            name: "wrong secret",
            path_tenant: tid.clone(),
            form: base(&[("client_secret", "nope")]),
            status: 401,
            error: "invalid_client",
            code: 7000215,
        },
        Case {
            name: "expired secret",
            path_tenant: tid.clone(),
            form: base(&[("client_secret", &expired.value)]),
            status: 401,
            error: "invalid_client",
            code: 7000222,
        },
        Case {
            name: "no secret",
            path_tenant: tid.clone(),
            form: base(&[("client_secret", "")]),
            status: 401,
            error: "invalid_client",
            code: 7000216,
        },
        Case {
            name: "unknown client",
            path_tenant: tid.clone(),
            form: base(&[("client_id", "00000000-0000-0000-0000-000000000001")]),
            status: 400,
            error: "unauthorized_client",
            code: 700016,
        },
        Case {
            name: "scope without /.default",
            path_tenant: tid.clone(),
            form: base(&[("scope", "api://orders/Orders.Read")]),
            status: 400,
            error: "invalid_scope",
            code: 70011,
        },
        Case {
            name: "two scopes",
            path_tenant: tid.clone(),
            form: base(&[("scope", "api://orders/.default api://x/.default")]),
            status: 400,
            error: "invalid_scope",
            code: 70011,
        },
        Case {
            name: "unknown resource",
            path_tenant: tid.clone(),
            form: base(&[("scope", "api://nothing/.default")]),
            status: 400,
            error: "invalid_resource",
            code: 500011,
        },
        Case {
            name: "missing grant_type",
            path_tenant: tid.clone(),
            form: base(&[("grant_type", "")]),
            status: 400,
            error: "invalid_request",
            code: 900144,
        },
        Case {
            name: "missing client_id",
            path_tenant: tid.clone(),
            form: base(&[("client_id", "")]),
            status: 400,
            error: "invalid_request",
            code: 900144,
        },
        Case {
            name: "missing scope",
            path_tenant: tid.clone(),
            form: base(&[("scope", "")]),
            status: 400,
            error: "invalid_request",
            code: 900144,
        },
        Case {
            name: "unknown tenant",
            path_tenant: "11111111-2222-3333-4444-555555555555".into(),
            form: base(&[]),
            status: 400,
            error: "invalid_request",
            code: 90002,
        },
        Case {
            name: "common tenant",
            path_tenant: "common".into(),
            form: base(&[]),
            status: 400,
            error: "invalid_request",
            code: 9001023,
        },
        Case {
            name: "unsupported grant",
            path_tenant: tid.clone(),
            form: base(&[("grant_type", "password")]),
            status: 400,
            error: "unsupported_grant_type",
            code: 70003,
        },
    ];
    let http = http_client();
    let correlation = "aaaa0000-bb11-2222-33cc-444444dddddd";
    for case in cases {
        let response = http
            .post(format!("{}/{}/oauth2/v2.0/token", idp.http, case.path_tenant))
            .header("client-request-id", correlation)
            .form(&case.form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), case.status, "{}", case.name);
        assert_eq!(
            response.headers()["cache-control"],
            "no-store, no-cache",
            "{}",
            case.name
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            keys_of(&body),
            set(&[
                "error",
                "error_description",
                "error_codes",
                "timestamp",
                "trace_id",
                "correlation_id",
                "error_uri"
            ]),
            "{}",
            case.name
        );
        assert_eq!(body["error"], case.error, "{}: {body}", case.name);
        assert_eq!(body["error_codes"], serde_json::json!([case.code]), "{}", case.name);
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{}: ", case.code)),
            "{}: {description}",
            case.name
        );
        let trace = body["trace_id"].as_str().unwrap();
        assert!(description.contains(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: "
        )));
        assert_eq!(body["correlation_id"], correlation, "{}", case.name);
        let timestamp = body["timestamp"].as_str().unwrap();
        assert!(
            description.ends_with(timestamp) && timestamp.ends_with('Z') && timestamp.len() == 20,
            "{timestamp}"
        );
    }

    // The v1 endpoint names its own missing parameter.
    let response = http
        .post(format!("{}/{tid}/oauth2/token", idp.http))
        .form(&base(&[("scope", "")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS900144: The request body must contain the following parameter: 'resource'.")
    );
    idp.stop().await;
}

#[tokio::test]
async fn removed_secret_stops_working_and_other_secret_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (_api, client) = register(&idp.idp, 2).await;
    let second = idp.idp.add_secret("daemon", NewSecret::default(), None).await.unwrap();
    idp.idp.remove_secret("daemon", &client.secret.info.id).await.unwrap();
    let tid = idp.tid();
    let http = http_client();
    let post = |secret: String| {
        http.post(format!("{}/{tid}/oauth2/v2.0/token", idp.http)).form(&[
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client.client.client_id.clone()),
            ("client_secret", secret),
            ("scope", "api://orders/.default".to_string()),
        ])
    };
    assert_eq!(post(client.secret.value.clone()).send().await.unwrap().status(), 401);
    assert_eq!(post(second.value.clone()).send().await.unwrap().status(), 200);
    // Only hashes are stored: the value appears nowhere in the database file.
    let db = std::fs::read(dir.path().join(fngate_store::DB_FILE)).unwrap();
    let wal = std::fs::read(dir.path().join(format!("{}-wal", fngate_store::DB_FILE))).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(second.value.len()).any(|w| w == second.value.as_bytes()));
    }
    idp.stop().await;
}
