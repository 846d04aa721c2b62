//! The JWS algorithms tollgate signs access tokens with, by their JOSE names (RFC 7518 §3.1, RFC 8037).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JWS signing algorithm tollgate can use. Written and read as its JOSE name (`EdDSA`, `ES256`,
/// `RS256`): in token headers, the JWKS, server metadata, the configuration and the database.
///
/// ```
/// use tollgate_proto::SigningAlg;
///
/// let alg: SigningAlg = "ES256".parse().unwrap();
/// assert_eq!(alg, SigningAlg::ES256);
/// assert_eq!(alg.as_str(), "ES256");
/// assert!("HS256".parse::<SigningAlg>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlg {
    /// Ed25519: the fastest to sign, but refused by several common JWT libraries.
    EdDSA,
    /// ECDSA P-256 with SHA-256: the default of new installations, accepted by every JWT library
    /// tried ([`SigningAlg::DEFAULT`]).
    #[default]
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys).
    RS256,
}

impl SigningAlg {
    /// Every algorithm.
    pub const ALL: [SigningAlg; 3] = [Self::EdDSA, Self::ES256, Self::RS256];

    /// The algorithm of a new installation's first key (an existing database keeps the algorithm
    /// of its key unless the configuration names another).
    pub const DEFAULT: SigningAlg = Self::ES256;

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

/// A string names no algorithm tollgate signs with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm `{0}` (use EdDSA, ES256 or RS256)")]
pub struct UnknownSigningAlg(String);

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = UnknownSigningAlg;
    fn from_str(s: &str) -> Result<Self, UnknownSigningAlg> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownSigningAlg(s.chars().take(20).collect()))
    }
}

impl Serialize for SigningAlg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SigningAlg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_jose_name() {
        for alg in SigningAlg::ALL {
            assert_eq!(alg.as_str().parse::<SigningAlg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<SigningAlg>(&json).unwrap(), alg);
        }
        assert_eq!(SigningAlg::default(), SigningAlg::DEFAULT);
        assert_eq!(SigningAlg::DEFAULT, SigningAlg::ES256);
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["HS256", "none", "eddsa", "es256", "", " EdDSA"] {
            let e = bad.parse::<SigningAlg>().unwrap_err();
            assert!(
                e.to_string().contains("unsupported signing algorithm"),
                "{e}"
            );
        }
        assert!(serde_json::from_str::<SigningAlg>(r#""HS256""#).is_err());
        let long = "X".repeat(100);
        assert!(long.parse::<SigningAlg>().unwrap_err().to_string().len() < 100);
    }
}
