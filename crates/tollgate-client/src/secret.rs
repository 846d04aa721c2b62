//! Secrets that never print and are wiped from memory when dropped.

use std::fmt;

use zeroize::Zeroizing;

const REDACTED: &str = "[redacted]";

/// A client secret: the type the server uses too. `Debug` and `Display` print `[redacted]`; the memory
/// is zeroized on drop.
///
/// ```
/// use tollgate_client::ClientSecret;
///
/// let s = ClientSecret::new("tgsec_abc");
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert_eq!(s.expose_secret(), "tgsec_abc");
/// ```
pub use tollgate_proto::ClientSecret;

/// An access token. `Debug` and `Display` print `[redacted]`; the memory is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Zeroizing<String>);

impl AccessToken {
    pub(crate) fn new(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    /// The token itself, to put in an `Authorization: Bearer` header.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = ClientSecret::new("tgsec_supersecret");
        let t = AccessToken::new("eyJ.secret.token".into());
        let shown = format!("{s} {s:?} {t} {t:?} {:?}", Some(&s));
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert_eq!(s.expose_secret(), "tgsec_supersecret");
        assert_eq!(t.expose_secret(), "eyJ.secret.token");
    }

    #[test]
    fn reads_a_secret_file_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "tgsec_x\n").unwrap();
        assert_eq!(
            ClientSecret::from_file(&p).unwrap().expose_secret(),
            "tgsec_x"
        );
    }
}
