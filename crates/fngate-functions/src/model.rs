//! Fn API v2 resources (`fn:api/models/{app,fn,trigger}.go`): JSON shapes, defaults, limits and
//! the update (merge) rules, converted to and from store rows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use fngate_store::functions::{AppRow, FnRow, TriggerRow};

pub use crate::config_rules::{MAX_CONFIG_BYTES, check_config_key, check_config_size, check_config_value};

pub const DEFAULT_MEMORY: u64 = 128;
pub const MAX_MEMORY: u64 = 8192;
pub const DEFAULT_TIMEOUT: i32 = 30;
pub const MAX_TIMEOUT: i32 = 300;
pub const DEFAULT_IDLE_TIMEOUT: i32 = 30;
pub const MAX_IDLE_TIMEOUT: i32 = 3600;
pub const INVOKE_ENDPOINT_ANNOTATION: &str = "fnproject.io/fn/invokeEndpoint";
pub const TRIGGER_ENDPOINT_ANNOTATION: &str = "fnproject.io/trigger/httpEndpoint";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fn {
    pub id: String,
    pub name: String,
    pub app_id: String,
    pub image: String,
    pub memory: u64,
    pub timeout: i32,
    pub idle_timeout: i32,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub id: String,
    pub name: String,
    pub app_id: String,
    pub fn_id: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

/// A create or update body: every field optional (Fn merges updates into the stored resource).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub config: Option<Map<String, Value>>,
    pub annotations: Option<Map<String, Value>>,
    pub syslog_url: Option<String>,
    pub shape: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FnInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub image: Option<String>,
    pub memory: Option<u64>,
    pub timeout: Option<i32>,
    pub idle_timeout: Option<i32>,
    pub config: Option<Map<String, Value>>,
    pub annotations: Option<Map<String, Value>>,
    pub shape: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TriggerInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub fn_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

/// `{"items": [...], "next_cursor": "..."}`; the cursor only when the page is full.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Time as Fn serialises it: RFC 3339 with milliseconds, UTC.
pub fn now() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// App names: letters, digits, `_` and `-`, at most 255 characters (`fn:api/models/app.go`).
pub fn validate_app_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("Missing app name");
    }
    if name.len() > 255 {
        return Err("App name must be 255 characters or less");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err("Invalid app name");
    }
    Ok(())
}

/// Fn names must survive URL path escaping unchanged and be at most 255 characters.
pub fn validate_fn_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("missing name".into());
    }
    if name.len() > 255 {
        return Err("Fn name must be 255 characters or less".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c))
    {
        return Err(format!(
            "name {name:?} must be a valid string (letters, digits and URL-safe punctuation only)"
        ));
    }
    Ok(())
}

pub fn validate_limits(memory: u64, timeout: i32, idle_timeout: i32) -> Result<(), String> {
    if !(1..=MAX_MEMORY).contains(&memory) {
        return Err(format!(
            "memory value is out of range. It should be between 0 and {MAX_MEMORY}"
        ));
    }
    if !(1..=MAX_TIMEOUT).contains(&timeout) {
        return Err(format!(
            "timeout value is out of range, must be between 0 and {MAX_TIMEOUT}"
        ));
    }
    if !(1..=MAX_IDLE_TIMEOUT).contains(&idle_timeout) {
        return Err(format!(
            "idle_timeout value is out of range, must be between 0 and {MAX_IDLE_TIMEOUT}"
        ));
    }
    Ok(())
}

/// Config values must be strings; on update `""` (or `null`) deletes the key. Every key set must
/// pass [`check_config_key`] and the merged config must stay within [`MAX_CONFIG_BYTES`]; keys
/// being deleted are not checked, so a config stored before a rule existed can still be cleaned.
/// Every path that stores config (the Fn API's apps and fns, deploy's func.yaml) comes here.
pub fn merge_config(into: &mut Map<String, Value>, change: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in change {
        match value {
            Value::String(s) if s.is_empty() => {
                into.remove(key);
            }
            Value::String(s) => {
                check_config_key(key)?;
                check_config_value(key, s)?;
                into.insert(key.clone(), value.clone());
            }
            Value::Null => {
                into.remove(key);
            }
            _ => return Err(format!("config value for {key:?} must be a string")),
        }
    }
    check_config_size(into.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())))
}

/// Annotations merge; `""` or `null` deletes the key; limits from `fn:api/models/annotations.go`.
pub fn merge_annotations(into: &mut Map<String, Value>, change: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in change {
        if key.is_empty() || !key.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(
                "Invalid annotation key, annotation keys must be non-empty ascii strings excluding whitespace".into(),
            );
        }
        if key.len() > 128 {
            return Err("Invalid annotation key length, annotation keys may not be larger than 128 bytes".into());
        }
        match value {
            Value::Null => {
                into.remove(key);
            }
            Value::String(s) if s.is_empty() => {
                into.remove(key);
            }
            _ => {
                if value.to_string().len() > 512 {
                    return Err("Invalid annotation value length, annotation values may not be larger than 512 bytes when serialized as JSON".into());
                }
                into.insert(key.clone(), value.clone());
            }
        }
    }
    if into.len() > 100 {
        return Err(
            "Invalid annotation change, new key(s) exceed maximum permitted number of annotations keys (100)".into(),
        );
    }
    Ok(())
}

pub fn validate_shape(shape: &str) -> Result<(), String> {
    match shape {
        "GENERIC_X86" | "GENERIC_ARM" | "GENERIC_X86_ARM" => Ok(()),
        _ => Err(format!(
            "Invalid shape {shape:?} (GENERIC_X86, GENERIC_ARM or GENERIC_X86_ARM)"
        )),
    }
}

/// What fngate says about an app's `syslog_url`: stored and shown as Fn does, never used.
pub const SYSLOG_NOT_ACTED_ON: &str =
    "accepted but not acted on by fngate: function output is not sent to syslog; read it with `fngate logs APP FN`";

pub fn validate_syslog_url(url: &str) -> Result<(), String> {
    let scheme = url.split("://").next().unwrap_or_default();
    if url.contains("://") && ["udp", "tcp", "unix", "unixgram", "tcp+tls"].contains(&scheme) {
        Ok(())
    } else {
        Err(format!(
            "Invalid syslog URL: {url:?} (schemes udp, tcp, unix, unixgram, tcp+tls)"
        ))
    }
}

fn json_map(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn map_text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

impl From<&AppRow> for App {
    fn from(row: &AppRow) -> Self {
        App {
            id: row.id.clone(),
            name: row.name.clone(),
            config: json_map(&row.config),
            annotations: json_map(&row.annotations),
            syslog_url: row.syslog_url.clone(),
            shape: row.shape.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        }
    }
}

impl From<&FnRow> for Fn {
    fn from(row: &FnRow) -> Self {
        Fn {
            id: row.id.clone(),
            name: row.name.clone(),
            app_id: row.app_id.clone(),
            image: row.image.clone(),
            memory: row.memory.max(0) as u64,
            timeout: row.timeout as i32,
            idle_timeout: row.idle_timeout as i32,
            config: json_map(&row.config),
            annotations: json_map(&row.annotations),
            created_at: row.created_at.clone(),
            shape: row.shape.clone(),
            updated_at: row.updated_at.clone(),
        }
    }
}

impl From<&TriggerRow> for Trigger {
    fn from(row: &TriggerRow) -> Self {
        Trigger {
            id: row.id.clone(),
            name: row.name.clone(),
            app_id: row.app_id.clone(),
            fn_id: row.fn_id.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
            kind: row.kind.clone(),
            source: row.source.clone(),
            annotations: json_map(&row.annotations),
        }
    }
}

/// A config map as (name, value) strings for the process environment.
pub fn config_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_has_milliseconds() {
        let t = now();
        assert_eq!(t.len(), "2026-11-26T07:37:57.456Z".len(), "{t}");
    }

    #[test]
    fn config_merge_deletes_on_empty() {
        let mut config = serde_json::json!({"A": "1", "B": "2"}).as_object().unwrap().clone();
        merge_config(&mut config, serde_json::json!({"A": "", "C": "3"}).as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(config), serde_json::json!({"B": "2", "C": "3"}));
    }

    #[test]
    fn config_merge_refuses_reserved_and_oversized_but_deletes_anything() {
        let mut config = serde_json::json!({"PATH": "/legacy"}).as_object().unwrap().clone();
        let err = merge_config(
            &mut config,
            serde_json::json!({"BROWSER": "/bin/sh"}).as_object().unwrap(),
        );
        assert!(err.unwrap_err().contains("\"BROWSER\" is reserved"));
        merge_config(&mut config, serde_json::json!({"PATH": ""}).as_object().unwrap()).unwrap();
        assert!(config.is_empty(), "a stored reserved key can still be deleted");
        let big = "x".repeat(3000);
        merge_config(&mut config, serde_json::json!({"A": big}).as_object().unwrap()).unwrap();
        let err = merge_config(&mut config, serde_json::json!({"B": big}).as_object().unwrap()).unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn names() {
        assert!(validate_app_name("my-app_1").is_ok());
        assert_eq!(validate_app_name("my app"), Err("Invalid app name"));
        assert!(validate_fn_name("hello").is_ok());
        assert!(validate_fn_name("he llo").is_err());
    }
}
