//! The request path, normalised once before routing (RFC 3986 §6.2.2), so the path the policy is
//! decided on is the path the backend receives.
//!
//! Rules, in order, per segment:
//! - `%XX` must be two hex digits; `%XX` of an unreserved character (`A-Z a-z 0-9 - _ ~`) is
//!   decoded, every other `%XX` is kept with upper-case hex (`%c3%a9` → `%C3%A9`);
//! - refused (400): an encoded `/` (`%2F`), an encoded `.` (`%2E`), an encoded `\` (`%5C`), an
//!   encoded control character (`%00`-`%1F`, `%7F`), a raw `\`: backends disagree on what these
//!   mean (a slash, a dot segment, a separator on Windows), so the gateway does not guess;
//! - empty segments are merged (`//` → `/`);
//! - `.` and `..` are removed (RFC 3986 §5.2.4); a `..` that would climb above `/` is refused, and
//!   so is a dot segment with `;` parameters (`..;x`), which servlet containers read as `..`;
//! - a trailing `/` is kept (`/a/b/..` → `/a/`), as it is part of the route (`/hello/`).
//!
//! The query string is not part of the path and is not touched.

use std::borrow::Cow;

/// Why a request path was refused (the client gets 400 with this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRejected {
    #[error("the request path must start with `/`")]
    NotAbsolute,
    #[error("the request path contains an encoded slash (%2F); send the path with plain `/`")]
    EncodedSlash,
    #[error("the request path contains an encoded dot (%2E); send the path with plain `.`")]
    EncodedDot,
    #[error("the request path contains a backslash (`\\` or %5C)")]
    Backslash,
    #[error("the request path contains an encoded control character (%00-%1F or %7F)")]
    EncodedControl,
    #[error("the request path contains `%` not followed by two hex digits")]
    BadPercent,
    #[error("the request path has a dot segment with parameters (`..;`)")]
    DotSegmentWithParams,
    #[error("the request path climbs above the root with `..`")]
    AboveRoot,
}

impl PathRejected {
    /// A short name for the access log and metrics.
    pub fn log_reason(self) -> &'static str {
        match self {
            PathRejected::NotAbsolute => "path_not_absolute",
            PathRejected::EncodedSlash => "path_encoded_slash",
            PathRejected::EncodedDot => "path_encoded_dot",
            PathRejected::Backslash => "path_backslash",
            PathRejected::EncodedControl => "path_encoded_control",
            PathRejected::BadPercent => "path_bad_percent",
            PathRejected::DotSegmentWithParams => "path_dot_segment_params",
            PathRejected::AboveRoot => "path_above_root",
        }
    }
}

/// Normalises a request path (the part of the request target before `?`) by the rules in the
/// module documentation; borrows the input when it is already normal (the common case).
pub fn normalise(path: &str) -> Result<Cow<'_, str>, PathRejected> {
    let Some(body) = path.strip_prefix('/') else {
        return Err(PathRejected::NotAbsolute);
    };
    if is_plainly_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    let raw: Vec<&str> = body.split('/').collect();
    let mut segments: Vec<String> = Vec::with_capacity(raw.len());
    let mut trailing_slash = false;
    for (i, text) in raw.iter().enumerate() {
        let last = i + 1 == raw.len();
        if text.is_empty() {
            // `//` merges; an empty last segment is the trailing slash.
            trailing_slash = last;
            continue;
        }
        let mut segment = String::with_capacity(text.len());
        decode_segment(text, &mut segment)?;
        match dot_segment(&segment)? {
            Some(Dot::Current) => trailing_slash = last,
            Some(Dot::Parent) => {
                if segments.pop().is_none() {
                    return Err(PathRejected::AboveRoot);
                }
                trailing_slash = last;
            }
            None => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Normalises one literal segment of a route pattern as [`normalise`] does a request segment, so
/// `/caf%c3%a9` in a spec matches a request for `/caf%C3%A9`. A dot segment is refused: requests
/// never contain one, so the route could never match.
pub(crate) fn normalise_literal(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    decode_segment(text, &mut out).map_err(|e| e.to_string().replace("the request path", "the route path"))?;
    if dot_segment(&out).map_err(|e| e.to_string())?.is_some() {
        return Err(format!(
            "the segment `{text}` is a dot segment; request paths are normalised (`.` and `..` removed) before \
             routing, so this route could never match"
        ));
    }
    Ok(out)
}

/// Whether a path needs no work: no `%`, no `\`, no `//`, no segment starting with `.`.
fn is_plainly_normal(path: &str) -> bool {
    let bytes = path.as_bytes();
    !bytes.iter().enumerate().any(|(i, b)| match b {
        b'%' | b'\\' => true,
        b'/' => matches!(bytes.get(i + 1), Some(b'/' | b'.')),
        _ => false,
    })
}

enum Dot {
    Current,
    Parent,
}

/// `.` or `..` (after decoding); `..;x` and `.;x` are refused, and so are `..%3Bx` and `.%3Bx`:
/// a backend that decodes `%3B` before dropping parameters (Tomcat does) reads them as `..`.
fn dot_segment(segment: &str) -> Result<Option<Dot>, PathRejected> {
    // `decode_segment` has upper-cased the hex, so `%3B` is the only spelling left.
    let (name, params) = match [segment.find(';'), segment.find("%3B")].into_iter().flatten().min() {
        Some(at) => (&segment[..at], true),
        None => (segment, false),
    };
    let dot = match name {
        "." => Dot::Current,
        ".." => Dot::Parent,
        _ => return Ok(None),
    };
    if params {
        return Err(PathRejected::DotSegmentWithParams);
    }
    Ok(Some(dot))
}

/// Appends `text` to `out` with `%XX` checked, unreserved characters decoded and hex upper-cased.
fn decode_segment(text: &str, out: &mut String) -> Result<(), PathRejected> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return Err(PathRejected::Backslash),
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) else {
                    return Err(PathRejected::BadPercent);
                };
                let byte = hi << 4 | lo;
                match byte {
                    b'/' => return Err(PathRejected::EncodedSlash),
                    b'.' => return Err(PathRejected::EncodedDot),
                    b'\\' => return Err(PathRejected::Backslash),
                    0..=0x1f | 0x7f => return Err(PathRejected::EncodedControl),
                    b if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' => out.push(char::from(b)),
                    b => {
                        const HEX: &[u8; 16] = b"0123456789ABCDEF";
                        out.push('%');
                        out.push(char::from(HEX[usize::from(b >> 4)]));
                        out.push(char::from(HEX[usize::from(b & 0xf)]));
                    }
                }
                i += 3;
            }
            _ => {
                // Copy the run up to the next `%` or `\` as is (it may hold non-ASCII text).
                let end = bytes[i..]
                    .iter()
                    .position(|b| *b == b'%' || *b == b'\\')
                    .map_or(bytes.len(), |n| i + n);
                out.push_str(&text[i..end]);
                i = end;
            }
        }
    }
    Ok(())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_are_borrowed_as_they_are() {
        for path in ["/", "/a", "/a/b/", "/items/42", "/a;b=c/x", "/.well-known/x"] {
            let out = normalise(path).unwrap();
            assert_eq!(out, path);
        }
        assert!(matches!(normalise("/v1/items/42").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn dot_segments_slashes_and_encodings_are_normalised() {
        let cases = [
            ("/pub/../internal/secret", "/internal/secret"),
            ("/a/./b", "/a/b"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/..", "/"),
            ("/.", "/"),
            ("//a///b//", "/a/b/"),
            ("//", "/"),
            ("/%7euser/%41%62c", "/~user/Abc"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a%20b/%3f%23%25", "/a%20b/%3F%23%25"),
            ("/a/.hidden/..x", "/a/.hidden/..x"),
            ("/a;x=1/../b", "/b"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn tricks_are_refused_with_a_reason() {
        let cases = [
            ("pub", PathRejected::NotAbsolute),
            ("*", PathRejected::NotAbsolute),
            ("/pub/%2e%2e/internal", PathRejected::EncodedDot),
            ("/pub/.%2E/internal", PathRejected::EncodedDot),
            ("/pub/..%2Finternal", PathRejected::EncodedSlash),
            ("/pub/a%2fb", PathRejected::EncodedSlash),
            ("/pub\\..\\internal", PathRejected::Backslash),
            ("/pub/%5c", PathRejected::Backslash),
            ("/a%00b", PathRejected::EncodedControl),
            ("/a%0A", PathRejected::EncodedControl),
            ("/a%zz", PathRejected::BadPercent),
            ("/a%4", PathRejected::BadPercent),
            ("/pub/..;/internal", PathRejected::DotSegmentWithParams),
            ("/pub/.;x/internal", PathRejected::DotSegmentWithParams),
            // `%3B` is `;` to a backend that decodes before dropping parameters (found by fuzzing).
            ("/pub/..%3Bx/internal", PathRejected::DotSegmentWithParams),
            ("/pub/.%3b/internal", PathRejected::DotSegmentWithParams),
            ("/..", PathRejected::AboveRoot),
            ("/a/../../etc", PathRejected::AboveRoot),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for input in ["/a//b/./c/../d/", "/%7e/%c3%a9", "/x/y/..", "/"] {
            let once = normalise(input).unwrap().into_owned();
            assert_eq!(normalise(&once).unwrap(), once, "{input}");
        }
    }

    #[test]
    fn route_literals_are_normalised_like_requests() {
        assert_eq!(normalise_literal("caf%c3%a9").unwrap(), "caf%C3%A9");
        assert_eq!(normalise_literal("%7Ex").unwrap(), "~x");
        assert!(normalise_literal("..").unwrap_err().contains("could never match"));
        assert!(
            normalise_literal("a%2Fb")
                .unwrap_err()
                .contains("the route path contains an encoded slash")
        );
    }
}
