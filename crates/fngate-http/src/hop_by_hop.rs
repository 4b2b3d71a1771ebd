//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so neither the gateway nor
//! the functions runtime passes them on. [`HopByHop`] names the two rules fngate applies: the fixed
//! list alone, or the proxy rule that also drops what `Connection` names.

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

/// Which headers count as hop-by-hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopByHop {
    /// The fixed list above: what the functions runtime drops from an FDK's answer on its own
    /// socket (Fn's agent copies "the FDK's headers minus hop headers").
    Fixed,
    /// The fixed list, every header a `Connection` value names, and the non-standard
    /// `Proxy-Connection`: what an intermediary must drop (RFC 9110 §7.6.1) — the gateway in both
    /// directions, and the HTTP fronts of functions (gateway and `/t/` triggers) both ways.
    Proxy,
}

/// Removes the hop-by-hop headers under `rule`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, rule: HopByHop) {
    if rule == HopByHop::Proxy {
        // One pass over the (few) headers first: most messages carry at most `Connection`.
        let any = headers.keys().any(|name| {
            let name = name.as_str();
            is_hop_by_hop(name) || name == "proxy-connection"
        });
        if !any {
            return;
        }
        let listed: Vec<String> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .collect();
        for name in listed {
            headers.remove(name.as_str());
        }
        headers.remove("proxy-connection");
    }
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
        let mut fixed = headers.clone();
        strip_hop_by_hop(&mut fixed, HopByHop::Fixed);
        let mut left: Vec<&str> = fixed.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "proxy-connection", "x-named"]);

        strip_hop_by_hop(&mut headers, HopByHop::Proxy);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            left,
            ["content-type"],
            "the proxy rule also drops what Connection names"
        );
    }

    #[test]
    fn the_proxy_rule_reads_every_connection_value_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.append(CONNECTION, "X-One , ".parse().unwrap());
        headers.append(CONNECTION, "x-two".parse().unwrap());
        headers.insert("x-one", "1".parse().unwrap());
        headers.insert("x-two", "2".parse().unwrap());
        headers.insert("x-three", "3".parse().unwrap());
        strip_hop_by_hop(&mut headers, HopByHop::Proxy);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-three"]);
    }
}
