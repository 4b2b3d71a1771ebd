//! `func.yaml` (schema 20180708), as the Fn CLI reads and writes it.
//!
//! Unknown fields are warnings (the Fn CLI ignores them too); wrong types and out-of-range values
//! are errors that name the file, the line and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The only schema version fngate reads (`LatestYamlVersion` in the Fn CLI).
pub const SCHEMA_VERSION: i64 = 20180708;
pub const FILE_NAME: &str = "func.yaml";

/// Every field of `FuncFileV20180708`, in the CLI's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FuncFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<TriggerSpec>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expects: Option<Expects>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_details: Option<SigningDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expects {
    #[serde(default)]
    pub config: Vec<ExpectedConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedConfig {
    pub name: String,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningDetails {
    #[serde(default)]
    pub image_compartment_id: String,
    #[serde(default)]
    pub kms_key_id: String,
    #[serde(default)]
    pub kms_key_version_id: String,
    #[serde(default)]
    pub signing_algorithm: String,
}

/// `deploy.oci`: OCI-only settings, kept verbatim. fngate acts on `provisioned_concurrency`
/// ([`provisioned_concurrency`]); every other key draws a warning naming it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploySection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<serde_json::Value>,
}

/// A problem in func.yaml: `path:line: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncFileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for FuncFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FuncFileError {}

/// A parsed, validated func.yaml plus the warnings (unknown fields) met on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: FuncFile,
    pub warnings: Vec<String>,
}

/// The largest func.yaml read (`fn init` writes a few hundred bytes; config is capped at 4 KB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads and validates `dir/func.yaml`.
pub fn load(dir: &Path) -> Result<Parsed, FuncFileError> {
    use std::io::Read;
    let path = dir.join(FILE_NAME);
    let fail = |message: String| FuncFileError {
        path: path.clone(),
        line: None,
        field: String::new(),
        message,
    };
    let file = std::fs::File::open(&path).map_err(|err| fail(format!("cannot read: {err}")))?;
    // Read one byte past the cap (not the file's stated size), so a file growing meanwhile is
    // still refused and never read whole.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| fail(format!("cannot read: {err}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is larger than {} KiB, the most fngate reads for a func.yaml",
            MAX_FILE_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("cannot read: the file is not UTF-8 text".into()))?;
    parse(&path, &text)
}

/// Parses and validates func.yaml text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Parsed, FuncFileError> {
    let mut unknown = Vec::new();
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let mut on_unknown = |field: serde_ignored::Path<'_>| unknown.push(field.to_string());
    let ignoring = serde_ignored::Deserializer::new(deserializer, &mut on_unknown);
    let file: FuncFile = match serde_path_to_error::deserialize(ignoring) {
        Ok(file) => file,
        Err(err) => {
            let field = err.path().to_string();
            let inner = err.into_inner();
            let line = inner.location().map(|loc| loc.line());
            let message = strip_location(&inner.to_string());
            // serde_yaml_ng already prefixes the path; it is reported as the field instead.
            let message = message
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&message)
                .to_string();
            return Err(FuncFileError {
                path: path.into(),
                line,
                field: if field == "." { String::new() } else { field },
                message,
            });
        }
    };
    let mut warnings: Vec<String> = unknown
        .into_iter()
        .map(|field| {
            let leaf = field.rsplit('.').next().unwrap_or(&field).to_string();
            let at = line_of(text, &leaf).map(|l| format!(":{l}")).unwrap_or_default();
            format!("{}{at}: {field}: unknown field, ignored", path.display())
        })
        .collect();
    validate(path, text, &file)?;
    for (field, why) in not_acted_on(&file) {
        let leaf = field.rsplit('.').next().unwrap_or(&field).to_string();
        let at = line_of(text, &leaf).map(|l| format!(":{l}")).unwrap_or_default();
        warnings.push(format!(
            "{}{at}: {field}: accepted but not acted on by fngate ({why})",
            path.display()
        ));
    }
    Ok(Parsed { file, warnings })
}

/// serde_yaml_ng appends " at line L column C"; the line is reported separately.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The 1-based line where `key:` first appears (best effort, for messages).
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let wanted = format!("{key}:");
    text.lines()
        .position(|line| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed.starts_with(&wanted)
        })
        .map(|i| i + 1)
}

fn validate(path: &Path, text: &str, file: &FuncFile) -> Result<(), FuncFileError> {
    let fail = |field: &str, message: String| {
        let leaf = field.rsplit('.').next().unwrap_or(field);
        let leaf = leaf.split('[').next().unwrap_or(leaf);
        Err(FuncFileError {
            path: path.into(),
            line: line_of(text, leaf),
            field: field.to_string(),
            message,
        })
    };
    match file.schema_version {
        Some(SCHEMA_VERSION) => {}
        Some(other) => return fail("schema_version", format!("must be {SCHEMA_VERSION}, got {other}")),
        None => {
            return Err(FuncFileError {
                path: path.into(),
                line: None,
                field: "schema_version".into(),
                message: format!("missing; fngate reads func.yaml schema {SCHEMA_VERSION} (as written by `fn init`)"),
            });
        }
    }
    match file.name.as_deref() {
        None | Some("") => {
            return Err(FuncFileError {
                path: path.into(),
                line: line_of(text, "name"),
                field: "name".into(),
                message: "missing; every function needs a name".into(),
            });
        }
        Some(name) => {
            if let Err(message) = crate::model::validate_fn_name(name) {
                return fail("name", message);
            }
        }
    }
    if let Some(runtime) = file.runtime.as_deref()
        && let Err(message) = crate::lang::Lang::for_runtime(runtime)
    {
        return fail("runtime", message);
    }
    if file.runtime.is_none() && file.entrypoint.is_none() && file.cmd.is_none() {
        return Err(FuncFileError {
            path: path.into(),
            line: None,
            field: "runtime".into(),
            message: "missing; set `runtime: python` or `runtime: node`".into(),
        });
    }
    if let Some(memory) = file.memory
        && !(1..=crate::model::MAX_MEMORY).contains(&memory)
    {
        return fail(
            "memory",
            format!("must be between 1 and {} (MB), got {memory}", crate::model::MAX_MEMORY),
        );
    }
    if let Some(timeout) = file.timeout
        && !(1..=crate::model::MAX_TIMEOUT).contains(&timeout)
    {
        return fail(
            "timeout",
            format!(
                "must be between 1 and {} (seconds), got {timeout}",
                crate::model::MAX_TIMEOUT
            ),
        );
    }
    if let Some(idle) = file.idle_timeout
        && !(1..=crate::model::MAX_IDLE_TIMEOUT).contains(&idle)
    {
        return fail(
            "idle_timeout",
            format!(
                "must be between 1 and {} (seconds), got {idle}",
                crate::model::MAX_IDLE_TIMEOUT
            ),
        );
    }
    // The same rules as the Fn API's (model::merge_config), here with the file's line.
    for (key, value) in file.config.iter().flatten() {
        let field = format!("config.{key}");
        crate::model::check_config_key(key).map_err(|m| config_error(path, text, key, &field, m))?;
        crate::model::check_config_value(key, value).map_err(|m| config_error(path, text, key, &field, m))?;
    }
    if let Some(config) = &file.config {
        crate::model::check_config_size(config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|m| config_error(path, text, "config", "config", m))?;
    }
    if let Err((field, message)) = provisioned_concurrency(file) {
        return fail(&field, message);
    }
    for (i, trigger) in file.triggers.iter().flatten().enumerate() {
        if trigger.name.is_empty() {
            return fail(&format!("triggers[{i}].name"), "must not be empty".into());
        }
        if trigger.kind != "http" {
            return fail(
                &format!("triggers[{i}].type"),
                format!("unsupported trigger type {:?} (only \"http\")", trigger.kind),
            );
        }
        if !trigger.source.starts_with('/') {
            return fail(
                &format!("triggers[{i}].source"),
                format!("must start with '/', got {:?}", trigger.source),
            );
        }
    }
    Ok(())
}

/// Fields fngate reads without error but does nothing with: (field path, why).
fn not_acted_on(file: &FuncFile) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if file.build.as_ref().is_some_and(|b| !b.is_empty()) {
        out.push((
            "build".to_string(),
            "pre-build commands belong to Docker builds; fngate prepares the environment from requirements.txt / package.json",
        ));
    }
    if file.signing_details.is_some() {
        out.push(("signing_details".to_string(), "image signing is OCI Registry only"));
    }
    if let Some(oci) = file
        .deploy
        .as_ref()
        .and_then(|d| d.oci.as_ref())
        .and_then(|o| o.as_object())
    {
        for key in oci.keys().filter(|k| *k != "provisioned_concurrency") {
            let why = match key.as_str() {
                "detached_mode" => "detached calls run with the function's timeout and no destinations",
                "pbf" => "pre-built functions are OCI only",
                "freeform_tags" | "defined_tags" => "tags are OCI only",
                _ => "not an OCI setting fngate knows",
            };
            out.push((format!("deploy.oci.{key}"), why));
        }
    }
    out
}

/// `deploy.oci.provisioned_concurrency`: `{strategy: CONSTANT, count: N}` keeps N instances
/// warm; `{strategy: NONE}` or no section keeps none (OCI's `provisionedConcurrencyConfig`).
/// OCI counts provisioned concurrency units; fngate counts hot instances.
pub fn provisioned_concurrency(file: &FuncFile) -> Result<usize, (String, String)> {
    let Some(section) = file
        .deploy
        .as_ref()
        .and_then(|d| d.oci.as_ref())
        .and_then(|o| o.get("provisioned_concurrency"))
    else {
        return Ok(0);
    };
    let field = "deploy.oci.provisioned_concurrency";
    let Some(object) = section.as_object() else {
        return Err((field.into(), "must be a mapping {strategy: CONSTANT, count: N}".into()));
    };
    if let Some(key) = object.keys().find(|k| *k != "strategy" && *k != "count") {
        return Err((
            format!("{field}.{key}"),
            "unknown field (expected strategy and count)".into(),
        ));
    }
    match object.get("strategy").and_then(|s| s.as_str()) {
        Some("NONE") => Ok(0),
        Some("CONSTANT") => match object.get("count") {
            Some(count) => match count.as_u64() {
                Some(n) if (1..=MAX_PROVISIONED as u64).contains(&n) => Ok(n as usize),
                _ => Err((
                    format!("{field}.count"),
                    format!("must be a whole number from 1 to {MAX_PROVISIONED}, got {count}"),
                )),
            },
            None => Err((format!("{field}.count"), "missing; CONSTANT needs a count".into())),
        },
        Some(other) => Err((
            format!("{field}.strategy"),
            format!("must be CONSTANT or NONE, got {other:?}"),
        )),
        None => Err((format!("{field}.strategy"), "missing; use CONSTANT or NONE".into())),
    }
}

/// The most provisioned instances one function may ask for (the server caps it further at
/// `--max-instances-per-fn`).
pub const MAX_PROVISIONED: usize = 1000;

fn config_error(path: &Path, text: &str, key: &str, field: &str, message: String) -> FuncFileError {
    FuncFileError {
        path: path.into(),
        line: line_of(text, key),
        field: field.to_string(),
        message,
    }
}

/// The patch bump `fn deploy` applies to `version` (`0.0.1` → `0.0.2`); no version → `0.0.1`.
pub fn bump_version(version: Option<&str>) -> Result<String, String> {
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        return Ok("0.0.1".into());
    };
    let parts: Vec<&str> = version.split('.').collect();
    let numbers: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    match numbers.as_deref() {
        Some([major, minor, patch]) => match patch.checked_add(1) {
            Some(next) => Ok(format!("{major}.{minor}.{next}")),
            None => Err(format!("version {version:?} has a patch number too large to bump")),
        },
        _ => Err(format!(
            "version {version:?} is not MAJOR.MINOR.PATCH; fix it to let deploy bump it"
        )),
    }
}

/// Sets `version` in func.yaml text: rewrites the `version:` line in place (keeping comments and
/// order), or appends one when there is none. A file that edit cannot handle (flow style
/// `{name: x}`, a quoted `"version":` key, a `...` end marker) is written out whole instead, so
/// the result always parses with the new version and is otherwise unchanged.
pub fn set_version(text: &str, version: &str) -> String {
    let edited = set_version_line(text, version);
    let path = Path::new(FILE_NAME);
    let Ok(original) = parse(path, text) else {
        return edited;
    };
    let wanted = FuncFile {
        version: Some(version.to_string()),
        ..original.file
    };
    match parse(path, &edited) {
        Ok(parsed) if parsed.file == wanted => edited,
        _ => serde_yaml_ng::to_string(&wanted).unwrap_or(edited),
    }
}

/// The line edit of [`set_version`].
fn set_version_line(text: &str, version: &str) -> String {
    let mut out = String::with_capacity(text.len() + 20);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && line.starts_with("version:") {
            out.push_str(&format!("version: {version}\n"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if !done {
        if !out.ends_with('\n') && !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("version: {version}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "schema_version: 20180708\nname: hello\nversion: 0.0.1\nruntime: python\n\
        build_image: fnproject/python:3.12-dev\nrun_image: fnproject/python:3.12\n\
        entrypoint: /python/bin/fdk /function/func.py handler\nmemory: 256\n\
        triggers:\n- name: hello\n  type: http\n  source: /hello\n";

    fn parse_str(text: &str) -> Result<Parsed, FuncFileError> {
        parse(Path::new("hello/func.yaml"), text)
    }

    #[test]
    fn reads_what_fn_init_writes() {
        let parsed = parse_str(GOOD).unwrap();
        assert!(parsed.warnings.is_empty());
        assert_eq!(parsed.file.name.as_deref(), Some("hello"));
        assert_eq!(parsed.file.memory, Some(256));
        assert_eq!(parsed.file.triggers.as_ref().unwrap()[0].source, "/hello");
    }

    #[test]
    fn every_reference_field_is_known() {
        let text = format!(
            "{GOOD}cmd: x\ncontent_type: application/json\ntype: sync\ntimeout: 30\nidle_timeout: 60\n\
             config:\n  K: V\nannotations:\n  a.b/c: 1\nbuild:\n- echo hi\nexpects:\n  config:\n  - name: K\n    required: true\n\
             signing_details:\n  image_compartment_id: c\n  kms_key_id: k\n  kms_key_version_id: v\n  signing_algorithm: s\n\
             deploy:\n  oci:\n    provisioned_concurrency:\n      strategy: CONSTANT\n      count: 1\n"
        );
        let parsed = parse_str(&text).unwrap();
        // Known, though `build` and `signing_details` are not acted on (and say so).
        assert!(
            parsed.warnings.iter().all(|w| w.contains("accepted but not acted on")),
            "{:?}",
            parsed.warnings
        );
        assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
        assert_eq!(parsed.file.config.unwrap()["K"], "V");
    }

    #[test]
    fn unknown_field_is_a_warning_with_its_line() {
        let parsed = parse_str(&format!("{GOOD}colour: blue\n")).unwrap();
        assert_eq!(parsed.warnings, ["hello/func.yaml:13: colour: unknown field, ignored"]);
    }

    #[test]
    fn wrong_type_names_line_and_field() {
        let text = GOOD.replace("memory: 256", "memory: lots");
        let err = parse_str(&text).unwrap_err();
        assert_eq!(err.line, Some(8));
        assert_eq!(err.field, "memory");
        assert!(
            err.to_string().starts_with("hello/func.yaml:8: memory: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_and_bad_trigger_are_rejected() {
        let err = parse_str(&GOOD.replace("memory: 256", "memory: 0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "hello/func.yaml:8: memory: must be between 1 and 8192 (MB), got 0"
        );
        let err = parse_str(&GOOD.replace("source: /hello", "source: hello")).unwrap_err();
        assert_eq!(err.field, "triggers[0].source");
        assert_eq!(err.line, Some(12));
        let err = parse_str(&GOOD.replace("runtime: python", "runtime: docker")).unwrap_err();
        assert!(err.message.contains("Docker"), "{err}");
        let err = parse_str("schema_version: 20180708\nname: [\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn config_keys_follow_the_api_rules_with_their_line() {
        let err = parse_str(&format!("{GOOD}config:\n  GREETING: hi\n  BROWSER: /bin/sh\n")).unwrap_err();
        assert_eq!(err.line, Some(15));
        assert_eq!(err.field, "config.BROWSER");
        assert!(
            err.to_string()
                .starts_with("hello/func.yaml:15: config.BROWSER: config key \"BROWSER\" is reserved"),
            "{err}"
        );
        let err = parse_str(&format!("{GOOD}config:\n  9LIVES: x\n")).unwrap_err();
        assert!(err.message.contains("is invalid"), "{err}");
        let big = "x".repeat(5000);
        let err = parse_str(&format!("{GOOD}config:\n  BIG: {big}\n")).unwrap_err();
        assert!(err.message.contains("too large"), "{err}");
    }

    #[test]
    fn oversized_file_is_refused_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = GOOD.to_string();
        text.push_str("annotations:\n");
        while text.len() as u64 <= MAX_FILE_BYTES {
            text.push_str(&format!("  k{}: v\n", text.len()));
        }
        std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("func.yaml: file is larger than 1024 KiB, the most fngate reads for a func.yaml"),
            "{err}"
        );
    }

    #[test]
    fn provisioned_concurrency_is_read_and_checked() {
        let with = |section: &str| {
            parse_str(&format!(
                "{GOOD}deploy:\n  oci:\n    provisioned_concurrency:\n{section}"
            ))
        };
        let parsed = with("      strategy: CONSTANT\n      count: 2\n").unwrap();
        assert_eq!(provisioned_concurrency(&parsed.file), Ok(2));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let parsed = with("      strategy: NONE\n").unwrap();
        assert_eq!(provisioned_concurrency(&parsed.file), Ok(0));
        assert_eq!(provisioned_concurrency(&parse_str(GOOD).unwrap().file), Ok(0));
        let err = with("      strategy: CONSTANT\n      count: 0\n").unwrap_err();
        assert_eq!(err.field, "deploy.oci.provisioned_concurrency.count");
        assert_eq!(err.line, Some(17));
        let err = with("      strategy: CONSTANT\n").unwrap_err();
        assert!(err.to_string().contains("count: missing"), "{err}");
        let err = with("      strategy: BURST\n      count: 1\n").unwrap_err();
        assert_eq!(err.field, "deploy.oci.provisioned_concurrency.strategy");
    }

    #[test]
    fn accepted_but_not_acted_on_warns_with_the_path() {
        let text = format!(
            "{GOOD}build:\n- make\ndeploy:\n  oci:\n    detached_mode:\n      timeout: 60\n    freeform_tags:\n      a: b\n"
        );
        let warnings = parse_str(&text).unwrap().warnings;
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with("hello/func.yaml:13: build: accepted but not acted on"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("hello/func.yaml:17: deploy.oci.detached_mode: accepted but not acted on"),
            "{warnings:?}"
        );
        assert!(
            warnings[2].contains("deploy.oci.freeform_tags: accepted but not acted on"),
            "{warnings:?}"
        );
    }

    #[test]
    fn version_bump_and_rewrite() {
        assert_eq!(bump_version(Some("0.0.9")).unwrap(), "0.0.10");
        assert_eq!(bump_version(None).unwrap(), "0.0.1");
        assert!(bump_version(Some("latest")).is_err());
        let text = set_version(GOOD, "0.0.2");
        assert!(text.contains("\nversion: 0.0.2\n") && !text.contains("0.0.1"));
    }

    /// Found by fuzzing (fuzz target `funcfile`): `u64::MAX` as the patch number overflowed.
    #[test]
    fn bumping_the_largest_patch_number_is_an_error() {
        let err = bump_version(Some("0.0.18446744073709551615")).unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }

    /// Found by fuzzing (fuzz target `funcfile`): the line edit appended `version:` after a
    /// flow-style mapping (or next to a quoted key), and the next deploy refused the file.
    #[test]
    fn the_rewritten_version_always_parses() {
        for text in [
            "{schema_version: 20180708, name: flow, runtime: python}\n",
            "schema_version: 20180708\nname: q\n\"version\": 0.0.1\nruntime: node\n",
            "schema_version: 20180708\nname: e\nruntime: node\n...\n",
        ] {
            let before = parse_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).file;
            let written = set_version(text, "0.0.2");
            let after = parse_str(&written).unwrap_or_else(|e| panic!("{written:?}: {e}")).file;
            assert_eq!(after.version.as_deref(), Some("0.0.2"), "{written:?}");
            assert_eq!(
                after,
                FuncFile {
                    version: Some("0.0.2".into()),
                    ..before
                }
            );
        }
        // The usual file keeps its comments.
        let commented = format!("# mine\n{GOOD}");
        assert!(set_version(&commented, "0.0.2").starts_with("# mine\n"));
    }
}
