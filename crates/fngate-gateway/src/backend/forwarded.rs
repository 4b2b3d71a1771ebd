//! The client-address headers both backends send: `X-Forwarded-For` (the client's own list with
//! the client appended), `X-Real-IP`, and `Forwarded` (RFC 7239, an IPv6 address quoted and
//! bracketed).

use std::net::IpAddr;

use http::HeaderValue;

pub(crate) struct ForwardedFor {
    pub x_forwarded_for: Option<HeaderValue>,
    pub x_real_ip: Option<HeaderValue>,
    pub forwarded: Option<HeaderValue>,
}

/// `prior` is the `X-Forwarded-For` the client sent, if any.
pub(crate) fn forwarded_for(client_ip: IpAddr, prior: Option<&HeaderValue>) -> ForwardedFor {
    let ip = IpText::new(client_ip);
    let x_real_ip = HeaderValue::from_str(ip.as_str()).ok();
    let x_forwarded_for = match prior.and_then(|v| v.to_str().ok()) {
        Some(prior) => HeaderValue::from_str(&format!("{prior}, {}", ip.as_str())).ok(),
        None => x_real_ip.clone(),
    };
    let forwarded = if client_ip.is_ipv6() {
        format!("for=\"[{}]\"", ip.as_str())
    } else {
        format!("for={}", ip.as_str())
    };
    ForwardedFor {
        x_forwarded_for,
        x_real_ip,
        forwarded: HeaderValue::from_str(&forwarded).ok(),
    }
}

/// The client address as text, formatted on the stack (it goes into three headers).
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    fn new(ip: IpAddr) -> Self {
        use std::io::Write as _;
        let mut buf = [0u8; 48];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // An IPv6 address is at most 45 characters: it always fits.
        let _ = write!(cursor, "{ip}");
        let len = cursor.position() as usize;
        IpText { buf, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Option<HeaderValue>) -> &str {
        v.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("<none>")
    }

    #[test]
    fn ipv4_ipv6_and_an_existing_chain() {
        let v4 = forwarded_for("192.0.2.7".parse().unwrap(), None);
        assert_eq!(text(&v4.x_forwarded_for), "192.0.2.7");
        assert_eq!(text(&v4.x_real_ip), "192.0.2.7");
        assert_eq!(text(&v4.forwarded), "for=192.0.2.7");

        let prior = HeaderValue::from_static("203.0.113.9, 198.51.100.2");
        let v6 = forwarded_for("2001:db8::1".parse().unwrap(), Some(&prior));
        assert_eq!(text(&v6.x_forwarded_for), "203.0.113.9, 198.51.100.2, 2001:db8::1");
        assert_eq!(text(&v6.x_real_ip), "2001:db8::1");
        assert_eq!(text(&v6.forwarded), "for=\"[2001:db8::1]\"");
    }
}
