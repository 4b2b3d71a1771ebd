//! The discovery documents advertise only what this server serves (issue #13 item 7): every
//! endpoint URL points at this IdP and answers there, none leaves the machine.

mod common;

use common::*;
use serde_json::Value;

/// The members of a metadata document that are URLs a client may follow.
fn endpoint_urls(doc: &Value) -> Vec<(String, String)> {
    doc.as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| {
            name.ends_with("_endpoint") || name.ends_with("_uri") || name.ends_with("_url") || name.ends_with("_iframe")
        })
        .filter_map(|(name, value)| value.as_str().map(|v| (name.clone(), v.to_string())))
        .collect()
}

#[tokio::test]
async fn every_advertised_endpoint_is_on_this_server_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let tid = idp.tid();
    let http = http_client();
    for path in [
        format!("{tid}/v2.0/.well-known/openid-configuration"),
        format!("{tid}/.well-known/openid-configuration"),
    ] {
        let doc: Value = http
            .get(format!("{}/{path}", idp.http))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let urls = endpoint_urls(&doc);
        assert!(
            urls.iter().any(|(name, _)| name == "authorization_endpoint"),
            "MSAL requires authorization_endpoint: {doc}"
        );
        assert!(!doc.to_string().contains("graph.microsoft.com/oidc"), "{path}: {doc}");
        for (name, url) in urls {
            assert!(
                url.starts_with(&format!("{}/", idp.http)),
                "{path}: {name} = {url} is not on this server"
            );
            // Served: a GET (or, for the token endpoint, its POST) is answered by a handler,
            // never the router's 404/405.
            let response = if name == "token_endpoint" {
                http.post(&url).form(&[("grant_type", "none")]).send().await.unwrap()
            } else {
                http.get(&url).send().await.unwrap()
            };
            let status = response.status().as_u16();
            assert!(
                status != 404 && status != 405,
                "{path}: {name} = {url} answers {status}"
            );
        }
        // The sign-in endpoints are served now, so they are listed; logout is not.
        for name in [
            "authorization_endpoint",
            "device_authorization_endpoint",
            "userinfo_endpoint",
        ] {
            assert!(doc[name].is_string(), "{path}: {name} missing: {doc}");
        }
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        for name in ["kerberos_endpoint", "check_session_iframe", "end_session_endpoint"] {
            assert!(doc.get(name).is_none(), "{path}: {name} is not served: {doc}");
        }
    }
    idp.stop().await;
}
