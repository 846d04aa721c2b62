//! The revocation feed: what tollgate revokes, deletes, rotates or narrows is refused by the
//! middleware within 1 s; the subscriber survives a restart; an outage past `max_staleness` fails
//! closed (or open).

use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use tollgate_core::admin::{Admin, CredentialChanges};
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::SystemClock;
use tollgate_core::secret::SecretHasher;
use tollgate_middleware::{FailMode, Rejection, Verifier};

use crate::helpers::{self, eventually};

/// The bound: a change must be refused within 1 s.
const WITHIN: Duration = Duration::from_secs(1);

async fn refused(v: &Verifier, token: &str, what: &str) {
    eventually(WITHIN, what, || async {
        v.verify(token).await == Err(Rejection::Revoked)
    })
    .await;
}

#[tokio::test]
async fn revoked_deleted_rotated_and_narrowed_are_refused_within_one_second() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let revoked = app.credential("users:read users:write").await;
    let deleted = app.credential("users:read").await;
    let rotated = app.credential("users:read").await;
    let narrowed = app.credential("users:read users:write").await;
    let v = app.subscribed(|_| {}).await;
    let t_revoked = app.token(&revoked).await;
    let t_kept = app.token_for(&revoked, Some("users:read")).await;
    let t_deleted = app.token(&deleted).await;
    let t_rotated = app.token(&rotated).await;
    let t_narrowed = app.token(&narrowed).await;
    for t in [&t_revoked, &t_kept, &t_deleted, &t_rotated, &t_narrowed] {
        assert!(v.verify(t).await.is_ok(), "accepted before any change");
    }

    // RFC 7009: this token only.
    app.revoke(&revoked, &t_revoked).await;
    refused(&v, &t_revoked, "revoked token").await;
    assert!(
        v.verify(&t_kept).await.is_ok(),
        "another token of the same credential"
    );

    app.admin.delete_credential(&deleted.id()).await.unwrap();
    refused(&v, &t_deleted, "deleted credential").await;

    // Rotation without grace: the old secret's tokens go, the new secret's are accepted.
    let new = app.admin.rotate_secret(&rotated.id(), 0).await.unwrap();
    refused(&v, &t_rotated, "rotated-away secret").await;
    let fresh = app
        .token(&helpers::Cred {
            company: rotated.company,
            client_id: rotated.client_id.clone(),
            secret: new.secret.expose_secret().to_owned(),
        })
        .await;
    eventually(WITHIN, "the new secret's token", || async {
        v.verify(&fresh).await.is_ok()
    })
    .await;

    // Narrowing the credential's scopes: the token stays valid, the scope is no longer in force.
    app.admin
        .update_credential(
            &narrowed.id(),
            CredentialChanges {
                scopes: Some("users:read".parse().unwrap()),
                ..CredentialChanges::default()
            },
        )
        .await
        .unwrap();
    eventually(WITHIN, "credential narrowed", || async {
        v.verify(&t_narrowed)
            .await
            .is_ok_and(|c| c.require("users:write").is_err() && c.has("users:read"))
    })
    .await;
    // Narrowing the company's ceiling.
    app.admin
        .update_company(
            &narrowed.company,
            tollgate_core::admin::CompanyChanges {
                scopes: Some("users:write".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    eventually(WITHIN, "ceiling narrowed", || async {
        v.verify(&t_narrowed)
            .await
            .is_ok_and(|c| c.scopes.is_empty())
    })
    .await;

    let m = v.metrics();
    assert!(m.feed_connected && !m.feed_stale, "{m:?}");
    assert!(m.revoked_refusals >= 3 && m.feed_events >= 4, "{m:?}");
}

#[tokio::test]
async fn a_change_by_another_writer_reaches_the_middleware_through_the_change_feed() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let v = app.subscribed(|_| {}).await;
    let token = app.token(&cred).await;
    assert!(v.verify(&token).await.is_ok());
    // An Admin without the node's directory, as the CLI or another node: the node learns of the
    // deletion from the store's change feed only.
    let other_writer = Admin::new(
        app.store.clone(),
        Arc::new(ScopeCatalog::default()),
        SecretHasher::new(&app.store.server_key().await.unwrap()),
        Arc::new(SystemClock),
    );
    other_writer.delete_credential(&cred.id()).await.unwrap();
    refused(&v, &token, "deleted by another writer").await;
}

#[tokio::test]
async fn the_subscriber_reconnects_after_a_restart_and_sees_what_changed_meanwhile() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let addr = app.addr;
    let gone = app.credential("users:read").await;
    let kept = app.credential("users:read users:write").await;
    let v = app
        .subscribed(|f| f.max_staleness = Duration::from_secs(30))
        .await;
    let t_gone = app.token(&gone).await;
    let t_kept = app.token(&kept).await;
    let t_later = app.token_for(&kept, Some("users:read")).await;
    assert!(v.verify(&t_gone).await.is_ok());
    let store = app.store.clone();
    app.stop().await;
    eventually(
        Duration::from_secs(5),
        "the feed notices the stop",
        || async { !v.metrics().feed_connected },
    )
    .await;

    // While tollgate is down, another writer (as the CLI would) deletes a credential.
    let offline = Admin::new(
        store.clone(),
        Arc::new(ScopeCatalog::default()),
        SecretHasher::new(&store.server_key().await.unwrap()),
        Arc::new(SystemClock),
    );
    offline.delete_credential(&gone.id()).await.unwrap();
    assert!(
        v.verify(&t_gone).await.is_ok(),
        "within max_staleness the last state holds"
    );

    // The same database and address: the issuer stays the same.
    let app = helpers::start(&url, addr).await;
    refused(&v, &t_gone, "deleted while tollgate was down").await;
    assert!(v.verify(&t_kept).await.is_ok());
    let m = v.metrics();
    assert!(m.feed_connects >= 2 && m.feed_snapshots >= 2, "{m:?}");

    // And it follows the new server's changes.
    app.revoke(&kept, &t_later).await;
    refused(&v, &t_later, "revoked after the restart").await;
    assert!(v.verify(&t_kept).await.is_ok());
}

#[tokio::test]
async fn a_reconnect_resumes_from_its_cursor_without_a_snapshot() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    // Shorter than tollgate's keep-alive (5 s): the subscriber takes the idle feed for dead and
    // reconnects, with its cursor.
    let v = app
        .subscribed(|f| f.idle_timeout = Duration::from_millis(150))
        .await;
    eventually(Duration::from_secs(5), "reconnected twice", || async {
        v.metrics().feed_connects >= 3
    })
    .await;
    assert_eq!(v.metrics().feed_snapshots, 1, "resumed, no second snapshot");
    let token = app.token(&cred).await;
    assert!(
        v.verify(&token).await.is_ok(),
        "a credential created before"
    );
    // A credential created now is known as soon as its event arrives.
    let newer = app.credential("users:read").await;
    let newer_token = app.token(&newer).await;
    eventually(
        WITHIN,
        "a credential created after the snapshot",
        || async { v.verify(&newer_token).await.is_ok() },
    )
    .await;
    app.revoke(&cred, &token).await;
    refused(&v, &token, "revoked").await;
}

#[tokio::test]
async fn when_its_token_expires_the_subscriber_is_cut_off_and_authenticates_again() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let token = app.token(&cred).await;
    let v = app.subscribed(|_| {}).await;
    // Past the feed token's lifetime by tollgate's clock: the server ends the stream, refuses
    // the old token (401), and the subscriber takes a new one.
    app.clock.advance(3601);
    eventually(
        Duration::from_secs(5),
        "reconnected with a new token",
        || async {
            let m = v.metrics();
            m.feed_connects >= 2 && m.feed_connected
        },
    )
    .await;
    app.admin.delete_credential(&cred.id()).await.unwrap();
    refused(&v, &token, "deleted after the re-authentication").await;
}

#[tokio::test]
async fn an_outage_past_max_staleness_fails_closed_by_default_or_open_if_configured() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let bound = Duration::from_millis(300);
    let closed = app.subscribed(|f| f.max_staleness = bound).await;
    let open = app
        .subscribed(|f| {
            f.max_staleness = bound;
            f.fail_mode = FailMode::Open;
        })
        .await;
    let token = app.token(&cred).await;
    assert!(closed.verify(&token).await.is_ok());
    assert!(open.verify(&token).await.is_ok());
    app.stop().await;

    eventually(Duration::from_secs(5), "stale", || async {
        closed.metrics().feed_stale && open.metrics().feed_stale
    })
    .await;
    assert_eq!(closed.verify(&token).await, Err(Rejection::Unavailable));
    let c = open.verify(&token).await.unwrap();
    assert!(c.has("users:read"), "the token's own scopes");
    let (cm, om) = (closed.metrics(), open.metrics());
    assert!(!cm.feed_connected && cm.fail_closed_refusals >= 1, "{cm:?}");
    assert!(
        om.fail_open_accepts >= 1 && om.fail_closed_refusals == 0,
        "{om:?}"
    );

    // Failing closed answers 503 in tollgate's envelope.
    let resp = Rejection::Unavailable.into_response();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
}

#[tokio::test]
async fn before_its_first_snapshot_a_closed_verifier_refuses() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    // A feed credential without the reserved scope never gets a snapshot.
    let wrong = app.credential("users:read").await;
    let mut feed = app.feed_options().await;
    feed.client_id = wrong.client_id.clone();
    feed.client_secret = tollgate_proto::ClientSecret::new(wrong.secret.clone());
    let v = app
        .verifier(tollgate_middleware::Options::default().feed(feed))
        .await;
    let token = app.token(&cred).await;
    assert_eq!(v.verify(&token).await, Err(Rejection::Unavailable));
    assert!(v.metrics().feed_stale);
}
