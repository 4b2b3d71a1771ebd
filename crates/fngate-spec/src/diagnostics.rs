//! Errors and warnings, each tied to a JSON path such as `routes[2].backend.url`.

use std::fmt;

use serde::Serialize;

/// The path shown for problems with the document as a whole.
pub const ROOT_PATH: &str = "(root)";

/// A problem that makes the specification unusable. Serialises as
/// `{"path": …, "message": …, "line": …, "column": …}` (position only for syntax errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecError {
    /// JSON path of the offending value (`routes[2].backend.url`), or [`ROOT_PATH`].
    pub path: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
    /// 1-based line of a syntax error, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column of a syntax error, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl SpecError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// A syntax error at a text position.
    pub fn at_position(message: impl Into<String>, line: usize, column: usize) -> Self {
        SpecError {
            path: ROOT_PATH.to_owned(),
            message: message.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: {}", self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for SpecError {}

/// Something accepted but worth telling the user (unknown fields, risky settings). Serialises
/// as `{"path": …, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecWarning {
    /// JSON path of the value concerned.
    pub path: String,
    /// What was noticed.
    pub message: String,
}

impl SpecWarning {
    /// A warning at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecWarning {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a specification. `Display` prints the errors, one per line; the
/// warnings found alongside are kept in [`SpecErrors::warnings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecErrors {
    /// The errors (never empty).
    pub errors: Vec<SpecError>,
    /// Warnings found before or alongside the errors.
    pub warnings: Vec<SpecWarning>,
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Appends one object key to a JSON path: `.key`, or `["key"]` when the key is not a plain
/// identifier (media ranges, argument names with dashes).
pub(crate) fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let root = path.is_empty() || path == ROOT_PATH;
    match (plain, root) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{path}.{key}"),
        (false, true) => format!("[{key:?}]"),
        (false, false) => format!("{path}[{key:?}]"),
    }
}

/// Appends an array index to a JSON path.
pub(crate) fn push_index(path: &str, index: usize) -> String {
    if path == ROOT_PATH {
        format!("[{index}]")
    } else {
        format!("{path}[{index}]")
    }
}

/// Joins a relative path (`url`, `[0].name`) onto `base`.
pub(crate) fn join(base: &str, relative: &str) -> String {
    if relative.is_empty() {
        base.to_owned()
    } else if base.is_empty() || base == ROOT_PATH {
        relative.to_owned()
    } else if relative.starts_with('[') {
        format!("{base}{relative}")
    } else {
        format!("{base}.{relative}")
    }
}

/// Renders a `serde_path_to_error` path in our syntax; the empty string for the root.
pub(crate) fn render_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        out = match segment {
            serde_path_to_error::Segment::Seq { index } => format!("{out}[{index}]"),
            serde_path_to_error::Segment::Map { key } => push_key(&out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&out, variant),
            serde_path_to_error::Segment::Unknown => push_key(&out, "?"),
        };
    }
    out
}

/// Warnings for policies fngate accepts but does not act on yet, each at its JSON path:
/// response caching (`responseCacheLookup`, `responseCacheStore`) and execution logs
/// (`executionLog`, deployment-wide or per route). `doc_index` maps the spec's route `i` to its
/// index in the document (they differ when some routes failed to parse).
pub(crate) fn not_acted_on(
    spec: &crate::model::ApiSpecification,
    doc_index: &dyn Fn(usize) -> usize,
) -> Vec<SpecWarning> {
    const CACHE: &str =
        "accepted but not acted on: fngate does not cache responses yet; every request reaches the backend";
    const EXECUTION_LOG: &str = "accepted but not acted on: fngate writes no execution log; use the access log and `fngate logs` for function output";
    let mut out = Vec::new();
    let execution_log = |path: &str, policies: &Option<crate::model::LoggingPolicies>, out: &mut Vec<SpecWarning>| {
        let enabled = policies
            .as_ref()
            .and_then(|l| l.execution_log.as_ref())
            .map(|e| e.is_enabled != Some(false));
        if enabled == Some(true) {
            let at = push_key(&push_key(path, "loggingPolicies"), "executionLog");
            out.push(SpecWarning::new(at, EXECUTION_LOG));
        }
    };
    execution_log(ROOT_PATH, &spec.logging_policies, &mut out);
    for (i, route) in spec.routes.iter().enumerate() {
        let path = push_index("routes", doc_index(i));
        if route
            .request_policies
            .as_ref()
            .is_some_and(|p| p.response_cache_lookup.is_some())
        {
            let at = push_key(&push_key(&path, "requestPolicies"), "responseCacheLookup");
            out.push(SpecWarning::new(at, CACHE));
        }
        if route
            .response_policies
            .as_ref()
            .is_some_and(|p| p.response_cache_store.is_some())
        {
            let at = push_key(&push_key(&path, "responsePolicies"), "responseCacheStore");
            out.push(SpecWarning::new(at, CACHE));
        }
        execution_log(&path, &route.logging_policies, &mut out);
    }
    out
}
