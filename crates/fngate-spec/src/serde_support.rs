//! Serde plumbing shared by the model: path-preserving internally tagged enums and the
//! "emit every field" serialisation mode used to detect unknown fields.
//!
//! Why not `#[serde(tag = "type")]` on the deserialising side: serde buffers a tagged enum's
//! fields and then deserialises the variant from that buffer, so `serde_path_to_error` loses the
//! path inside the variant (`routes[0].backend` instead of `routes[0].backend.url`) and
//! `serde_ignored` never sees the variant's unknown fields. The hand-written impls below
//! deserialise the variant with its own `serde_path_to_error` pass and carry the inner path out
//! in the error message (between [`PATH_MARK`]s), which [`crate::parse`] splices back together.
//! Serialisation still uses the derive with `#[serde(tag = ...)]`.

use std::cell::Cell;

use serde::de::{DeserializeOwned, Unexpected};
use serde_json::Value;

/// Separates an inner JSON path from the message in errors raised inside tagged enums.
pub(crate) const PATH_MARK: char = '\u{1f}';

thread_local! {
    static EMIT_ALL_FIELDS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every optional field serialised (as `null` / `[]`), so the output lists every
/// field the model knows at each position.
pub(crate) fn with_all_fields<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            EMIT_ALL_FIELDS.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(EMIT_ALL_FIELDS.with(|c| c.replace(true)));
    f()
}

fn emit_all() -> bool {
    EMIT_ALL_FIELDS.with(|c| c.get())
}

/// `skip_serializing_if` for optional fields.
pub(crate) fn skip_none<T>(value: &Option<T>) -> bool {
    value.is_none() && !emit_all()
}

/// `skip_serializing_if` for optional lists.
pub(crate) fn skip_empty<T>(value: &[T]) -> bool {
    value.is_empty() && !emit_all()
}

/// `skip_serializing_if` for optional maps.
pub(crate) fn skip_empty_map<K, V>(value: &std::collections::BTreeMap<K, V>) -> bool {
    value.is_empty() && !emit_all()
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match n.as_f64() {
            Some(f) => Unexpected::Float(f),
            None => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Reads the discriminator `tag` of a tagged object.
pub(crate) fn tag_of<E: serde::de::Error>(
    value: &Value,
    tag: &'static str,
    variants: &'static [&'static str],
) -> Result<String, E> {
    let Value::Object(map) = value else {
        return Err(E::invalid_type(unexpected(value), &"an object"));
    };
    match map.get(tag) {
        None => Err(E::missing_field(tag)),
        Some(Value::String(s)) if variants.contains(&s.as_str()) => Ok(s.clone()),
        Some(Value::String(s)) => {
            let inner = E::unknown_variant(s, variants);
            Err(E::custom(format!("{PATH_MARK}{tag}{PATH_MARK}{inner}")))
        }
        Some(other) => {
            let inner = E::invalid_type(unexpected(other), &"a string");
            Err(E::custom(format!("{PATH_MARK}{tag}{PATH_MARK}{inner}")))
        }
    }
}

/// Deserialises one variant body with its own path tracking.
pub(crate) fn variant<T: DeserializeOwned, E: serde::de::Error>(value: Value) -> Result<T, E> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = crate::diagnostics::render_path(err.path());
        let message = err.into_inner().to_string();
        if path.is_empty() {
            E::custom(message)
        } else {
            E::custom(format!("{PATH_MARK}{path}{PATH_MARK}{message}"))
        }
    })
}

/// Implements `Deserialize` for an enum serialised with `#[serde(tag = $tag)]`.
macro_rules! tagged_deserialize {
    ($ty:ident, $tag:literal, { $($name:literal => $variant:ident $(($inner:ty))?),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const VARIANTS: &[&str] = &[$($name),+];
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                let tag = $crate::serde_support::tag_of::<D::Error>(&value, $tag, VARIANTS)?;
                match tag.as_str() {
                    $($name => tagged_deserialize!(@variant $ty, $variant, value $(, $inner)?),)+
                    other => Err(<D::Error as serde::de::Error>::unknown_variant(other, VARIANTS)),
                }
            }
        }
    };
    (@variant $ty:ident, $variant:ident, $value:ident, $inner:ty) => {
        $crate::serde_support::variant::<$inner, D::Error>($value).map($ty::$variant)
    };
    (@variant $ty:ident, $variant:ident, $value:ident) => {{
        let _ = $value;
        Ok($ty::$variant)
    }};
}
pub(crate) use tagged_deserialize;
