//! Which addresses a delivery may reach. A company admin chooses the URL, so without a check a
//! webhook could make tollgate POST into the operator's own network (SSRF). Names are resolved by
//! [`PublicOnly`], which drops every non-public address (so a name that resolves, or later
//! re-resolves, to one is refused at connect time, not just when registered); an address written in
//! the URL is checked by [`allowed`] before sending.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an ordinary public unicast address: not loopback, private (RFC 1918, unique
/// local), link-local, shared (CGNAT), unspecified, multicast, broadcast or documentation.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(a),
        },
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o0 == 0
        || (o0 == 100 && (64..128).contains(&o1)) // 100.64.0.0/10, shared address space
        || (o0 == 192 && o1 == 0 && a.octets()[2] == 0) // 192.0.0.0/24, protocol assignments
        || (o0 == 198 && (18..20).contains(&o1)) // 198.18.0.0/15, benchmarking
        || o0 >= 240)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let first = a.segments()[0];
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_unique_local()
        || a.is_unicast_link_local()
        || first == 0x2001 && a.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && a.segments()[1] == 0xff9b) // NAT64 to any IPv4 address
}

/// Whether a delivery may go to `ip` under `private_targets`.
pub(crate) fn allowed(ip: IpAddr, private_targets: bool) -> bool {
    private_targets || is_public(ip)
}

/// The system resolver, keeping only the addresses [`allowed`] lets through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicOnly {
    pub(crate) private_targets: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let private_targets = self.private_targets;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allowed(a.ip(), private_targets))
                .collect();
            if kept.is_empty() {
                let why = if found.is_empty() {
                    format!("{host} does not resolve")
                } else {
                    format!(
                        "{host} resolves only to private or reserved addresses, which webhooks may not reach (webhooks.private_targets = false)"
                    )
                };
                return Err(why.into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
            assert!(allowed(private.parse().unwrap(), true), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
