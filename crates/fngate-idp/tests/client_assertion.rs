//! Certificate credentials (issue #16): a client registered with a certificate gets tokens with an
//! RFC 7523 assertion signed by its key, found by `x5t` or `x5t#S256`; every failure answers
//! Entra's error (issue #13 item 7: an assertion is never "required" when one was sent).

mod certs;
mod common;

use certs::{Cert, claims};
use common::*;
use fngate_idp::api::NewCertificate;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn post(http: &reqwest::Client, url: &str, form: &[(&str, String)]) -> (u16, Value) {
    let response = http.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

type Form = Vec<(&'static str, String)>;

fn form(client_id: &str, assertion: String) -> Form {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client_id.into()),
        ("scope", "api://orders/.default".into()),
        ("client_assertion_type", JWT_BEARER.into()),
        ("client_assertion", assertion),
    ]
}

fn code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn certificate_assertions_get_tokens_and_each_bad_one_gets_entras_error() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (_api, client) = register(&idp.idp, 2).await;
    let tid = idp.tid();
    let id = client.client.client_id.clone();
    let cert = Cert::new("daemon", 30);
    let registered = idp
        .idp
        .add_certificate(
            &id,
            NewCertificate {
                pem: cert.cert_pem.clone(),
                description: "ci".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(registered.thumbprint, cert.thumbprint());
    let http = http_client();
    let url = format!("{}/{tid}/oauth2/v2.0/token", idp.http);
    let keys = jwks(&http, &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");

    // RS256 + x5t, and PS256 + x5t#S256: both get a token that says "certificate" (azpacr 2).
    for assertion in [cert.sign(&claims(&id, &url)), cert.sign_s256(&claims(&id, &url))] {
        let (status, body) = post(&http, &url, &form(&id, assertion)).await;
        assert_eq!(status, 200, "{body}");
        let token = verify(body["access_token"].as_str().unwrap(), &keys, &issuer, &_api.client_id).unwrap();
        assert_eq!(token["azpacr"], "2");
        assert_eq!(token["azp"], id.as_str());
    }
    // The v1 endpoint, the tenant by name, and Entra's own token URL as `aud` are fine too.
    let v1 = format!("{}/default/oauth2/token", idp.http);
    let mut v1_form = form(&id, cert.sign(&claims(&id, &v1)));
    v1_form.retain(|(n, _)| *n != "scope");
    v1_form.push(("resource", "api://orders".into()));
    let (status, body) = post(&http, &v1, &v1_form).await;
    assert_eq!(status, 200, "{body}");
    let entra = format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token");
    assert_eq!(
        post(&http, &url, &form(&id, cert.sign(&claims(&id, &entra)))).await.0,
        200
    );

    // Replayed: the same assertion a second time.
    let once = cert.sign(&claims(&id, &url));
    assert_eq!(post(&http, &url, &form(&id, once.clone())).await.0, 200);
    let (status, body) = post(&http, &url, &form(&id, once)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(code(&body), 50013, "{body}");

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let other = Cert::new("intruder", 30);
    let mut expired = claims(&id, &url);
    expired["exp"] = json!(now - 3600);
    expired["nbf"] = json!(now - 4200);
    let mut early = claims(&id, &url);
    early["nbf"] = json!(now + 3600);
    early["exp"] = json!(now + 4000);
    let mut no_exp = claims(&id, &url);
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut wrong_iss = claims(&id, &url);
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_sub = claims(&id, &url);
    wrong_sub["sub"] = json!("someone-else");
    let tampered = {
        let good = cert.sign(&claims(&id, &url));
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut payload = claims(&id, &url);
        payload["sub"] = json!(id.clone());
        payload["exp"] = json!(now + 86400);
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload.to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, Form, u16, &str, u64)> = vec![
        ("expired", form(&id, cert.sign(&expired)), 401, "invalid_client", 700024),
        (
            "not yet valid",
            form(&id, cert.sign(&early)),
            401,
            "invalid_client",
            700024,
        ),
        ("no exp", form(&id, cert.sign(&no_exp)), 401, "invalid_client", 700024),
        (
            "unknown thumbprint",
            form(&id, other.sign(&claims(&id, &url))),
            401,
            "invalid_client",
            700027,
        ),
        (
            "right thumbprint, other key",
            form(
                &id,
                other.sign_with(&claims(&id, &url), Algorithm::RS256, |h| h.x5t = Some(cert.x5t())),
            ),
            401,
            "invalid_client",
            700027,
        ),
        ("tampered payload", form(&id, tampered), 401, "invalid_client", 700027),
        (
            "no thumbprint",
            form(&id, cert.sign_with(&claims(&id, &url), Algorithm::RS256, |_| {})),
            401,
            "invalid_client",
            700027,
        ),
        (
            "iss is not the client",
            form(&id, cert.sign(&wrong_iss)),
            401,
            "invalid_client",
            700021,
        ),
        (
            "sub is not the client",
            form(&id, cert.sign(&wrong_sub)),
            401,
            "invalid_client",
            700021,
        ),
        (
            "aud is another endpoint",
            form(&id, cert.sign(&claims(&id, "https://example.com/token"))),
            401,
            "invalid_client",
            700023,
        ),
        ("not a JWT", form(&id, "not-a-jwt".into()), 401, "invalid_client", 50027),
    ];
    for (name, form, status, error, expected) in cases {
        let (got, body) = post(&http, &url, &form).await;
        assert_eq!(
            (got, body["error"].as_str(), code(&body)),
            (status, Some(error), expected),
            "{name}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{expected}:")),
            "{name}: {body}"
        );
    }
    // An assertion type Entra does not take, and a missing type: never "assertion required".
    let mut saml = form(&id, cert.sign(&claims(&id, &url)));
    saml.retain(|(n, _)| *n != "client_assertion_type");
    let (status, body) = post(&http, &url, &saml).await;
    assert_eq!((status, code(&body)), (400, 900144), "{body}");
    saml.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into(),
    ));
    let (status, body) = post(&http, &url, &saml).await;
    assert_eq!(
        (status, body["error"].as_str(), code(&body)),
        (400, Some("invalid_request"), 90011),
        "{body}"
    );

    // Removed by thumbprint: the certificate stops working at once.
    idp.idp.remove_certificate(&id, &cert.thumbprint()).await.unwrap();
    let (status, body) = post(&http, &url, &form(&id, cert.sign(&claims(&id, &url)))).await;
    assert_eq!((status, code(&body)), (401, 700027), "{body}");
    idp.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_and_bad_pem_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (_api, client) = register(&idp.idp, 2).await;
    let id = client.client.client_id.clone();
    let tid = idp.tid();
    let old = Cert::new("old", -1);
    let info = idp
        .idp
        .add_certificate(
            &id,
            NewCertificate {
                pem: old.cert_pem.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(info.expired);
    let url = format!("{}/{tid}/oauth2/v2.0/token", idp.http);
    let (status, body) = post(&http_client(), &url, &form(&id, old.sign(&claims(&id, &url)))).await;
    assert_eq!((status, code(&body)), (401, 700027), "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    for (pem, says) in [
        (old.key_pem.clone(), "private key"),
        ("hello".to_string(), "no '-----BEGIN CERTIFICATE-----'"),
    ] {
        let err = idp
            .idp
            .add_certificate(
                &id,
                NewCertificate {
                    pem,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    // The same certificate twice on one client is a conflict.
    let err = idp
        .idp
        .add_certificate(
            &id,
            NewCertificate {
                pem: old.cert_pem.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    idp.stop().await;
}
