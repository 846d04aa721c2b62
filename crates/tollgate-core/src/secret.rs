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

/// Characters of the random part (32 bytes in base64url).
const BODY_LEN: usize = 43;
/// Characters of the checksum: CRC-32 of the prefix and the random part, in base62.
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Generates a new secret: the prefix, 32 random bytes in base64url (43 characters), and a
/// 6-character checksum ([`check_format`] tells a real secret from noise without the database).
pub fn generate() -> Result<ClientSecret, RandomError> {
    let b = Zeroizing::new(random::bytes::<32>()?);
    let mut s = String::with_capacity(SECRET_PREFIX.len() + BODY_LEN + CHECKSUM_LEN);
    s.push_str(SECRET_PREFIX);
    URL_SAFE_NO_PAD.encode_string(b.as_slice(), &mut s);
    let sum = checksum(&s);
    s.push_str(&sum);
    Ok(ClientSecret::from(s))
}

fn checksum(prefix_and_body: &str) -> String {
    let mut n = crc32fast::hash(prefix_and_body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for c in out.iter_mut().rev() {
        *c = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// What [`check_format`] makes of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// A tollgate secret: prefix, random part and a checksum that matches.
    Checked,
    /// The format of secrets made before checksums (prefix and 43 characters): cannot be told from
    /// noise offline, and still valid.
    Legacy,
    /// Not a tollgate secret (or one mistyped: its checksum does not match).
    NotASecret,
}

/// Tells, without the database or the server key, whether `text` is a tollgate secret.
pub fn check_format(text: &str) -> SecretFormat {
    let Some(rest) = text.strip_prefix(SECRET_PREFIX) else {
        return SecretFormat::NotASecret;
    };
    let body_ok = |b: &str| {
        b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    match rest.len() {
        BODY_LEN if body_ok(rest) => SecretFormat::Legacy,
        n if n == BODY_LEN + CHECKSUM_LEN && body_ok(rest) => {
            let (head, sum) = text.split_at(SECRET_PREFIX.len() + BODY_LEN);
            if checksum(head) == sum {
                SecretFormat::Checked
            } else {
                SecretFormat::NotASecret
            }
        }
        _ => SecretFormat::NotASecret,
    }
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
        assert_eq!(a.expose_secret().len(), SECRET_PREFIX.len() + 43 + 6);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn the_checksum_tells_a_secret_from_noise_offline() {
        for _ in 0..200 {
            let s = generate().unwrap();
            assert_eq!(check_format(s.expose_secret()), SecretFormat::Checked);
            // Any one character changed breaks the checksum.
            let mut bytes = s.expose_secret().as_bytes().to_vec();
            let i = SECRET_PREFIX.len() + (bytes.len() - SECRET_PREFIX.len()) / 2;
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(check_format(&changed), SecretFormat::NotASecret, "{i}");
        }
        let legacy = format!("{SECRET_PREFIX}{}", "a".repeat(43));
        assert_eq!(check_format(&legacy), SecretFormat::Legacy);
        for noise in [
            "",
            "tgsec_",
            "tgsec_short",
            "ghp_abc",
            &format!("{legacy}!!!!!!"),
            &format!("{legacy}000000"),
        ] {
            assert_eq!(check_format(noise), SecretFormat::NotASecret, "{noise}");
        }
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
