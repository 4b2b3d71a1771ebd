//! The gateway specification parser (`fngate_spec::parse`, JSON and YAML) and the small grammars
//! inside it (route path patterns, context variables, templates).
//!
//! Invariants beyond "no panic":
//! - a refused document reports at least one error, and every error and warning renders as text
//!   and as JSON (what `fngate validate` prints);
//! - a document that parses serialises (JSON and YAML) to a document that parses again to the same
//!   specification, with no new errors;
//! - every route path of an accepted spec is a valid [`PathPattern`] whose rendering parses back
//!   to the same pattern; the same for any input that parses as a pattern or a context variable.

use fngate_spec::{ContextVar, PathPattern, SpecFormat, Template, parse, validate_path_prefix};

/// The fuzz entry: `data` as a document in both formats, and as a path / variable / template.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [SpecFormat::Json, SpecFormat::Yaml] {
        check_document(text, format);
    }
    check_grammars(text);
}

/// Parses `text` and checks the outcome; returns whether the document was accepted.
pub fn check_document(text: &str, format: SpecFormat) -> bool {
    let parsed = match parse(text, format) {
        Ok(parsed) => parsed,
        Err(problems) => {
            assert!(
                !problems.errors.is_empty(),
                "{format:?}: refused without an error: {text:?}"
            );
            for error in &problems.errors {
                assert!(!error.to_string().is_empty(), "{format:?}: empty error for {text:?}");
            }
            let json = serde_json::to_string(&problems.errors).expect("errors serialise");
            assert!(json.starts_with('['));
            serde_json::to_string(&problems.warnings).expect("warnings serialise");
            return false;
        }
    };
    let spec = &parsed.spec;
    for (i, route) in spec.routes.iter().enumerate() {
        let pattern = PathPattern::parse(&route.path).unwrap_or_else(|e| {
            panic!(
                "routes[{i}].path `{}` accepted by parse, refused alone: {e}",
                route.path
            )
        });
        pattern_round_trips(&pattern);
    }
    let json = serde_json::to_string(spec).expect("an accepted spec serialises to JSON");
    let again = parse(&json, SpecFormat::Json)
        .unwrap_or_else(|e| panic!("{format:?} input {text:?} serialised to JSON {json:?}, which is refused: {e}"));
    assert_eq!(
        &again.spec, spec,
        "JSON round trip changed the spec; input {text:?}, JSON {json}"
    );
    let yaml = serde_yaml_ng::to_string(spec).expect("an accepted spec serialises to YAML");
    let again = parse(&yaml, SpecFormat::Yaml)
        .unwrap_or_else(|e| panic!("{format:?} input {text:?} serialised to YAML {yaml:?}, which is refused: {e}"));
    assert_eq!(
        &again.spec, spec,
        "YAML round trip changed the spec; input {text:?}, YAML {yaml}"
    );
    true
}

/// The grammars on their own: whatever parses renders back to itself.
fn check_grammars(text: &str) {
    if let Ok(pattern) = PathPattern::parse(text) {
        pattern_round_trips(&pattern);
    }
    if let Ok(var) = ContextVar::parse(text) {
        let rendered = var.to_string();
        let again = ContextVar::parse(&rendered)
            .unwrap_or_else(|e| panic!("context variable {text:?} renders as {rendered:?}, which is refused: {e}"));
        assert_eq!(again, var, "context variable {text:?} → {rendered:?}");
    }
    if let Ok(template) = Template::parse(text) {
        // The variables a template names are themselves valid context variables.
        for var in template.vars() {
            let rendered = var.to_string();
            assert!(
                ContextVar::parse(&rendered).is_ok(),
                "template {text:?} names {rendered:?}, which is refused alone"
            );
        }
    }
    let _ = validate_path_prefix(text);
}

fn pattern_round_trips(pattern: &PathPattern) {
    let rendered = pattern.to_string();
    let again = PathPattern::parse(&rendered)
        .unwrap_or_else(|e| panic!("pattern {pattern:?} renders as {rendered:?}, which is refused: {e}"));
    assert_eq!(&again, pattern, "path pattern round trip through {rendered:?}");
}
