//! Client secrets: generated with full entropy, shown once, stored only as a keyed hash.
//!
//! Because a generated secret has 256 bits of entropy, a slow password hash buys nothing; tollgate stores
//! HMAC-SHA-256(server key, secret), which verifies in well under a microsecond and cannot be attacked
//! offline without the server key. Comparison is constant-time.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random::{self, RandomError};

/// The client secret in clear (one type for the server, the domain and the SDK): `Debug` and
/// `Display` never print it; its memory is zeroized on drop.
pub use tollgate_proto::ClientSecret;

/// Prefix of every generated secret, so secret scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "tgsec_";

/// Generates a new secret: the prefix and 32 random bytes in base64url (43 characters).
pub fn generate() -> Result<ClientSecret, RandomError> {
    let b = Zeroizing::new(random::bytes::<32>()?);
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 43);
    s.push_str(SECRET_PREFIX);
    URL_SAFE_NO_PAD.encode_string(b.as_slice(), &mut s);
    Ok(ClientSecret::from(s))
}

/// The stored form of a secret: HMAC-SHA-256 under the server key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Hashes and verifies secrets under the server key.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

impl SecretHasher {
    /// A hasher under `server_key` (at least 32 bytes, from the store or the configuration).
    pub fn new(server_key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, server_key),
        }
    }

    /// The stored form of `secret`.
    pub fn hash_secret(&self, secret: &ClientSecret) -> SecretHash {
        self.hash(secret.expose_secret())
    }

    /// The stored form of the secret `secret` in clear.
    pub fn hash(&self, secret: &str) -> SecretHash {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        SecretHash(out)
    }

    /// Whether `secret` hashes to `stored`, compared in constant time.
    pub fn matches(&self, computed: &SecretHash, stored: &SecretHash) -> bool {
        computed.0.ct_eq(&stored.0).into()
    }

    /// A MAC of `data` under a key derived from the server key for `purpose` (e.g. page cursors).
    pub fn tag(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"tollgate-tag\0");
        ctx.update(purpose.as_bytes());
        ctx.update(b"\0");
        ctx.update(data);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_prefixed_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.expose_secret().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose_secret().len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let a = generate().unwrap();
        assert!(!format!("{a:?} {a}").contains(a.expose_secret()));
        assert!(!format!("{:?}", SecretHasher::new(b"k")).contains('k'));
    }

    #[test]
    fn hash_depends_on_key_and_secret() {
        let h1 = SecretHasher::new(&[1; 32]);
        let h2 = SecretHasher::new(&[2; 32]);
        let s = "tgsec_x";
        assert!(h1.matches(&h1.hash(s), &h1.hash(s)));
        assert!(!h1.matches(&h1.hash(s), &h2.hash(s)));
        assert!(!h1.matches(&h1.hash("tgsec_y"), &h1.hash(s)));
        assert_eq!(h1.hash_secret(&ClientSecret::new(s)), h1.hash(s));
    }
}
