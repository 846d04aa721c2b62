//! The change feed: every write recorded, pruning, and several nodes on one database (no gaps under concurrent writers, the wake-up signal, reconnection; LISTEN/NOTIFY on PostgreSQL).

use std::collections::HashSet;
use std::sync::Arc;

use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::clock::ManualClock;
use tollgate_core::ids::ClientId;
use tollgate_core::model::{Change, ChangeKind, Credential};
use tollgate_core::store::Store;
use tollgate_store::testing::TestDatabase;

use crate::helpers::{Backend, T0, admin_over, env, has, ss, unknown_client};

async fn change_feed_records_every_write(b: Backend) {
    let e = env(b).await;
    let s0 = e.store.last_change_seq().await.unwrap();
    assert_eq!(s0, 0, "a fresh database has no changes");
    assert_eq!(e.store.changes_since(0, 100).await.unwrap(), Some(vec![]));

    let c = e.company("groups:read groups:write", None).await;
    let s1 = e.store.last_change_seq().await.unwrap();
    assert!(s1 > s0);
    let ch = e.store.changes_since(s0, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Company, &c.id.to_string()), "{ch:?}");

    let cred = e.credential(&c.id, "groups:read").await.credential;
    let key = cred.client_id.as_str();
    let s2 = e.store.last_change_seq().await.unwrap();
    assert!(s2 > s1);
    let ch = e.store.changes_since(s1, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Credential, key), "{ch:?}");
    assert!(ch.iter().all(|c| c.seq > s1 && c.seq <= s2));
    assert!(ch.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");

    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                scopes: Some(ss("groups:read")),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    let s3 = e.store.last_change_seq().await.unwrap();
    assert!(s3 > s2);
    let ch = e.store.changes_since(s2, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Company, &c.id.to_string()), "{ch:?}");

    e.admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some("renamed".into()),
                scopes: None,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let s4 = e.store.last_change_seq().await.unwrap();
    assert!(s4 > s3);
    assert!(has(
        &e.store.changes_since(s3, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    e.admin.rotate_secret(&cred.client_id, 0).await.unwrap();
    let s5 = e.store.last_change_seq().await.unwrap();
    assert!(s5 > s4);
    assert!(has(
        &e.store.changes_since(s4, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    // A write through another handle (another process) appears in the same feed.
    let other = admin_over(e.reopen().await, &e.clock).await;
    other.delete_credential(&cred.client_id).await.unwrap();
    let s6 = e.store.last_change_seq().await.unwrap();
    assert!(s6 > s5);
    assert!(has(
        &e.store.changes_since(s5, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    // Signing keys are in the feed too.
    let _authority = e.authority().await;
    let s7 = e.store.last_change_seq().await.unwrap();
    assert!(s7 > s6);
    let ch = e.store.changes_since(s6, 100).await.unwrap().unwrap();
    assert!(
        ch.iter().any(|c| c.kind == ChangeKind::SigningKey),
        "{ch:?}"
    );

    // `limit` is honoured and pages continue where they stopped.
    let all = e.store.changes_since(0, 10_000).await.unwrap().unwrap();
    assert_eq!(all.last().map(|c| c.seq), Some(s7));
    let first = e.store.changes_since(0, 2).await.unwrap().unwrap();
    assert_eq!(first, all[..2].to_vec());
    let next = e
        .store
        .changes_since(first[1].seq, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, all[2..4].to_vec());
}

async fn pruning_the_feed_forces_a_reload(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    e.credential(&c.id, "groups:read").await;
    let last = e.store.last_change_seq().await.unwrap();
    assert!(last > 0);

    // Keeping an hour prunes nothing written just now.
    e.store.prune_changes(3600).await.unwrap();
    let all = e.store.changes_since(0, 100).await.unwrap();
    assert!(all.is_some_and(|v| v.last().map(|c| c.seq) == Some(last)));

    // Keeping less than nothing prunes everything.
    e.store.prune_changes(-1).await.unwrap();
    assert_eq!(e.store.changes_since(0, 100).await.unwrap(), None);
    assert_eq!(e.store.changes_since(last - 1, 100).await.unwrap(), None);
    // A reader that had seen everything is not affected.
    assert_eq!(
        e.store.changes_since(last, 100).await.unwrap(),
        Some(vec![])
    );

    // New changes still get new, higher sequence numbers.
    e.credential(&c.id, "groups:read").await;
    let ch = e.store.changes_since(last, 100).await.unwrap().unwrap();
    assert!(!ch.is_empty());
    assert!(ch.iter().all(|c| c.seq > last), "{ch:?}");
    assert!(e.store.last_change_seq().await.unwrap() > last);
}

async fn authority_started_after_a_full_prune_does_not_reload_on_every_sync(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    // A first node creates the signing key; then the feed is pruned completely (a quiet period).
    drop(e.authority().await);
    e.store.prune_changes(-1).await.unwrap();

    // A node (re)started now must still be able to follow the feed incrementally.
    let authority = e.authority().await;
    authority
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap();
    let out = authority.sync(&*e.store).await.unwrap();
    assert!(
        !out.full_reload,
        "nothing changed, yet sync reloaded everything (last_change_seq = {})",
        e.store.last_change_seq().await.unwrap()
    );
}

async fn change_feed_has_no_gaps_under_concurrent_writers(b: Backend) {
    // Readers follow the feed by sequence number; a number that became visible after a higher one
    // would be skipped for good. Four "nodes" write at once, in transactions of several statements
    // (a company, then its root group), while a reader follows the feed.
    let e = env(b).await;
    let start = e.store.last_change_seq().await.unwrap();
    let mut nodes = vec![e.admin.clone()];
    for _ in 0..3 {
        nodes.push(admin_over(e.reopen().await, &e.clock).await);
    }
    let writers: Vec<_> = nodes
        .into_iter()
        .map(|admin| {
            tokio::spawn(async move {
                for i in 0..50 {
                    admin
                        .create_company(&format!("Company {i}"), None, None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut pos = start;
    let follow = |pos: &mut i64, seen: &mut HashSet<String>, batch: Vec<Change>| {
        for ch in batch {
            assert!(
                ch.seq > *pos,
                "feed went backwards: {} after {}",
                ch.seq,
                *pos
            );
            *pos = ch.seq;
            match ch.kind {
                ChangeKind::Company => {
                    assert!(seen.insert(ch.key.clone()), "{} seen twice", ch.key)
                }
                other => panic!("unexpected change {other:?}"),
            }
        }
    };
    while writers.iter().any(|w| !w.is_finished()) {
        let batch = e.store.changes_since(pos, 1000).await.unwrap().unwrap();
        follow(&mut pos, &mut seen, batch);
    }
    for w in writers {
        w.await.unwrap();
    }
    let rest = e.store.changes_since(pos, 1000).await.unwrap().unwrap();
    follow(&mut pos, &mut seen, rest);
    let all = e.store.list_companies().await.unwrap();
    assert_eq!(all.len(), 200);
    let missed: Vec<_> = all
        .iter()
        .filter(|c| !seen.contains(&c.id.to_string()))
        .collect();
    assert!(
        missed.is_empty(),
        "the reader skipped {} changes",
        missed.len()
    );
}

/// Waits until `rx` signals, at most `secs` seconds.
async fn signalled(rx: &mut tokio::sync::watch::Receiver<u64>, secs: u64) -> bool {
    tokio::time::timeout(std::time::Duration::from_secs(secs), rx.changed())
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Waits until the store's listener is up: writes to the feed until a write wakes `rx` (the signal
/// that a listener sends once connected may have gone by before `rx` was made).
async fn until_listening(store: &dyn Store, rx: &mut tokio::sync::watch::Receiver<u64>) {
    let client = unknown_client();
    for i in 0..50 {
        store
            .revoke_token(&format!("warm-up-{i}"), &client, T0 + 60)
            .await
            .unwrap();
        if tokio::time::timeout(std::time::Duration::from_millis(200), rx.changed())
            .await
            .is_ok()
        {
            // Let a notification of the same write that may follow the connect signal go by.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            rx.mark_unchanged();
            return;
        }
    }
    panic!("the change listener never started");
}

async fn writes_by_another_node_wake_subscribers_at_once(b: Backend) {
    let e = env(b).await;
    let Some(mut rx) = e.store.subscribe() else {
        // SQLite has no cross-process notifications: servers poll its feed.
        assert_eq!(b, Backend::Sqlite, "PostgreSQL must offer a wake-up signal");
        return;
    };
    until_listening(&*e.store, &mut rx).await;
    let other = admin_over(e.reopen().await, &e.clock).await;
    let started = std::time::Instant::now();
    let c = other.create_company("Acme", None, None).await.unwrap();
    assert!(signalled(&mut rx, 1).await, "no wake-up within 1 s");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let ch = e.store.changes_since(0, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Company, &c.id.to_string()), "{ch:?}");

    // A rolled-back write notifies nobody: the credential row goes in (and its trigger runs), then
    // its secret, whose id is taken, fails the transaction.
    let created = e.credential(&c.id, "groups:read").await;
    let taken = e
        .store
        .get_credential(&created.credential.client_id)
        .await
        .unwrap()
        .unwrap();
    let doomed = Credential {
        client_id: ClientId::generate().unwrap(),
        ..taken
    };
    let _ = signalled(&mut rx, 1).await;
    rx.mark_unchanged();
    let err = e.reopen().await.create_credential(&doomed).await;
    assert!(err.is_err(), "{err:?}");
    assert_eq!(
        e.store.get_credential(&doomed.client_id).await.unwrap(),
        None
    );
    assert!(
        !signalled(&mut rx, 1).await,
        "woken by a write that did not happen"
    );
}

async fn nodes_reconnect_after_the_database_drops_their_connections(b: Backend) {
    if b == Backend::Sqlite {
        return; // nothing to drop: the file is opened in-process
    }
    let db = TestDatabase::create().await.unwrap();
    let store = tollgate_store::open(db.url()).await.unwrap();
    let mut rx = store.subscribe().unwrap();
    until_listening(&*store, &mut rx).await;
    let clock = Arc::new(ManualClock::new(T0));
    let admin = admin_over(store.clone(), &clock).await;
    let c = admin.create_company("Acme", None, None).await.unwrap();
    let _ = signalled(&mut rx, 1).await;

    // A failover, a restart or a network cut: every session of the database is ended.
    assert!(
        db.disconnect_all().await.unwrap() >= 2,
        "pool and listener were connected"
    );
    // The listener reconnects on its own and says so (changes may have been missed meanwhile).
    assert!(
        signalled(&mut rx, 10).await,
        "no signal after the reconnect"
    );
    // The pool hands out working connections again.
    store.ping().await.unwrap();
    assert_eq!(store.get_company(&c.id).await.unwrap().unwrap().id, c.id);

    // Notifications flow again: a write by another node wakes this one.
    rx.mark_unchanged();
    let other = tollgate_store::open(db.url()).await.unwrap();
    let other = admin_over(other, &clock).await;
    other.create_company("Other", None, None).await.unwrap();
    assert!(
        signalled(&mut rx, 2).await,
        "no wake-up after the reconnect"
    );
}

on_both_backends! {
    change_feed_records_every_write,
    pruning_the_feed_forces_a_reload,
    authority_started_after_a_full_prune_does_not_reload_on_every_sync,
    change_feed_has_no_gaps_under_concurrent_writers multi_thread,
    writes_by_another_node_wake_subscribers_at_once,
    nodes_reconnect_after_the_database_drops_their_connections,
}
