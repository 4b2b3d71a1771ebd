//! Reads a JSON or YAML document into a `serde_json::Value`, noting keys that appear twice in
//! one object (serde_json would silently keep the last one; so does OCI's Java service, so we
//! keep the last one too, but say so).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::diagnostics::{SpecWarning, push_index, push_key};

/// A document tree plus the duplicate-key warnings found while reading it.
pub(crate) struct Document {
    pub value: Value,
    pub warnings: Vec<SpecWarning>,
}

/// Reads a value from any self-describing deserializer.
pub(crate) fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
    let warnings = RefCell::new(Vec::new());
    let value = Seed {
        path: String::new(),
        warnings: &warnings,
    }
    .deserialize(deserializer)?;
    Ok(Document {
        value,
        warnings: warnings.into_inner(),
    })
}

struct Seed<'w> {
    path: String,
    warnings: &'w RefCell<Vec<SpecWarning>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed {
            path: push_index(&self.path, items.len()),
            warnings: self.warnings,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = push_key(&self.path, &key);
            let value = map.next_value_seed(Seed {
                path: path.clone(),
                warnings: self.warnings,
            })?;
            if object.insert(key.clone(), value).is_some() {
                let message = format!("`{key}` appears more than once in this object; the last value is used");
                self.warnings.borrow_mut().push(SpecWarning::new(path, message));
            }
        }
        Ok(Value::Object(object))
    }
}
