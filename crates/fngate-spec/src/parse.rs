//! Text → [`ApiSpecification`]: syntax (with line/column), structure (`structure.rs`, with JSON
//! paths), unknown fields (warnings), then the semantic checks of [`crate::validate`].

use crate::diagnostics::{ROOT_PATH, SpecError, SpecErrors, SpecWarning};
use crate::document::{self, Document};
use crate::limits::MAX_SPEC_BYTES;
use crate::model::ApiSpecification;
use crate::serde_support::with_all_fields;
use crate::structure::{Broken, from_value};
use crate::unknown_fields::unknown_field_warnings;

/// The syntax of a specification document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    /// JSON, as `oci api-gateway deployment create --specification` takes.
    Json,
    /// YAML with the same structure (an fngate convenience).
    Yaml,
}

impl SpecFormat {
    /// Picks the format from a file name: `.yaml` / `.yml` are YAML, everything else JSON.
    pub fn from_path(path: &str) -> SpecFormat {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            SpecFormat::Yaml
        } else {
            SpecFormat::Json
        }
    }
}

/// A specification that parsed and passed validation, with the warnings found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The specification as written (legacy `JWT_AUTHENTICATION` kept; see
    /// [`crate::AuthenticationPolicy::normalized`]).
    pub spec: ApiSpecification,
    /// Unknown fields and other non-fatal findings.
    pub warnings: Vec<SpecWarning>,
}

/// Parses and validates a specification document, reporting every problem found.
pub fn parse(text: &str, format: SpecFormat) -> Result<Parsed, SpecErrors> {
    let fail = |errors: Vec<SpecError>, warnings: Vec<SpecWarning>| Err(SpecErrors { errors, warnings });
    if text.len() > MAX_SPEC_BYTES {
        let message = format!(
            "the specification is {} bytes; OCI's limit is {MAX_SPEC_BYTES} bytes",
            text.len()
        );
        return fail(vec![SpecError::new(ROOT_PATH, message)], Vec::new());
    }
    let Document { value, mut warnings } = match parse_value(text, format) {
        Ok(document) => document,
        Err(error) => return fail(vec![error], Vec::new()),
    };
    let spec = match from_value(&value) {
        Ok(spec) => spec,
        Err(Broken { mut errors, partial }) => {
            // Check what did parse, so one run shows structural and semantic problems together.
            if let Some(partial) = partial {
                let (spec, partial) = *partial;
                let report = crate::validate::check_partial(&spec, Some(&partial));
                errors.extend(report.errors);
                warnings.extend(report.warnings);
            }
            return fail(errors, warnings);
        }
    };
    match with_all_fields(|| serde_json::to_value(&spec)) {
        Ok(known) => warnings.extend(unknown_field_warnings(&value, &known)),
        Err(error) => {
            return fail(
                vec![SpecError::new(ROOT_PATH, format!("internal error: {error}"))],
                warnings,
            );
        }
    }
    let report = crate::validate::check(&spec);
    warnings.extend(report.warnings);
    if report.errors.is_empty() {
        Ok(Parsed { spec, warnings })
    } else {
        fail(report.errors, warnings)
    }
}

/// Reads the document into a JSON tree (noting duplicate keys), keeping the syntax error's
/// position.
fn parse_value(text: &str, format: SpecFormat) -> Result<Document, SpecError> {
    match format {
        SpecFormat::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            document::read(&mut deserializer)
                .and_then(|doc| deserializer.end().map(|()| doc))
                .map_err(|e| {
                    let message = e.to_string();
                    let position = format!(" at line {} column {}", e.line(), e.column());
                    let message = message.replacen(&position, "", 1);
                    SpecError::at_position(format!("invalid JSON: {message}"), e.line(), e.column())
                })
        }
        SpecFormat::Yaml => document::read(serde_yaml_ng::Deserializer::from_str(text)).map_err(|e| {
            let message = e.to_string();
            match e.location() {
                Some(loc) => {
                    let position = format!(" at line {} column {}", loc.line(), loc.column());
                    let message = message.replacen(&position, "", 1);
                    SpecError::at_position(format!("invalid YAML: {message}"), loc.line(), loc.column())
                }
                None => SpecError::new(ROOT_PATH, format!("invalid YAML: {message}")),
            }
        }),
    }
}
