//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so neither the gateway nor
//! the functions runtime passes them on. Callers add their own rules (the gateway also drops the
//! headers `Connection` names, and `Proxy-Connection`).

use http::header::{
    CONNECTION, HeaderMap, HeaderName, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};

/// RFC 9110's list plus `Keep-Alive` (RFC 2068), which HTTP/1.0 peers still send.
const HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Whether `name` (lower case, as `HeaderName::as_str` gives it) is one of the hop-by-hop headers;
/// a string match, so a scan over a message's headers costs no lookups.
#[inline]
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Removes the hop-by-hop headers (only those; not the ones `Connection` names).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_and_the_list_agree() {
        for name in &HOP_BY_HOP {
            assert!(is_hop_by_hop(name.as_str()), "{name}");
        }
        for name in [
            "host",
            "content-length",
            "proxy-connection",
            "x-hop",
            "connection-id",
            "",
        ] {
            assert!(!is_hop_by_hop(name), "{name}");
        }
    }

    #[test]
    fn strips_every_hop_by_hop_header_and_nothing_else() {
        let mut headers = HeaderMap::new();
        for name in &HOP_BY_HOP {
            headers.append(name, "x".parse().unwrap());
        }
        headers.insert(CONNECTION, "keep-alive, x-named".parse().unwrap());
        headers.insert(
            "x-named",
            "kept: only the gateway drops what Connection names".parse().unwrap(),
        );
        headers.insert("proxy-connection", "keep-alive".parse().unwrap());
        headers.insert("content-type", "text/plain".parse().unwrap());
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "proxy-connection", "x-named"]);
    }
}
