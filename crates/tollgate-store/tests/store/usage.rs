//! Usage batches: each node's counts add up per credential and day, last uses keep the latest,
//! and rows of credentials or secrets deleted meanwhile are skipped, not an error.

use tollgate_core::usage::{SecretUse, UsageBatch, UsageCounts};

use crate::helpers::{Backend, T0, env};

fn counts(tokens: u64, api_calls: u64) -> UsageCounts {
    UsageCounts {
        tokens,
        api_calls,
        ..UsageCounts::default()
    }
}

async fn batches_from_every_node_add_up(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let cred = e.credential(&c.id, "groups:read").await.credential;
    let gone = e.credential(&c.id, "groups:read").await.credential;
    e.admin.delete_credential(&gone.client_id).await.unwrap();
    let secret = cred.secrets[0].id.clone();
    let day = T0 / 86_400;
    let batch = |n: u64, at: i64, ip: &str| UsageBatch {
        day,
        counts: vec![
            (cred.client_id.clone(), counts(n, 10 * n)),
            (gone.client_id.clone(), counts(1, 1)),
        ],
        last_used: vec![(cred.client_id.clone(), at)],
        secrets: vec![
            SecretUse {
                client_id: cred.client_id.clone(),
                secret_id: secret.clone(),
                at,
                ip: Some(ip.parse().unwrap()),
            },
            SecretUse {
                client_id: gone.client_id.clone(),
                secret_id: gone.secrets[0].id.clone(),
                at,
                ip: None,
            },
        ],
    };
    // Two nodes flushing at once, the later use first.
    let (later, earlier) = (
        batch(2, T0 + 20, "203.0.113.2"),
        batch(3, T0 + 10, "203.0.113.1"),
    );
    let (x, y) = tokio::join!(e.store.record_usage(&later), e.store.record_usage(&earlier));
    x.unwrap();
    y.unwrap();
    let got = e.store.usage(&cred.client_id, day).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].day, got[0].counts), (day, counts(5, 50)));
    assert!(
        e.store
            .usage(&cred.client_id, day + 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        e.store
            .usage(&gone.client_id, day)
            .await
            .unwrap()
            .is_empty()
    );
    let uses = e.store.secret_uses(&cred.client_id).await.unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(
        (uses[0].at, uses[0].ip),
        (T0 + 20, Some("203.0.113.2".parse().unwrap()))
    );
    assert_eq!(
        e.admin
            .credential(&cred.client_id)
            .await
            .unwrap()
            .last_used_at,
        Some(T0 + 20)
    );
    // A secret claimed for another credential is not recorded.
    let other = e.credential(&c.id, "groups:read").await.credential;
    e.store
        .record_usage(&UsageBatch {
            day,
            secrets: vec![SecretUse {
                client_id: other.client_id.clone(),
                secret_id: secret.clone(),
                at: T0 + 99,
                ip: None,
            }],
            ..UsageBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        e.store.secret_uses(&cred.client_id).await.unwrap()[0].at,
        T0 + 20
    );
    // Deleting the credential deletes its usage.
    e.admin.delete_credential(&cred.client_id).await.unwrap();
    assert!(
        e.store
            .usage(&cred.client_id, day)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        e.store
            .secret_uses(&cred.client_id)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_backends! {
    batches_from_every_node_add_up multi_thread,
}
