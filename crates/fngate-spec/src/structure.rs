//! Typed deserialisation of the document tree with JSON paths. When the document does not fit
//! the model, it is re-read piece by piece (each global request policy, each field of each
//! route) so that one mistake does not hide the others, and the pieces that did parse are kept
//! for the semantic checks.

use serde_json::Value;

use crate::diagnostics::{ROOT_PATH, SpecError, join, push_index, push_key, render_path};
use crate::model::{
    ApiSpecification, Backend, LoggingPolicies, Method, RequestPolicies, Route, RouteRequestPolicies,
    RouteResponsePolicies,
};
use crate::serde_support::PATH_MARK;
use crate::validate::Partial;

/// A document that does not fit the model: every structural error found, and the pieces that
/// did parse (for the semantic checks).
pub(crate) struct Broken {
    pub errors: Vec<SpecError>,
    pub partial: Option<Box<(ApiSpecification, Partial)>>,
}

/// Deserialises the tree. On failure the document is re-read piece by piece (each global
/// request policy, each field of each route) so that one mistake does not hide the others.
pub(crate) fn from_value(value: &Value) -> Result<ApiSpecification, Broken> {
    // serde also accepts a struct written as an array; a specification is always an object.
    let kind = match value {
        Value::Object(_) => None,
        Value::Array(_) => Some("an array"),
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
        Value::Null => Some("empty (null)"),
    };
    let whole_error = match (kind, typed::<ApiSpecification>(value.clone(), "")) {
        (None, Ok(spec)) => return Ok(spec),
        (None, Err(error)) => error,
        (Some(kind), _) => {
            let message = format!("the specification must be an object with `routes`; this document is {kind}");
            return Err(Broken {
                errors: vec![SpecError::new(ROOT_PATH, message)],
                partial: None,
            });
        }
    };
    let Value::Object(map) = value else {
        return Err(Broken {
            errors: vec![whole_error],
            partial: None,
        });
    };
    let mut errors = Vec::new();
    let mut rest = map.clone();

    let mut policies_broken = false;
    let request_policies = match rest.remove("requestPolicies") {
        Some(Value::Object(policies)) => {
            let (policy_errors, good) = per_key::<RequestPolicies>(&policies, "requestPolicies");
            policies_broken = !policy_errors.is_empty();
            errors.extend(policy_errors);
            typed::<RequestPolicies>(Value::Object(good), "requestPolicies").ok()
        }
        Some(other) => {
            policies_broken = !other.is_null();
            rest.insert("requestPolicies".to_owned(), other);
            None
        }
        None => None,
    };

    let mut routes = Vec::new();
    let mut route_index = Vec::new();
    let total_routes = match rest.remove("routes") {
        Some(Value::Array(items)) => {
            for (i, route) in items.iter().enumerate() {
                let path = push_index("routes", i);
                match typed::<Route>(route.clone(), &path) {
                    Ok(route) => {
                        routes.push(route);
                        route_index.push(i);
                    }
                    Err(_) => errors.extend(route_errors(route, &path)),
                }
            }
            Some(items.len())
        }
        Some(other) => {
            rest.insert("routes".to_owned(), other);
            None
        }
        None => Some(0),
    };

    let logging_policies = rest
        .get("loggingPolicies")
        .and_then(|v| typed::<LoggingPolicies>(v.clone(), "loggingPolicies").ok());
    if let Err(e) = typed::<ApiSpecification>(Value::Object(rest), "") {
        errors.push(e);
    }
    if errors.is_empty() {
        return Err(Broken {
            errors: vec![whole_error],
            partial: None,
        });
    }
    errors.dedup();
    let spec = ApiSpecification {
        request_policies,
        logging_policies,
        routes,
    };
    let partial = Partial {
        route_index,
        total_routes,
        policies_broken,
    };
    Err(Broken {
        errors,
        partial: Some(Box::new((spec, partial))),
    })
}

/// Checks each key of an object of optional fields on its own, so that every broken field is
/// reported; also returns the keys that are fine.
fn per_key<T: serde::de::DeserializeOwned>(
    map: &serde_json::Map<String, Value>,
    base: &str,
) -> (Vec<SpecError>, serde_json::Map<String, Value>) {
    let mut errors = Vec::new();
    let mut good = serde_json::Map::new();
    for (key, field) in map {
        let mut single = serde_json::Map::new();
        single.insert(key.clone(), field.clone());
        match typed::<T>(Value::Object(single), base) {
            Ok(_) => {
                good.insert(key.clone(), field.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    (errors, good)
}

/// Every structural error of one route: each field is checked on its own.
fn route_errors(route: &Value, base: &str) -> Vec<SpecError> {
    let Err(whole) = typed::<Route>(route.clone(), base) else {
        return Vec::new();
    };
    let Value::Object(map) = route else {
        return vec![whole];
    };
    let mut errors = Vec::new();
    for required in ["path", "backend"] {
        if !map.contains_key(required) {
            errors.push(SpecError::new(base, format!("missing field `{required}`")));
        }
    }
    for (key, field) in map {
        let path = push_key(base, key);
        let result = match key.as_str() {
            "path" => typed::<String>(field.clone(), &path).map(drop),
            "methods" => typed::<Vec<Method>>(field.clone(), &path).map(drop),
            "backend" => typed::<Backend>(field.clone(), &path).map(drop),
            "requestPolicies" | "responsePolicies" | "loggingPolicies" => {
                let Value::Object(policies) = field else {
                    errors.push(SpecError::new(path, "expected an object"));
                    continue;
                };
                errors.extend(match key.as_str() {
                    "requestPolicies" => per_key::<RouteRequestPolicies>(policies, &path).0,
                    "responsePolicies" => per_key::<RouteResponsePolicies>(policies, &path).0,
                    _ => per_key::<LoggingPolicies>(policies, &path).0,
                });
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        errors.push(whole);
    }
    errors
}

/// Deserialises `value` as `T`, turning the failure into a [`SpecError`] whose path is
/// `base` + the path inside `value` (including paths carried out of tagged enums).
fn typed<T: serde::de::DeserializeOwned>(value: Value, base: &str) -> Result<T, SpecError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let mut path = join(base, &render_path(err.path()));
        let full = err.into_inner().to_string();
        let mut message = full.as_str();
        while let Some(rest) = message.strip_prefix(PATH_MARK) {
            let Some((inner, tail)) = rest.split_once(PATH_MARK) else {
                break;
            };
            path = join(&path, inner);
            message = tail;
        }
        if path.is_empty() {
            path = ROOT_PATH.to_owned();
        }
        SpecError::new(path, message)
    })
}
