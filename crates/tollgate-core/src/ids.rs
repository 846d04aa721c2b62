//! Identifiers. Each is a type that can only hold a valid value.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::UnixTime;
use crate::random::{self, RandomError};

/// A 12-byte identifier written as 24 lowercase hex digits, as the reference API's `_id`s are
/// (MongoDB ObjectIds). The first 4 bytes are the creation time, so ids sort roughly by age.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId([u8; 12]);

/// A string is not a 24-hex-digit identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 24-hex-digit identifier")]
pub struct InvalidId;

impl ObjectId {
    /// A new id for an object created at `now`.
    pub fn generate(now: UnixTime) -> Result<Self, RandomError> {
        let rnd: [u8; 8] = random::bytes()?;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&(now.clamp(0, u32::MAX as i64) as u32).to_be_bytes());
        b[4..].copy_from_slice(&rnd);
        Ok(Self(b))
    }

    /// Parses 24 hex digits (either case).
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let s = s.as_bytes();
        if s.len() != 24 {
            return Err(InvalidId);
        }
        let mut b = [0u8; 12];
        for (i, pair) in s.chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(InvalidId)?;
            let lo = hex_val(pair[1]).ok_or(InvalidId)?;
            b[i] = hi << 4 | lo;
        }
        Ok(Self(b))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&random::hex(&self.0))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

macro_rules! object_id_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub ObjectId);

        impl $name {
            /// A new id for an object created at `now`.
            pub fn generate(now: UnixTime) -> Result<Self, RandomError> {
                ObjectId::generate(now).map(Self)
            }
            /// Parses 24 hex digits.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                ObjectId::parse(s).map(Self)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

object_id_newtype!(
    /// A company (tenant).
    CompanyId
);

object_id_newtype!(
    /// A company's webhook endpoint.
    WebhookId
);

/// A client ID: 32 lowercase hex digits when tollgate generates it (as in the reference's examples).
///
/// Lookups accept any string that [`ClientId::parse`] accepts; an unknown one is simply not found.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(Box<str>);

/// A string cannot be a client ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client ID is 1 to 128 visible ASCII characters")]
pub struct InvalidClientId;

impl ClientId {
    /// A fresh random client ID.
    pub fn generate() -> Result<Self, RandomError> {
        let b: [u8; 16] = random::bytes()?;
        Ok(Self(random::hex(&b).into()))
    }

    /// Accepts 1 to 128 visible ASCII characters (no spaces or controls).
    pub fn parse(s: &str) -> Result<Self, InvalidClientId> {
        if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.into()))
        } else {
            Err(InvalidClientId)
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ClientId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Identifies one secret of a credential (a credential holds two during a rotation's grace period).
/// Tokens carry it, so rotating a secret away invalidates exactly the tokens it issued.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretId(Box<str>);

impl SecretId {
    /// A fresh random id (16 hex digits).
    pub fn generate() -> Result<Self, RandomError> {
        let b: [u8; 8] = random::bytes()?;
        Ok(Self(random::hex(&b).into()))
    }

    /// Wraps a stored id.
    pub fn from_stored(s: impl Into<Box<str>>) -> Self {
        Self(s.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_id_roundtrip_and_validation() {
        let id = ObjectId::generate(1_700_000_000).unwrap();
        let s = id.to_string();
        assert_eq!(s.len(), 24);
        assert_eq!(ObjectId::parse(&s).unwrap(), id);
        assert_eq!(ObjectId::parse(&s.to_uppercase()).unwrap(), id);
        assert!(ObjectId::parse("507f1f77bcf86cd79943901").is_err());
        assert!(ObjectId::parse("507f1f77bcf86cd79943901g").is_err());
        assert!(ObjectId::parse("").is_err());
    }

    #[test]
    fn object_ids_sort_by_time() {
        let a = ObjectId::generate(1_000).unwrap();
        let b = ObjectId::generate(2_000).unwrap();
        assert!(a < b);
    }

    #[test]
    fn client_id_rules() {
        let id = ClientId::generate().unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
        assert!(ClientId::parse("your_client_ID").is_ok());
    }
}
