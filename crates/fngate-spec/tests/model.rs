//! Behaviour the gateway and auth crates rely on: defaults, matching helpers, normalisation.

use std::time::Duration;

use fngate_spec::{
    AnyOfSelectionKey, AuthenticationPolicy, DynamicSelectionKey, HttpBackend, IfExists, Method, PublicKeySet, SetItem,
    SpecFormat, StaticPublicKey, TokenValidationPolicy, WildcardSelectionKey, parse, wildcard_matches,
};

#[test]
fn http_backend_defaults_are_ocis() {
    let backend: HttpBackend = serde_json::from_str(r#"{"url":"https://x"}"#).unwrap();
    assert_eq!(backend.connect_timeout(), Duration::from_secs(60));
    assert_eq!(backend.read_timeout(), Duration::from_secs(10));
    assert_eq!(backend.send_timeout(), Duration::from_secs(10));
    assert!(backend.verifies_tls());
    let backend: HttpBackend =
        serde_json::from_str(r#"{"url":"https://x","connectTimeoutInSeconds":1.5,"isSslVerifyDisabled":true}"#)
            .unwrap();
    assert_eq!(backend.connect_timeout(), Duration::from_millis(1500));
    assert!(!backend.verifies_tls());
}

#[test]
fn set_items_default_to_overwrite() {
    let item: SetItem = serde_json::from_str(r#"{"name":"X","values":["v"]}"#).unwrap();
    assert_eq!(item.if_exists(), IfExists::Overwrite);
}

#[test]
fn methods_match_any() {
    assert!(Method::Any.matches("PATCH"));
    assert!(Method::Get.matches("GET"));
    assert!(!Method::Get.matches("HEAD"));
}

#[test]
fn wildcard_keys_match_as_documented() {
    let cases = [
        ("*.example.com", "a.example.com", true),
        ("*.example.com", ".example.com", true),
        ("+.example.com", ".example.com", false),
        ("+.example.com", "a.example.com", true),
        ("v2*", "v2", true),
        ("v2+", "v2", false),
        ("v2+", "v2.1", true),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ];
    for (expression, value, expected) in cases {
        assert_eq!(wildcard_matches(expression, value), expected, "{expression} vs {value}");
    }
    let wild = DynamicSelectionKey::Wildcard(WildcardSelectionKey {
        name: "w".into(),
        is_default: None,
        expression: "application/*".into(),
    });
    assert!(wild.matches("application/json"));
    let any = DynamicSelectionKey::AnyOf(AnyOfSelectionKey {
        name: "a".into(),
        is_default: Some(true),
        values: vec!["1".into(), "2".into()],
    });
    assert!(any.matches("2") && !any.matches("3") && any.is_default());
}

#[test]
fn legacy_static_keys_normalise_with_their_checks() {
    let path = format!(
        "{}/tests/data/kitchen-sink.dynamic-auth.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec = parse(&std::fs::read_to_string(path).unwrap(), SpecFormat::Json)
        .unwrap()
        .spec;
    let servers = &spec
        .request_policies
        .unwrap()
        .dynamic_authentication
        .unwrap()
        .authentication_servers;
    let AuthenticationPolicy::Jwt(legacy) = &servers[0].authentication_server_detail else {
        panic!("legacy jwt")
    };
    let token = legacy.to_token_authentication();
    assert_eq!(token.token_query_param.as_deref(), Some("access_token"));
    assert_eq!(token.max_clock_skew_in_seconds, Some(120.0));
    assert_eq!(token.is_anonymous_access_allowed, Some(true));
    let TokenValidationPolicy::StaticKeys(keys) = &token.validation_policy else {
        panic!("static keys")
    };
    assert_eq!(
        keys.keys.iter().map(StaticPublicKey::kid).collect::<Vec<_>>(),
        vec!["k1", "k2"]
    );
    let additional = keys.additional_validation_policy.as_ref().unwrap();
    assert_eq!(additional.issuers, vec!["https://issuer.example.com"]);
    assert_eq!(additional.audiences, vec!["aud-a"]);
    assert_eq!(additional.verify_claims[0].key, "role");
    assert!(servers[1].authentication_server_detail.token_authentication().is_none());
    // The legacy policy serialises back in its own shape.
    let json = serde_json::to_value(&servers[0].authentication_server_detail).unwrap();
    assert_eq!(json["type"], "JWT_AUTHENTICATION");
    assert!(json.get("validationPolicy").is_none());
    assert!(matches!(legacy.public_keys, PublicKeySet::StaticKeys(_)));
}
