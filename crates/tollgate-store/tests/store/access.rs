//! A credential's access (expiry, IP allowlist, resources): stored and read back by every query, carried by
//! the change feed to other nodes, and each expiry audited once when it passes.

use tollgate_core::accounts::AuditAction;
use tollgate_core::admin::{AdminError, CredentialChanges};
use tollgate_core::allowlist::IpAllowlist;
use tollgate_core::audience::Resources;
use tollgate_core::model::{ChangeKind, CredentialAccess};

use crate::helpers::{Backend, Env, T0, env, ss};

fn office() -> IpAllowlist {
    IpAllowlist::parse(&["203.0.113.0/24", "2001:db8::/32"]).unwrap()
}

/// Applies `changes` to credential `id`: whether that wrote a change-feed entry (other nodes must
/// hear of it).
async fn is_a_feed_entry(
    e: &Env,
    id: &tollgate_core::ids::ClientId,
    changes: CredentialChanges,
) -> bool {
    let seq = e.store.last_change_seq().await.unwrap();
    e.admin.update_credential(id, changes).await.unwrap();
    !e.store
        .changes_since(seq, 10)
        .await
        .unwrap()
        .unwrap()
        .is_empty()
}

fn billing() -> Resources {
    Resources::parse(&["https://billing.example"]).unwrap()
}

async fn access_is_stored_and_read_back_everywhere(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let listed = Resources::parse(&["https://billing.example", "urn:example:reports"]).unwrap();
    let c = e
        .admin
        .update_company(
            &c.id,
            tollgate_core::admin::CompanyChanges {
                resources: Some(listed.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(e.admin.company(&c.id).await.unwrap().resources, listed);
    let access = CredentialAccess {
        expires_at: Some(T0 + 86_400),
        allowed_ips: office(),
        resources: Some(billing()),
    };
    let created = e
        .admin
        .create_credential_audited(
            &c.id,
            "Contractor",
            ss("groups:read"),
            access.clone(),
            |x| {
                tollgate_core::accounts::AdminActor::operator(x.company_id).event(
                    AuditAction::CredentialCreated,
                    x.client_id.as_str(),
                    T0,
                )
            },
        )
        .await
        .unwrap();
    let id = created.credential.client_id.clone();
    assert_eq!(created.credential.access, access);
    assert_eq!(e.admin.credential(&id).await.unwrap().access, access);
    assert_eq!(e.admin.credentials(&c.id).await.unwrap()[0].access, access);
    assert_eq!(
        e.store.list_all_credentials().await.unwrap()[0].access,
        access
    );

    // Each change of access alone is a change-feed entry (other nodes must hear of it).
    let seq = e.store.last_change_seq().await.unwrap();
    let updated = e
        .admin
        .update_credential(
            &id,
            CredentialChanges {
                expires_at: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.access.expires_at, None);
    assert_eq!(updated.access.allowed_ips, office(), "untouched");
    let changes = e.store.changes_since(seq, 10).await.unwrap().unwrap();
    assert!(
        changes
            .iter()
            .any(|ch| ch.kind == ChangeKind::Credential && ch.key == id.as_str()),
        "{changes:?}"
    );
    assert!(
        is_a_feed_entry(
            &e,
            &id,
            CredentialChanges {
                allowed_ips: Some(IpAllowlist::default()),
                ..Default::default()
            },
        )
        .await
    );
    // Resources: only the company's, and back to all of them.
    let r = e
        .admin
        .update_credential(
            &id,
            CredentialChanges {
                resources: Some(Some(Resources::parse(&["https://other.example"]).unwrap())),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&r, Err(AdminError::Invalid(m)) if m.contains("https://other.example")),
        "{r:?}"
    );
    assert_eq!(
        e.admin.credential(&id).await.unwrap().access.resources,
        Some(billing()),
        "a refused change changes nothing"
    );
    assert!(
        is_a_feed_entry(
            &e,
            &id,
            CredentialChanges {
                resources: Some(None),
                ..Default::default()
            },
        )
        .await,
        "a change of resources is a change-feed entry"
    );
    assert_eq!(
        e.admin.credential(&id).await.unwrap().access,
        CredentialAccess::default()
    );

    // An expiry must lie ahead, and a refused one changes nothing.
    for past in [T0, T0 - 1] {
        let r = e
            .admin
            .update_credential(
                &id,
                CredentialChanges {
                    expires_at: Some(Some(past)),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    }
    let r = e
        .admin
        .create_credential_audited(
            &c.id,
            "Late",
            ss("groups:read"),
            CredentialAccess {
                expires_at: Some(T0),
                ..Default::default()
            },
            |x| {
                tollgate_core::accounts::AdminActor::operator(x.company_id).event(
                    AuditAction::CredentialCreated,
                    x.client_id.as_str(),
                    T0,
                )
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    assert_eq!(e.admin.credentials(&c.id).await.unwrap().len(), 1);
}

async fn each_expiry_is_audited_once_when_it_passes(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let soon = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let never = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let set = |t| CredentialChanges {
        expires_at: Some(Some(t)),
        ..Default::default()
    };
    e.admin
        .update_credential(&soon, set(T0 + 100))
        .await
        .unwrap();
    let expired = |e: &crate::helpers::Env| {
        let store = e.store.clone();
        let company = c.id;
        async move {
            store
                .list_audit(&company, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.action == AuditAction::CredentialExpired)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(e.store.audit_expired_credentials(T0 + 99).await.unwrap(), 0);
    e.clock.advance(100);
    // Two nodes asking at once: one entry.
    let (a, b2) = tokio::join!(
        e.store.audit_expired_credentials(T0 + 100),
        e.store.audit_expired_credentials(T0 + 100)
    );
    assert_eq!(a.unwrap() + b2.unwrap(), 1);
    assert_eq!(
        e.store.audit_expired_credentials(T0 + 500).await.unwrap(),
        0
    );
    let entries = expired(&e).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0].target.as_str(),
            entries[0].actor.as_str(),
            entries[0].at
        ),
        (soon.as_str(), "system", T0 + 100)
    );
    // A label change keeps the mark; a new expiry is audited again when it passes.
    e.admin
        .update_credential(
            &soon,
            CredentialChanges {
                label: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        e.store.audit_expired_credentials(T0 + 600).await.unwrap(),
        0
    );
    e.admin
        .update_credential(&soon, set(T0 + 1000))
        .await
        .unwrap();
    assert_eq!(
        e.store.audit_expired_credentials(T0 + 999).await.unwrap(),
        0
    );
    assert_eq!(
        e.store.audit_expired_credentials(T0 + 1000).await.unwrap(),
        1
    );
    assert_eq!(expired(&e).await.len(), 2);
    assert!(expired(&e).await.iter().all(|a| a.target != never.as_str()));
}

on_both_backends! {
    access_is_stored_and_read_back_everywhere,
    each_expiry_is_audited_once_when_it_passes multi_thread,
}
