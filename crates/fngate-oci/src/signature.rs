//! OCI request signatures (draft-cavage HTTP signatures as OCI profiles them,
//! `Content/API/Concepts/signingrequests.htm`): RSA-SHA256 over the listed headers, with
//! `keyId = "<tenancy>/<user>/<fingerprint>"`.
//!
//! Checked on every request, before anything else: the key is registered, the signature is
//! valid, the headers OCI requires for the method are among the signed ones, `date`/`x-date` is
//! within 5 minutes, and for bodies `x-content-sha256` and `content-length` match the body.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method};
use md5::Digest;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

/// OCI's allowed clock skew between the client's `date` and the server.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// A registered public key, parsed once.
pub struct ApiKey {
    pub user: String,
    pub fingerprint: String,
    key: ParsedPublicKey,
}

/// Every registered key by (user, fingerprint), swapped whole when a key is added or removed.
#[derive(Default)]
pub struct KeyRing {
    keys: HashMap<(String, String), ApiKey>,
}

impl KeyRing {
    /// Builds the ring from stored PEMs; a stored key that no longer parses is left out (logged).
    pub fn new(rows: &[fngate_store::oci::ApiKeyRow]) -> KeyRing {
        let mut keys = HashMap::new();
        for row in rows {
            match parse_public_key(&row.public_key_pem) {
                Ok((key, _)) => {
                    keys.insert(
                        (row.user_id.clone(), row.fingerprint.clone()),
                        ApiKey {
                            user: row.user_id.clone(),
                            fingerprint: row.fingerprint.clone(),
                            key,
                        },
                    );
                }
                Err(err) => {
                    tracing::error!(target: "fngate::oci", user = %row.user_id, error = %err, "stored API key does not parse; left out")
                }
            }
        }
        KeyRing { keys }
    }
}

/// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, as `oci setup keys` writes) holding an RSA
/// key of 2048 to 8192 bits; returns it with its OCI fingerprint.
pub fn parse_public_key(pem: &str) -> Result<(ParsedPublicKey, String), String> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map_err(|err| format!("not a PEM PUBLIC KEY (SubjectPublicKeyInfo) block: {err}"))?;
    let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref())
        .map_err(|err| format!("not an RSA public key of 2048 to 8192 bits: {err}"))?;
    Ok((key, fingerprint(der.as_ref())))
}

/// OCI's key fingerprint: MD5 of the DER public key, as colon-separated lower-case hex.
pub fn fingerprint(spki_der: &[u8]) -> String {
    let digest = md5::Md5::digest(spki_der);
    digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub fingerprint: String,
}

/// Verifies the request's signature; `Err` says which check failed (for the 401 message).
pub fn verify(
    ring: &KeyRing,
    tenancy: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Caller, String> {
    let authorization = headers
        .get(http::header::AUTHORIZATION)
        .ok_or("no Authorization header")?
        .to_str()
        .map_err(|_| "the Authorization header is not text")?;
    let params = parse_authorization(authorization)?;
    let param = |name: &str| params.get(name).map(String::as_str);
    if param("version") != Some("1") {
        return Err("the signature must have version=\"1\"".into());
    }
    if param("algorithm") != Some("rsa-sha256") {
        return Err("the signature algorithm must be rsa-sha256".into());
    }
    let key_id = param("keyId").ok_or("the signature has no keyId")?;
    let mut parts = key_id.splitn(3, '/');
    let (Some(key_tenancy), Some(user), Some(fingerprint)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("keyId must be <tenancy>/<user>/<fingerprint>".into());
    };
    if key_tenancy != tenancy {
        return Err(format!("keyId names tenancy {key_tenancy}, this server's is {tenancy}"));
    }
    let key = ring
        .keys
        .get(&(user.to_string(), fingerprint.to_string()))
        .ok_or_else(|| format!("no API key {fingerprint} is registered for user {user}"))?;
    let signed: Vec<String> = param("headers")
        .unwrap_or("date")
        .split(' ')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |name: &str| signed.iter().any(|h| h == name);
    let date_header = if has("x-date") {
        "x-date"
    } else if has("date") {
        "date"
    } else {
        return Err("the signed headers must include date or x-date".into());
    };
    let body_method = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    let mut required = vec!["(request-target)", "host"];
    if body_method {
        required.extend(["content-length", "content-type", "x-content-sha256"]);
    }
    if let Some(missing) = required.iter().find(|name| !has(name)) {
        return Err(format!("the signed headers must include {missing}"));
    }

    let mut signing = String::new();
    for name in &signed {
        if !signing.is_empty() {
            signing.push('\n');
        }
        if name == "(request-target)" {
            signing.push_str(&format!(
                "(request-target): {} {path_and_query}",
                method.as_str().to_ascii_lowercase()
            ));
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().map(str::trim))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("signed header {name} is not text"))?;
        if values.is_empty() {
            return Err(format!("signed header {name} is missing from the request"));
        }
        signing.push_str(&format!("{name}: {}", values.join(", ")));
    }
    let signature = STANDARD
        .decode(param("signature").ok_or("the signature has no signature value")?)
        .map_err(|_| "the signature value is not base64")?;
    key.key
        .verify_sig(signing.as_bytes(), &signature)
        .map_err(|_| "the signature does not match (wrong key, or the request changed after signing)")?;

    // Checked after the signature, so these values are the signer's own.
    let date = headers
        .get(date_header)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .ok_or_else(|| format!("{date_header} is not an HTTP date"))?;
    let skew = now
        .duration_since(date)
        .or_else(|_| date.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_CLOCK_SKEW {
        return Err(format!(
            "{date_header} is {}s away from the server's clock (at most 300s allowed)",
            skew.as_secs()
        ));
    }
    if body_method {
        let length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        if length != Some(body.len()) {
            return Err("content-length does not match the body".into());
        }
        let sent = headers
            .get("x-content-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let actual = STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body));
        if sent.trim() != actual {
            return Err("x-content-sha256 does not match the body".into());
        }
    }
    Ok(Caller {
        user: key.user.clone(),
        fingerprint: key.fingerprint.clone(),
    })
}

/// `Signature k="v",k="v",...` → map. Values are quoted; commas inside quotes are kept.
fn parse_authorization(value: &str) -> Result<HashMap<String, String>, String> {
    let rest = value
        .trim()
        .strip_prefix("Signature ")
        .ok_or("the Authorization header is not an OCI Signature")?;
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or("malformed Signature parameters")?;
        let after = after
            .strip_prefix('"')
            .ok_or("Signature parameter values must be quoted")?;
        let end = after.find('"').ok_or("unterminated Signature parameter")?;
        params.insert(name.trim().to_string(), after[..end].to_string());
        rest = after[end + 1..].trim_start().trim_start_matches(',').trim_start();
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    use super::*;

    struct Signer {
        pair: RsaKeyPair,
        key_id: String,
    }

    fn setup() -> (KeyRing, Signer) {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(spki.as_ref())
        );
        let (_, fp) = parse_public_key(&pem).unwrap();
        let ring = KeyRing::new(&[fngate_store::oci::ApiKeyRow {
            user_id: "ocid1.user.fngate..u".into(),
            fingerprint: fp.clone(),
            public_key_pem: pem,
            created_at: String::new(),
        }]);
        let key_id = format!("ocid1.tenancy.fngate..t/ocid1.user.fngate..u/{fp}");
        (ring, Signer { pair, key_id })
    }

    fn sign(signer: &Signer, method: &str, target: &str, headers: &mut HeaderMap, names: &[&str]) {
        let mut lines = Vec::new();
        for name in names {
            if *name == "(request-target)" {
                lines.push(format!("(request-target): {} {target}", method.to_lowercase()));
            } else {
                lines.push(format!("{name}: {}", headers[*name].to_str().unwrap()));
            }
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0; signer.pair.public_modulus_len()];
        signer
            .pair
            .sign(&RSA_PKCS1_SHA256, &rng, lines.join("\n").as_bytes(), &mut sig)
            .unwrap();
        let value = format!(
            "Signature version=\"1\",keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
            signer.key_id,
            names.join(" "),
            STANDARD.encode(&sig)
        );
        headers.insert("authorization", value.parse().unwrap());
    }

    fn post_headers(body: &[u8], date: SystemTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("date", httpdate::fmt_http_date(date).parse().unwrap());
        headers.insert("host", "127.0.0.1:9091".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("content-length", body.len().to_string().parse().unwrap());
        let sha = STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body));
        headers.insert("x-content-sha256", sha.parse().unwrap());
        headers
    }

    const ALL: [&str; 6] = [
        "date",
        "(request-target)",
        "host",
        "content-length",
        "content-type",
        "x-content-sha256",
    ];

    #[test]
    fn a_signed_post_verifies_and_every_tampering_is_refused() {
        let (ring, signer) = setup();
        let tenancy = "ocid1.tenancy.fngate..t";
        let now = SystemTime::now();
        let body = br#"{"displayName":"a"}"#;
        let mut headers = post_headers(body, now);
        sign(&signer, "POST", "/20181201/applications", &mut headers, &ALL);
        let check = |method: &Method, target: &str, headers: &HeaderMap, body: &[u8], now| {
            verify(&ring, tenancy, method, target, headers, body, now)
        };
        let caller = check(&Method::POST, "/20181201/applications", &headers, body, now).unwrap();
        assert_eq!(caller.user, "ocid1.user.fngate..u");

        let err = check(
            &Method::POST,
            "/20181201/applications",
            &headers,
            br#"{"displayName":"b"}"#,
            now,
        )
        .unwrap_err();
        assert!(err.contains("x-content-sha256"), "{err}");
        let err = check(&Method::POST, "/20181201/functions", &headers, body, now).unwrap_err();
        assert!(err.contains("does not match"), "another path: {err}");
        let err = check(&Method::PUT, "/20181201/applications", &headers, body, now).unwrap_err();
        assert!(err.contains("does not match"), "another method: {err}");
        let late = now + Duration::from_secs(301);
        let err = check(&Method::POST, "/20181201/applications", &headers, body, late).unwrap_err();
        assert!(err.contains("300s"), "{err}");
        let err = verify(
            &ring,
            "ocid1.tenancy.fngate..other",
            &Method::POST,
            "/20181201/applications",
            &headers,
            body,
            now,
        )
        .unwrap_err();
        assert!(err.contains("tenancy"), "{err}");

        // A body method whose signature leaves out the body headers.
        let mut partial = post_headers(body, now);
        sign(
            &signer,
            "POST",
            "/20181201/applications",
            &mut partial,
            &["date", "(request-target)", "host"],
        );
        let err = check(&Method::POST, "/20181201/applications", &partial, body, now).unwrap_err();
        assert!(err.contains("content-length"), "{err}");

        // Another key pair signing with the registered key id.
        let (_, other) = setup();
        let mut forged = post_headers(body, now);
        sign(
            &Signer {
                pair: other.pair,
                key_id: signer.key_id.clone(),
            },
            "POST",
            "/20181201/applications",
            &mut forged,
            &ALL,
        );
        let err = check(&Method::POST, "/20181201/applications", &forged, body, now).unwrap_err();
        assert!(err.contains("does not match"), "{err}");

        assert!(check(&Method::GET, "/20181201/applications", &HeaderMap::new(), b"", now).is_err());
    }

    #[test]
    fn a_get_needs_date_target_and_host_and_x_date_counts() {
        let (ring, signer) = setup();
        let now = SystemTime::now();
        let mut headers = HeaderMap::new();
        headers.insert("x-date", httpdate::fmt_http_date(now).parse().unwrap());
        headers.insert("host", "h".parse().unwrap());
        sign(
            &signer,
            "GET",
            "/20181201/applications?compartmentId=c",
            &mut headers,
            &["x-date", "(request-target)", "host"],
        );
        verify(
            &ring,
            "ocid1.tenancy.fngate..t",
            &Method::GET,
            "/20181201/applications?compartmentId=c",
            &headers,
            b"",
            now,
        )
        .unwrap();
        let err = verify(
            &ring,
            "ocid1.tenancy.fngate..t",
            &Method::GET,
            "/20181201/applications?compartmentId=d",
            &headers,
            b"",
            now,
        )
        .unwrap_err();
        assert!(err.contains("does not match"), "the query is signed too: {err}");

        let mut no_host = HeaderMap::new();
        no_host.insert("date", httpdate::fmt_http_date(now).parse().unwrap());
        sign(&signer, "GET", "/x", &mut no_host, &["date", "(request-target)"]);
        let err = verify(&ring, "ocid1.tenancy.fngate..t", &Method::GET, "/x", &no_host, b"", now).unwrap_err();
        assert!(err.contains("host"), "{err}");
    }

    #[test]
    fn fingerprint_is_md5_of_the_der_key() {
        // `printf abc | md5sum` = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(fingerprint(b"abc"), "90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72");
    }
}
