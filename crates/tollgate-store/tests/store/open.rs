//! Opening a store and its migrations: idempotent, concurrent first open, the server key, refused URLs.

use std::collections::HashSet;

use crate::helpers::{Backend, Env, env, fresh_db};

async fn migrations_are_idempotent_and_server_key_is_stable(b: Backend) {
    let e = env(b).await;
    let k1 = e.store.server_key().await.unwrap();
    assert!(k1.len() >= 32, "server key has {} bytes", k1.len());
    assert!(k1.iter().any(|b| *b != 0), "server key is not all zeros");
    assert_eq!(e.store.server_key().await.unwrap(), k1);
    let company = e.company("groups:read", None).await;

    // A second handle while the first is open: migrating again is a no-op.
    let second = e.reopen().await;
    second.ping().await.unwrap();
    assert_eq!(second.server_key().await.unwrap(), k1);
    assert_eq!(
        second.get_company(&company.id).await.unwrap(),
        Some(company.clone())
    );
    drop(second);

    // Close everything and open the file again.
    let Env {
        url,
        store,
        admin,
        _db,
        ..
    } = e;
    drop((store, admin));
    let third = tollgate_store::open(&url).await.unwrap();
    assert_eq!(third.server_key().await.unwrap(), k1);
    assert_eq!(third.list_companies().await.unwrap(), vec![company]);
}

async fn server_keys_differ_between_databases(b: Backend) {
    let a = env(b).await;
    let b2 = env(b).await;
    assert_ne!(
        a.store.server_key().await.unwrap(),
        b2.store.server_key().await.unwrap()
    );
}

async fn concurrent_first_open_of_a_fresh_file_succeeds(b: Backend) {
    // `open` promises to be safe "when several processes start at once" (SQLite: retries; PostgreSQL:
    // sqlx's advisory lock). The race is timing-dependent: several rounds make a lost race all but
    // certain to show.
    let rounds = if b == Backend::Sqlite { 10 } else { 4 };
    for round in 0..rounds {
        let (url, _db) = fresh_db(b).await;
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let store = tollgate_store::open(&url).await?;
                    // Every node then reads (or creates) the shared server key.
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(store.server_key().await?)
                })
            })
            .collect();
        let mut keys = HashSet::new();
        for t in tasks {
            let r = t.await.unwrap();
            assert!(r.is_ok(), "round {round}: concurrent open failed: {r:?}");
            keys.insert(r.unwrap());
        }
        assert_eq!(
            keys.len(),
            1,
            "round {round}: nodes disagree on the server key"
        );
    }
}

#[tokio::test]
async fn open_rejects_other_urls_without_echoing_credentials() {
    let err = tollgate_store::open("mysql://user:hunter2@db.example/tollgate")
        .await
        .unwrap_err();
    assert!(matches!(err, tollgate_store::OpenError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn an_unreachable_postgres_fails_to_open_without_echoing_credentials() {
    // Port 1 on loopback: nothing listens there.
    for url in [
        "postgres://user:hunter2@127.0.0.1:1/tollgate",
        "postgresql://user:hunter2@127.0.0.1:1/tollgate?sslmode=disable",
    ] {
        let err = tollgate_store::open(url).await.unwrap_err();
        assert!(
            matches!(err, tollgate_store::OpenError::Connect(_)),
            "{err:?}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}

on_both_backends! {
    migrations_are_idempotent_and_server_key_is_stable,
    server_keys_differ_between_databases,
    concurrent_first_open_of_a_fresh_file_succeeds multi_thread,
}
