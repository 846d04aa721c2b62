//! A credential's IP allowlist: the networks (CIDRs) a token request may come from.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Most networks one credential may list.
pub const MAX_ALLOWED_NETWORKS: usize = 100;

/// The networks a credential may be used from; empty: any address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

/// Why an allowlist was refused; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    /// Not an address or a CIDR.
    #[error("{0:?} is not an IP address or a CIDR (like 203.0.113.0/24 or 2001:db8::/32)")]
    NotACidr(String),
    /// Host bits set below the prefix (`10.0.0.1/8`): probably a typo, refused rather than guessed.
    #[error("{given:?} has host bits set: did you mean {network}?")]
    HostBits {
        /// What was given.
        given: String,
        /// The network it lies in.
        network: IpNet,
    },
    /// Too many entries.
    #[error("at most {MAX_ALLOWED_NETWORKS} networks may be listed")]
    TooMany,
}

impl IpAllowlist {
    /// Parses a list of addresses (`203.0.113.7`, a /32 or /128) and CIDRs, sorted and without
    /// duplicates.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        if entries.len() > MAX_ALLOWED_NETWORKS {
            return Err(AllowlistError::TooMany);
        }
        let mut nets = entries
            .iter()
            .map(|e| parse_net(e.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()?;
        nets.sort_unstable();
        nets.dedup();
        Ok(Self(nets))
    }

    /// Parses the stored form: entries separated by spaces (empty: any address).
    pub fn parse_stored(s: &str) -> Result<Self, AllowlistError> {
        Self::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    /// Whether any address may use the credential.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether a request from `addr` may use the credential. An unknown address passes only an
    /// empty list. An IPv4 address seen as IPv6 (`::ffff:203.0.113.7`, a dual-stack socket) is
    /// matched as the IPv4 address it is.
    pub fn permits(&self, addr: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(addr) = addr else {
            return false;
        };
        let addr = addr.to_canonical();
        self.0.iter().any(|n| n.contains(&addr))
    }
}

fn parse_net(s: &str) -> Result<IpNet, AllowlistError> {
    if let Ok(addr) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(addr.to_canonical()));
    }
    let net: IpNet = s
        .parse()
        .map_err(|_| AllowlistError::NotACidr(s.to_owned()))?;
    if net.trunc() != net {
        return Err(AllowlistError::HostBits {
            given: s.to_owned(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// The stored form: the networks separated by spaces.
impl fmt::Display for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn empty_permits_any_address_and_an_unknown_one() {
        let a = IpAllowlist::default();
        assert!(a.permits(ip("203.0.113.7")));
        assert!(a.permits(None));
    }

    #[test]
    fn networks_and_single_addresses() {
        let a = IpAllowlist::parse(&["203.0.113.0/24", "2001:db8::/32", "198.51.100.9"]).unwrap();
        assert!(a.permits(ip("203.0.113.200")));
        assert!(a.permits(ip("2001:db8::1")));
        assert!(a.permits(ip("198.51.100.9")));
        assert!(!a.permits(ip("198.51.100.10")));
        assert!(!a.permits(ip("203.0.114.1")));
        assert!(!a.permits(None), "an unknown address is refused");
    }

    #[test]
    fn ipv4_mapped_addresses_match_as_ipv4() {
        let a = IpAllowlist::parse(&["127.0.0.0/8"]).unwrap();
        assert!(a.permits(ip("::ffff:127.0.0.1")));
        let b = IpAllowlist::parse(&["::ffff:10.1.2.3"]).unwrap();
        assert_eq!(b.to_string(), "10.1.2.3/32");
        assert!(b.permits(ip("10.1.2.3")));
    }

    #[test]
    fn refuses_garbage_host_bits_and_too_many() {
        assert!(matches!(
            IpAllowlist::parse(&["10.0.0.0/33"]),
            Err(AllowlistError::NotACidr(_))
        ));
        assert!(matches!(
            IpAllowlist::parse(&["example.com"]),
            Err(AllowlistError::NotACidr(_))
        ));
        let e = IpAllowlist::parse(&["10.0.0.1/8"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"10.0.0.1/8\" has host bits set: did you mean 10.0.0.0/8?"
        );
        let many: Vec<String> = (0..=MAX_ALLOWED_NETWORKS)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        assert_eq!(IpAllowlist::parse(&many), Err(AllowlistError::TooMany));
    }

    #[test]
    fn stored_form_round_trips_sorted_without_duplicates() {
        let a = IpAllowlist::parse(&["10.0.0.0/8", " 192.0.2.1 ", "10.0.0.0/8"]).unwrap();
        assert_eq!(a.to_string(), "10.0.0.0/8 192.0.2.1/32");
        assert_eq!(IpAllowlist::parse_stored(&a.to_string()).unwrap(), a);
        assert!(IpAllowlist::parse_stored("").unwrap().is_empty());
    }
}
