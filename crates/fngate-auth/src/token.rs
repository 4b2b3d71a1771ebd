//! Finding the token in a request (RFC 6750 §2) and splitting a compact JWS strictly (RFC 7515 §7.1).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::TokenLocation;
use crate::strict_json::{JoseHeader, StrictObject};

/// The query parameter RFC 6750 §2.3 defines; a header-configured policy still watches it so a token
/// sent both ways is refused rather than silently picked.
const STANDARD_QUERY_PARAM: &str = "access_token";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Extracted<'a> {
    /// No credentials in the configured place.
    Missing,
    /// Borrowed from the header; owned when it was percent-decoded from the query string.
    Found(Cow<'a, str>),
    /// More than one method (or a repeated parameter) carried a token: RFC 6750 `invalid_request`.
    Ambiguous(&'static str),
    /// Something is there but cannot be a token (non-ASCII header, characters outside token68).
    Malformed,
}

/// Reads the token from `location`, refusing a token sent twice.
pub(crate) fn extract<'a>(head: &'a http::request::Parts, location: &TokenLocation) -> Extracted<'a> {
    match location {
        TokenLocation::Header { name, scheme } => {
            let header = from_header(head, name, scheme.as_deref());
            if !matches!(header, Extracted::Missing) && query_values(head, STANDARD_QUERY_PARAM).next().is_some() {
                return Extracted::Ambiguous("token sent in both the header and the query string");
            }
            header
        }
        TokenLocation::Query { name } => {
            let mut values = query_values(head, name);
            let Some(first) = values.next() else {
                return Extracted::Missing;
            };
            if values.next().is_some() {
                return Extracted::Ambiguous("token query parameter repeated");
            }
            if !matches!(from_header(head, "authorization", Some("Bearer")), Extracted::Missing) {
                return Extracted::Ambiguous("token sent in both the header and the query string");
            }
            if first.is_empty() {
                Extracted::Missing
            } else if is_token68(&first) {
                Extracted::Found(Cow::Owned(first))
            } else {
                Extracted::Malformed
            }
        }
    }
}

fn from_header<'a>(head: &'a http::request::Parts, name: &str, scheme: Option<&str>) -> Extracted<'a> {
    let mut values = head.headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Extracted::Missing;
    };
    if values.next().is_some() {
        return Extracted::Ambiguous("token header repeated");
    }
    let Ok(value) = value.to_str() else {
        return Extracted::Malformed;
    };
    let value = value.trim();
    let token = match scheme {
        None => value,
        Some(scheme) => {
            let (given, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
            if !given.eq_ignore_ascii_case(scheme) {
                // Another scheme (e.g. Basic) carries no bearer token.
                return Extracted::Missing;
            }
            rest.trim()
        }
    };
    if token.is_empty() {
        Extracted::Missing
    } else if is_token68(token) {
        Extracted::Found(Cow::Borrowed(token))
    } else {
        Extracted::Malformed
    }
}

fn query_values<'a>(head: &'a http::request::Parts, name: &'a str) -> impl Iterator<Item = String> + 'a {
    let query = head.uri.query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// RFC 6750 `b64token` characters (without the trailing `=`), as a table: this runs on every request.
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    // No early exit: a fold over the whole (valid, usual) token runs without a branch per byte.
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & TOKEN68[b as usize])
}

/// A compact JWS split and decoded, signature not yet checked.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: what the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Why a token could not even be parsed. Each value is the log line; clients get a generic description.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

/// Splits a compact JWS: size limit first, exactly three non-empty parts, strict base64url (no padding,
/// no whitespace, no `+`/`/`, no stray trailing bits), JSON objects without duplicate members, no `crit`.
pub(crate) fn parse_compact(token: &str, max_bytes: usize) -> Result<CompactJws<'_>, Malformed> {
    if token.len() > max_bytes {
        return Err(Malformed(format!("JWT token is larger than {max_bytes} bytes.")));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed("JWT token is not a compact JWS with three parts.".into()));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(Malformed("JWT token has an empty part.".into()));
    }
    let signing_len = header.len() + 1 + payload.len();
    // Header and payload decode into one buffer (one allocation), the signature into its own.
    let mut decoded = Vec::with_capacity(header.len() / 4 * 3 + payload.len() / 4 * 3 + 6);
    decode_part(header, "header", &mut decoded)?;
    let header_len = decoded.len();
    decode_part(payload, "payload", &mut decoded)?;
    let (header_bytes, payload_bytes) = decoded.split_at(header_len);
    let mut signature_bytes = Vec::with_capacity(signature.len() / 4 * 3 + 2);
    decode_part(signature, "signature", &mut signature_bytes)?;
    let signature = signature_bytes;

    let header: JoseHeader = serde_json::from_slice(header_bytes)
        .map_err(|e| Malformed(format!("JWT token header is not a JSON object: {e}.")))?;
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` makes the token invalid.
    if header.crit {
        return Err(Malformed(
            "JWT token header has a 'crit' member, which is not supported.".into(),
        ));
    }
    let alg = match header.alg {
        Some(Value::String(alg)) => alg,
        _ => return Err(Malformed("JWT token header has no string 'alg'.".into())),
    };
    let kid = match header.kid {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(Malformed("JWT token header 'kid' is not a string.".into())),
    };
    let claims: StrictObject = serde_json::from_slice(payload_bytes)
        .map_err(|e| Malformed(format!("JWT token payload is not a JSON object: {e}.")))?;
    Ok(CompactJws {
        alg,
        kid,
        claims: claims.0,
        signing_input: &token[..signing_len],
        signature,
    })
}

/// Appends the decoded `part` to `out`. The decoder itself refuses every byte outside the base64url
/// alphabet (so `=`, whitespace, `+` and `/` too) and stray trailing bits, in the same single pass; the
/// alphabet is scanned again only on failure, to say which of the two was wrong.
fn decode_part(part: &str, what: &str, out: &mut Vec<u8>) -> Result<(), Malformed> {
    URL_SAFE_NO_PAD.decode_vec(part, out).map_err(|_| {
        if part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Malformed(format!("JWT token {what} is not canonical base64url."))
        } else {
            Malformed(format!("JWT token {what} is not base64url."))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn bearer_loc() -> TokenLocation {
        TokenLocation::Header {
            name: "Authorization".into(),
            scheme: Some("Bearer".into()),
        }
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for v in ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER   abc.def.ghi"] {
            let h = head("/", &[("authorization", v)]);
            assert_eq!(
                extract(&h, &bearer_loc()),
                Extracted::Found("abc.def.ghi".into()),
                "{v}"
            );
        }
    }

    #[test]
    fn other_scheme_or_empty_is_missing() {
        for v in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   "] {
            let h = head("/", &[("authorization", v)]);
            assert_eq!(extract(&h, &bearer_loc()), Extracted::Missing, "{v}");
        }
        assert_eq!(extract(&head("/", &[]), &bearer_loc()), Extracted::Missing);
    }

    #[test]
    fn header_and_query_together_is_ambiguous() {
        let h = head("/x?access_token=a.b.c", &[("authorization", "Bearer a.b.c")]);
        assert!(matches!(extract(&h, &bearer_loc()), Extracted::Ambiguous(_)));
        let q = TokenLocation::Query {
            name: "access_token".into(),
        };
        assert!(matches!(extract(&h, &q), Extracted::Ambiguous(_)));
        let h = head("/x?access_token=a.b.c&access_token=d.e.f", &[]);
        assert!(matches!(extract(&h, &q), Extracted::Ambiguous(_)));
        let h = head("/x?access_token=a.b.c", &[]);
        assert_eq!(extract(&h, &q), Extracted::Found("a.b.c".into()));
    }

    #[test]
    fn repeated_header_is_ambiguous() {
        let h = head(
            "/",
            &[("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")],
        );
        assert!(matches!(extract(&h, &bearer_loc()), Extracted::Ambiguous(_)));
    }

    #[test]
    fn raw_header_without_scheme() {
        let loc = TokenLocation::Header {
            name: "X-Token".into(),
            scheme: None,
        };
        assert_eq!(
            extract(&head("/", &[("x-token", "a.b.c")]), &loc),
            Extracted::Found("a.b.c".into())
        );
        assert_eq!(extract(&head("/", &[("x-token", "a b")]), &loc), Extracted::Malformed);
    }

    #[test]
    fn compact_parsing_is_strict() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"exp":1}"#);
        let good = format!("{h}.{p}.c2ln");
        let jws = parse_compact(&good, 1000).unwrap();
        assert_eq!(jws.alg, "RS256");
        assert_eq!(jws.kid.as_deref(), Some("k"));
        assert_eq!(jws.signing_input, format!("{h}.{p}"));
        assert_eq!(jws.signature, b"sig");

        let bad = [
            format!("{h}.{p}"),
            format!("{h}.{p}.c2ln.x"),
            format!("{h}.{p}."),
            format!("{h}=.{p}.c2ln"),
            format!("{h}.{p}.c2l+"),
            format!("{h}.{p}.c2lu="),
            format!("{h}.{p}.c2l"), // trailing bits set: not canonical
            format!("{h} .{p}.c2ln"),
        ];
        for t in &bad {
            assert!(parse_compact(t, 1000).is_err(), "{t}");
        }
        assert!(parse_compact(&good, good.len() - 1).is_err());
    }

    #[test]
    fn crit_duplicates_and_non_objects_are_refused() {
        let p = URL_SAFE_NO_PAD.encode(br#"{"exp":1}"#);
        for header in [
            r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
            r#"{"alg":"RS256","alg":"none"}"#,
            r#"["RS256"]"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":"RS256","kid":7}"#,
        ] {
            let t = format!("{}.{p}.c2ln", URL_SAFE_NO_PAD.encode(header));
            assert!(parse_compact(&t, 1000).is_err(), "{header}");
        }
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let dup = URL_SAFE_NO_PAD.encode(br#"{"aud":"a","aud":"b"}"#);
        assert!(parse_compact(&format!("{h}.{dup}.c2ln"), 1000).is_err());
    }

    #[test]
    fn header_duplicates_are_found_however_many_members_and_however_escaped() {
        let p = URL_SAFE_NO_PAD.encode(br#"{"exp":1}"#);
        let token = |header: &str| format!("{}.{p}.c2ln", URL_SAFE_NO_PAD.encode(header));
        let members: Vec<String> = (0..40).map(|i| format!(r#""m{i}":{i}"#)).collect();
        let many = format!(r#"{{"alg":"RS256",{}}}"#, members.join(","));
        assert!(parse_compact(&token(&many), 10_000).is_ok());
        let late_dup = format!(r#"{{"alg":"RS256",{},"m3":0}}"#, members.join(","));
        assert!(parse_compact(&token(&late_dup), 10_000).is_err());
        let crit_late = format!(r#"{{"alg":"RS256",{},"crit":[]}}"#, members.join(","));
        assert!(parse_compact(&token(&crit_late), 10_000).is_err());
        assert!(parse_compact(&token(r#"{"alg":"RS256","al\u0067":"none"}"#), 1000).is_err());
        let escaped = token(r#"{"\u0061lg":"RS256","kid":"k"}"#);
        let escaped = parse_compact(&escaped, 1000).unwrap();
        assert_eq!(escaped.alg, "RS256");
    }
}
