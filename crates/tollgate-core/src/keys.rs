//! Token signing keys: created once, kept in the store, parsed once into ready key pairs.
//!
//! Signing uses kept aws-lc-rs key pairs (no key parse per token); verification uses `jsonwebtoken`
//! with keys built once per key ring. Algorithms: ES256 (the default for a new database), EdDSA
//! (Ed25519), RS256. Each key also derives the key of opaque tokens ([`opaque`]).
//! Rotation makes a new key current; the previous ones stay published (and their tokens valid) until
//! their `publish_until`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::model::SigningKeyRecord;
use crate::store::{Store, StoreError};

pub mod opaque;
use opaque::OpaqueKey;

/// A JWS signing algorithm tollgate can use (a wire type: its JOSE name is what is stored).
pub use tollgate_proto::SigningAlg;

/// The `jsonwebtoken` name of `alg`.
fn jwt_alg(alg: SigningAlg) -> jsonwebtoken::Algorithm {
    match alg {
        SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
        SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
    }
}

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
    /// No usable key.
    #[error("no current signing key")]
    NoCurrentKey,
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

/// The JWK parameters of a public key (without `kid`, `alg`, `use`).
fn jwk_params(alg: SigningAlg, public: &[u8]) -> Result<Value, KeyError> {
    let b = |x: &[u8]| URL_SAFE_NO_PAD.encode(x);
    Ok(match alg {
        SigningAlg::EdDSA => json!({"crv": "Ed25519", "kty": "OKP", "x": b(public)}),
        SigningAlg::ES256 => {
            // Uncompressed point: 0x04 || x || y.
            if public.len() != 65 || public[0] != 4 {
                return Err(KeyError::Generate);
            }
            json!({"crv": "P-256", "kty": "EC", "x": b(&public[1..33]), "y": b(&public[33..])})
        }
        SigningAlg::RS256 => {
            // Stored as modulus length (4 bytes, big-endian) || modulus || exponent.
            let (n, e) = split_rsa_public(public).ok_or(KeyError::Generate)?;
            json!({"e": b(e), "kty": "RSA", "n": b(n)})
        }
    })
}

fn split_rsa_public(public: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(public.get(..4)?.try_into().ok()?) as usize;
    let n = public.get(4..4 + len)?;
    let e = public.get(4 + len..)?;
    Some((n, e))
}

/// RFC 7638 thumbprint of a JWK: SHA-256 of its required members in lexicographic order.
fn thumbprint(params: &Value) -> String {
    // serde_json's map is ordered by key (no `preserve_order` feature), which RFC 7638 requires.
    let canonical = params.to_string();
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// A new key of `alg`, ready to store.
pub fn generate(alg: SigningAlg, now: UnixTime) -> Result<SigningKeyRecord, KeyError> {
    let rng = SystemRandom::new();
    let (pkcs8, public): (Vec<u8>, Vec<u8>) = match alg {
        SigningAlg::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
            let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?;
            (doc.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        SigningAlg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| KeyError::Generate)?;
            (doc.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        SigningAlg::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
            let der = pair.as_der().map_err(|_| KeyError::Generate)?;
            (der.as_ref().to_vec(), rsa_public(&pair))
        }
    };
    let kid = thumbprint(&jwk_params(alg, &public)?);
    Ok(SigningKeyRecord {
        kid,
        alg,
        private_pkcs8: Zeroizing::new(pkcs8),
        public,
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}

fn rsa_public(pair: &RsaKeyPair) -> Vec<u8> {
    let pk = pair.public_key();
    let n = pk.modulus();
    let e = pk.exponent();
    let n = n.big_endian_without_leading_zero();
    let e = e.big_endian_without_leading_zero();
    let mut out = Vec::with_capacity(4 + n.len() + e.len());
    out.extend_from_slice(&(n.len() as u32).to_be_bytes());
    out.extend_from_slice(n);
    out.extend_from_slice(e);
    out
}

/// A new Ed25519 key.
pub fn generate_ed25519(now: UnixTime) -> Result<SigningKeyRecord, KeyError> {
    generate(SigningAlg::EdDSA, now)
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A parsed signing key.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    /// base64url of the JOSE header, computed once.
    header_b64: String,
    /// The key that seals opaque tokens, derived from this one.
    opaque: OpaqueKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_record(r: &SigningKeyRecord) -> Result<Self, KeyError> {
        let alg = r.alg;
        let bad = || KeyError::Unreadable { kid: r.kid.clone() };
        let pair = match alg {
            SigningAlg::EdDSA => {
                Pair::Ed(Ed25519KeyPair::from_pkcs8(&r.private_pkcs8).map_err(|_| bad())?)
            }
            SigningAlg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &r.private_pkcs8)
                    .map_err(|_| bad())?,
            ),
            SigningAlg::RS256 => {
                Pair::Rsa(RsaKeyPair::from_pkcs8(&r.private_pkcs8).map_err(|_| bad())?)
            }
        };
        let header = json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": r.kid}).to_string();
        Ok(Self {
            kid: r.kid.clone(),
            alg,
            pair,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            opaque: OpaqueKey::derive(&r.kid, &r.private_pkcs8)?,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// An opaque token holding `claims_json`, sealed under the key derived from this one.
    pub fn seal_opaque(&self, claims_json: &[u8]) -> Result<String, KeyError> {
        self.opaque.seal(claims_json)
    }

    /// A compact JWS of `claims_json` signed with this key.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> Result<String, KeyError> {
        let enc = &URL_SAFE_NO_PAD;
        let mut out =
            String::with_capacity(self.header_b64.len() + claims_json.len() * 4 / 3 + 350);
        out.push_str(&self.header_b64);
        out.push('.');
        enc.encode_string(claims_json, &mut out);
        let rng = SystemRandom::new();
        let sig: Vec<u8> = match &self.pair {
            Pair::Ed(p) => p.sign(out.as_bytes()).as_ref().to_vec(),
            Pair::Ec(p) => p
                .sign(&rng, out.as_bytes())
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec(),
            Pair::Rsa(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                sig
            }
        };
        out.push('.');
        enc.encode_string(&sig, &mut out);
        Ok(out)
    }
}

/// A published public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    /// The JWK (with `kid`, `alg`, `use`).
    pub jwk: Value,
}

struct Verifier {
    alg: SigningAlg,
    key: jsonwebtoken::DecodingKey,
}

/// The keys in force: one current signing key and every key whose tokens may still be live.
pub struct KeyRing {
    current: Arc<SigningKey>,
    verifiers: HashMap<String, Verifier>,
    /// The opaque-token keys of the published keys but the current one (which holds its own).
    opaque: Vec<OpaqueKey>,
    public: Vec<PublicKey>,
    /// The earliest `publish_until` among published keys: the ring must be rebuilt then.
    next_change: Option<UnixTime>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.kid)
            .field("public", &self.public)
            .finish()
    }
}

impl KeyRing {
    /// Builds the ring from stored keys at `now`: the newest unretired key signs; every key still
    /// published verifies.
    pub fn from_records(records: &[SigningKeyRecord], now: UnixTime) -> Result<Self, KeyError> {
        // A key signs from its `created_at` (a scheduled rotation puts that in the future, so
        // verifiers can fetch the new key before any token uses it) until its `retired_at`.
        let signs_now =
            |r: &&SigningKeyRecord| r.created_at <= now && r.retired_at.is_none_or(|t| t > now);
        let current_rec = records
            .iter()
            .filter(signs_now)
            .max_by_key(|r| (r.created_at, r.kid.clone()))
            .or_else(|| {
                records
                    .iter()
                    .filter(|r| r.retired_at.is_none())
                    .max_by_key(|r| (r.created_at, r.kid.clone()))
            })
            .ok_or(KeyError::NoCurrentKey)?;
        let current = Arc::new(SigningKey::from_record(current_rec)?);
        let mut verifiers = HashMap::new();
        let mut opaque = Vec::new();
        let mut public = Vec::new();
        let mut next_change: Option<UnixTime> = None;
        for r in records {
            if r.publish_until.is_some_and(|t| t <= now) && r.kid != current_rec.kid {
                continue;
            }
            for t in [Some(r.created_at), r.retired_at, r.publish_until]
                .into_iter()
                .flatten()
                .filter(|t| *t > now)
            {
                next_change = Some(next_change.map_or(t, |n| n.min(t)));
            }
            let alg = r.alg;
            let bad = || KeyError::Unreadable { kid: r.kid.clone() };
            let params = jwk_params(alg, &r.public)?;
            let s = |k: &str| params[k].as_str().unwrap_or_default().to_owned();
            let key = match alg {
                SigningAlg::EdDSA => jsonwebtoken::DecodingKey::from_ed_components(&s("x")),
                SigningAlg::ES256 => {
                    jsonwebtoken::DecodingKey::from_ec_components(&s("x"), &s("y"))
                }
                SigningAlg::RS256 => {
                    jsonwebtoken::DecodingKey::from_rsa_components(&s("n"), &s("e"))
                }
            }
            .map_err(|_| bad())?;
            verifiers.insert(r.kid.clone(), Verifier { alg, key });
            if r.kid != current_rec.kid {
                opaque.push(OpaqueKey::derive(&r.kid, &r.private_pkcs8)?);
            }
            let mut jwk = params;
            if let Some(m) = jwk.as_object_mut() {
                m.insert("kid".into(), Value::String(r.kid.clone()));
                m.insert("alg".into(), Value::String(alg.as_str().into()));
                m.insert("use".into(), Value::String("sig".into()));
            }
            public.push(PublicKey {
                kid: r.kid.clone(),
                alg,
                jwk,
            });
        }
        Ok(Self {
            current,
            verifiers,
            opaque,
            public,
            next_change,
        })
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The verification key for `kid`, if it verifies tokens of `alg`.
    pub fn verifier(
        &self,
        kid: &str,
        alg: jsonwebtoken::Algorithm,
    ) -> Option<&jsonwebtoken::DecodingKey> {
        self.verifiers
            .get(kid)
            .filter(|v| jwt_alg(v.alg) == alg)
            .map(|v| &v.key)
    }

    /// The claims JSON inside an opaque token sealed under any published key.
    pub fn open_opaque(&self, token: &str) -> Result<Vec<u8>, opaque::OpenError> {
        opaque::open(
            token,
            std::iter::once(&self.current.opaque).chain(&self.opaque),
        )
    }

    /// The published public keys (the JWKS).
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }

    /// When the ring must be rebuilt because a key stops being published.
    pub fn next_change(&self) -> Option<UnixTime> {
        self.next_change
    }

    /// The algorithms of the published keys.
    pub fn algorithms(&self) -> Vec<SigningAlg> {
        let mut v: Vec<SigningAlg> = self.public.iter().map(|p| p.alg).collect();
        v.dedup();
        v
    }
}

/// Makes a new key of `alg` current. The previous current key(s) stop signing now and stay published
/// for `overlap_secs` (set it to at least the token lifetime so their tokens stay valid until `exp`).
pub async fn rotate(
    store: &dyn Store,
    alg: SigningAlg,
    overlap_secs: i64,
    now: UnixTime,
) -> Result<SigningKeyRecord, RotateError> {
    rotate_scheduled(store, alg, overlap_secs, 0, now).await
}

/// Like [`rotate`], but the new key is only published for `activate_after_secs` before it starts
/// signing: resource servers that cache the JWKS (commonly 30–60 s, and JWKS clients that refetch
/// for an unknown `kid` at most every 30 s) then know it before its first token arrives.
pub async fn rotate_scheduled(
    store: &dyn Store,
    alg: SigningAlg,
    overlap_secs: i64,
    activate_after_secs: i64,
    now: UnixTime,
) -> Result<SigningKeyRecord, RotateError> {
    let switch_at = now + activate_after_secs.max(0);
    let new = generate(alg, switch_at)?;
    store.insert_signing_key(&new).await?;
    store
        .retire_signing_keys(&new.kid, switch_at, switch_at + overlap_secs.max(0))
        .await?;
    Ok(new)
}

/// Rotation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// Key generation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(recs: &[SigningKeyRecord], now: i64) -> KeyRing {
        KeyRing::from_records(recs, now).unwrap()
    }

    #[test]
    fn ring_picks_newest_unretired_key() {
        let mut a = generate_ed25519(100).unwrap();
        let b = generate_ed25519(200).unwrap();
        let r = ring(&[a.clone(), b.clone()], 300);
        assert_eq!(r.current().kid(), b.kid);
        assert!(r.verifier(&a.kid, jsonwebtoken::Algorithm::EdDSA).is_some());
        a.retired_at = Some(150);
        a.publish_until = Some(1000);
        let r = ring(&[b.clone(), a.clone()], 300);
        assert_eq!(r.current().kid(), b.kid);
        assert_eq!(r.public_keys().len(), 2);
        assert_eq!(r.next_change(), Some(1000));
        // Past publish_until the old key is gone.
        let r = ring(&[b, a.clone()], 1000);
        assert_eq!(r.public_keys().len(), 1);
        assert!(r.verifier(&a.kid, jsonwebtoken::Algorithm::EdDSA).is_none());
    }

    #[test]
    fn scheduled_key_is_published_before_it_signs() {
        let mut old = generate_ed25519(100).unwrap();
        let new = generate_ed25519(200).unwrap(); // activates at 200
        old.retired_at = Some(200);
        old.publish_until = Some(800);
        let before = ring(&[old.clone(), new.clone()], 150);
        assert_eq!(
            before.current().kid(),
            old.kid,
            "old key signs until the switch"
        );
        assert_eq!(before.public_keys().len(), 2, "new key already published");
        assert_eq!(before.next_change(), Some(200));
        let after = ring(&[old.clone(), new.clone()], 200);
        assert_eq!(after.current().kid(), new.kid);
        assert_eq!(after.public_keys().len(), 2);
        assert_eq!(after.next_change(), Some(800));
    }

    #[test]
    fn empty_ring_is_an_error() {
        assert!(matches!(
            KeyRing::from_records(&[], 0),
            Err(KeyError::NoCurrentKey)
        ));
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let k = generate(alg, 1).unwrap();
            assert_eq!(k.kid.len(), 43);
            let r = ring(std::slice::from_ref(&k), 2);
            let jwt = r
                .current()
                .sign_jwt(br#"{"sub":"x","exp":99999999999}"#)
                .unwrap();
            let mut v = jsonwebtoken::Validation::new(jwt_alg(alg));
            v.validate_aud = false;
            v.required_spec_claims.clear();
            let key = r.verifier(&k.kid, jwt_alg(alg)).unwrap();
            let data = jsonwebtoken::decode::<Value>(&jwt, key, &v).unwrap();
            assert_eq!(data.claims["sub"], "x");
            // A verifier is never handed out for another algorithm.
            let other = if alg == SigningAlg::EdDSA {
                jsonwebtoken::Algorithm::RS256
            } else {
                jsonwebtoken::Algorithm::EdDSA
            };
            assert!(r.verifier(&k.kid, other).is_none());
            assert_eq!(r.public_keys()[0].jwk["use"], "sig");
        }
    }
}
