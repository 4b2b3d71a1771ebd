//! The gateway's request-path normaliser (`fngate_gateway::path::normalise`), which decides the
//! path every route and policy sees and every backend receives.
//!
//! Invariants, for any input:
//! - it never panics, and an accepted path is normal: absolute, no empty segment but a trailing
//!   one, no `.`/`..` segment, no `%2F`, `%2E`, `%5C` or `\`, no control escapes, no
//!   percent-encoded unreserved character, hex upper-case;
//! - no segment becomes a dot segment once a backend percent-decodes it (`..%3B` is `..;`,
//!   which Tomcat-style servers read as `..`);
//! - normalising is idempotent: an accepted path normalises to itself;
//! - it never adds segments: the output has at most as many as the input.

use fngate_gateway::path::normalise;

/// Longer than any request line the gateway accepts is pointless here.
const MAX_INPUT: usize = 8 * 1024;

/// Checks one input; `true` when the path was accepted.
pub fn check(data: &[u8]) -> bool {
    if data.len() > MAX_INPUT {
        return false;
    }
    // The gateway only ever sees a path that is a valid `http::Uri` path, hence UTF-8.
    let Ok(input) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(normal) = normalise(input) else {
        return false;
    };
    assert_normal(input, &normal);
    match normalise(&normal) {
        // Borrowed or not (a path with `%XX` is always rebuilt), it must come back unchanged.
        Ok(again) => assert_eq!(again, normal, "normalising {input:?} twice changed it"),
        Err(e) => panic!("{normal:?} (from {input:?}) is refused when normalised again: {e}"),
    }
    true
}

fn assert_normal(input: &str, normal: &str) {
    assert!(normal.starts_with('/'), "{input:?} -> {normal:?}: not absolute");
    assert!(!normal.contains('\\'), "{input:?} -> {normal:?}: backslash");
    let body = &normal[1..];
    let segments: Vec<&str> = body.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        assert!(!segment.is_empty() || last, "{input:?} -> {normal:?}: empty segment");
        let decoded = check_escapes(input, normal, segment);
        let name = decoded.split(|b| *b == b';').next().unwrap_or_default();
        assert!(
            name != b"." && name != b"..",
            "{input:?} -> {normal:?}: segment {segment:?} is a dot segment once decoded"
        );
    }
    let input_segments = input.split('/').filter(|s| !s.is_empty()).count();
    let output_segments = segments.iter().filter(|s| !s.is_empty()).count();
    assert!(
        output_segments <= input_segments,
        "{input:?} -> {normal:?}: segments were added"
    );
}

/// Checks every `%XX` of `segment` and returns the segment fully percent-decoded.
fn check_escapes(input: &str, normal: &str, segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            decoded.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = segment.get(i + 1..i + 3).unwrap_or_default();
        assert!(
            hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "{input:?} -> {normal:?}: escape {hex:?} is not two upper-case hex digits"
        );
        let byte = u8::from_str_radix(hex, 16).unwrap_or_default();
        assert!(
            !(byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/' | b'\\')),
            "{input:?} -> {normal:?}: %{hex} should have been decoded or refused"
        );
        assert!(
            !matches!(byte, 0..=0x1f | 0x7f),
            "{input:?} -> {normal:?}: control escape %{hex}"
        );
        decoded.push(byte);
        i += 3;
    }
    decoded
}
