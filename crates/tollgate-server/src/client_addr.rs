//! The client's address: the socket's peer, or, when that peer is one of the `trusted_proxies`,
//! the address the proxies forwarded in `X-Forwarded-For`.
//!
//! Credentials' IP allowlists, the failed-authentication limits, the panel's login limits and the
//! audit log all read it here. Without trusted proxies (the default) `X-Forwarded-For` is ignored:
//! any client can write that header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use tollgate_core::allowlist::IpAllowlist;

/// The client's address, if the server knows it. `X-Forwarded-For` is read from the right (the
/// entry the nearest proxy added) past every trusted proxy; the first address that is not one is
/// the client's. An entry that is not an address stops the walk at the proxy that forwarded it.
pub(crate) fn client_addr(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &IpAllowlist,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    Some(forwarded_for(peer, headers, trusted))
}

/// [`client_addr`] of a request from the socket peer `peer`.
pub(crate) fn forwarded_for(peer: IpAddr, headers: &HeaderMap, trusted: &IpAllowlist) -> IpAddr {
    let peer = peer.to_canonical();
    if trusted.is_empty() || !trusted.permits(Some(peer)) {
        return peer;
    }
    let mut nearest = peer;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev().flat_map(|v| v.rsplit(',')) {
        let Ok(addr) = entry.trim().parse::<IpAddr>() else {
            return nearest;
        };
        let addr = addr.to_canonical();
        if !trusted.permits(Some(addr)) {
            return addr;
        }
        nearest = addr;
    }
    // Every hop is a trusted proxy: the farthest one is the client.
    nearest
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ext(peer: &str) -> Extensions {
        let mut e = Extensions::new();
        e.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        e
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn addr(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = IpAllowlist::default();
        let got = client_addr(&ext("198.51.100.1"), &xff(&["203.0.113.9"]), &none);
        assert_eq!(got, addr("198.51.100.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_an_address() {
        let trusted = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        let got = client_addr(&ext("198.51.100.1"), &xff(&["10.1.1.1"]), &trusted);
        assert_eq!(got, addr("198.51.100.1"));
    }

    #[test]
    fn walks_past_trusted_proxies_from_the_right() {
        let trusted = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        // The client wrote a spoofed first entry; the proxies appended the real hops.
        let h = xff(&["1.2.3.4, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(
            client_addr(&ext("10.0.0.2"), &h, &trusted),
            addr("203.0.113.9")
        );
    }

    #[test]
    fn garbage_stops_at_the_proxy_that_forwarded_it() {
        let trusted = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        let h = xff(&["203.0.113.9, unknown, 10.0.0.7"]);
        assert_eq!(
            client_addr(&ext("10.0.0.2"), &h, &trusted),
            addr("10.0.0.7")
        );
        assert_eq!(
            client_addr(&ext("10.0.0.2"), &HeaderMap::new(), &trusted),
            addr("10.0.0.2"),
            "no header: the proxy itself"
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_ipv4() {
        let trusted = IpAllowlist::parse(&["127.0.0.1"]).unwrap();
        let h = xff(&["::ffff:203.0.113.9"]);
        assert_eq!(
            client_addr(&ext("::ffff:127.0.0.1"), &h, &trusted),
            addr("203.0.113.9")
        );
    }
}
