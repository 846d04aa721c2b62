//! Webhooks in the store: endpoints, the outbox (an audit entry queues one delivery per endpoint
//! that takes its event, in its own transaction), claims that hand each delivery to one sender,
//! attempts and retries, rotation's two secrets, secrets sealed at rest, expiry warnings once.

use tollgate_core::accounts::{AdminActor, AuditAction};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::clock::Clock as _;
use tollgate_core::kek::{AtRest, Kek, KeyWrap};
use tollgate_core::store::StoreError;
use tollgate_core::webhooks::{
    AttemptOutcome, DeliveryStatus, EventType, NextStep, WebhookError, Webhooks, signature,
};

use crate::helpers::{Backend, T0, env, env_with};

fn webhooks(e: &crate::helpers::Env) -> Webhooks {
    Webhooks::new(e.store.clone(), e.clock.clone())
}

async fn audit_entries_queue_one_delivery_per_subscribed_endpoint(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let other = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let w = webhooks(&e);
    let all = w
        .create(
            &admin,
            "https://hooks.example.com/all",
            &["credential.created", "credential.rotated"],
        )
        .await
        .unwrap();
    let rotations = w
        .create(
            &admin,
            "https://hooks.example.com/rot",
            &["credential.rotated"],
        )
        .await
        .unwrap();
    let off = w
        .create(
            &admin,
            "https://hooks.example.com/off",
            &["credential.created"],
        )
        .await
        .unwrap();
    w.update(
        &admin,
        &off.webhook.id.to_string(),
        tollgate_core::webhooks::WebhookChanges {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Another company's endpoint hears nothing of this one's credentials.
    let theirs = w
        .create(
            &AdminActor::operator(other.id),
            "https://other.example.com/",
            &["credential.created"],
        )
        .await
        .unwrap();

    let cred = e.credential(&c.id, "groups:read").await.credential;
    e.store
        .append_audit(&admin.event(AuditAction::CredentialCreated, cred.client_id.as_str(), T0))
        .await
        .unwrap();
    e.store
        .append_audit(&admin.event(
            AuditAction::CredentialRotated,
            format!("{} (grace 60s)", cred.client_id),
            T0,
        ))
        .await
        .unwrap();
    e.store
        .append_audit(&admin.event(AuditAction::LoginSucceeded, "ada@example.com", T0))
        .await
        .unwrap();

    let list = |id: tollgate_core::ids::WebhookId| {
        let store = e.store.clone();
        async move { store.list_deliveries(&id, 10).await.unwrap() }
    };
    let got = list(all.webhook.id).await;
    let kinds: Vec<_> = got.iter().map(|d| d.event_type).collect();
    assert_eq!(
        kinds,
        [EventType::CredentialRotated, EventType::CredentialCreated]
    );
    let body: serde_json::Value = serde_json::from_str(&got[0].payload).unwrap();
    assert_eq!(body["type"], "credential.rotated");
    assert_eq!(body["data"]["client_id"], cred.client_id.as_str());
    assert_eq!(body["data"]["label"], cred.label.as_str());
    assert_eq!(body["data"]["detail"], "grace 60s");
    assert_eq!(body["data"]["company_id"], c.id.to_string());
    assert!(
        got.iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
    assert_ne!(got[0].msg_id, got[1].msg_id);
    assert_eq!(list(rotations.webhook.id).await.len(), 1);
    assert!(list(off.webhook.id).await.is_empty(), "disabled");
    assert!(list(theirs.webhook.id).await.is_empty(), "another company");

    // A removed endpoint takes its deliveries with it.
    w.delete(&admin, &all.webhook.id.to_string()).await.unwrap();
    assert!(list(all.webhook.id).await.is_empty());
    assert!(matches!(
        w.get(&admin, &all.webhook.id.to_string()).await,
        Err(WebhookError::NotFound)
    ));
    // Another company's admin sees none of them.
    assert!(matches!(
        w.get(
            &AdminActor::operator(other.id),
            &rotations.webhook.id.to_string()
        )
        .await,
        Err(WebhookError::NotFound)
    ));
}

async fn each_delivery_is_claimed_by_one_sender_and_retried_on_schedule(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let w = webhooks(&e);
    let hook = w
        .create(
            &admin,
            "https://hooks.example.com/",
            &["credential.deleted"],
        )
        .await
        .unwrap();
    for i in 0..5 {
        e.store
            .append_audit(&admin.event(AuditAction::CredentialDeleted, format!("client{i}"), T0))
            .await
            .unwrap();
    }
    // Two senders claiming at once share the five between them, none twice.
    let (a, b2) = tokio::join!(
        e.store.claim_deliveries(T0, 60, 3),
        e.store.claim_deliveries(T0, 60, 3)
    );
    let (a, b2) = (a.unwrap(), b2.unwrap());
    let mut seqs: Vec<i64> = a.iter().chain(&b2).map(|d| d.delivery.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), a.len() + b2.len(), "no delivery claimed twice");
    let mut rest = e.store.claim_deliveries(T0, 60, 10).await.unwrap();
    assert_eq!(a.len() + b2.len() + rest.len(), 5);
    assert!(
        e.store
            .claim_deliveries(T0 + 59, 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let d = rest.pop().unwrap_or_else(|| a.into_iter().next().unwrap());
    assert_eq!(d.url.as_str(), "https://hooks.example.com/");
    assert_eq!(d.secrets.len(), 1);

    // A failed attempt is due again at its retry time, not before; a success ends it.
    e.store
        .finish_delivery(
            d.delivery.seq,
            &AttemptOutcome {
                at: T0,
                status: Some(503),
                error: Some("the receiver answered HTTP 503".into()),
                next: NextStep::RetryAt(T0 + 5),
            },
        )
        .await
        .unwrap();
    let due = e.store.claim_deliveries(T0 + 4, 60, 10).await.unwrap();
    assert!(due.iter().all(|x| x.delivery.seq != d.delivery.seq));
    let due = e.store.claim_deliveries(T0 + 5, 60, 10).await.unwrap();
    let again = due
        .iter()
        .find(|x| x.delivery.seq == d.delivery.seq)
        .unwrap();
    assert_eq!(again.delivery.attempts, 1);
    assert_eq!(again.delivery.last_status, Some(503));
    assert_eq!(
        again.delivery.msg_id, d.delivery.msg_id,
        "same webhook-id on every attempt"
    );
    e.store
        .finish_delivery(
            d.delivery.seq,
            &AttemptOutcome {
                at: T0 + 5,
                status: Some(204),
                error: None,
                next: NextStep::Delivered,
            },
        )
        .await
        .unwrap();
    let log = e.store.list_deliveries(&hook.webhook.id, 10).await.unwrap();
    let done = log.iter().find(|x| x.seq == d.delivery.seq).unwrap();
    assert_eq!(
        (
            done.status,
            done.attempts,
            done.last_status,
            done.next_attempt_at
        ),
        (DeliveryStatus::Delivered, 2, Some(204), None)
    );
    assert!(
        e.store
            .claim_deliveries(T0 + 10_000, 60, 10)
            .await
            .unwrap()
            .iter()
            .all(|x| x.delivery.seq != d.delivery.seq)
    );
}

async fn rotation_signs_with_both_secrets_for_a_day(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let w = webhooks(&e);
    let hook = w
        .create(
            &admin,
            "https://hooks.example.com/",
            &["credential.deleted"],
        )
        .await
        .unwrap();
    let first = hook.secret.clone();
    let rotated = w
        .rotate_secret(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    assert_eq!(rotated.webhook.previous_secret_until, Some(T0 + 86_400));
    let test = w
        .send_test(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    assert_eq!(test.event_type, EventType::Test);
    let due = e.store.claim_deliveries(T0, 60, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let sig = signature(&due[0].secrets, "m", 1, "{}");
    assert_eq!(
        sig,
        format!(
            "{} {}",
            signature(std::slice::from_ref(&rotated.secret), "m", 1, "{}"),
            signature(std::slice::from_ref(&first), "m", 1, "{}")
        ),
        "the new secret first, then the old one"
    );
    // A day later the old one signs no more.
    e.clock.advance(86_401);
    w.send_test(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    let due = e
        .store
        .claim_deliveries(e.clock.now(), 60, 10)
        .await
        .unwrap();
    let late = due.iter().find(|d| d.delivery.created_at > T0).unwrap();
    assert_eq!(late.secrets.len(), 1);
    assert_eq!(late.secrets[0].bytes(), rotated.secret.bytes());
}

async fn signing_secrets_are_sealed_under_the_kek(b: Backend) {
    let kek = Kek::from_bytes(&[7u8; 32]).unwrap();
    let kek_id = kek.id();
    let e = env_with(b, KeyWrap::new(vec![kek])).await;
    let c = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let hook = webhooks(&e)
        .create(
            &admin,
            "https://hooks.example.com/",
            &["credential.deleted"],
        )
        .await
        .unwrap();
    let stored = raw_secret(&e.url, &hook.webhook.id.to_string()).await;
    assert_eq!(AtRest::of(&stored), AtRest::Sealed(kek_id));
    assert!(
        !stored
            .windows(8)
            .any(|w| hook.secret.bytes().windows(8).any(|s| s == w)),
        "the secret's bytes are not in the row"
    );
    webhooks(&e)
        .send_test(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    let due = e.store.claim_deliveries(T0, 60, 10).await.unwrap();
    assert_eq!(due[0].secrets[0].bytes(), hook.secret.bytes());
    // Without the KEK the secret cannot be read: the claim fails instead of signing with junk.
    let plain = e.reopen_with(KeyWrap::none()).await;
    e.clock.advance(120);
    let r = plain.claim_deliveries(T0 + 120, 60, 10).await;
    assert!(matches!(r, Err(StoreError::KeyWrap(_))), "{r:?}");
}

async fn rewrap_moves_webhook_secrets_to_the_new_kek(b: Backend) {
    let old = Kek::from_bytes(&[1u8; 32]).unwrap();
    let new = Kek::from_bytes(&[2u8; 32]).unwrap();
    let (old_id, new_id) = (old.id(), new.id());
    let e = env_with(b, KeyWrap::new(vec![old])).await;
    let c = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let hook = webhooks(&e)
        .create(
            &admin,
            "https://hooks.example.com/",
            &["credential.deleted"],
        )
        .await
        .unwrap();
    webhooks(&e)
        .rotate_secret(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    let census = e.store.keys_at_rest().await.unwrap();
    // The server key, one signing key (none yet: no authority loaded) and both webhook secrets.
    assert_eq!(
        census.sealed.get(&old_id).copied(),
        Some(census.sealed.values().sum())
    );
    assert!(census.sealed[&old_id] >= 3, "{census:?}");
    let both = KeyWrap::new(vec![
        Kek::from_bytes(&[2u8; 32]).unwrap(),
        Kek::from_bytes(&[1u8; 32]).unwrap(),
    ]);
    let moved = e.reopen_with(both).await;
    let done = moved.rewrap_keys().await.unwrap();
    assert!(done.changed >= 3, "{done:?}");
    let census = moved.keys_at_rest().await.unwrap();
    assert_eq!(census.not_under_primary(), 0, "{census:?}");
    assert!(census.sealed[&new_id] >= 3);
    // The new KEK alone opens both secrets.
    let alone = e
        .reopen_with(KeyWrap::new(vec![Kek::from_bytes(&[2u8; 32]).unwrap()]))
        .await;
    webhooks(&e)
        .send_test(&admin, &hook.webhook.id.to_string())
        .await
        .unwrap();
    let due = alone.claim_deliveries(T0, 60, 10).await.unwrap();
    assert_eq!(due[0].secrets.len(), 2);
}

async fn raw_secret(url: &str, id: &str) -> Vec<u8> {
    use sqlx::Row as _;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
        let r = sqlx::query("SELECT secret FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        r.get::<Vec<u8>, _>("secret")
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let r = sqlx::query("SELECT secret FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        r.get::<Vec<u8>, _>("secret")
    }
}

async fn the_limit_holds_and_bad_input_changes_nothing(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let admin = AdminActor::operator(c.id);
    let w = webhooks(&e);
    for bad in [
        "http://example.com/",
        "ftp://x/",
        "",
        "https://u:p@example.com/",
    ] {
        let r = w.create(&admin, bad, &["credential.created"]).await;
        assert!(
            matches!(r, Err(WebhookError::Invalid { field: "url", .. })),
            "{bad}: {r:?}"
        );
    }
    for bad in [&[][..], &["credential.nope"][..], &["webhook.test"][..]] {
        let r = w.create(&admin, "https://example.com/", bad).await;
        assert!(
            matches!(
                r,
                Err(WebhookError::Invalid {
                    field: "events",
                    ..
                })
            ),
            "{bad:?}: {r:?}"
        );
    }
    assert!(w.list(&admin).await.unwrap().is_empty());
    let max = tollgate_core::webhooks::MAX_WEBHOOKS_PER_COMPANY;
    for i in 0..max {
        w.create(
            &admin,
            &format!("https://example.com/{i}"),
            &["credential.created"],
        )
        .await
        .unwrap();
    }
    let r = w
        .create(
            &admin,
            "https://example.com/one-more",
            &["credential.created"],
        )
        .await;
    assert!(
        matches!(r, Err(WebhookError::Limit { max: m }) if m == max),
        "{r:?}"
    );
    assert_eq!(w.list(&admin).await.unwrap().len(), max as usize);
}

async fn expiry_warnings_are_written_once_each_nearest_first(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let id = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let soon = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let day = 86_400;
    let set = |t| CredentialChanges {
        expires_at: Some(Some(t)),
        ..Default::default()
    };
    e.admin
        .update_credential(&id, set(T0 + 40 * day))
        .await
        .unwrap();
    e.admin
        .update_credential(&soon, set(T0 + 5 * day))
        .await
        .unwrap();
    let warnings = || {
        let store = e.store.clone();
        let company = c.id;
        async move {
            let mut w: Vec<String> = store
                .list_audit(&company, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.action == AuditAction::CredentialExpiring)
                .map(|a| a.target)
                .collect();
            w.sort();
            w
        }
    };
    // `soon` is 5 days away: the 7-day warning only (not the 30-day one as well).
    let (a, b2) = tokio::join!(
        e.store.audit_expiring_credentials(T0),
        e.store.audit_expiring_credentials(T0)
    );
    assert_eq!(a.unwrap() + b2.unwrap(), 1, "once across nodes");
    assert_eq!(warnings().await, [format!("{soon} (in 7 days or less)")]);
    assert_eq!(
        e.store.audit_expiring_credentials(T0 + 3600).await.unwrap(),
        0
    );
    // 10 days later: `id` is 30 days away; `soon` is past its expiry (no warning).
    assert_eq!(
        e.store
            .audit_expiring_credentials(T0 + 10 * day)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        e.store
            .audit_expiring_credentials(T0 + 33 * day)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        e.store
            .audit_expiring_credentials(T0 + 39 * day + 1)
            .await
            .unwrap(),
        1
    );
    let mut want = vec![
        format!("{id} (in 30 days or less)"),
        format!("{id} (in 7 days or less)"),
        format!("{id} (in 1 day or less)"),
        format!("{soon} (in 7 days or less)"),
    ];
    want.sort();
    assert_eq!(warnings().await, want);
    // A new expiry starts the warnings again.
    e.clock.set(T0 + 39 * day + 2);
    e.admin
        .update_credential(&id, set(T0 + 60 * day))
        .await
        .unwrap();
    assert_eq!(
        e.store
            .audit_expiring_credentials(T0 + 39 * day + 3)
            .await
            .unwrap(),
        1
    );
}

on_both_backends! {
    audit_entries_queue_one_delivery_per_subscribed_endpoint,
    each_delivery_is_claimed_by_one_sender_and_retried_on_schedule multi_thread,
    rotation_signs_with_both_secrets_for_a_day,
    signing_secrets_are_sealed_under_the_kek,
    rewrap_moves_webhook_secrets_to_the_new_kek,
    the_limit_holds_and_bad_input_changes_nothing,
    expiry_warnings_are_written_once_each_nearest_first multi_thread,
}
