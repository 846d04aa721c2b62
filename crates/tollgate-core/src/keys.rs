//! Token signing keys: created once, kept in the store, parsed once into ready key pairs.
//!
//! Signing uses a kept aws-lc-rs `Ed25519KeyPair` (no key parse per token); verification uses
//! `jsonwebtoken` with keys built once per key ring.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::model::SigningKeyRecord;

/// JOSE name of Ed25519 signatures.
pub const ALG_EDDSA: &str = "EdDSA";

/// A key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed.
    #[error("could not generate a signing key")]
    Generate,
    /// A stored key is unreadable.
    #[error("signing key {kid} is unreadable")]
    Unreadable {
        /// Its kid.
        kid: String,
    },
    /// A stored key uses an algorithm this build does not support.
    #[error("signing key {kid} uses unsupported algorithm {alg}")]
    UnsupportedAlg {
        /// Its kid.
        kid: String,
        /// Its algorithm.
        alg: String,
    },
    /// No usable key.
    #[error("no current signing key")]
    NoCurrentKey,
}

/// A new Ed25519 key, ready to store.
pub fn generate_ed25519(now: UnixTime) -> Result<SigningKeyRecord, KeyError> {
    let doc =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?;
    let public = pair.public_key().as_ref().to_vec();
    Ok(SigningKeyRecord {
        kid: okp_thumbprint(&public),
        alg: ALG_EDDSA.to_owned(),
        private_pkcs8: Zeroizing::new(doc.as_ref().to_vec()),
        public,
        created_at: now,
        retired_at: None,
    })
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key, used as its `kid`.
fn okp_thumbprint(public: &[u8]) -> String {
    let x = URL_SAFE_NO_PAD.encode(public);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// A parsed signing key.
pub struct SigningKey {
    kid: String,
    pair: Ed25519KeyPair,
    /// base64url of the JOSE header, computed once.
    header_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_record(r: &SigningKeyRecord) -> Result<Self, KeyError> {
        if r.alg != ALG_EDDSA {
            return Err(KeyError::UnsupportedAlg {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
            });
        }
        let pair = Ed25519KeyPair::from_pkcs8(&r.private_pkcs8)
            .map_err(|_| KeyError::Unreadable { kid: r.kid.clone() })?;
        let header = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}"}}"#, r.kid);
        Ok(Self {
            kid: r.kid.clone(),
            pair,
            header_b64: URL_SAFE_NO_PAD.encode(header),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A compact JWS of `claims_json` signed with this key.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> String {
        let enc = &URL_SAFE_NO_PAD;
        let mut out =
            String::with_capacity(self.header_b64.len() + claims_json.len() * 4 / 3 + 100);
        out.push_str(&self.header_b64);
        out.push('.');
        enc.encode_string(claims_json, &mut out);
        let sig = self.pair.sign(out.as_bytes());
        out.push('.');
        enc.encode_string(sig.as_ref(), &mut out);
        out
    }
}

/// A public key as published (and as the verifier uses it).
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm.
    pub alg: String,
    /// base64url of the raw public key (the JWK `x`).
    pub x: String,
}

/// The keys in force: one current signing key and every key whose tokens may still be live.
pub struct KeyRing {
    current: Arc<SigningKey>,
    verifiers: HashMap<String, jsonwebtoken::DecodingKey>,
    public: Vec<PublicKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.kid)
            .field("public", &self.public)
            .finish()
    }
}

impl KeyRing {
    /// Builds the ring from stored keys: the newest unretired key signs; all verify.
    pub fn from_records(records: &[SigningKeyRecord]) -> Result<Self, KeyError> {
        let current_rec = records
            .iter()
            .filter(|r| r.retired_at.is_none())
            .max_by_key(|r| r.created_at)
            .ok_or(KeyError::NoCurrentKey)?;
        let current = Arc::new(SigningKey::from_record(current_rec)?);
        let mut verifiers = HashMap::new();
        let mut public = Vec::new();
        for r in records {
            if r.alg != ALG_EDDSA {
                return Err(KeyError::UnsupportedAlg {
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
                });
            }
            let x = URL_SAFE_NO_PAD.encode(&r.public);
            let dk = jsonwebtoken::DecodingKey::from_ed_components(&x)
                .map_err(|_| KeyError::Unreadable { kid: r.kid.clone() })?;
            verifiers.insert(r.kid.clone(), dk);
            public.push(PublicKey {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                x,
            });
        }
        Ok(Self {
            current,
            verifiers,
            public,
        })
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The verification key for `kid`.
    pub fn verifier(&self, kid: &str) -> Option<&jsonwebtoken::DecodingKey> {
        self.verifiers.get(kid)
    }

    /// The public keys (for a JWKS).
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_picks_newest_unretired_key() {
        let mut a = generate_ed25519(100).unwrap();
        let b = generate_ed25519(200).unwrap();
        let ring = KeyRing::from_records(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ring.current().kid(), b.kid);
        assert!(ring.verifier(&a.kid).is_some());
        a.retired_at = Some(150);
        let ring = KeyRing::from_records(&[b.clone(), a]).unwrap();
        assert_eq!(ring.current().kid(), b.kid);
        assert_eq!(ring.public_keys().len(), 2);
    }

    #[test]
    fn empty_ring_is_an_error() {
        assert!(matches!(
            KeyRing::from_records(&[]),
            Err(KeyError::NoCurrentKey)
        ));
    }

    #[test]
    fn kid_is_a_sha256_thumbprint() {
        let k = generate_ed25519(1).unwrap();
        assert_eq!(k.kid.len(), 43);
    }
}
