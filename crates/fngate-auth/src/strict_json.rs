//! JSON objects that refuse duplicate member names (RFC 7515 §5.2 / RFC 8725 §3.x: a JOSE header or
//! claim set with duplicates is ambiguous; parsers disagree on which one wins).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

pub(crate) struct StrictObject(pub Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    // The value is read before a duplicate is reported, so the error names the same position.
                    let value = access.next_value::<Value>()?;
                    // One lookup per member: the entry both detects the duplicate and takes the value.
                    match map.entry(key) {
                        Entry::Occupied(taken) => {
                            return Err(A::Error::custom(format_args!("duplicate member '{}'", taken.key())));
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                    }
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// The members of a JOSE header that verification reads, without building a map: names are borrowed from
/// the decoded bytes when they hold no escapes. Every member value is still parsed as JSON (`Value`), so
/// exactly the headers [`StrictObject`] accepts are accepted; the caller checks `crit`, `alg` and `kid`.
pub(crate) struct JoseHeader {
    pub alg: Option<Value>,
    pub kid: Option<Value>,
    /// A `crit` member was present (whatever its value).
    pub crit: bool,
}

/// A member name, borrowed when the JSON string has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Headers have a handful of members; past this many, duplicates are found with a hash set instead of a
/// scan, so a hostile header with thousands of members costs linear time.
const LINEAR_SCAN_MEMBERS: usize = 16;

impl<'de> Deserialize<'de> for JoseHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = JoseHeader;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<JoseHeader, A::Error> {
                let mut header = JoseHeader {
                    alg: None,
                    kid: None,
                    crit: false,
                };
                let mut seen: Vec<Cow<'de, str>> = Vec::new();
                let mut many: HashSet<Cow<'de, str>> = HashSet::new();
                while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
                    // Read before a duplicate is reported, so the error names the same position as before.
                    let value = access.next_value::<Value>()?;
                    let duplicate = if seen.len() < LINEAR_SCAN_MEMBERS {
                        seen.contains(&name)
                    } else {
                        if many.is_empty() {
                            many.extend(seen.iter().cloned());
                        }
                        many.contains(&name)
                    };
                    if duplicate {
                        return Err(A::Error::custom(format_args!("duplicate member '{name}'")));
                    }
                    match name.as_ref() {
                        "alg" => header.alg = Some(value),
                        "kid" => header.kid = Some(value),
                        "crit" => header.crit = true,
                        _ => {}
                    }
                    if seen.len() < LINEAR_SCAN_MEMBERS {
                        seen.push(name);
                    } else {
                        many.insert(name);
                    }
                }
                Ok(header)
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}
