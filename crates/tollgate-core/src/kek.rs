//! Keys at rest: the key-encryption keys (KEKs) that seal the signing keys' private parts and the
//! server key before they reach the database, so a dump or a backup alone cannot mint a token or
//! check a client secret.
//!
//! A KEK is 32 random bytes written as base64url ([`generate_text`] makes one). A [`KeyWrap`] holds
//! the KEKs in force, in order: the first seals, every one opens. A sealed value says which KEK
//! sealed it, so opening picks the key without trying each one:
//!
//! ```text
//! "TGWRAP" | 0x01 (version) | KEK id (8 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes)
//! ```
//!
//! The associated data is the first 15 bytes (magic, version, KEK id) followed by the row's name
//! ([`Row`]: the server key, or a signing key by its `kid`), so a sealed value copied into another
//! row does not open. The KEK id is the first 8 bytes of SHA-256 over `"tollgate kek id\0" || KEK`.
//! A value without the magic prefix is a legacy plaintext row (PKCS#8 DER starts with `0x30`; a
//! legacy server key is 32 random bytes): it is still read, and [`KeyWrap::rewrap`] seals it.
//!
//! ```
//! use tollgate_core::kek::{KeyWrap, Row, generate_text};
//!
//! let (old, new) = (generate_text().unwrap(), generate_text().unwrap());
//! let before = KeyWrap::parse(&old).unwrap();
//! let sealed = before.seal(Row::ServerKey, b"0123456789abcdef0123456789abcdef").unwrap();
//! // Rotation: the new key first, the old one still opens what it sealed.
//! let both = KeyWrap::parse(&format!("{}, {}", &*new, &*old)).unwrap();
//! let moved = both.rewrap(Row::ServerKey, &sealed).unwrap().expect("moved to the new key");
//! let after = KeyWrap::parse(&new).unwrap();
//! assert_eq!(&after.open(Row::ServerKey, &moved).unwrap()[..], b"0123456789abcdef0123456789abcdef");
//! assert!(after.open(Row::ServerKey, &sealed).is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::random::{self, RandomError};

/// How a sealed value starts.
const MAGIC: &[u8; 6] = b"TGWRAP";
/// The format version after the magic.
const VERSION: u8 = 1;
/// Bytes of the KEK id.
const ID_LEN: usize = 8;
/// Magic, version, KEK id: the part of the header that is also associated data.
const AAD_HEADER_LEN: usize = MAGIC.len() + 1 + ID_LEN;
/// Magic, version, KEK id, nonce.
const HEADER_LEN: usize = AAD_HEADER_LEN + NONCE_LEN;
/// AES-GCM's tag.
const TAG_LEN: usize = 16;
/// Bytes of a KEK.
pub const KEK_LEN: usize = 32;

/// base64url, with or without padding.
const BASE64URL_ANY: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which KEK sealed a value: the first 8 bytes of a domain-separated SHA-256 of the key (it tells
/// nothing about the key), shown as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KekId([u8; ID_LEN]);

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&random::hex(&self.0))
    }
}

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({self})")
    }
}

/// One key-encryption key. Its bytes live only inside aws-lc (which wipes them when dropped);
/// `Debug` shows its id.
pub struct Kek {
    id: KekId,
    key: LessSafeKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish()
    }
}

impl Kek {
    /// A KEK from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KekError> {
        if bytes.len() != KEK_LEN {
            return Err(KekError::Length { bytes: bytes.len() });
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"tollgate kek id\0");
        ctx.update(bytes);
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&ctx.finish().as_ref()[..ID_LEN]);
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KekError::Length { bytes: bytes.len() })?;
        Ok(Self {
            id: KekId(id),
            key: LessSafeKey::new(key),
        })
    }

    /// A KEK from its base64url text (padding optional, surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, KekError> {
        let bytes = Zeroizing::new(
            BASE64URL_ANY
                .decode(text.trim())
                .map_err(|_| KekError::NotBase64)?,
        );
        Self::from_bytes(&bytes)
    }

    /// Its id.
    pub fn id(&self) -> KekId {
        self.id
    }
}

/// A new KEK: 32 random bytes as base64url (43 characters), for `TOLLGATE_SECRETS_KEY` or a key file.
pub fn generate_text() -> Result<Zeroizing<String>, RandomError> {
    let bytes = Zeroizing::new(random::bytes::<KEK_LEN>()?);
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_slice())))
}

/// A KEK's text is unusable. The messages never repeat the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// Not base64url.
    #[error(
        "a key-encryption key must be base64url text (make one with `tollgate secrets generate-key`)"
    )]
    NotBase64,
    /// Not 32 bytes.
    #[error(
        "a key-encryption key must be 32 bytes (43 base64url characters); this one is {bytes} bytes"
    )]
    Length {
        /// What it decoded to.
        bytes: usize,
    },
    /// Nothing but separators.
    #[error("no key-encryption key given (the text is empty)")]
    Empty,
    /// One key of a list is bad.
    #[error("key-encryption key {position} of the list: {source}")]
    InList {
        /// 1-based.
        position: usize,
        /// Why.
        source: Box<KekError>,
    },
}

/// The stored value a sealed secret belongs to: its name is associated data, so a sealed value moved
/// to another row does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Row<'a> {
    /// The server key (`settings.server_key`).
    ServerKey,
    /// The private part of the signing key with this `kid` (`signing_keys.private_pkcs8`).
    SigningKey(&'a str),
    /// A webhook endpoint's signing secret (`webhooks.secret`, `webhooks.previous_secret`), by the
    /// endpoint's id.
    WebhookSecret(&'a str),
}

impl Row<'_> {
    fn label(&self, out: &mut Vec<u8>) {
        match self {
            Row::ServerKey => out.extend_from_slice(b"tollgate/settings/server_key"),
            Row::SigningKey(kid) => {
                out.extend_from_slice(b"tollgate/signing_keys/");
                out.extend_from_slice(kid.as_bytes());
            }
            Row::WebhookSecret(id) => {
                out.extend_from_slice(b"tollgate/webhooks/");
                out.extend_from_slice(id.as_bytes());
            }
        }
    }
}

impl fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Row::ServerKey => f.write_str("the server key"),
            Row::SigningKey(kid) => write!(f, "signing key {kid}"),
            Row::WebhookSecret(id) => write!(f, "the signing secret of webhook {id}"),
        }
    }
}

/// How a stored value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtRest {
    /// In the clear (written without a KEK, or before tollgate had them).
    Plain,
    /// Sealed under this KEK.
    Sealed(KekId),
    /// Starts like a sealed value but is not one this version reads (truncated, or a newer format).
    Malformed,
}

impl AtRest {
    /// How `stored` is kept.
    pub fn of(stored: &[u8]) -> Self {
        let Some(rest) = stored.strip_prefix(MAGIC.as_slice()) else {
            return AtRest::Plain;
        };
        if rest.first() != Some(&VERSION) || stored.len() < HEADER_LEN + TAG_LEN {
            return AtRest::Malformed;
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&stored[MAGIC.len() + 1..AAD_HEADER_LEN]);
        AtRest::Sealed(KekId(id))
    }
}

/// A stored secret cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WrapError {
    /// Sealed, and no KEK is configured.
    #[error(
        "{row} is encrypted under key-encryption key {kek}, but no key-encryption key is configured: \
         set TOLLGATE_SECRETS_KEY or --secrets-key-file (secrets_key_file)"
    )]
    NoKek {
        /// The row (`Row`'s text).
        row: String,
        /// The KEK that sealed it.
        kek: KekId,
    },
    /// Sealed under a KEK that is not configured.
    #[error(
        "{row} is encrypted under key-encryption key {kek}, which is not among the configured ones \
         ({configured}): a wrong key, or an old key removed before `tollgate secrets rewrap` moved \
         every row to the newest"
    )]
    UnknownKek {
        /// The row.
        row: String,
        /// The KEK that sealed it.
        kek: KekId,
        /// The ids configured.
        configured: String,
    },
    /// The value does not open under its KEK.
    #[error(
        "{row} does not decrypt under key-encryption key {kek}: the stored bytes were altered, or \
         copied from another row"
    )]
    Tampered {
        /// The row.
        row: String,
        /// The KEK named in the value.
        kek: KekId,
    },
    /// Starts like a sealed value but is not one.
    #[error(
        "{row} is stored in a format this version cannot read (truncated, or written by a newer tollgate)"
    )]
    Malformed {
        /// The row.
        row: String,
    },
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// The KEKs in force: the first seals, all open. Empty ([`KeyWrap::none`], the default): values are
/// written in the clear and sealed ones cannot be read. Cheap to clone.
#[derive(Clone, Default)]
pub struct KeyWrap {
    keys: Arc<[Kek]>,
}

impl fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| k.id))
            .finish()
    }
}

impl KeyWrap {
    /// No KEK: secrets are stored in the clear.
    pub fn none() -> Self {
        Self::default()
    }

    /// These KEKs, the first sealing (a repeated key counts once, at its first place).
    pub fn new(keys: Vec<Kek>) -> Self {
        let mut kept: Vec<Kek> = Vec::with_capacity(keys.len());
        for k in keys {
            if !kept.iter().any(|c| c.id == k.id) {
                kept.push(k);
            }
        }
        Self { keys: kept.into() }
    }

    /// KEKs as written in `TOLLGATE_SECRETS_KEY` or a key file: base64url keys separated by commas,
    /// spaces or newlines, the sealing one first.
    pub fn parse(text: &str) -> Result<Self, KekError> {
        let keys = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                Kek::parse(s).map_err(|e| KekError::InList {
                    position: i + 1,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KekError::Empty);
        }
        Ok(Self::new(keys))
    }

    /// Whether any KEK is configured.
    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The id of the KEK that seals.
    pub fn primary(&self) -> Option<KekId> {
        self.keys.first().map(|k| k.id)
    }

    /// The ids of every KEK, the sealing one first.
    pub fn ids(&self) -> Vec<KekId> {
        self.keys.iter().map(|k| k.id).collect()
    }

    fn aad(header: &[u8], row: Row<'_>) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_HEADER_LEN + 64);
        aad.extend_from_slice(&header[..AAD_HEADER_LEN]);
        row.label(&mut aad);
        aad
    }

    /// `plain` as it is to be stored for `row`: sealed under the first KEK, or as it is without one.
    pub fn seal(&self, row: Row<'_>, plain: &[u8]) -> Result<Vec<u8>, WrapError> {
        let Some(kek) = self.keys.first() else {
            return Ok(plain.to_vec());
        };
        let nonce = random::bytes::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&kek.id.0);
        out.extend_from_slice(&nonce);
        let aad = Self::aad(&out, row);
        let mut body = Zeroizing::new(plain.to_vec());
        let tag = kek
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                body.as_mut_slice(),
            )
            .map_err(|_| WrapError::Random(RandomError))?;
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// The plaintext of `stored` (sealed or legacy plaintext) for `row`.
    pub fn open(&self, row: Row<'_>, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, WrapError> {
        let id = match AtRest::of(stored) {
            AtRest::Plain => return Ok(Zeroizing::new(stored.to_vec())),
            AtRest::Malformed => {
                return Err(WrapError::Malformed {
                    row: row.to_string(),
                });
            }
            AtRest::Sealed(id) => id,
        };
        let kek = self.kek(row, id)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&stored[AAD_HEADER_LEN..HEADER_LEN]);
        let aad = Self::aad(stored, row);
        let mut body = Zeroizing::new(stored[HEADER_LEN..].to_vec());
        let plain_len = kek
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                body.as_mut_slice(),
            )
            .map_err(|_| WrapError::Tampered {
                row: row.to_string(),
                kek: id,
            })?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }

    fn kek(&self, row: Row<'_>, id: KekId) -> Result<&Kek, WrapError> {
        if self.keys.is_empty() {
            return Err(WrapError::NoKek {
                row: row.to_string(),
                kek: id,
            });
        }
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| WrapError::UnknownKek {
                row: row.to_string(),
                kek: id,
                configured: self.ids_text(),
            })
    }

    fn ids_text(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `stored` sealed under the first KEK, or `None` when it already is (or when no KEK is
    /// configured: nothing to seal with).
    pub fn rewrap(&self, row: Row<'_>, stored: &[u8]) -> Result<Option<Vec<u8>>, WrapError> {
        let Some(primary) = self.primary() else {
            return Ok(None);
        };
        if AtRest::of(stored) == AtRest::Sealed(primary) {
            return Ok(None);
        }
        let plain = self.open(row, stored)?;
        self.seal(row, &plain).map(Some)
    }
}

/// How the stored secrets are kept: how many rows are plaintext, and how many are sealed under
/// each KEK; and which KEKs the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// The ids of the store's KEKs, the sealing one first (empty: none configured).
    pub configured: Vec<KekId>,
    /// Rows in the clear.
    pub plain: u64,
    /// Rows sealed, by KEK.
    pub sealed: BTreeMap<KekId, u64>,
    /// Rows that start like a sealed value but are not one.
    pub malformed: u64,
}

impl Census {
    /// Counts `stored` in.
    pub fn add(&mut self, stored: &[u8]) {
        match AtRest::of(stored) {
            AtRest::Plain => self.plain += 1,
            AtRest::Sealed(id) => *self.sealed.entry(id).or_default() += 1,
            AtRest::Malformed => self.malformed += 1,
        }
    }

    /// Rows not sealed under the first configured KEK (what `tollgate secrets rewrap` would
    /// change); every row when none is configured.
    pub fn not_under_primary(&self) -> u64 {
        let primary = self.configured.first();
        self.plain
            + self.malformed
            + self
                .sealed
                .iter()
                .filter(|(id, _)| Some(*id) != primary)
                .map(|(_, n)| n)
                .sum::<u64>()
    }

    /// Whether the configured KEKs read every row counted: an error names the first KEK that is
    /// needed and missing (none configured, or not among the configured).
    pub fn check(&self) -> Result<(), WrapError> {
        if self.malformed > 0 {
            return Err(WrapError::Malformed {
                row: "a stored key".into(),
            });
        }
        for id in self.sealed.keys() {
            let row = String::from("a stored key");
            if self.configured.is_empty() {
                return Err(WrapError::NoKek { row, kek: *id });
            }
            if !self.configured.contains(id) {
                return Err(WrapError::UnknownKek {
                    row,
                    kek: *id,
                    configured: self
                        .configured
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }
}

/// What a store's `rewrap_keys` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrapped {
    /// Rows sealed anew under the first KEK (plaintext ones, or sealed under an older KEK).
    pub changed: u64,
    /// Rows already sealed under the first KEK.
    pub unchanged: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const PKCS8_LIKE: &[u8] = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20secret-bytes-of-an-ed25519-key!!";

    fn wrap() -> KeyWrap {
        KeyWrap::parse(&generate_text().unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_under_its_row_and_hides_the_plaintext() {
        let w = wrap();
        let sealed = w.seal(Row::SigningKey("kid-1"), PKCS8_LIKE).unwrap();
        assert_eq!(AtRest::of(&sealed), AtRest::Sealed(w.primary().unwrap()));
        assert_eq!(sealed.len(), HEADER_LEN + PKCS8_LIKE.len() + TAG_LEN);
        assert!(
            !sealed
                .windows(12)
                .any(|win| PKCS8_LIKE.windows(12).any(|p| p == win)),
            "no 12-byte run of the plaintext survives sealing"
        );
        assert_eq!(
            &w.open(Row::SigningKey("kid-1"), &sealed).unwrap()[..],
            PKCS8_LIKE
        );
        // A fresh nonce each time.
        assert_ne!(
            w.seal(Row::SigningKey("kid-1"), PKCS8_LIKE).unwrap(),
            sealed
        );
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let w = wrap();
        let sealed = w.seal(Row::ServerKey, &[7u8; 32]).unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            let r = w.open(Row::ServerKey, &t);
            if i < MAGIC.len() {
                // Without the magic it reads as a row of before (in the clear): the bytes as they
                // are, never the sealed secret.
                assert_eq!(&r.unwrap()[..], &t[..], "byte {i}");
            } else {
                assert!(r.is_err(), "byte {i} flipped and still opened");
            }
        }
        let mut short = sealed.clone();
        short.pop();
        assert!(matches!(
            w.open(Row::ServerKey, &short),
            Err(WrapError::Tampered { .. })
        ));
        assert!(matches!(
            w.open(Row::ServerKey, &sealed[..HEADER_LEN]),
            Err(WrapError::Malformed { .. })
        ));
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_open() {
        let w = wrap();
        let a = w.seal(Row::SigningKey("kid-a"), PKCS8_LIKE).unwrap();
        let e = w.open(Row::SigningKey("kid-b"), &a).unwrap_err();
        assert!(matches!(e, WrapError::Tampered { .. }), "{e}");
        assert!(e.to_string().contains("signing key kid-b"), "{e}");
        assert!(w.open(Row::ServerKey, &a).is_err());
        let s = w.seal(Row::ServerKey, &[1u8; 32]).unwrap();
        assert!(w.open(Row::SigningKey("server_key"), &s).is_err());
    }

    #[test]
    fn plaintext_rows_are_read_and_rewrapped() {
        let w = wrap();
        let legacy = [9u8; 32];
        assert_eq!(AtRest::of(&legacy), AtRest::Plain);
        assert_eq!(AtRest::of(PKCS8_LIKE), AtRest::Plain);
        assert_eq!(&w.open(Row::ServerKey, &legacy).unwrap()[..], &legacy);
        let sealed = w.rewrap(Row::ServerKey, &legacy).unwrap().unwrap();
        assert_eq!(&w.open(Row::ServerKey, &sealed).unwrap()[..], &legacy);
        assert_eq!(w.rewrap(Row::ServerKey, &sealed).unwrap(), None);
        // Without a KEK: written and read in the clear, nothing to rewrap.
        let none = KeyWrap::none();
        assert_eq!(none.seal(Row::ServerKey, &legacy).unwrap(), legacy);
        assert_eq!(none.rewrap(Row::ServerKey, &legacy).unwrap(), None);
    }

    #[test]
    fn rotation_moves_values_to_the_first_key() {
        let (old_t, new_t) = (generate_text().unwrap(), generate_text().unwrap());
        let old = KeyWrap::parse(&old_t).unwrap();
        let both = KeyWrap::parse(&format!("{}\n{}", &*new_t, &*old_t)).unwrap();
        let new = KeyWrap::parse(&new_t).unwrap();
        let sealed_old = old.seal(Row::SigningKey("k"), PKCS8_LIKE).unwrap();
        assert_eq!(
            &both.open(Row::SigningKey("k"), &sealed_old).unwrap()[..],
            PKCS8_LIKE
        );
        let moved = both
            .rewrap(Row::SigningKey("k"), &sealed_old)
            .unwrap()
            .unwrap();
        assert_eq!(AtRest::of(&moved), AtRest::Sealed(new.primary().unwrap()));
        assert_eq!(
            &new.open(Row::SigningKey("k"), &moved).unwrap()[..],
            PKCS8_LIKE
        );
        let e = new.open(Row::SigningKey("k"), &sealed_old).unwrap_err();
        assert!(matches!(e, WrapError::UnknownKek { .. }), "{e}");
        assert!(
            e.to_string().contains(&old.primary().unwrap().to_string()),
            "{e}"
        );
        let e = KeyWrap::none()
            .open(Row::SigningKey("k"), &moved)
            .unwrap_err();
        assert!(matches!(e, WrapError::NoKek { .. }), "{e}");
        assert!(e.to_string().contains("TOLLGATE_SECRETS_KEY"), "{e}");
    }

    #[test]
    fn the_census_tells_what_a_wrap_cannot_read() {
        let (a, b) = (wrap(), wrap());
        let mut c = Census::default();
        c.add(&[0u8; 32]);
        c.add(&a.seal(Row::ServerKey, &[0u8; 32]).unwrap());
        assert_eq!(c.plain, 1);
        let under = |w: &KeyWrap| Census {
            configured: w.ids(),
            ..c.clone()
        };
        assert_eq!(under(&a).not_under_primary(), 1);
        assert_eq!(under(&b).not_under_primary(), 2);
        under(&a).check().unwrap();
        assert!(matches!(
            under(&b).check(),
            Err(WrapError::UnknownKek { .. })
        ));
        let e = c.check().unwrap_err();
        assert!(matches!(e, WrapError::NoKek { .. }), "{e}");
        assert!(e.to_string().contains("a stored key is encrypted"), "{e}");
    }

    #[test]
    fn key_lists_parse_and_bad_keys_are_named_without_their_text() {
        let (a, b) = (generate_text().unwrap(), generate_text().unwrap());
        assert_eq!(a.len(), 43);
        let padded = format!("{}=", &*a);
        for text in [
            format!("{}, {}", &*a, &*b),
            format!("{}\n{}\n", &*a, &*b),
            format!("  {}\t{},{}", &*a, &*b, &*a),
            format!("{padded},{}", &*b),
        ] {
            let w = KeyWrap::parse(&text).unwrap();
            assert_eq!(w.ids().len(), 2, "{text:?}");
            assert_eq!(w.primary(), Kek::parse(&a).ok().map(|k| k.id()));
        }
        assert_eq!(KeyWrap::parse(" ,\n").unwrap_err(), KekError::Empty);
        let short = &a[..20];
        let e = KeyWrap::parse(&format!("{},{short}", &*b)).unwrap_err();
        assert!(e.to_string().contains("key-encryption key 2"), "{e}");
        assert!(e.to_string().contains("15 bytes"), "{e}");
        assert!(!e.to_string().contains(short), "{e}");
        let e = Kek::parse("not base64!").unwrap_err();
        assert_eq!(e, KekError::NotBase64);
        // Standard base64's `+` and `/` are not base64url.
        assert_eq!(
            Kek::parse("+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8").unwrap_err(),
            KekError::NotBase64
        );
    }

    #[test]
    fn debug_shows_ids_never_keys() {
        let text = generate_text().unwrap();
        let w = KeyWrap::parse(&text).unwrap();
        let id = w.primary().unwrap().to_string();
        assert_eq!(id.len(), 16);
        let shown = format!("{w:?} {:?}", Kek::parse(&text).unwrap());
        assert!(shown.contains(&id), "{shown}");
        assert!(!shown.contains(&text[..10]), "{shown}");
    }
}
