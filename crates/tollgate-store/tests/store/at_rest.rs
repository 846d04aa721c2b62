//! Keys at rest: with a key-encryption key (KEK) the database holds no signing key and no server key
//! in the clear; the database alone (no KEK, or a wrong one) opens but yields no key, with an error
//! naming the KEK it needs; two KEKs and `rewrap_keys` move every row to the newest; a database
//! written before KEKs existed keeps working and is sealed by `rewrap_keys`.

use std::sync::Arc;

use sqlx::Connection as _;
use tollgate_core::kek::{AtRest, KeyWrap, WrapError, generate_text};
use tollgate_core::keys::{self, SigningAlg};
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::{Store, StoreError};

use crate::helpers::{Backend, Env, T0, env_with, settings};

fn kek() -> (zeroize::Zeroizing<String>, KeyWrap) {
    let text = generate_text().unwrap();
    let wrap = KeyWrap::parse(&text).unwrap();
    (text, wrap)
}

/// `KeyWrap` of several KEKs' texts, the first sealing.
fn keks(texts: &[&str]) -> KeyWrap {
    KeyWrap::parse(&texts.join(",")).unwrap()
}

/// The stored bytes as the database holds them: `[server key, private parts of the signing keys by
/// kid]`, read without tollgate.
async fn raw_rows(url: &str) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    const SERVER: &str = "SELECT value FROM settings WHERE name = 'server_key'";
    const KEYS: &str = "SELECT kid, private_pkcs8 FROM signing_keys ORDER BY kid";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        let server: (Vec<u8>,) = sqlx::query_as(SERVER).fetch_one(&mut c).await.unwrap();
        let keys: Vec<(String, Vec<u8>)> = sqlx::query_as(KEYS).fetch_all(&mut c).await.unwrap();
        (server.0, keys)
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let server: (Vec<u8>,) = sqlx::query_as(SERVER).fetch_one(&mut c).await.unwrap();
        let keys: Vec<(String, Vec<u8>)> = sqlx::query_as(KEYS).fetch_all(&mut c).await.unwrap();
        (server.0, keys)
    }
}

/// A server key and three signing keys (one of each algorithm) in `store`.
async fn keys_in(store: &dyn Store) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let server = store.server_key().await.unwrap();
    for alg in [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256] {
        keys::rotate(store, alg, 3600, T0).await.unwrap();
    }
    (server, private_parts(store).await)
}

async fn private_parts(store: &dyn Store) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.private_pkcs8.to_vec()))
        .collect();
    v.sort();
    v
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A token issued by an authority over `store`, and an authority over `other` that must verify it.
async fn token_verifies_across(e: &Env, store: &Arc<dyn Store>, other: &Arc<dyn Store>) {
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let load = |s: Arc<dyn Store>| async move {
        let hasher = SecretHasher::new(&s.server_key().await.unwrap());
        tollgate_core::authority::Authority::load(&*s, hasher, e.clock.clone(), settings())
            .await
            .unwrap()
    };
    let issuer = load(store.clone()).await;
    let t = issuer
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap();
    let verifier = load(other.clone()).await;
    verifier.authorize(&t.access_token).unwrap();
    // The other store's server key checks the client's secret too.
    verifier
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap();
}

async fn with_a_kek_the_database_holds_no_key_in_the_clear(b: Backend) {
    let (_, wrap) = kek();
    let primary = wrap.primary().unwrap();
    let e = env_with(b, wrap).await;
    let (server, private) = keys_in(&*e.store).await;
    let (raw_server, raw_keys) = raw_rows(&e.url).await;
    assert_eq!(AtRest::of(&raw_server), AtRest::Sealed(primary));
    assert!(!contains(&raw_server, &server));
    assert_eq!(raw_keys.len(), private.len());
    for ((kid, raw), (kid2, pkcs8)) in raw_keys.iter().zip(&private) {
        assert_eq!(kid, kid2);
        assert_eq!(AtRest::of(raw), AtRest::Sealed(primary), "{kid}");
        assert!(!contains(raw, &pkcs8[pkcs8.len() / 2..]), "{kid}");
        // What a thief reads is no key aws-lc would sign with.
        assert!(aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(raw).is_err());
    }
    if b == Backend::Sqlite {
        // The whole file (and its write-ahead log): no private part, no server key, anywhere.
        let path = e.url.trim_start_matches("sqlite://").to_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        assert!(!contains(&bytes, &server), "the server key is in the file");
        for (kid, pkcs8) in &private {
            // The second half of the DER: the private scalar or seed, never the public key alone
            // (Ed25519's PKCS#8 v2 ends with the public key, so only the seed is checked there).
            let secret_part = if pkcs8.len() == 85 {
                &pkcs8[16..48]
            } else {
                &pkcs8[pkcs8.len() / 3..pkcs8.len() / 2]
            };
            assert!(
                !contains(&bytes, secret_part),
                "{kid}'s private key is in the file"
            );
        }
    }
    let census = e.store.keys_at_rest().await.unwrap();
    assert_eq!(census.plain, 0);
    assert_eq!(census.sealed.get(&primary), Some(&4));
    assert_eq!(census.not_under_primary(), 0);
}

async fn the_database_alone_yields_no_key(b: Backend) {
    let (_, wrap) = kek();
    let id = wrap.primary().unwrap().to_string();
    let e = env_with(b, wrap).await;
    keys_in(&*e.store).await;

    let alone = e.reopen_with(KeyWrap::none()).await;
    let err = tollgate_core::store::check_keys_at_rest(&*alone)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::KeyWrap(WrapError::NoKek { .. })),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&id) && msg.contains("TOLLGATE_SECRETS_KEY"),
        "{msg}"
    );
    let err = alone.server_key().await.unwrap_err();
    assert!(
        err.to_string().contains("the server key is encrypted"),
        "{err}"
    );
    let err = alone.signing_keys().await.unwrap_err();
    assert!(err.to_string().contains("signing key "), "{err}");
    let hasher = SecretHasher::new(&[0u8; 32]);
    let r = tollgate_core::authority::Authority::load(&*alone, hasher, e.clock.clone(), settings())
        .await;
    assert!(
        r.is_err(),
        "an authority over the database alone must not load"
    );

    // A wrong KEK: refused, naming the KEK the rows need.
    let (_, wrong) = kek();
    let other = e.reopen_with(wrong.clone()).await;
    let err = tollgate_core::store::check_keys_at_rest(&*other)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, StoreError::KeyWrap(WrapError::UnknownKek { .. })),
        "{msg}"
    );
    assert!(
        msg.contains(&id) && msg.contains(&wrong.primary().unwrap().to_string()),
        "{msg}"
    );
    assert!(other.server_key().await.is_err());
    assert!(other.signing_keys().await.is_err());
}

async fn two_keks_rewrap_then_the_old_one_goes(b: Backend) {
    let (old_t, old) = kek();
    let (new_t, new) = kek();
    let e = env_with(b, old.clone()).await;
    let (server, private) = keys_in(&*e.store).await;

    let both = e.reopen_with(keks(&[&new_t, &old_t])).await;
    assert_eq!(both.server_key().await.unwrap(), server);
    assert_eq!(private_parts(&*both).await, private);
    let census = tollgate_core::store::check_keys_at_rest(&*both)
        .await
        .unwrap();
    assert_eq!(census.not_under_primary(), 4);
    let done = both.rewrap_keys().await.unwrap();
    assert_eq!((done.changed, done.unchanged), (4, 0));
    let again = both.rewrap_keys().await.unwrap();
    assert_eq!(
        (again.changed, again.unchanged),
        (0, 4),
        "rewrap is idempotent"
    );
    let (raw_server, raw_keys) = raw_rows(&e.url).await;
    let primary = new.primary().unwrap();
    assert_eq!(AtRest::of(&raw_server), AtRest::Sealed(primary));
    assert!(
        raw_keys
            .iter()
            .all(|(_, r)| AtRest::of(r) == AtRest::Sealed(primary))
    );

    // The old KEK removed: everything still reads, and a token of before still verifies.
    let only_new = e.reopen_with(new).await;
    tollgate_core::store::check_keys_at_rest(&*only_new)
        .await
        .unwrap();
    assert_eq!(only_new.server_key().await.unwrap(), server);
    assert_eq!(private_parts(&*only_new).await, private);
    token_verifies_across(&e, &both, &only_new).await;
    // And the old KEK alone no longer reads anything.
    let only_old = e.reopen_with(old).await;
    assert!(matches!(
        only_old.server_key().await,
        Err(StoreError::KeyWrap(WrapError::UnknownKek { .. }))
    ));
}

async fn a_plaintext_database_works_under_a_kek_and_rewrap_seals_it(b: Backend) {
    let e = env_with(b, KeyWrap::none()).await;
    let server = e.store.server_key().await.unwrap();
    keys::rotate(&*e.store, SigningAlg::EdDSA, 3600, T0)
        .await
        .unwrap();
    let private = private_parts(&*e.store).await;
    let (raw_server, raw_keys) = raw_rows(&e.url).await;
    assert_eq!(
        raw_server, server,
        "without a KEK the server key is stored as it is"
    );
    assert_eq!(raw_keys[0].1, private[0].1);

    let (_, wrap) = kek();
    let primary = wrap.primary().unwrap();
    let sealed = e.reopen_with(wrap).await;
    let census = tollgate_core::store::check_keys_at_rest(&*sealed)
        .await
        .unwrap();
    assert_eq!(census.plain, 2);
    assert_eq!(sealed.server_key().await.unwrap(), server);
    assert_eq!(private_parts(&*sealed).await, private);
    token_verifies_across(&e, &e.store, &sealed).await;
    // A key added now is sealed at once, beside the plaintext ones.
    keys::rotate(&*sealed, SigningAlg::EdDSA, 3600, T0 + 10)
        .await
        .unwrap();
    let census = sealed.keys_at_rest().await.unwrap();
    assert_eq!((census.plain, census.sealed.get(&primary)), (2, Some(&1)));

    let done = sealed.rewrap_keys().await.unwrap();
    assert_eq!((done.changed, done.unchanged), (2, 1));
    let (raw_server, raw_keys) = raw_rows(&e.url).await;
    assert_eq!(AtRest::of(&raw_server), AtRest::Sealed(primary));
    assert!(
        raw_keys
            .iter()
            .all(|(_, r)| AtRest::of(r) == AtRest::Sealed(primary))
    );
    assert_eq!(sealed.server_key().await.unwrap(), server);
    // The database alone is now useless.
    assert!(
        e.reopen_with(KeyWrap::none())
            .await
            .server_key()
            .await
            .is_err()
    );
}

async fn a_row_copied_over_another_does_not_open(b: Backend) {
    let (_, wrap) = kek();
    let e = env_with(b, wrap).await;
    keys_in(&*e.store).await;
    let (_, raw_keys) = raw_rows(&e.url).await;
    // Someone with write access to the database puts key A's sealed bytes in key B's row.
    let (a, b_kid) = (&raw_keys[0].1, &raw_keys[1].0);
    let sql = "UPDATE signing_keys SET private_pkcs8 = $1 WHERE kid = $2";
    if e.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&e.url).await.unwrap();
        sqlx::query(sql)
            .bind(a)
            .bind(b_kid)
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&e.url).await.unwrap();
        sqlx::query(sql)
            .bind(a)
            .bind(b_kid)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let err = e.store.signing_keys().await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyWrap(WrapError::Tampered { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(b_kid.as_str()), "{err}");
}

on_both_backends!(
    with_a_kek_the_database_holds_no_key_in_the_clear,
    the_database_alone_yields_no_key,
    two_keks_rewrap_then_the_old_one_goes,
    a_plaintext_database_works_under_a_kek_and_rewrap_seals_it,
    a_row_copied_over_another_does_not_open,
);
