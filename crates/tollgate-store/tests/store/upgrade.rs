//! Upgrading in place: a database made by the previous release (the migrations of main at bc67b5d,
//! which numbered 4 and 5 differently on the two backends and kept the feed's prune mark in
//! different places) opens with today's store, keeps its data, and behaves like a new one.

use std::path::Path;

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection};
use tollgate_store::testing::TestDatabase;

/// The migrations that existed at bc67b5d, per backend.
const OLD_SQLITE: &[&str] = &[
    "20261128000001_init.sql",
    "20261128000002_keys_and_revocations.sql",
    "20261128000003_people.sql",
    "20261128000004_groups_feed.sql",
];
const OLD_POSTGRES: &[&str] = &[
    "20261128000001_init.sql",
    "20261128000002_keys_and_revocations.sql",
    "20261128000003_people.sql",
    "20261128000004_signing_key_order.sql",
    "20261128000005_groups_feed.sql",
];

/// A migrator holding only `files` of `migrations/<backend>`.
async fn old_migrator(backend: &str, files: &[&str]) -> (tempfile::TempDir, Migrator) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for f in files {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let m = Migrator::new(dir.path()).await.unwrap();
    (dir, m)
}

/// Rows as the previous release wrote them (its own statements), on either backend: a company, a
/// credential with one secret, three signing keys added in an order that is neither their `kid`
/// nor their `created_at` order, and a change feed pruned through its last entry. `{blob}` and `{hash}`
/// stand for byte-string literals of the backend (see [`old_rows`]).
const OLD_ROWS: &[&str] = &[
    "INSERT INTO companies(id, name, scopes, max_credentials, created_at, updated_at) \
     VALUES ('0000000000000000000000a1', 'Acme', 'groups:read', 10, 100, 100)",
    "INSERT INTO credentials(client_id, company_id, label, scopes, created_at, updated_at) \
     VALUES ('old_client', '0000000000000000000000a1', 'Payroll', 'groups:read', 100, 100)",
    "INSERT INTO signing_keys(kid, alg, private_pkcs8, public, created_at) \
     VALUES ('k-b', 'EdDSA', {blob}, {blob}, 300)",
    "INSERT INTO signing_keys(kid, alg, private_pkcs8, public, created_at) \
     VALUES ('k-c', 'EdDSA', {blob}, {blob}, 100)",
    "INSERT INTO signing_keys(kid, alg, private_pkcs8, public, created_at) \
     VALUES ('k-a', 'EdDSA', {blob}, {blob}, 200)",
    "INSERT INTO credential_secrets(id, client_id, hash, created_at) \
     VALUES ('sec_old', 'old_client', {hash}, 100)",
];

/// [`OLD_ROWS`] in a backend's words: `blob` a short byte string, `hash` 32 zero bytes.
fn old_rows(blob: &str, hash: &str) -> Vec<AssertSqlSafe<String>> {
    OLD_ROWS
        .iter()
        .map(|s| AssertSqlSafe(s.replace("{blob}", blob).replace("{hash}", hash)))
        .collect()
}

async fn check_upgraded(url: &str, pruned_through: i64) {
    let store = tollgate_store::open(url).await.expect("upgrade in place");
    // The data is all there.
    let creds = store.list_all_credentials().await.unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].client_id.as_str(), "old_client");
    assert_eq!(creds[0].secrets.len(), 1, "the secret came along");
    assert_eq!(store.list_companies().await.unwrap().len(), 1);
    assert_eq!(store.signing_keys().await.unwrap().len(), 3);
    // The prune mark moved with the data: a reader behind it must reload, none past it.
    assert!(store.last_change_seq().await.unwrap() >= pruned_through);
    assert_eq!(
        store.changes_since(pruned_through - 1, 10).await.unwrap(),
        None,
        "a position before the prune mark must force a reload"
    );
    assert!(
        store
            .changes_since(store.last_change_seq().await.unwrap(), 10)
            .await
            .unwrap()
            .is_some()
    );
    // The insertion order survived: of the unretired keys, the one added last (k-a) is kept, even
    // when a rotation asks to keep an older one.
    store.retire_signing_keys("k-b", 500, 600).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    let current: Vec<_> = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(current, ["k-a"]);
    // New keys are ordered after the old ones.
    let mut newer = keys[0].clone();
    newer.kid = "k-0".into();
    newer.retired_at = None;
    newer.publish_until = None;
    store.insert_signing_key(&newer).await.unwrap();
    store.retire_signing_keys("k-0", 700, 800).await.unwrap();
    let current: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.kid)
        .collect();
    assert_eq!(current, ["k-0"]);
    // Reopening is a no-op.
    drop(store);
    let again = tollgate_store::open(url).await.expect("reopen");
    assert_eq!(again.signing_keys().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_release_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let (_m, old) = old_migrator("sqlite", OLD_SQLITE).await;
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let mut conn = sqlx::SqliteConnection::connect_with(&opts.create_if_missing(true))
        .await
        .unwrap();
    old.run(&mut conn).await.unwrap();
    for sql in old_rows("X'78'", "zeroblob(32)") {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    // The previous release's prune: entries deleted, the mark in `settings`.
    let through: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM change_log WHERE seq <= ?")
        .bind(through)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO settings(name, value) VALUES ('change_log_pruned_through', ?) \
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    )
    .bind(through)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    check_upgraded(&url, through).await;
}

#[tokio::test]
async fn a_postgres_database_of_the_previous_release_upgrades_in_place() {
    let db = TestDatabase::create()
        .await
        .expect("PostgreSQL test database");
    let (_m, old) = old_migrator("postgres", OLD_POSTGRES).await;
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    old.run(&mut conn).await.unwrap();
    for sql in old_rows("'\\x78'::bytea", "decode(repeat('00', 32), 'hex')") {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let through: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM change_log WHERE seq <= $1")
        .bind(through)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO change_log_pruned(only_row, through) VALUES (TRUE, $1) \
         ON CONFLICT (only_row) \
         DO UPDATE SET through = GREATEST(change_log_pruned.through, excluded.through)",
    )
    .bind(through)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    check_upgraded(db.url(), through).await;
}
