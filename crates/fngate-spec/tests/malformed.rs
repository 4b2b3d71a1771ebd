//! Malformed documents give errors with a line and column (syntax) or a JSON path
//! (structure), never a panic.

use fngate_spec::{MAX_SPEC_BYTES, SpecFormat, parse};

fn full_featured() -> String {
    let path = format!(
        "{}/tests/data/full-featured.token-auth.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn json_syntax_errors_carry_line_and_column() {
    let cases = [
        (
            "{\n  \"routes\": [\n    {\"path\": \"/a\",}\n  ]\n}",
            3,
            19,
            "line 3, column 19: invalid JSON: trailing comma",
        ),
        (
            "{\"routes\": [",
            1,
            12,
            "line 1, column 12: invalid JSON: EOF while parsing a list",
        ),
        ("", 1, 0, "line 1, column 0: invalid JSON: EOF while parsing a value"),
        ("{\"a\": tru}", 1, 10, "line 1, column 10: invalid JSON: expected ident"),
    ];
    for (text, line, column, display) in cases {
        let err = parse(text, SpecFormat::Json).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{text}");
        assert_eq!(
            (err.errors[0].line, err.errors[0].column),
            (Some(line), Some(column)),
            "{text}"
        );
        assert_eq!(err.to_string(), display, "{text}");
    }
}

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let cases = [
        (
            "routes:\n  - path: /a\n    backend: {type: STOCK_RESPONSE_BACKEND\n",
            4,
            1,
        ),
        ("routes:\n  - path: /a\n  bad indentation: : x\n", 3, 3),
        ("a: 'unterminated\n", 2, 1),
    ];
    for (text, line, column) in cases {
        let err = parse(text, SpecFormat::Yaml).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{text}");
        let e = &err.errors[0];
        assert_eq!((e.line, e.column), (Some(line), Some(column)), "{text}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column {column}: invalid YAML: ")),
            "{e}"
        );
    }
}

#[test]
fn yaml_with_the_wrong_shape_names_the_path() {
    let text = "routes:\n  - path: /a\n    backend:\n      type: STOCK_RESPONSE_BACKEND\n      status: ok\n";
    let err = parse(text, SpecFormat::Yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "routes[0].backend.status: invalid type: string \"ok\", expected i64"
    );
    let err = parse("just a string", SpecFormat::Yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "(root): the specification must be an object with `routes`; this document is a string"
    );
    let err = parse("[1, 2]", SpecFormat::Json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "(root): the specification must be an object with `routes`; this document is an array"
    );
    let err = parse("", SpecFormat::Yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "(root): the specification must be an object with `routes`; this document is empty (null)"
    );
}

#[test]
fn oversized_specs_are_refused_before_parsing() {
    let text = format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_SPEC_BYTES));
    let err = parse(&text, SpecFormat::Json).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "(root): the specification is {} bytes; OCI's limit is {MAX_SPEC_BYTES} bytes",
            text.len()
        )
    );
}

/// Every prefix of a valid document fails with a positioned syntax error (JSON) and never
/// panics; byte substitutions anywhere never panic either.
#[test]
fn truncated_and_mutated_documents_never_panic() {
    let text = full_featured();
    let boundaries: Vec<usize> = (0..text.len())
        .filter(|i| text.is_char_boundary(*i))
        .step_by(3)
        .collect();
    for &end in &boundaries {
        let prefix = &text[..end];
        if prefix.trim().is_empty() {
            continue;
        }
        let err = parse(prefix, SpecFormat::Json).expect_err("a truncated JSON document is invalid");
        assert!(
            err.errors[0].line.is_some() && err.errors[0].column.is_some(),
            "prefix {end}: {err}"
        );
    }

    let yaml = serde_yaml_ng::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    for end in (0..yaml.len()).filter(|i| yaml.is_char_boundary(*i)).step_by(5) {
        // A YAML prefix is often valid YAML with missing fields: any outcome but a panic is fine,
        // and every error must say where.
        if let Err(err) = parse(&yaml[..end], SpecFormat::Yaml) {
            for e in &err.errors {
                assert!(e.line.is_some() || !e.path.is_empty(), "prefix {end}: {e}");
                assert!(!e.message.is_empty());
            }
        }
    }

    let replacements = [
        "{", "}", "[", "]", "\"", ":", ",", "0", "-1e999", "null", "\\u0000", "é",
    ];
    for (n, &at) in boundaries.iter().enumerate().step_by(2) {
        let replacement = replacements[n % replacements.len()];
        let next = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        let mutated = format!("{}{}{}", &text[..at], replacement, &text[next..]);
        if let Err(err) = parse(&mutated, SpecFormat::Json) {
            assert!(!err.errors.is_empty());
            for e in &err.errors {
                assert!(e.line.is_some() || !e.path.is_empty(), "mutation at {at}: {e}");
            }
        }
    }
}

#[test]
fn duplicate_keys_are_warned_about_and_the_last_wins() {
    let json = r#"{"routes":[{"path":"/a","path":"/b","backend":{"type":"STOCK_RESPONSE_BACKEND","status":200}}]}"#;
    let parsed = parse(json, SpecFormat::Json).unwrap();
    assert_eq!(parsed.spec.routes[0].path, "/b");
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec!["routes[0].path: `path` appears more than once in this object; the last value is used"]
    );

    let yaml = "routes:\n  - path: /a\n    path: /b\n    backend: {type: STOCK_RESPONSE_BACKEND, status: 200}\n";
    let parsed = parse(yaml, SpecFormat::Yaml).unwrap();
    assert_eq!(parsed.spec.routes[0].path, "/b");
    let yaml_warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(yaml_warnings, warnings);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{{\"routes\": {}{}}}", "[".repeat(5_000), "]".repeat(5_000));
    let err = parse(&deep, SpecFormat::Json).unwrap_err();
    assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
    let deep_yaml = format!("routes: {}{}", "[".repeat(5_000), "]".repeat(5_000));
    let err = parse(&deep_yaml, SpecFormat::Yaml).unwrap_err();
    assert!(err.errors[0].line.is_some(), "{err}");
}

#[test]
fn multiple_yaml_documents_are_refused() {
    let err = parse("routes: []\n---\nroutes: []\n", SpecFormat::Yaml).unwrap_err();
    assert!(err.to_string().contains("more than one document"), "{err}");
}

#[test]
fn problems_serialise_for_the_admin_api() {
    let err = parse("{\"routes\": [", SpecFormat::Json).unwrap_err();
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        serde_json::json!({
            "errors": [{ "path": "(root)", "message": "invalid JSON: EOF while parsing a list", "line": 1, "column": 12 }],
            "warnings": []
        })
    );
    let err = parse(
        r#"{"routes":[{"path":"x","backend":{"type":"OAUTH2_LOGIN_BACKEND"}}]}"#,
        SpecFormat::Json,
    )
    .unwrap_err();
    assert_eq!(
        serde_json::to_value(&err.errors[0]).unwrap(),
        serde_json::json!({ "path": "routes[0].path", "message": "must start with `/` (got `x`)" })
    );
}
