//! A small deterministic mutator for the bounded CI run: fixed seed, fixed count, so `cargo test`
//! sees the same inputs every time (libFuzzer, in `scripts/fuzz.sh`, does the open-ended search).
//! Byte-level edits (bit flips, dictionary tokens, splices, deletions) and, for JSON inputs,
//! edits of the value tree, which keep the syntax valid and so reach the checks behind it.

use serde_json::{Map, Value};

/// SplitMix64: tiny, good enough to spread edits, and stable (no dependency can change it).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
}

/// Reads a libFuzzer dictionary (`name="value"` or `"value"` lines, `\xNN`, `\\` and `\"`
/// escapes), so the CI run and libFuzzer use the same tokens.
pub fn parse_dict(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (Some(open), Some(close)) = (line.find('"'), line.rfind('"')) else {
            continue;
        };
        if close <= open {
            continue;
        }
        let raw = &line.as_bytes()[open + 1..close];
        let mut token = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            match (raw[i], raw.get(i + 1)) {
                (b'\\', Some(b'x')) if i + 3 < raw.len() + 1 => {
                    let hex = std::str::from_utf8(raw.get(i + 2..i + 4).unwrap_or(b"")).unwrap_or("");
                    if let Ok(byte) = u8::from_str_radix(hex, 16) {
                        token.push(byte);
                        i += 4;
                        continue;
                    }
                    token.push(b'\\');
                    i += 1;
                }
                (b'\\', Some(&next)) => {
                    token.push(next);
                    i += 2;
                }
                (byte, _) => {
                    token.push(byte);
                    i += 1;
                }
            }
        }
        out.push(token);
    }
    out
}

const INTERESTING_BYTES: &[u8] = b"\x00\x01\x7f\xff\"\\/{}[]:,.%$*?#&=;+- \t\r\n09aAzZ";

/// One to four byte-level edits of `data`; `pool` supplies splice material, `dict` tokens.
pub fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, dict: &[Vec<u8>], pool: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 | 3 => {
                if let Some(token) = rng.pick(dict) {
                    let at = rng.below(len + 1);
                    data.splice(at..at, token.iter().copied());
                }
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                data.drain(start..end);
            }
            5 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let chunk: Vec<u8> = data[start..end].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            6 => {
                if let Some(other) = rng.pick(pool).filter(|o| !o.is_empty()) {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ if len > 1 => data.truncate(rng.below(len)),
            _ => data.push(INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]),
        }
    }
}

/// Values that sit on edges: types the field does not expect, limits, odd strings.
fn interesting_value(rng: &mut Rng, dict: &[Vec<u8>]) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => Value::from(0),
        3 => Value::from(-1),
        4 => Value::from(u64::MAX),
        5 => Value::from(i64::MIN),
        6 => Value::from(1.5e300),
        7 => Value::from(0.5),
        8 => Value::Array(Vec::new()),
        9 => Value::Object(Map::new()),
        10 => Value::from(""),
        11 => Value::from("x".repeat(1 + rng.below(3000))),
        _ => match rng.pick(dict) {
            Some(token) => Value::from(String::from_utf8_lossy(token).into_owned()),
            None => Value::from("/"),
        },
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn nth_node<'a>(value: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(value);
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|v| nth_node(v, n)),
        Value::Object(map) => map.values_mut().find_map(|v| nth_node(v, n)),
        _ => None,
    }
}

/// One to three edits of the value tree: replace a node, drop or add a member, duplicate an
/// element, or graft a node of another tree from `pool`.
pub fn mutate_json(rng: &mut Rng, value: &mut Value, dict: &[Vec<u8>], pool: &[Value]) {
    for _ in 0..1 + rng.below(3) {
        let mut n = rng.below(count_nodes(value));
        let Some(node) = nth_node(value, &mut n) else {
            continue;
        };
        match (rng.below(6), node) {
            (0, Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
                map.remove(&key);
            }
            (1, Value::Object(map)) => {
                let key = match rng.pick(dict) {
                    Some(token) => String::from_utf8_lossy(token).trim_matches('"').to_owned(),
                    None => "x".into(),
                };
                map.insert(key, interesting_value(rng, dict));
            }
            (2, Value::Array(items)) if !items.is_empty() => {
                let copy = items[rng.below(items.len())].clone();
                let at = rng.below(items.len() + 1);
                items.insert(at, copy);
            }
            (3, node) => {
                let mut other = match rng.pick(pool) {
                    Some(other) => other.clone(),
                    None => continue,
                };
                let mut m = rng.below(count_nodes(&other));
                if let Some(graft) = nth_node(&mut other, &mut m) {
                    *node = graft.clone();
                }
            }
            (_, node) => *node = interesting_value(rng, dict),
        }
    }
}
