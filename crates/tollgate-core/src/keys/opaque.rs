//! Opaque access tokens (`token_format = "opaque"`): the same claims as a JWT, sealed with
//! AES-256-GCM, so nothing is stored per token and the holder cannot read what is inside.
//!
//! Each signing key has an opaque-token key derived from it (HKDF-SHA256 of its private key, with
//! a label of its own and the kid): kept at rest with the signing key, rotated with it, and
//! accepted for as long as that key is published. Every node derives the same keys from the
//! store, so a token sealed on one node opens on every other.
//!
//! A token is `tgo1_` followed by base64url (no padding) of
//! `key tag (8) ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)`: the key tag is the first 8 bytes of
//! SHA-256 of the kid, the nonce is random, and `tgo1_` ‖ key tag is the additional data. With
//! random 96-bit nonces a key seals at most 2³² tokens before the chance of a repeated nonce
//! reaches 2⁻³² (NIST SP 800-38D §8.3): rotate the signing key before that (token reuse keeps the
//! count at about two tokens per credential and scope set per hour).

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hkdf};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::KeyError;

/// What every opaque token starts with (and its format's version).
pub const PREFIX: &str = "tgo1_";

/// Bytes of the key tag that names the key a token was sealed with.
const TAG_LEN: usize = 8;

/// The label of the derivation: the same private key derives nothing else with it.
const SALT: &[u8] = b"tollgate opaque access token key v1";

/// GCM's authentication tag.
const GCM_TAG_LEN: usize = 16;

/// The key tag of `kid`.
fn tag_of(kid: &str) -> [u8; TAG_LEN] {
    let d = digest::digest(&digest::SHA256, kid.as_bytes());
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&d.as_ref()[..TAG_LEN]);
    tag
}

/// The additional data of a token sealed under `tag`.
fn aad(tag: &[u8; TAG_LEN]) -> [u8; PREFIX.len() + TAG_LEN] {
    let mut a = [0u8; PREFIX.len() + TAG_LEN];
    a[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
    a[PREFIX.len()..].copy_from_slice(tag);
    a
}

/// Whether `token` is in the opaque format (it may still be forged or damaged).
pub fn is_opaque(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// The opaque-token key of one signing key.
pub struct OpaqueKey {
    tag: [u8; TAG_LEN],
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for OpaqueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueKey").finish_non_exhaustive()
    }
}

impl OpaqueKey {
    /// The key derived from the signing key `kid` whose private key (PKCS#8 or DER) is `private`.
    pub fn derive(kid: &str, private: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError::Unreadable { kid: kid.into() };
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(private);
        let mut bytes = Zeroizing::new([0u8; 32]);
        prk.expand(&[kid.as_bytes()], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut bytes[..]))
            .map_err(|_| bad())?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes[..]).map_err(|_| bad())?;
        Ok(Self {
            tag: tag_of(kid),
            key,
        })
    }

    /// An opaque token holding `claims_json`.
    pub fn seal(&self, claims_json: &[u8]) -> Result<String, KeyError> {
        let mut sealed = Vec::with_capacity(claims_json.len() + GCM_TAG_LEN);
        sealed.extend_from_slice(claims_json);
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad(&self.tag)), &mut sealed)
            .map_err(|_| KeyError::Sign)?;
        let mut raw = Vec::with_capacity(TAG_LEN + NONCE_LEN + sealed.len());
        raw.extend_from_slice(&self.tag);
        raw.extend_from_slice(nonce.as_ref());
        raw.extend_from_slice(&sealed);
        let mut out = String::with_capacity(PREFIX.len() + raw.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(&raw, &mut out);
        Ok(out)
    }
}

/// Why an opaque token did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Not base64url, or too short to be a token.
    Malformed,
    /// No key of the ring has its tag, or it fails authentication (forged, damaged, or sealed under
    /// a key no longer published).
    Invalid,
}

/// The claims JSON inside `token`, opened with whichever of `keys` sealed it.
pub fn open<'k>(
    token: &str,
    keys: impl IntoIterator<Item = &'k OpaqueKey>,
) -> Result<Vec<u8>, OpenError> {
    let body = token.strip_prefix(PREFIX).ok_or(OpenError::Malformed)?;
    let mut raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| OpenError::Malformed)?;
    if raw.len() < TAG_LEN + NONCE_LEN + GCM_TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&raw[..TAG_LEN]);
    let key = keys
        .into_iter()
        .find(|k| k.tag == tag)
        .ok_or(OpenError::Invalid)?;
    let nonce = Nonce::try_assume_unique_for_key(&raw[TAG_LEN..TAG_LEN + NONCE_LEN])
        .map_err(|_| OpenError::Malformed)?;
    let plain_len = key
        .key
        .open_in_place(nonce, Aad::from(aad(&tag)), &mut raw[TAG_LEN + NONCE_LEN..])
        .map_err(|_| OpenError::Invalid)?
        .len();
    raw.copy_within(TAG_LEN + NONCE_LEN..TAG_LEN + NONCE_LEN + plain_len, 0);
    raw.truncate(plain_len);
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, secret: &[u8]) -> OpaqueKey {
        OpaqueKey::derive(kid, secret).unwrap()
    }

    #[test]
    fn a_sealed_token_opens_under_its_key_only_and_hides_the_claims() {
        let a = key("kid-a", b"private key a");
        let b = key("kid-b", b"private key b");
        let claims = br#"{"sub":"client-123","scope":"groups:read"}"#;
        let token = a.seal(claims).unwrap();
        assert!(is_opaque(&token));
        assert!(!token.contains("client-123"));
        let raw = URL_SAFE_NO_PAD.decode(&token[PREFIX.len()..]).unwrap();
        assert!(!raw.windows(10).any(|w| w == b"client-123"));
        assert_eq!(open(&token, [&b, &a]).unwrap(), claims);
        assert_eq!(open(&token, [&b]), Err(OpenError::Invalid));
        // Two seals of the same claims differ (random nonces).
        assert_ne!(a.seal(claims).unwrap(), token);
    }

    #[test]
    fn the_same_signing_key_derives_the_same_key_and_another_does_not() {
        let claims = b"{}";
        let token = key("kid", b"secret").seal(claims).unwrap();
        assert_eq!(open(&token, [&key("kid", b"secret")]).unwrap(), claims);
        // Same kid (so the same tag), another private key: authentication fails.
        assert_eq!(
            open(&token, [&key("kid", b"other")]),
            Err(OpenError::Invalid)
        );
    }

    #[test]
    fn any_changed_character_is_refused() {
        let k = key("kid", b"secret");
        let token = k.seal(br#"{"scope":"groups:read"}"#).unwrap();
        for i in PREFIX.len()..token.len() {
            let mut t = token.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert!(open(&t, [&k]).is_err(), "changed at {i}");
        }
        assert_eq!(open(&token[..20], [&k]), Err(OpenError::Malformed));
        assert_eq!(open("tgo1_!!!", [&k]), Err(OpenError::Malformed));
        assert_eq!(open("eyJhbGciOi.x.y", [&k]), Err(OpenError::Malformed));
    }
}
