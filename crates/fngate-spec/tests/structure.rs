//! Structural errors carry the full JSON path, also inside `type`-discriminated objects, and
//! unknown fields become warnings.

use fngate_spec::{SpecFormat, parse};

fn errors(text: &str) -> Vec<String> {
    match parse(text, SpecFormat::Json) {
        Ok(parsed) => panic!("expected errors, got {:?}", parsed.spec),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match parse(text, SpecFormat::Json) {
        Ok(parsed) => parsed.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected success, got {e}"),
    }
}

#[test]
fn errors_inside_tagged_objects_name_the_full_path() {
    let text = r#"{"routes":[
        {"path":"/a","backend":{"type":"STOCK_RESPONSE_BACKEND","status":200}},
        {"path":"/b","backend":{"type":"DYNAMIC_ROUTING_BACKEND",
            "selectionSource":{"type":"SINGLE","selector":"request.headers[X]"},
            "routingBackends":[{"key":{"type":"ANY_OF","name":"a","values":["x"]},
                                "backend":{"type":"HTTP_BACKEND","url":7}}]}},
        {"path":"/c","backend":{"type":"NOPE"}}
    ]}"#;
    assert_eq!(
        errors(text),
        vec![
            "routes[1].backend.routingBackends[0].backend.url: invalid type: integer `7`, expected a string",
            "routes[2].backend.type: unknown variant `NOPE`, expected one of `HTTP_BACKEND`, `ORACLE_FUNCTIONS_BACKEND`, \
             `STOCK_RESPONSE_BACKEND`, `DYNAMIC_ROUTING_BACKEND`, `OAUTH2_LOGIN_BACKEND`, `OAUTH2_LOGOUT_BACKEND`",
        ]
    );
}

#[test]
fn unknown_fields_are_warnings_with_paths_and_suggestions() {
    let text = r#"{"routes":[{"path":"/a","methdos":["GET"],
        "backend":{"type":"HTTP_BACKEND","url":"https://example.com","isSSLVerifyDisabled":true}}],
        "requestPolicies":{"authentication":{"type":"TOKEN_AUTHENTICATION","tokenHeader":"Authorization",
            "tokenAuthScheme":"Bearer","validationPolicy":{"type":"REMOTE_JWKS","uri":"https://idp.example.com/keys",
            "additionalValidationPolicy":{"audiences":["api://x"],"issuers":["https://idp.example.com"]}},
            "validationFailurePolicy":{"type":"MODIFY_RESPONSE","responseCode":"401",
                "responseTransformations":{}}},
        "extra":1}}"#;
    assert_eq!(
        warnings(text),
        vec![
            "routes[0].methdos: unknown field `methdos` is ignored; did you mean `methods`?",
            "routes[0].backend.isSSLVerifyDisabled: unknown field `isSSLVerifyDisabled` is ignored; did you mean \
             `isSslVerifyDisabled`? (the OCI docs print `isSSLVerifyDisabled`; the API field is `isSslVerifyDisabled`)",
            "requestPolicies.authentication.validationFailurePolicy.responseTransformations: unknown field \
             `responseTransformations` is ignored; did you mean `responseHeaderTransformations`? (the token-authentication \
             docs print `responseTransformations`; the MODIFY_RESPONSE API field is `responseHeaderTransformations`)",
            "requestPolicies.extra: unknown field `extra` is ignored",
        ]
    );
}

#[test]
fn every_broken_field_of_a_route_is_reported() {
    let text = r#"{"routes":[{"methods":["GET","FETCH"],
        "backend":{"type":"HTTP_BACKEND","url":"https://x.example.com","readTimeoutInSeconds":"10"},
        "requestPolicies":{"authorization":{"type":"ANY_OF"},"cors":{"allowedOrigins":"*"}},
        "responsePolicies":[]}]}"#;
    assert_eq!(
        errors(text),
        vec![
            "routes[0]: missing field `path`",
            "routes[0].methods[1]: unknown variant `FETCH`, expected one of `ANY`, `HEAD`, `GET`, `POST`, `PUT`, \
             `PATCH`, `DELETE`, `OPTIONS`",
            "routes[0].backend.readTimeoutInSeconds: invalid type: string \"10\", expected f64",
            "routes[0].requestPolicies.authorization: missing field `allowedScope`",
            "routes[0].requestPolicies.cors.allowedOrigins: invalid type: string \"*\", expected a sequence",
            "routes[0].responsePolicies: expected an object",
        ]
    );
}

#[test]
fn structural_and_semantic_problems_are_reported_together() {
    // routes[0] parses but breaks a rule; routes[1] does not parse; routes[2] clashes with
    // routes[0] (indices in messages are the document's, even with routes[1] left out).
    let text = r#"{"routes":[
        {"path":"/a/{id}","methods":["GET"],"backend":{"type":"STOCK_RESPONSE_BACKEND","status":999}},
        {"path":"/b","backend":{"type":"HTTP_BACKEND"}},
        {"path":"/a/{x}","backend":{"type":"STOCK_RESPONSE_BACKEND","status":200}}
    ]}"#;
    assert_eq!(
        errors(text),
        vec![
            "routes[1].backend: missing field `url`",
            "routes[0].backend.status: must be an HTTP status between 100 and 599 (got 999)",
            "routes[2].path: `/a/{x}` with method GET is already defined by routes[0]",
        ]
    );
}

#[test]
fn a_broken_authentication_policy_is_not_second_guessed_by_route_checks() {
    // The authentication policy fails to parse, so whether ANONYMOUS is allowed is unknown:
    // only the parse error is reported, not a guess about the route.
    let text = r#"{"requestPolicies":{"authentication":{"type":"TOKEN_AUTHENTICATION","tokenHeader":"Authorization"}},
        "routes":[{"path":"/a","backend":{"type":"STOCK_RESPONSE_BACKEND","status":200},
                   "requestPolicies":{"authorization":{"type":"ANONYMOUS"}}},
                  {"path":"/b","backend":{"type":"OAUTH2_LOGIN_BACKEND"},
                   "requestPolicies":{"authorization":{"type":"ANY_OF","allowedScope":["has space"]}}}]}"#;
    let err = parse(text, SpecFormat::Json).unwrap_err();
    let errors: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        vec!["requestPolicies.authentication: missing field `validationPolicy`"]
    );
    // Checks that do not depend on the broken policy still run.
    let warnings: Vec<String> = err.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "routes[1].requestPolicies.authorization.allowedScope[0]: `has space` contains whitespace, so it never \
             matches a scope from a space-separated claim",
        ]
    );
}
