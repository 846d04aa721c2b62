//! A credential created, or a secret rotated, on one node works on every node at once: a node that
//! does not know a client (or the credential of a genuine token) reads the store's change feed
//! before refusing. Two nodes on one database whose periodic feed poll is slowed to a minute, so
//! only the catch-up can make these pass (on SQLite nothing else tells a node; on PostgreSQL
//! LISTEN/NOTIFY may win the race, which is fine).

use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use serde_json::json;
use tollgate_core::authority::CATCH_UP_SPACING;
use tollgate_core::clock::{Clock, ManualClock, SystemClock};

use crate::helpers::{self, Backend, Cred, TestApp, TestDb, error_of};

async fn two_nodes() -> (TestApp, TestApp) {
    let (url, db) = helpers::fresh_database(Backend::from_env()).await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    // One issuer, as behind a load balancer.
    let slow = |s: &mut tollgate_server::Settings| {
        s.issuer = Some("https://tollgate.cluster.test".into());
        s.sync_interval_ms = 60_000;
    };
    let a = helpers::spawn_node(url.clone(), db, clock.clone(), slow).await;
    let b = helpers::spawn_node(url, TestDb::Shared, clock, slow).await;
    (a, b)
}

async fn catch_ups(node: &TestApp) -> u64 {
    node.metric("tollgate_directory_catch_ups_total").await as u64
}

/// A credential made through node `a`'s admin, without syncing any other node.
async fn created_on(a: &TestApp, scopes: &str) -> Cred {
    let company = a.company("groups:read groups:write").await;
    a.credential_in(company, scopes).await
}

#[tokio::test]
async fn a_credential_created_on_one_node_obtains_a_token_on_another_at_once() {
    let (a, b) = two_nodes().await;
    let before = catch_ups(&b).await;
    let cred = created_on(&a, "groups:read").await;
    let r = b.request_token(&cred).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let after = catch_ups(&b).await;
    if Backend::from_env() == Backend::Sqlite {
        assert_eq!(after, before + 1, "nothing else tells a SQLite node");
    } else {
        assert!(after <= before + 1, "NOTIFY may have come first");
    }
    // Known now: the next request needs no catch-up.
    assert_eq!(b.request_token(&cred).await.status(), 200);
    assert_eq!(catch_ups(&b).await, after);
}

#[tokio::test]
async fn a_token_issued_on_one_node_is_accepted_by_another_at_once() {
    let (a, b) = two_nodes().await;
    let cred = created_on(&a, "groups:read").await;
    let token = a.token(&cred).await;
    let r = b
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Introspection by a credential created on the other node, of a token of its own company.
    let v = b.introspect(&cred, &token).await;
    assert_eq!(v["active"], true, "{v}");
}

#[tokio::test]
async fn a_secret_rotated_on_one_node_works_on_another_at_once_and_the_old_one_does_not() {
    let (a, b) = two_nodes().await;
    let cred = created_on(&a, "groups:read").await;
    let old_token = b.token(&cred).await;
    let rotated = a
        .admin
        .rotate_secret(&helpers::client_id(&cred), 0)
        .await
        .unwrap();
    let new = Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        ..cred.clone()
    };
    let r = b.request_token(&new).await;
    assert_eq!(r.status(), 200, "the new secret, at once");
    // That catch-up also brought the rotation: the old secret and its token are refused.
    let (status, body, _) = error_of(b.request_token(&cred).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = b
        .api(Method::GET, "/api/v2/groups", &old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_flood_of_unknown_client_ids_costs_a_bounded_number_of_feed_reads() {
    let (_a, b) = two_nodes().await;
    let before = catch_ups(&b).await;
    let started = Instant::now();
    let requests = (0..200).map(|i| {
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": format!("no-such-client-{i}"),
            "client_secret": "tgsec_wrong",
        });
        let b = &b;
        async move { b.post_token_json(&body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let spent = catch_ups(&b).await - before;
    // One catch-up per spacing at most (plus the one that may start at once).
    let bound = 1 + (elapsed.as_millis() / CATCH_UP_SPACING.as_millis()) as u64;
    assert!(
        spent >= 1 && spent <= bound,
        "{spent} catch-ups for 200 unknown IDs in {elapsed:?} (at most {bound})"
    );
}
