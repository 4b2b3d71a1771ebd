//! OCI API Gateway `ApiSpecification` types, parsing and validation. Pure: no I/O.
//!
//! CONTRACT (other crates code against this; extend, do not break):
//! - [`parse`]`(text, `[`SpecFormat`]`) -> Result<`[`Parsed`]`, `[`SpecErrors`]`>`: syntax, structure,
//!   unknown fields (warnings) and [`validate`] in one call. `Parsed { spec, warnings }`.
//!   [`SpecErrors`] holds every error (and the warnings found alongside); each [`SpecError`] /
//!   [`SpecWarning`] has a JSON `path` (`routes[2].backend.url`) and a `message`, and displays
//!   as `path: message` (syntax errors: `line L, column C: message`).
//! - [`validate`]`(&spec) -> Vec<SpecError>`: the semantic checks alone (for specs built in code);
//!   [`validate_with_warnings`] also returns the non-fatal findings.
//! - The type tree mirrors OCI's JSON exactly (module [`model`], re-exported at the root).
//!   Legacy `JWT_AUTHENTICATION` stays as written in the parsed spec (so it serialises back to
//!   the user's JSON); [`AuthenticationPolicy::normalized`] /
//!   [`AuthenticationPolicy::token_authentication`] give the `TOKEN_AUTHENTICATION` equivalent.
//! - [`Template::parse`] (`${request.path[id]}` strings → [`TemplatePart::Literal`] /
//!   [`TemplatePart::Var`]) and [`ContextVar::parse`] (bare `request.headers[X]`) for context
//!   variables; [`PathPattern::parse`] for route paths; [`validate_path_prefix`] for deployments.
//! - [`limits`]: OCI's documented limits as constants (also the runtime ones the gateway
//!   enforces: request body 20 MB, function body 6 MB, request head 8 KB).
//! - Errors and warnings also serialise to JSON (`path`, `message`, `line`/`column`).
//!
//! ```
//! use fngate_spec::{SpecFormat, parse};
//!
//! let text = r#"{"routes": [{"path": "/hello", "methods": ["GET"],
//!     "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "hi"}}]}"#;
//! let parsed = parse(text, SpecFormat::Json).unwrap();
//! assert_eq!(parsed.spec.routes[0].path, "/hello");
//!
//! let broken = r#"{"routes": [{"path": "hello", "isSSLVerifyDisabled": true,
//!     "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}}]}"#;
//! let problems = parse(broken, SpecFormat::Json).unwrap_err();
//! assert_eq!(problems.to_string(), "routes[0].path: must start with `/` (got `hello`)");
//! assert_eq!(problems.warnings[0].path, "routes[0].isSSLVerifyDisabled");
//! ```

#![warn(missing_docs)]

pub mod limits;
pub mod model;

mod diagnostics;
mod document;
mod parse;
mod path;
mod serde_support;
mod structure;
mod template;
mod unknown_fields;
mod validate;

pub use diagnostics::{ROOT_PATH, SpecError, SpecErrors, SpecWarning};
pub use limits::{MAX_PATH_PREFIX_LEN, MAX_ROUTE_PATH_LEN, MAX_ROUTES, MAX_SPEC_BYTES};
pub use model::*;
pub use parse::{Parsed, SpecFormat, parse};
pub use path::{PathPattern, PathSegment, validate_path_prefix};
pub use template::{ContextTable, ContextVar, Template, TemplatePart};
pub use validate::Report;

/// Semantic checks (limits, cross-field rules) on an already-deserialised specification.
/// [`parse`] runs these too.
pub fn validate(spec: &ApiSpecification) -> Vec<SpecError> {
    validate::check(spec).errors
}

/// [`validate`], plus the non-fatal findings.
pub fn validate_with_warnings(spec: &ApiSpecification) -> Report {
    validate::check(spec)
}
