//! Unknown-field detection: every key of the user's document that the model does not know.
//!
//! The parsed spec is serialised with every optional field present
//! ([`crate::serde_support::with_all_fields`]); a key in the input that is missing from that
//! tree at the same position is unknown. This sees inside tagged enums, which `serde_ignored`
//! cannot (serde buffers their fields before the variant is chosen).

use serde_json::Value;

use crate::diagnostics::{SpecWarning, push_index, push_key};

/// Field names the OCI documentation prints differently from the API (reference §1.4), with
/// the API name and a short explanation.
const DOC_TRAPS: &[(&str, &str, &str)] = &[
    (
        "isSSLVerifyDisabled",
        "isSslVerifyDisabled",
        "the OCI docs print `isSSLVerifyDisabled`; the API field is `isSslVerifyDisabled`",
    ),
    (
        "headerTransformations",
        "responseHeaderTransformations",
        "the authorizer-function docs print `headerTransformations`; the MODIFY_RESPONSE API field is `responseHeaderTransformations`",
    ),
    (
        "responseTransformations",
        "responseHeaderTransformations",
        "the token-authentication docs print `responseTransformations`; the MODIFY_RESPONSE API field is `responseHeaderTransformations`",
    ),
    (
        "keyOps",
        "key_ops",
        "`key_ops` is the one snake_case field of the specification",
    ),
];

/// Warnings for every key in `input` that has no counterpart in `known`.
pub(crate) fn unknown_field_warnings(input: &Value, known: &Value) -> Vec<SpecWarning> {
    let mut warnings = Vec::new();
    walk(input, known, "", &mut warnings);
    warnings
}

fn walk(input: &Value, known: &Value, path: &str, out: &mut Vec<SpecWarning>) {
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                let child = push_key(path, key);
                match known.get(key) {
                    Some(known_value) => walk(value, known_value, &child, out),
                    None => out.push(SpecWarning::new(child, unknown_message(key, known.keys()))),
                }
            }
        }
        (Value::Array(input), Value::Array(known)) => {
            for (i, (value, known_value)) in input.iter().zip(known).enumerate() {
                walk(value, known_value, &push_index(path, i), out);
            }
        }
        _ => {}
    }
}

fn unknown_message<'a>(key: &str, known: impl Iterator<Item = &'a String> + Clone) -> String {
    let base = format!("unknown field `{key}` is ignored");
    if let Some((_, api, why)) = DOC_TRAPS
        .iter()
        .find(|(doc, api, _)| *doc == key && known.clone().any(|k| k == api))
    {
        return format!("{base}; did you mean `{api}`? ({why})");
    }
    match suggestion(key, known) {
        Some(candidate) => format!("{base}; did you mean `{candidate}`?"),
        None => base,
    }
}

/// The known field closest to `key`: same name ignoring case, or within a small edit distance.
fn suggestion<'a>(key: &str, known: impl Iterator<Item = &'a String> + Clone) -> Option<&'a String> {
    if let Some(same) = known.clone().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(same);
    }
    let lower = key.to_ascii_lowercase();
    let limit = (key.len() / 3).clamp(1, 3);
    known
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("methods", "methds"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
