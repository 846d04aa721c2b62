//! The key set: fetched at discovery, again every `refresh_interval`, and for a token whose `kid`
//! is unknown — in a single flight (concurrent misses wait for one fetch) and at most once per
//! `min_refetch_interval` (a flood of made-up `kid`s costs one fetch per interval).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::DiscoverError;
use crate::metrics::{Counters, bump};

/// A verification key and the one algorithm it verifies.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

type KeyMap = HashMap<String, Key>;

pub(crate) struct JwksCache {
    uri: String,
    http: reqwest::Client,
    algorithms: Vec<Algorithm>,
    keys: RwLock<Arc<KeyMap>>,
    /// Held during a fetch (single flight); holds when the last fetch started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
    timeout: Duration,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("uri", &self.uri)
            .field("keys", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn new(
        uri: String,
        http: reqwest::Client,
        algorithms: Vec<Algorithm>,
        min_refetch: Duration,
        timeout: Duration,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            uri,
            http,
            algorithms,
            keys: RwLock::new(Arc::default()),
            fetching: tokio::sync::Mutex::new(None),
            min_refetch,
            timeout,
            counters,
        }
    }

    fn current(&self) -> Arc<KeyMap> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The key `kid`, if the key set in hand has it.
    pub(crate) fn get(&self, kid: &str) -> Option<Key> {
        self.current().get(kid).cloned()
    }

    /// Fetches the key set now (discovery and the periodic refresh).
    pub(crate) async fn refresh(&self) -> Result<(), DiscoverError> {
        let mut last = self.fetching.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    /// The key `kid`, fetching the key set once if it is unknown and the last fetch is at least
    /// `min_refetch_interval` old.
    pub(crate) async fn get_or_refetch(&self, kid: &str) -> Option<Key> {
        if let Some(k) = self.get(kid) {
            return Some(k);
        }
        // Single flight: a miss during a fetch waits for it, then looks again.
        let mut last = self.fetching.lock().await;
        if let Some(k) = self.get(kid) {
            return Some(k);
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
            bump(&self.counters.unknown_kid_refused_fetches);
            return None;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "key set refetch failed");
        }
        self.get(kid)
    }

    async fn fetch(&self) -> Result<(), DiscoverError> {
        bump(&self.counters.jwks_fetches);
        *self
            .counters
            .jwks_last_fetch
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let result = self.fetch_inner().await;
        match result {
            Ok(map) => {
                let map = Arc::new(map);
                match self.keys.write() {
                    Ok(mut k) => *k = map,
                    Err(p) => *p.into_inner() = map,
                }
                Ok(())
            }
            Err(e) => {
                bump(&self.counters.jwks_fetch_failures);
                Err(e)
            }
        }
    }

    async fn fetch_inner(&self) -> Result<KeyMap, DiscoverError> {
        let set: Value = get_json(&self.http, &self.uri, self.timeout, "key set").await?;
        Ok(parse_key_set(&set, &self.algorithms))
    }
}

/// The usable keys of a JWK set: each with a `kid` and an `alg` we accept (a key without `alg`
/// gets the one its type implies). Symmetric keys and keys of other algorithms are skipped.
pub(crate) fn parse_key_set(set: &Value, accepted: &[Algorithm]) -> KeyMap {
    let mut map = KeyMap::new();
    for jwk in set["keys"].as_array().into_iter().flatten() {
        let s = |k: &str| jwk[k].as_str();
        let Some(kid) = s("kid") else { continue };
        if s("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let implied = match (s("kty"), s("crv")) {
            (Some("OKP"), Some("Ed25519")) => Some(Algorithm::EdDSA),
            (Some("EC"), Some("P-256")) => Some(Algorithm::ES256),
            (Some("RSA"), _) => Some(Algorithm::RS256),
            _ => None,
        };
        let alg = match s("alg") {
            Some("EdDSA") => Some(Algorithm::EdDSA),
            Some("ES256") => Some(Algorithm::ES256),
            Some("RS256") => Some(Algorithm::RS256),
            Some(_) => None,
            None => implied,
        };
        // The key's type must fit its algorithm (an RSA key labelled EdDSA is skipped).
        let Some(alg) = alg.filter(|a| Some(*a) == implied && accepted.contains(a)) else {
            continue;
        };
        let key = match alg {
            Algorithm::EdDSA => s("x").map(DecodingKey::from_ed_components),
            Algorithm::ES256 => s("x")
                .zip(s("y"))
                .map(|(x, y)| DecodingKey::from_ec_components(x, y)),
            Algorithm::RS256 => s("n")
                .zip(s("e"))
                .map(|(n, e)| DecodingKey::from_rsa_components(n, e)),
            _ => None,
        };
        match key {
            Some(Ok(key)) => {
                map.insert(kid.to_owned(), Key { alg, key });
            }
            _ => tracing::warn!(kid, "unreadable key in the key set; skipped"),
        }
    }
    map
}

/// GETs `url` and reads its JSON answer; `what` names the document in the error.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    timeout: std::time::Duration,
    what: &'static str,
) -> Result<T, DiscoverError> {
    let resp = http
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|source| DiscoverError::Http { what, source })?;
    if !resp.status().is_success() {
        return Err(DiscoverError::Status {
            what,
            status: resp.status().as_u16(),
        });
    }
    resp.json()
        .await
        .map_err(|source| DiscoverError::Http { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_unknown_and_mislabelled_keys_are_skipped() {
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "e", "alg": "EdDSA",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "r", "alg": "RS256",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "n", "alg": "none",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let all = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];
        let map = parse_key_set(&set, &all);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["e"]);
        assert!(parse_key_set(&set, &[Algorithm::RS256]).is_empty());
    }
}
