//! The client secret: one type for the server, the domain and the SDK.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

const REDACTED: &str = "[redacted]";

/// A client secret in clear. `Debug` and `Display` print `[redacted]`, never the secret; its memory is
/// zeroized on drop. It can be read only through [`ClientSecret::expose_secret`], to put it on the
/// wire, hash it, or show it once.
///
/// ```
/// use tollgate_proto::ClientSecret;
///
/// let s = ClientSecret::new("tgsec_abc");
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert_eq!(s.expose_secret(), "tgsec_abc");
/// ```
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret (received from a client, read from configuration, or just generated).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// Reads a secret from a file: its content with surrounding whitespace (the final newline) trimmed.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path)?);
        Ok(Self::new(text.trim()))
    }

    /// The secret in clear: to put it on the wire, hash it, or show it once.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Compares without stopping at the first differing byte (the length is not hidden).
impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for ClientSecret {}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl FromStr for ClientSecret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// From a JSON (or TOML…) string, straight into zeroized memory.
impl<'de> Deserialize<'de> for ClientSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_print_nothing_of_the_secret() {
        let s = ClientSecret::new("tgsec_supersecret");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            secret: ClientSecret,
        }
        let shown = format!(
            "{s} {s:?} {:?} {:#?}",
            Some(&s),
            Holder { secret: s.clone() }
        );
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(!shown.contains("tgsec"), "{shown}");
        assert_eq!(s.expose_secret(), "tgsec_supersecret");
        assert_eq!(s.expose_secret(), "tgsec_supersecret");
    }

    #[test]
    fn equality_is_by_content() {
        assert_eq!(ClientSecret::new("abc"), ClientSecret::from("abc"));
        assert_ne!(ClientSecret::new("abc"), ClientSecret::new("abd"));
        assert_ne!(ClientSecret::new("abc"), ClientSecret::new("abcd"));
        assert!(ClientSecret::new("").is_empty());
    }

    #[test]
    fn deserializes_from_a_string_only() {
        let s: ClientSecret = serde_json::from_str(r#""tgsec_x""#).unwrap();
        assert_eq!(s.expose_secret(), "tgsec_x");
        assert!(serde_json::from_str::<ClientSecret>("12345678").is_err());
    }

    #[test]
    fn reads_a_secret_file_without_its_newline() {
        let dir =
            std::env::temp_dir().join(format!("tollgate-proto-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("secret");
        std::fs::write(&p, "tgsec_x\n").unwrap();
        let s = ClientSecret::from_file(&p);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(s.unwrap().expose_secret(), "tgsec_x");
    }
}
