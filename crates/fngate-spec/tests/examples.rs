//! The example specifications from the walkthrough parse, normalise and round-trip.

use fngate_spec::{
    AuthenticationPolicy, Backend, Method, RouteAuthorizationPolicy, SpecFormat, TokenValidationPolicy, parse,
};

fn example(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn seed_token_auth_example_parses_without_warnings() {
    let parsed = parse(&example("seed-deployment.token-auth.json"), SpecFormat::Json).expect("valid spec");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let spec = parsed.spec;
    assert_eq!(spec.routes.len(), 1);
    assert_eq!(spec.routes[0].path, "/python-func");
    assert_eq!(spec.routes[0].methods, vec![Method::Get]);
    let Backend::OracleFunctions(backend) = &spec.routes[0].backend else {
        panic!("function backend")
    };
    assert_eq!(backend.function_id, "<function-id>");
    let auth = spec.request_policies.unwrap().authentication.unwrap();
    let AuthenticationPolicy::Token(token) = auth else {
        panic!("token auth")
    };
    assert_eq!(token.token_header.as_deref(), Some("Authorization"));
    assert_eq!(token.max_clock_skew_in_seconds, Some(0.0));
    let TokenValidationPolicy::RemoteJwks(jwks) = &token.validation_policy else {
        panic!("remote jwks")
    };
    assert_eq!(
        jwks.uri,
        "https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys"
    );
    let additional = jwks.additional_validation_policy.as_ref().unwrap();
    assert_eq!(additional.audiences, vec!["api://<oci-app-client-id>"]);
}

#[test]
fn legacy_jwt_example_is_kept_as_written_and_normalises_to_the_token_example() {
    let legacy = parse(&example("seed-deployment.jwt-auth.json"), SpecFormat::Json).expect("valid spec");
    assert!(legacy.warnings.is_empty(), "{:?}", legacy.warnings);
    let auth = legacy
        .spec
        .request_policies
        .as_ref()
        .unwrap()
        .authentication
        .as_ref()
        .unwrap();
    assert!(auth.is_legacy_jwt());
    let text = serde_json::to_value(&legacy.spec).unwrap();
    assert_eq!(text["requestPolicies"]["authentication"]["type"], "JWT_AUTHENTICATION");
    assert_eq!(
        text["requestPolicies"]["authentication"]["publicKeys"]["type"],
        "REMOTE_JWKS"
    );

    // The token example is the same policy in the current shape, except for the explicit
    // maxClockSkewInSeconds: 0 (the default) it adds.
    let current = parse(&example("seed-deployment.token-auth.json"), SpecFormat::Json).expect("valid spec");
    let AuthenticationPolicy::Token(mut expected) = current.spec.request_policies.unwrap().authentication.unwrap()
    else {
        panic!("token auth")
    };
    expected.max_clock_skew_in_seconds = None;
    assert_eq!(auth.normalized(), AuthenticationPolicy::Token(expected.clone()));
    assert_eq!(auth.token_authentication(), Some(expected));
}

#[test]
fn full_featured_example_parses_every_section() {
    let parsed = parse(&example("full-featured.token-auth.json"), SpecFormat::Json).expect("valid spec");
    // The one policy fngate accepts without acting on it says so, at its path.
    let paths: Vec<&str> = parsed.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["loggingPolicies.executionLog"], "{:?}", parsed.warnings);
    assert!(parsed.warnings[0].message.starts_with("accepted but not acted on"));
    let spec = parsed.spec;
    assert_eq!(spec.routes.len(), 4);
    let policies = spec.request_policies.as_ref().unwrap();
    assert_eq!(policies.rate_limiting.as_ref().unwrap().rate_in_requests_per_second, 50);
    assert_eq!(policies.cors.as_ref().unwrap().max_age_in_seconds, Some(600));
    assert!(policies.authentication.as_ref().unwrap().is_anonymous_access_allowed());

    let Backend::Http(items) = &spec.routes[1].backend else {
        panic!("http backend")
    };
    assert_eq!(items.read_timeout().as_secs(), 30);
    assert!(items.verifies_tls());
    assert_eq!(spec.routes[2].methods, vec![Method::Any]);
    assert_eq!(spec.routes[2].authorization(), RouteAuthorizationPolicy::Anonymous);
    let Backend::StockResponse(health) = &spec.routes[3].backend else {
        panic!("stock backend")
    };
    assert_eq!(health.status, 200);
    assert_eq!(health.body.as_deref(), Some("{\"status\":\"ok\"}"));
    assert_eq!(health.headers[0].name, "Content-Type");
}

#[test]
fn examples_round_trip_through_serialisation() {
    for name in [
        "seed-deployment.token-auth.json",
        "seed-deployment.jwt-auth.json",
        "full-featured.token-auth.json",
    ] {
        let first = parse(&example(name), SpecFormat::Json).expect("valid spec").spec;
        let json = serde_json::to_string_pretty(&first).unwrap();
        let again = parse(&json, SpecFormat::Json)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .spec;
        assert_eq!(first, again, "{name} (JSON)");
        let yaml = serde_yaml_ng::to_string(&first).unwrap();
        let again = parse(&yaml, SpecFormat::Yaml)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .spec;
        assert_eq!(first, again, "{name} (YAML)");
    }
}

#[test]
fn serialising_gives_back_the_users_json() {
    // Values are kept as written: same keys, no defaults filled in (numbers compare as f64).
    for name in [
        "seed-deployment.token-auth.json",
        "seed-deployment.jwt-auth.json",
        "full-featured.token-auth.json",
    ] {
        let text = example(name);
        let input: serde_json::Value = serde_json::from_str(&text).unwrap();
        let spec = parse(&text, SpecFormat::Json).unwrap().spec;
        let output = serde_json::to_value(&spec).unwrap();
        assert_eq!(normalise_numbers(input), normalise_numbers(output), "{name}");
    }
}

fn normalise_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise_numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalise_numbers(v))).collect()),
        other => other,
    }
}

#[test]
fn kitchen_sink_specs_use_every_type_and_round_trip() {
    for name in ["kitchen-sink.oauth2.json", "kitchen-sink.dynamic-auth.json"] {
        let text = example(name);
        let parsed = parse(&text, SpecFormat::Json).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        // Only the policies fngate accepts but does not act on (caching, execution logs) warn.
        assert!(
            parsed
                .warnings
                .iter()
                .all(|w| w.message.starts_with("accepted but not acted on")
                    && (w.path.ends_with("executionLog") || w.path.contains("responseCache"))),
            "{name}: {:?}",
            parsed.warnings
        );
        let input: serde_json::Value = serde_json::from_str(&text).unwrap();
        let output = serde_json::to_value(&parsed.spec).unwrap();
        assert_eq!(normalise_numbers(input), normalise_numbers(output), "{name}");
        let yaml = serde_yaml_ng::to_string(&parsed.spec).unwrap();
        assert_eq!(
            parse(&yaml, SpecFormat::Yaml).unwrap().spec,
            parsed.spec,
            "{name} (YAML)"
        );
    }
}
