//! Table-driven checks: each case edits a valid base specification and asserts the exact
//! `path: message` lines a user sees.

use fngate_spec::{SpecFormat, parse};
use serde_json::{Value, json};

/// A valid spec: token authentication (anonymous allowed) and one stock-response route.
fn base() -> Value {
    json!({
        "requestPolicies": {
            "authentication": {
                "type": "TOKEN_AUTHENTICATION",
                "tokenHeader": "Authorization",
                "tokenAuthScheme": "Bearer",
                "isAnonymousAccessAllowed": true,
                "validationPolicy": {
                    "type": "REMOTE_JWKS",
                    "uri": "https://idp.example.com/keys",
                    "additionalValidationPolicy": { "issuers": ["https://idp.example.com/"], "audiences": ["api://app"] }
                }
            }
        },
        "routes": [
            { "path": "/a", "methods": ["GET"], "backend": { "type": "STOCK_RESPONSE_BACKEND", "status": 200 } }
        ]
    })
}

/// Sets `value` at a JSON pointer, creating objects (and appending to arrays) as needed;
/// `null` removes the key.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let last = parts.pop().unwrap();
    let mut node = doc;
    for part in parts {
        node = match node {
            Value::Array(items) => {
                let i: usize = part.parse().unwrap();
                if i == items.len() {
                    items.push(json!({}));
                }
                &mut items[i]
            }
            Value::Object(map) => map.entry(part).or_insert_with(|| json!({})),
            other => panic!("cannot descend into {other}"),
        };
    }
    match node {
        Value::Array(items) => {
            let i: usize = last.parse().unwrap();
            if i == items.len() {
                items.push(value)
            } else {
                items[i] = value
            }
        }
        Value::Object(map) if value.is_null() => {
            map.remove(last);
        }
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        other => panic!("cannot set inside {other}"),
    }
}

fn edited(edits: &[(&str, Value)]) -> Value {
    let mut doc = base();
    for (pointer, value) in edits {
        set(&mut doc, pointer, value.clone());
    }
    doc
}

fn outcome(doc: &Value) -> (Vec<String>, Vec<String>) {
    match parse(&doc.to_string(), SpecFormat::Json) {
        Ok(parsed) => (Vec::new(), parsed.warnings.iter().map(ToString::to_string).collect()),
        Err(e) => (
            e.errors.iter().map(ToString::to_string).collect(),
            e.warnings.iter().map(ToString::to_string).collect(),
        ),
    }
}

/// (name, JSON-pointer edits, expected `path: message` lines).
type Case = (&'static str, Vec<(&'static str, Value)>, Vec<&'static str>);

fn stock() -> Value {
    json!({ "type": "STOCK_RESPONSE_BACKEND", "status": 200 })
}

fn http(url: &str) -> Value {
    json!({ "type": "HTTP_BACKEND", "url": url })
}

#[test]
fn base_spec_is_valid_and_quiet() {
    assert_eq!(outcome(&base()), (vec![], vec![]));
}

#[test]
fn errors_name_their_json_path() {
    let cases: Vec<Case> = vec![
        // Routes and paths.
        (
            "no routes",
            vec![("/routes", json!([]))],
            vec!["routes: at least one route is required"],
        ),
        (
            "relative path",
            vec![("/routes/0/path", json!("a"))],
            vec!["routes[0].path: must start with `/` (got `a`)"],
        ),
        (
            "wildcard not last",
            vec![("/routes/0/path", json!("/a/{p*}/b"))],
            vec!["routes[0].path: the wildcard `{p*}` must be the last segment"],
        ),
        (
            "parameter inside a segment",
            vec![("/routes/0/path", json!("/file-{id}.json"))],
            vec![
                "routes[0].path: the segment `file-{id}.json` mixes text and a parameter; a parameter must be a whole segment",
            ],
        ),
        (
            "same path and method twice",
            vec![
                ("/routes/0/path", json!("/items/{id}")),
                (
                    "/routes/1",
                    json!({ "path": "/items/{x}", "methods": ["ANY"], "backend": stock() }),
                ),
            ],
            vec!["routes[1].path: `/items/{x}` with method GET is already defined by routes[0]"],
        ),
        (
            "unknown method",
            vec![("/routes/0/methods/1", json!("FETCH"))],
            vec![
                "routes[0].methods[1]: unknown variant `FETCH`, expected one of `ANY`, `HEAD`, `GET`, `POST`, `PUT`, \
                 `PATCH`, `DELETE`, `OPTIONS`",
            ],
        ),
        // HTTP backend.
        (
            "non-http backend url",
            vec![("/routes/0/backend", http("ftp://files.example.com/x"))],
            vec!["routes[0].backend.url: `ftp://files.example.com/x` must be an http:// or https:// URL"],
        ),
        (
            "context variable in the query",
            vec![(
                "/routes/0/backend",
                http("https://b.example.com/x?id=${request.query[id]}"),
            )],
            vec![
                "routes[0].backend.url: context variables are not allowed in the query string; use \
                 queryParameterTransformations",
            ],
        ),
        (
            "context variable in the host",
            vec![("/routes/0/backend", http("https://${request.headers[Host]}/x"))],
            vec![
                "routes[0].backend.url: context variables are allowed only in the URL path, not in the scheme or host",
            ],
        ),
        (
            "unknown context table",
            vec![("/routes/0/backend", http("https://b.example.com/${request.nope[x]}"))],
            vec![
                "routes[0].backend.url: unknown context table `request.nope`; expected request.path[..], \
                 request.query[..], request.headers[..], request.auth[..], request.cert[..], request.subdomain[..], \
                 request.usage_plan[..], request.host or request.body",
            ],
        ),
        (
            "timeouts out of range",
            vec![(
                "/routes/0/backend",
                json!({ "type": "HTTP_BACKEND", "url": "https://b.example.com", "connectTimeoutInSeconds": 0.5,
                        "readTimeoutInSeconds": 301, "sendTimeoutInSeconds": 300 }),
            )],
            vec![
                "routes[0].backend.connectTimeoutInSeconds: must be between 1 and 75 seconds (got 0.5)",
                "routes[0].backend.readTimeoutInSeconds: must be between 1 and 300 seconds (got 301)",
            ],
        ),
        (
            "missing url",
            vec![("/routes/0/backend", json!({ "type": "HTTP_BACKEND" }))],
            vec!["routes[0].backend: missing field `url`"],
        ),
        // Stock response and function backends.
        (
            "stock status out of range",
            vec![("/routes/0/backend/status", json!(700))],
            vec!["routes[0].backend.status: must be an HTTP status between 100 and 599 (got 700)"],
        ),
        (
            "stock body too large",
            vec![("/routes/0/backend/body", json!("x".repeat(6000)))],
            vec!["routes[0].backend.body: is 6000 bytes; OCI allows at most 5120"],
        ),
        (
            "stock header with a newline",
            vec![(
                "/routes/0/backend/headers",
                json!([{ "name": "Bad Name", "value": "a\nb" }]),
            )],
            vec![
                "routes[0].backend.headers[0].name: `Bad Name` is not a valid header name",
                "routes[0].backend.headers[0].value: a header value must not contain CR, LF or NUL",
            ],
        ),
        (
            "empty function id",
            vec![(
                "/routes/0/backend",
                json!({ "type": "ORACLE_FUNCTIONS_BACKEND", "functionId": " " }),
            )],
            vec!["routes[0].backend.functionId: must not be empty"],
        ),
        // Dynamic routing.
        (
            "dynamic routing keys",
            vec![(
                "/routes/0/backend",
                json!({ "type": "DYNAMIC_ROUTING_BACKEND",
                        "selectionSource": { "type": "SINGLE", "selector": "request.header[X-V]" },
                        "routingBackends": [
                            { "key": { "type": "ANY_OF", "name": "a", "values": ["1"], "isDefault": true }, "backend": stock() },
                            { "key": { "type": "ANY_OF", "name": "a", "values": ["1"], "isDefault": true }, "backend": stock() },
                            { "key": { "type": "WILDCARD", "name": "w", "expression": "a*b*" }, "backend": stock() },
                            { "key": { "type": "ANY_OF", "name": "n" },
                              "backend": { "type": "DYNAMIC_ROUTING_BACKEND",
                                           "selectionSource": { "type": "SINGLE", "selector": "request.host" },
                                           "routingBackends": [] } }
                        ] }),
            )],
            vec![
                "routes[0].backend.selectionSource.selector: unknown context table `request.header`; did you mean \
                 `request.headers[X-V]`? (the OCI docstring example says request.header; the table is request.headers)",
                "routes[0].backend.routingBackends[1].key.name: the name `a` is already used by \
                 routes[0].backend.routingBackends[0].key",
                "routes[0].backend.routingBackends[1].key.isDefault: only one key may be the default; \
                 routes[0].backend.routingBackends[0].key already is",
                "routes[0].backend.routingBackends[1].key.values[0]: `1` is already matched by \
                 routes[0].backend.routingBackends[0].key.values[0]",
                "routes[0].backend.routingBackends[2].key.expression: must contain exactly one `*` or `+`, at the \
                 start or the end (got `a*b*`)",
                "routes[0].backend.routingBackends[3].key.values: ANY_OF needs at least one value (or isDefault: true)",
                "routes[0].backend.routingBackends[3].backend.type: DYNAMIC_ROUTING_BACKEND cannot be a dynamic \
                 routing target; use HTTP_BACKEND, ORACLE_FUNCTIONS_BACKEND or STOCK_RESPONSE_BACKEND",
            ],
        ),
        (
            "oauth2 login backend without an oauth2 policy",
            vec![("/routes/0/backend", json!({ "type": "OAUTH2_LOGIN_BACKEND" }))],
            vec![
                "routes[0].backend.type: OAUTH2_LOGIN_BACKEND needs a TOKEN_AUTHENTICATION policy with an OAUTH2 validationFailurePolicy",
            ],
        ),
        // Authorization.
        (
            "anonymous route without anonymous access",
            vec![
                ("/requestPolicies/authentication/isAnonymousAccessAllowed", json!(false)),
                (
                    "/routes/0/requestPolicies/authorization",
                    json!({ "type": "ANONYMOUS" }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.authorization.type: ANONYMOUS needs isAnonymousAccessAllowed: true on the \
                 TOKEN_AUTHENTICATION policy",
            ],
        ),
        (
            "any_of without scopes",
            vec![(
                "/routes/0/requestPolicies/authorization",
                json!({ "type": "ANY_OF", "allowedScope": [] }),
            )],
            vec!["routes[0].requestPolicies.authorization.allowedScope: ANY_OF needs at least one scope"],
        ),
        (
            "any_of missing allowedScope",
            vec![("/routes/0/requestPolicies/authorization", json!({ "type": "ANY_OF" }))],
            vec!["routes[0].requestPolicies.authorization: missing field `allowedScope`"],
        ),
        (
            "authorization without authentication",
            vec![
                ("/requestPolicies", Value::Null),
                (
                    "/routes/0/requestPolicies/authorization",
                    json!({ "type": "AUTHENTICATION_ONLY" }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.authorization.type: AUTHENTICATION_ONLY needs an authentication policy in \
                 requestPolicies.authentication",
            ],
        ),
        // Token authentication.
        (
            "token in header and query",
            vec![("/requestPolicies/authentication/tokenQueryParam", json!("access_token"))],
            vec!["requestPolicies.authentication: set either tokenHeader or tokenQueryParam, not both"],
        ),
        (
            "no token location",
            vec![
                ("/requestPolicies/authentication/tokenHeader", Value::Null),
                ("/requestPolicies/authentication/tokenAuthScheme", Value::Null),
            ],
            vec!["requestPolicies.authentication: set tokenHeader (with tokenAuthScheme) or tokenQueryParam"],
        ),
        (
            "header without scheme",
            vec![("/requestPolicies/authentication/tokenAuthScheme", Value::Null)],
            vec![
                "requestPolicies.authentication.tokenAuthScheme: is required when tokenHeader is set (usually `Bearer`)",
            ],
        ),
        (
            "clock skew and cache duration out of range",
            vec![
                ("/requestPolicies/authentication/maxClockSkewInSeconds", json!(121)),
                (
                    "/requestPolicies/authentication/validationPolicy/maxCacheDurationInHours",
                    json!(25),
                ),
            ],
            vec![
                "requestPolicies.authentication.maxClockSkewInSeconds: must be between 0 and 120 seconds (got 121)",
                "requestPolicies.authentication.validationPolicy.maxCacheDurationInHours: must be between 1 and 24 \
                 hours (got 25)",
            ],
        ),
        (
            "too many issuers, audiences and claims",
            vec![
                (
                    "/requestPolicies/authentication/validationPolicy/additionalValidationPolicy/issuers",
                    json!(["1", "2", "3", "4", "5", "6"]),
                ),
                (
                    "/requestPolicies/authentication/validationPolicy/additionalValidationPolicy/audiences",
                    json!(["1", "2", "3", "4", "5", "6"]),
                ),
                (
                    "/requestPolicies/authentication/validationPolicy/additionalValidationPolicy/verifyClaims",
                    Value::Array(
                        (0..11)
                            .map(|i| json!({ "key": format!("c{i}"), "isRequired": true }))
                            .collect(),
                    ),
                ),
            ],
            vec![
                "requestPolicies.authentication.validationPolicy.additionalValidationPolicy.issuers: has 6 issuers; OCI allows at most 5",
                "requestPolicies.authentication.validationPolicy.additionalValidationPolicy.audiences: has 6 audiences; OCI allows at most 5",
                "requestPolicies.authentication.validationPolicy.additionalValidationPolicy.verifyClaims: has 11 claims; OCI allows at most 10",
            ],
        ),
        (
            "jwks uri not http",
            vec![(
                "/requestPolicies/authentication/validationPolicy/uri",
                json!("file:///etc/keys.json"),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.uri: `file:///etc/keys.json` must be an http:// or https:// URL",
            ],
        ),
        (
            "unknown validation policy type",
            vec![(
                "/requestPolicies/authentication/validationPolicy/type",
                json!("LOCAL_KEYS"),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.type: unknown variant `LOCAL_KEYS`, expected one of \
                 `REMOTE_JWKS`, `STATIC_KEYS`, `REMOTE_DISCOVERY`",
            ],
        ),
        (
            "oauth2 failure policy needs remote discovery",
            vec![(
                "/requestPolicies/authentication/validationFailurePolicy",
                json!({ "type": "OAUTH2", "clientDetails": { "type": "VALIDATION_BLOCK" },
                        "sourceUriDetails": { "type": "VALIDATION_BLOCK" }, "scopes": ["profile"], "responseType": "CODE",
                        "loginPath": "/login" }),
            )],
            vec![
                "requestPolicies.authentication.validationFailurePolicy.type: OAUTH2 is allowed only with \
                 validationPolicy REMOTE_DISCOVERY (this policy uses REMOTE_JWKS)",
                "requestPolicies.authentication.validationFailurePolicy.scopes: must include `openid`",
                "requestPolicies.authentication.validationFailurePolicy.loginPath: no route with path `/login` uses \
                 OAUTH2_LOGIN_BACKEND",
            ],
        ),
        (
            "modify response with a bad literal code",
            vec![(
                "/requestPolicies/authentication/validationFailurePolicy",
                json!({ "type": "MODIFY_RESPONSE", "responseCode": "abc", "responseMessage": "${request.body}" }),
            )],
            vec![
                "requestPolicies.authentication.validationFailurePolicy.responseCode: must be an HTTP status between \
                 100 and 599 or a context variable (got `abc`)",
                "requestPolicies.authentication.validationFailurePolicy.responseMessage: `request.body` can only be \
                 used as an authorizer function argument",
            ],
        ),
        (
            "remote discovery with validation blocks",
            vec![(
                "/requestPolicies/authentication/validationPolicy",
                json!({ "type": "REMOTE_DISCOVERY", "clientDetails": { "type": "VALIDATION_BLOCK" },
                        "sourceUriDetails": { "type": "VALIDATION_BLOCK" } }),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.clientDetails.type: VALIDATION_BLOCK is only valid \
                 inside an OAUTH2 validationFailurePolicy; use CUSTOM here",
                "requestPolicies.authentication.validationPolicy.sourceUriDetails.type: VALIDATION_BLOCK is only \
                 valid inside an OAUTH2 validationFailurePolicy; use DISCOVERY_URI here",
            ],
        ),
        (
            "static keys",
            vec![(
                "/requestPolicies/authentication/validationPolicy",
                json!({ "type": "STATIC_KEYS", "additionalValidationPolicy": { "audiences": ["a"] }, "keys": [
                    { "format": "JSON_WEB_KEY", "kid": "k", "kty": "EC", "use": "enc", "key_ops": ["sign"], "alg": "HS256",
                      "n": "wwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8",
                      "e": "not base64!" },
                    { "format": "PEM", "kid": "k", "key": "ssh-rsa AAAA" }
                ] }),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.keys[0].kty: must be `RSA` (got `EC`); OCI accepts RSA keys only",
                "requestPolicies.authentication.validationPolicy.keys[0].use: must be `sig` when present (got `enc`)",
                "requestPolicies.authentication.validationPolicy.keys[0].key_ops: must include `verify` when present",
                "requestPolicies.authentication.validationPolicy.keys[0].alg: `HS256` is not allowed; use RS256, RS384 or RS512 \
                 (or PS256, an fngate extension)",
                "requestPolicies.authentication.validationPolicy.keys[0].n: the RSA modulus has 1024 bits; OCI requires 2048 to 4096",
                "requestPolicies.authentication.validationPolicy.keys[0].e: is not base64url: Invalid symbol 32, offset 3.",
                "requestPolicies.authentication.validationPolicy.keys[1].kid: the kid `k` is already used by \
                 requestPolicies.authentication.validationPolicy.keys[0]",
                "requestPolicies.authentication.validationPolicy.keys[1].key: must be a PEM block starting with \
                 `-----BEGIN PUBLIC KEY-----`",
            ],
        ),
        (
            "static keys: none",
            vec![(
                "/requestPolicies/authentication/validationPolicy",
                json!({ "type": "STATIC_KEYS", "additionalValidationPolicy": { "audiences": ["a"] } }),
            )],
            vec!["requestPolicies.authentication.validationPolicy.keys: STATIC_KEYS needs at least one key"],
        ),
        (
            "static key missing format",
            vec![(
                "/requestPolicies/authentication/validationPolicy",
                json!({ "type": "STATIC_KEYS", "keys": [ { "kid": "k", "key": "x" } ] }),
            )],
            vec!["requestPolicies.authentication.validationPolicy.keys[0]: missing field `format`"],
        ),
        // Legacy and custom authentication.
        (
            "legacy jwt without issuers",
            vec![(
                "/requestPolicies/authentication",
                json!({ "type": "JWT_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
                        "isAnonymousAccessAllowed": true, "issuers": [], "audiences": ["a"],
                        "publicKeys": { "type": "REMOTE_JWKS", "uri": "https://idp.example.com/keys", "maxCacheDurationInHours": 0 } }),
            )],
            vec![
                "requestPolicies.authentication.issuers: JWT_AUTHENTICATION needs at least one entry in issuers",
                "requestPolicies.authentication.publicKeys.maxCacheDurationInHours: must be between 1 and 24 hours (got 0)",
            ],
        ),
        (
            "custom authentication arguments",
            vec![(
                "/requestPolicies/authentication",
                json!({ "type": "CUSTOM_AUTHENTICATION", "functionId": "ocid1.fnfunc.oc1..x", "isAnonymousAccessAllowed": true,
                        "tokenHeader": "X-Token",
                        "parameters": { "key": "request.header[X-Api-Key]", "b": "request.body" },
                        "cacheKey": ["key", "nope"] }),
            )],
            vec![
                "requestPolicies.authentication: use parameters (multi-argument) or tokenHeader/tokenQueryParam \
                 (single-argument), not both",
                "requestPolicies.authentication.parameters.key: unknown context table `request.header`; did you mean \
                 `request.headers[X-Api-Key]`? (the OCI docstring example says request.header; the table is request.headers)",
                "requestPolicies.authentication.cacheKey[1]: `nope` is not an argument name in parameters",
            ],
        ),
        (
            "custom authentication with oauth2",
            vec![(
                "/requestPolicies/authentication",
                json!({ "type": "CUSTOM_AUTHENTICATION", "functionId": "f", "isAnonymousAccessAllowed": true,
                        "tokenQueryParam": "t",
                        "validationFailurePolicy": { "type": "OAUTH2", "clientDetails": { "type": "VALIDATION_BLOCK" },
                            "sourceUriDetails": { "type": "VALIDATION_BLOCK" }, "scopes": ["openid"], "responseType": "CODE" } }),
            )],
            vec![
                "requestPolicies.authentication.validationFailurePolicy.type: OAUTH2 is allowed only with \
                 TOKEN_AUTHENTICATION and validationPolicy REMOTE_DISCOVERY",
            ],
        ),
        (
            "dynamic authentication next to authentication",
            vec![(
                "/requestPolicies/dynamicAuthentication",
                json!({ "selectionSource": { "type": "SINGLE", "selector": "request.headers[T]" },
                        "authenticationServers": [] }),
            )],
            vec![
                "requestPolicies.dynamicAuthentication: cannot be combined with requestPolicies.authentication; use \
                 one or the other",
                "requestPolicies.dynamicAuthentication.authenticationServers: needs at least one authentication server",
            ],
        ),
        // Global policies.
        (
            "rate limit zero",
            vec![(
                "/requestPolicies/rateLimiting",
                json!({ "rateInRequestsPerSecond": 0, "rateKey": "CLIENT_IP" }),
            )],
            vec!["requestPolicies.rateLimiting.rateInRequestsPerSecond: must be at least 1 (got 0)"],
        ),
        (
            "rate key unknown",
            vec![(
                "/requestPolicies/rateLimiting",
                json!({ "rateInRequestsPerSecond": 5, "rateKey": "USER" }),
            )],
            vec!["requestPolicies.rateLimiting.rateKey: unknown variant `USER`, expected `CLIENT_IP` or `TOTAL`"],
        ),
        (
            "cors",
            vec![(
                "/requestPolicies/cors",
                json!({ "allowedOrigins": ["https://app.example.com/path", "app.example.com"],
                        "allowedMethods": ["GET", "NOT A METHOD"],
                        "allowedHeaders": (0..51).map(|i| format!("X-H{i}")).collect::<Vec<_>>(),
                        "maxAgeInSeconds": -1 }),
            )],
            vec![
                "requestPolicies.cors.allowedOrigins[0]: `https://app.example.com/path` must be `*`, `null` or \
                 scheme://host[:port] with nothing after the host",
                "requestPolicies.cors.allowedOrigins[1]: `app.example.com` must be `*`, `null` or \
                 scheme://host[:port] with nothing after the host",
                "requestPolicies.cors.allowedMethods[1]: `NOT A METHOD` is not a valid method (or `*`)",
                "requestPolicies.cors.allowedHeaders: has 51 headers; OCI allows at most 50",
                "requestPolicies.cors.maxAgeInSeconds: must not be negative (got -1)",
            ],
        ),
        (
            "mtls and usage plans",
            vec![
                (
                    "/requestPolicies/mutualTls",
                    json!({ "allowedSans": (0..11).map(|i| format!("c{i}")).collect::<Vec<_>>() }),
                ),
                (
                    "/requestPolicies/usagePlans",
                    json!({ "tokenLocations": ["request.host", "headers[x]"] }),
                ),
            ],
            vec![
                "requestPolicies.mutualTls.allowedSans: has 11 names; OCI allows at most 10",
                "requestPolicies.usagePlans.tokenLocations[0]: `request.host` cannot hold a token; use \
                 request.headers, query, auth or path",
                "requestPolicies.usagePlans.tokenLocations[1]: `headers[x]` is not a context variable; expected \
                 request.path[..], request.query[..], request.headers[..], request.auth[..], request.cert[..], \
                 request.subdomain[..], request.usage_plan[..], request.host or request.body",
            ],
        ),
        // Route request / response policies.
        (
            "header transformation limits and duplicates",
            vec![(
                "/routes/0/requestPolicies/headerTransformations",
                json!({
                    "setHeaders": { "items": (0..21).map(|i| json!({ "name": format!("X-S{i}"), "values": ["v"] }))
                        .chain([json!({ "name": "X-Many", "values": (0..11).map(|i| i.to_string()).collect::<Vec<_>>() })])
                        .collect::<Vec<_>>() },
                    "renameHeaders": { "items": [ { "from": "x-s0", "to": "X-Ok" } ] },
                    "filterHeaders": { "type": "BLOCK", "items": [ { "name": "Bad:Name" } ] }
                }),
            )],
            vec![
                "routes[0].requestPolicies.headerTransformations.setHeaders.items: has 22 headers; OCI allows at most 20",
                "routes[0].requestPolicies.headerTransformations.setHeaders.items[21].values: has 11 values; OCI \
                 allows at most 10",
                "routes[0].requestPolicies.headerTransformations.renameHeaders.items[0].from: `x-s0` is already used \
                 at routes[0].requestPolicies.headerTransformations.setHeaders.items[0].name; a name may appear only \
                 once across the transformations",
                "routes[0].requestPolicies.headerTransformations.filterHeaders.items[0].name: `Bad:Name` is not a \
                 valid header name",
            ],
        ),
        (
            "set header values",
            vec![(
                "/routes/0/requestPolicies/headerTransformations/setHeaders/items",
                json!([ { "name": "X-A", "values": [] }, { "name": "X-B", "values": ["${request.body}", "${request.auth[x]"] } ]),
            )],
            vec![
                "routes[0].requestPolicies.headerTransformations.setHeaders.items[0].values: needs at least one value",
                "routes[0].requestPolicies.headerTransformations.setHeaders.items[1].values[0]: `request.body` can \
                 only be used as an authorizer function argument",
                "routes[0].requestPolicies.headerTransformations.setHeaders.items[1].values[1]: unterminated `${` in \
                 `${request.auth[x]`",
            ],
        ),
        (
            "query transformations are case-sensitive but unique",
            vec![(
                "/routes/0/requestPolicies/queryParameterTransformations",
                json!({ "setQueryParameters": { "items": [ { "name": "a", "values": ["1"] }, { "name": "A", "values": ["2"] } ] },
                        "filterQueryParameters": { "type": "ALLOW", "items": [ { "name": "a" } ] } }),
            )],
            vec![
                "routes[0].requestPolicies.queryParameterTransformations.filterQueryParameters.items[0].name: `a` is \
                 already used at routes[0].requestPolicies.queryParameterTransformations.setQueryParameters.items[0].name; \
                 a name may appear only once across the transformations",
            ],
        ),
        (
            "validations",
            vec![
                (
                    "/routes/0/requestPolicies/headerValidations",
                    json!({ "headers": [ { "name": "X-A" }, { "name": "x-a" } ] }),
                ),
                (
                    "/routes/0/requestPolicies/bodyValidation",
                    json!({ "content": { "json": { "validationType": "NONE" } } }),
                ),
                (
                    "/routes/0/requestPolicies/queryParameterValidations",
                    json!({ "parameters": [ { "name": "" } ], "validationMode": "STRICT" }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.queryParameterValidations.validationMode: unknown variant `STRICT`, \
                 expected one of `ENFORCING`, `PERMISSIVE`, `DISABLED`",
            ],
        ),
        (
            "validations (semantic)",
            vec![
                (
                    "/routes/0/requestPolicies/headerValidations",
                    json!({ "headers": [ { "name": "X-A" }, { "name": "x-a" } ] }),
                ),
                (
                    "/routes/0/requestPolicies/bodyValidation",
                    json!({ "content": { "json": { "validationType": "NONE" } } }),
                ),
                (
                    "/routes/0/requestPolicies/queryParameterValidations",
                    json!({ "parameters": [ { "name": "" } ] }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.queryParameterValidations.parameters[0].name: must not be empty",
                "routes[0].requestPolicies.headerValidations.headers[1].name: `x-a` is already listed at \
                 routes[0].requestPolicies.headerValidations.headers[0].name",
                "routes[0].requestPolicies.bodyValidation.content.json: `json` is not a media range (`*/*`, `type/*` \
                 or `type/subtype`)",
            ],
        ),
        (
            "response cache ttl",
            vec![(
                "/routes/0/responsePolicies/responseCacheStore",
                json!({ "type": "FIXED_TTL_STORE_POLICY", "timeToLiveInSeconds": 0 }),
            )],
            vec![
                "routes[0].responsePolicies.responseCacheStore.timeToLiveInSeconds: must be at least 1 second (got 0)",
            ],
        ),
        // Structure.
        (
            "wrong type for a number",
            vec![("/routes/0/backend/status", json!("200"))],
            vec!["routes[0].backend.status: invalid type: string \"200\", expected i64"],
        ),
        (
            "several broken routes are all reported",
            vec![
                ("/routes/1", json!({ "path": "/b" })),
                ("/routes/2", json!({ "path": 3, "backend": stock() })),
                ("/requestPolicies/cors", json!({ "allowedOrigins": "*" })),
            ],
            vec![
                "requestPolicies.cors.allowedOrigins: invalid type: string \"*\", expected a sequence",
                "routes[1]: missing field `backend`",
                "routes[2].path: invalid type: integer `3`, expected a string",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, edits, expected) in cases {
        let (errors, _) = outcome(&edited(&edits));
        if errors != expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got {errors:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn route_limit_is_fifty() {
    let routes: Vec<Value> = (0..51)
        .map(|i| json!({ "path": format!("/r{i}"), "backend": stock() }))
        .collect();
    let (errors, _) = outcome(&edited(&[("/routes", Value::Array(routes.clone()))]));
    assert_eq!(
        errors,
        vec!["routes: has 51 routes; OCI allows at most 50 per deployment"]
    );
    let (errors, _) = outcome(&edited(&[("/routes", Value::Array(routes[..50].to_vec()))]));
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn warnings_name_their_json_path() {
    let cases: Vec<Case> = vec![
        (
            "tls verification off",
            vec![(
                "/routes/0/backend",
                json!({ "type": "HTTP_BACKEND", "url": "https://b.example.com", "isSslVerifyDisabled": true }),
            )],
            vec!["routes[0].backend.isSslVerifyDisabled: TLS certificate verification of this backend is disabled"],
        ),
        (
            "no audience",
            vec![(
                "/requestPolicies/authentication/validationPolicy/additionalValidationPolicy/audiences",
                json!([]),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.additionalValidationPolicy: no audiences are \
                 configured, so tokens issued for any audience are accepted",
            ],
        ),
        (
            "methods listed twice",
            vec![("/routes/0/methods", json!(["GET", "GET", "ANY"]))],
            vec![
                "routes[0].methods[0]: `GET` is redundant next to `ANY`",
                "routes[0].methods[1]: `GET` is listed twice",
            ],
        ),
        (
            "path variable that the route does not have",
            vec![("/routes/0/backend", http("https://b.example.com/${request.path[id]}"))],
            vec![
                "routes[0].backend.url: `request.path[id]` is not a parameter of the route path `/a`; it will always be empty",
            ],
        ),
        (
            "auth variable without authentication",
            vec![
                ("/requestPolicies", Value::Null),
                (
                    "/routes/0/requestPolicies/headerTransformations/setHeaders/items",
                    json!([{ "name": "X-Sub", "values": ["${request.auth[sub]}"] }]),
                ),
            ],
            vec![
                "routes[0].requestPolicies.headerTransformations.setHeaders.items[0].values[0]: `request.auth[sub]` \
                 is always empty: the deployment has no authentication policy",
            ],
        ),
        (
            "stock body above the limits page",
            vec![("/routes/0/backend/body", json!("x".repeat(4500)))],
            vec!["routes[0].backend.body: is 4500 bytes; OCI's limits page allows 4096 (the stock response page 5 KB)"],
        ),
        (
            "scheme with a query token",
            vec![
                ("/requestPolicies/authentication/tokenHeader", Value::Null),
                ("/requestPolicies/authentication/tokenQueryParam", json!("access_token")),
            ],
            vec![
                "requestPolicies.authentication.tokenAuthScheme: is ignored when the token is read from tokenQueryParam",
            ],
        ),
        (
            "response cache lookup and store: accepted, not acted on",
            vec![
                (
                    "/routes/0/requestPolicies/responseCacheLookup",
                    json!({ "type": "SIMPLE_LOOKUP_POLICY", "isEnabled": true }),
                ),
                (
                    "/routes/0/responsePolicies/responseCacheStore",
                    json!({ "type": "FIXED_TTL_STORE_POLICY", "timeToLiveInSeconds": 60 }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.responseCacheLookup: accepted but not acted on: fngate does not cache \
                 responses yet; every request reaches the backend",
                "routes[0].responsePolicies.responseCacheStore: accepted but not acted on: fngate does not cache \
                 responses yet; every request reaches the backend",
            ],
        ),
        (
            "execution logs: accepted, not acted on (unless switched off)",
            vec![
                (
                    "/loggingPolicies/executionLog",
                    json!({ "isEnabled": true, "logLevel": "INFO" }),
                ),
                ("/routes/0/loggingPolicies/executionLog", json!({ "logLevel": "WARN" })),
                (
                    "/routes/1",
                    json!({ "path": "/b", "backend": stock(),
                    "loggingPolicies": { "executionLog": { "isEnabled": false } } }),
                ),
            ],
            vec![
                "loggingPolicies.executionLog: accepted but not acted on: fngate writes no execution log; use the \
                 access log and `fngate logs` for function output",
                "routes[0].loggingPolicies.executionLog: accepted but not acted on: fngate writes no execution log; \
                 use the access log and `fngate logs` for function output",
            ],
        ),
        (
            "doc spelling of isSslVerifyDisabled",
            vec![(
                "/routes/0/backend",
                json!({ "type": "HTTP_BACKEND", "url": "https://b.example.com", "isSSLVerifyDisabled": false }),
            )],
            vec![
                "routes[0].backend.isSSLVerifyDisabled: unknown field `isSSLVerifyDisabled` is ignored; did you mean \
                 `isSslVerifyDisabled`? (the OCI docs print `isSSLVerifyDisabled`; the API field is `isSslVerifyDisabled`)",
            ],
        ),
        (
            "doc spelling in MODIFY_RESPONSE",
            vec![(
                "/requestPolicies/authentication/validationFailurePolicy",
                json!({ "type": "MODIFY_RESPONSE", "responseCode": "401", "headerTransformations": {} }),
            )],
            vec![
                "requestPolicies.authentication.validationFailurePolicy.headerTransformations: unknown field \
                 `headerTransformations` is ignored; did you mean `responseHeaderTransformations`? (the \
                 authorizer-function docs print `headerTransformations`; the MODIFY_RESPONSE API field is \
                 `responseHeaderTransformations`)",
            ],
        ),
        (
            "camelCase key_ops",
            vec![(
                "/requestPolicies/authentication/validationPolicy",
                json!({ "type": "STATIC_KEYS", "additionalValidationPolicy": { "audiences": ["a"] }, "keys": [
                    { "format": "JSON_WEB_KEY", "kid": "k", "kty": "RSA", "keyOps": ["verify"], "e": "AQAB",
                      "n": "wwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn-AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8vb6_wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t_g4eLj5OXm5-jp6uvs7e7v8PHy8_T19vf4-fr7_P3-_w" }
                ] }),
            )],
            vec![
                "requestPolicies.authentication.validationPolicy.keys[0].keyOps: unknown field `keyOps` is ignored; \
                 did you mean `key_ops`? (`key_ops` is the one snake_case field of the specification)",
            ],
        ),
        (
            "unknown field in a unit variant and in a map",
            vec![
                (
                    "/routes/0/requestPolicies/authorization",
                    json!({ "type": "AUTHENTICATION_ONLY", "allowedScope": ["x"] }),
                ),
                (
                    "/routes/0/requestPolicies/bodyValidation",
                    json!({ "content": { "application/json": { "validationType": "NONE", "schema": {} } } }),
                ),
            ],
            vec![
                "routes[0].requestPolicies.authorization.allowedScope: unknown field `allowedScope` is ignored",
                "routes[0].requestPolicies.bodyValidation.content[\"application/json\"].schema: unknown field `schema` is ignored",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, edits, expected) in cases {
        let (errors, warnings) = outcome(&edited(&edits));
        if !errors.is_empty() || warnings != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:#?}\n  got errors {errors:#?}\n  warnings {warnings:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn warnings_are_kept_when_there_are_errors() {
    let doc = edited(&[
        (
            "/routes/0/backend",
            json!({ "type": "HTTP_BACKEND", "url": "https://b.example.com", "isSSLVerifyDisabled": true }),
        ),
        ("/routes/0/path", json!("nope")),
    ]);
    let err = parse(&doc.to_string(), SpecFormat::Json).unwrap_err();
    assert_eq!(err.to_string(), "routes[0].path: must start with `/` (got `nope`)");
    assert_eq!(err.warnings.len(), 1);
    assert_eq!(err.warnings[0].path, "routes[0].backend.isSSLVerifyDisabled");
}

#[test]
fn validate_runs_on_specs_built_in_code() {
    let mut spec = parse(&base().to_string(), SpecFormat::Json).unwrap().spec;
    assert!(fngate_spec::validate(&spec).is_empty());
    spec.routes[0].path = "x".into();
    let errors = fngate_spec::validate(&spec);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "routes[0].path");
    assert_eq!(errors[0].message, "must start with `/` (got `x`)");
}

#[test]
fn cors_origins_accept_wildcard_hosts_ports_and_app_schemes() {
    for origin in [
        "*",
        "null",
        "https://*.example.com",
        "http://localhost:3000",
        "capacitor://localhost",
    ] {
        let doc = edited(&[("/requestPolicies/cors", json!({ "allowedOrigins": [origin] }))]);
        assert_eq!(outcome(&doc), (vec![], vec![]), "{origin}");
    }
}

#[test]
fn cors_origin_wildcards_stand_for_whole_leftmost_labels_only() {
    for (origin, message) in [
        (
            "https://a*.example.com",
            "`https://a*.example.com`: `*` may only stand for whole leftmost labels (`https://*.example.com`)",
        ),
        (
            "https://*.*.example.com",
            "`https://*.*.example.com`: `*` may only stand for whole leftmost labels (`https://*.example.com`)",
        ),
        (
            "https://*.10.0.0.1",
            "`https://*.10.0.0.1`: a `*.` wildcard needs a domain name after it",
        ),
    ] {
        let doc = edited(&[("/requestPolicies/cors", json!({ "allowedOrigins": ["*", origin] }))]);
        let expected = format!("requestPolicies.cors.allowedOrigins[1]: {message}");
        assert_eq!(outcome(&doc), (vec![expected], vec![]), "{origin}");
    }
}
