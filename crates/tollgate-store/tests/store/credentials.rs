//! Companies and credentials: create, list, update, input validation, the per-company limit (also under concurrency), rotation and its grace period, last use.

use tollgate_core::admin::{AdminError, CompanyChanges, CredentialChanges, MAX_GRACE_SECS};
use tollgate_core::catalog::{CREDENTIALS_MANAGE, ScopeCatalog};
use tollgate_core::clock::Clock as _;
use tollgate_core::ids::CompanyId;
use tollgate_core::model::DEFAULT_MAX_CREDENTIALS;

use crate::helpers::{Backend, T0, admin_over, env, ss, unknown_client};

async fn company_create_list_and_update(b: Backend) {
    let e = env(b).await;
    let a = e
        .admin
        .create_company("  Acme Corp  ", None, None)
        .await
        .unwrap();
    assert_eq!(a.name, "Acme Corp", "name is trimmed");
    assert_eq!(a.scopes, ScopeCatalog::default().all_unreserved());
    assert!(!a.scopes.contains_str(CREDENTIALS_MANAGE));
    assert_eq!(a.max_credentials, DEFAULT_MAX_CREDENTIALS);
    assert_eq!((a.created_at, a.updated_at), (T0, T0));
    assert_eq!(e.admin.company(&a.id).await.unwrap(), a);

    e.clock.advance(10);
    let b = e
        .admin
        .create_company("Globex", Some(ss("groups:read users:read")), Some(3))
        .await
        .unwrap();
    assert_eq!(b.max_credentials, 3);
    assert_eq!(b.scopes, ss("groups:read users:read"));
    let listed = e.admin.companies().await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()], "oldest first");

    e.clock.advance(10);
    let updated = e
        .admin
        .update_company(
            &a.id,
            CompanyChanges {
                name: Some("Acme Inc".into()),
                scopes: Some(ss("groups:read")),
                max_credentials: Some(2),
                token_quota_per_hour: Some(Some(500)),
                resources: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.token_quota_per_hour, Some(500));
    assert_eq!(
        e.admin.company(&a.id).await.unwrap().token_quota_per_hour,
        Some(500),
        "stored"
    );
    assert_eq!(updated.name, "Acme Inc");
    assert_eq!(updated.scopes, ss("groups:read"));
    assert_eq!(updated.max_credentials, 2);
    assert_eq!(updated.created_at, T0);
    assert_eq!(updated.updated_at, T0 + 20);
    assert_eq!(e.admin.company(&a.id).await.unwrap(), updated);

    // Fields left as None are kept.
    let renamed = e
        .admin
        .update_company(
            &a.id,
            CompanyChanges {
                name: Some("Acme SE".into()),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.scopes, ss("groups:read"));
    assert_eq!(renamed.max_credentials, 2);
    assert_eq!(e.store.get_company(&a.id).await.unwrap(), Some(renamed));
    // The other company is untouched.
    assert_eq!(e.admin.company(&b.id).await.unwrap(), b);
}

async fn company_inputs_are_validated(b: Backend) {
    let e = env(b).await;
    for bad in ["", "   ", "a\u{7}b"] {
        let r = e.admin.create_company(bad, None, None).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{bad:?}: {r:?}");
    }
    let ok_len = "é".repeat(200);
    e.admin
        .create_company(&ok_len, None, None)
        .await
        .expect("200 characters are allowed");
    let r = e.admin.create_company(&"x".repeat(201), None, None).await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");

    let r = e
        .admin
        .create_company("Acme", Some(ss("groups:read nope:read")), None)
        .await;
    match r {
        Err(AdminError::UnknownScopes(u)) => assert_eq!(u.0, ss("nope:read")),
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    for max in [0, 10_001] {
        let r = e.admin.create_company("Acme", None, Some(max)).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{max}: {r:?}");
    }
    // Only the valid company was stored.
    assert_eq!(e.admin.companies().await.unwrap().len(), 1);

    let c = e.company("groups:read", None).await;
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                scopes: Some(ss("nope:write")),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::UnknownScopes(_))), "{r:?}");
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                name: Some(" ".into()),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(0),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    assert_eq!(e.admin.company(&c.id).await.unwrap(), c, "nothing changed");

    let missing = CompanyId::generate(T0).unwrap();
    assert!(matches!(
        e.admin.company(&missing).await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin
            .update_company(&missing, CompanyChanges::default())
            .await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin.credentials(&missing).await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin
            .create_credential(&missing, "x", ss("groups:read"))
            .await,
        Err(AdminError::CompanyNotFound)
    ));
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

async fn credential_create_get_list_update(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let cred = &created.credential;
    assert!(created.secret.expose_secret().starts_with("tgsec_"));
    assert_eq!(cred.company_id, c.id);
    assert_eq!(cred.label, "HR Integration - Payroll System");
    assert_eq!(cred.scopes, ss("groups:read"));
    assert_eq!(cred.secrets.len(), 1);
    assert_eq!(
        cred.secrets[0].hash,
        e.hasher.hash(created.secret.expose_secret())
    );
    assert_eq!(cred.secrets[0].expires_at, None);
    assert_eq!(cred.last_used_at, None);
    assert_eq!(&e.admin.credential(&cred.client_id).await.unwrap(), cred);
    // The clear secret is not what is stored.
    assert_ne!(
        cred.secrets[0].hash.0.as_slice(),
        created.secret.expose_secret().as_bytes()
    );

    e.clock.advance(5);
    let second = e.credential(&c.id, "users:read").await;
    assert_ne!(second.credential.client_id, cred.client_id);
    assert_ne!(
        second.secret.expose_secret(),
        created.secret.expose_secret()
    );
    let listed = e.admin.credentials(&c.id).await.unwrap();
    assert_eq!(
        listed,
        vec![cred.clone(), second.credential.clone()],
        "oldest first"
    );
    assert_eq!(e.store.list_all_credentials().await.unwrap().len(), 2);

    e.clock.advance(5);
    let updated = e
        .admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some("Payroll v2".into()),
                scopes: Some(ss("groups:read groups:write")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.label, "Payroll v2");
    assert_eq!(updated.scopes, ss("groups:read groups:write"));
    assert_eq!(updated.updated_at, T0 + 10);
    assert_eq!(updated.created_at, T0);
    assert_eq!(e.admin.credential(&cred.client_id).await.unwrap(), updated);

    let r = e
        .admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some(String::new()),
                scopes: None,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    let r = e
        .admin
        .create_credential(&c.id, &"l".repeat(201), ss("groups:read"))
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");

    e.admin.delete_credential(&cred.client_id).await.unwrap();
    assert!(matches!(
        e.admin.credential(&cred.client_id).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert_eq!(
        e.admin.credentials(&c.id).await.unwrap(),
        vec![second.credential]
    );
    assert!(matches!(
        e.admin.delete_credential(&cred.client_id).await,
        Err(AdminError::CredentialNotFound)
    ));
}

async fn credential_scopes_must_exist_and_lie_within_the_ceiling(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write", None).await;
    match e
        .admin
        .create_credential(&c.id, "x", ss("groups:read users:read"))
        .await
    {
        Err(AdminError::OutsideCeiling(s)) => assert_eq!(s, ss("users:read")),
        other => panic!("expected OutsideCeiling, got {other:?}"),
    }
    match e
        .admin
        .create_credential(&c.id, "x", ss("groups:read nope:read"))
        .await
    {
        Err(AdminError::UnknownScopes(u)) => assert_eq!(u.0, ss("nope:read")),
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // The reserved scope is outside a default ceiling.
    let d = e.admin.create_company("Default", None, None).await.unwrap();
    let r = e
        .admin
        .create_credential(&d.id, "x", ss(CREDENTIALS_MANAGE))
        .await;
    assert!(matches!(r, Err(AdminError::OutsideCeiling(_))), "{r:?}");
    assert!(e.admin.credentials(&c.id).await.unwrap().is_empty());

    let ok = e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .update_credential(
            &ok.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("groups:write users:write")),
                ..Default::default()
            },
        )
        .await;
    match r {
        Err(AdminError::OutsideCeiling(s)) => assert_eq!(s, ss("users:write")),
        other => panic!("expected OutsideCeiling, got {other:?}"),
    }
    let r = e
        .admin
        .update_credential(
            &ok.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("nope:write")),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::UnknownScopes(_))), "{r:?}");
    assert_eq!(
        e.admin
            .credential(&ok.credential.client_id)
            .await
            .unwrap()
            .scopes,
        ss("groups:read"),
        "refused updates change nothing"
    );
}

async fn eleventh_credential_hits_the_default_limit(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    assert_eq!(c.max_credentials, 10);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            e.credential(&c.id, "groups:read")
                .await
                .credential
                .client_id,
        );
    }
    let r = e
        .admin
        .create_credential(&c.id, "eleventh", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 10 })),
        "{r:?}"
    );
    assert_eq!(e.admin.credentials(&c.id).await.unwrap().len(), 10);

    // Another company is not affected.
    let other = e.company("groups:read", None).await;
    e.credential(&other.id, "groups:read").await;

    // Deleting one frees a place.
    e.admin.delete_credential(&ids[0]).await.unwrap();
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "again", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 10 })),
        "{r:?}"
    );
}

async fn limit_set_by_update_company_is_enforced(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(2),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    e.credential(&c.id, "groups:read").await;
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "third", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 2 })),
        "{r:?}"
    );
    // Raising it again lets one more in.
    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(3),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "fourth", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 3 })),
        "{r:?}"
    );
    assert_eq!(e.store.list_credentials(&c.id).await.unwrap().len(), 3);
}

async fn concurrent_creation_never_exceeds_the_limit(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", Some(5)).await;
    // Two handles on the file, as two processes would have.
    let other = admin_over(e.reopen().await, &e.clock).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let admin = if i % 2 == 0 {
                e.admin.clone()
            } else {
                other.clone()
            };
            let id = c.id;
            tokio::spawn(async move {
                admin
                    .create_credential(&id, &format!("cred {i}"), ss("groups:read"))
                    .await
            })
        })
        .collect();
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AdminError::CredentialLimit { max: 5 }) => full += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((ok, full), (5, 15));
    assert_eq!(e.store.list_credentials(&c.id).await.unwrap().len(), 5);
}

async fn rotate_without_grace_removes_the_old_secret(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let old = created.credential.secrets[0].clone();

    e.clock.advance(30);
    let rotated = e.admin.rotate_secret(&id, 0).await.unwrap();
    assert_ne!(
        rotated.secret.expose_secret(),
        created.secret.expose_secret()
    );
    let secrets = &rotated.credential.secrets;
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    assert_ne!(secrets[0].id, old.id);
    assert_eq!(
        secrets[0].hash,
        e.hasher.hash(rotated.secret.expose_secret())
    );
    assert_eq!(secrets[0].created_at, T0 + 30);
    assert_eq!(secrets[0].expires_at, None);
    assert_eq!(rotated.credential.updated_at, T0 + 30);
    assert_eq!(
        e.store.get_credential(&id).await.unwrap().unwrap().secrets,
        *secrets
    );
}

async fn rotate_with_grace_keeps_both_secrets_until_it_ends(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let old_id = created.credential.secrets[0].id.clone();

    let rotated = e.admin.rotate_secret(&id, 60).await.unwrap();
    let secrets = e.store.get_credential(&id).await.unwrap().unwrap().secrets;
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    let old = secrets
        .iter()
        .find(|s| s.id == old_id)
        .expect("old secret kept");
    let new = secrets.iter().find(|s| s.id != old_id).expect("new secret");
    assert_eq!(new.hash, e.hasher.hash(rotated.secret.expose_secret()));
    assert_eq!(old.expires_at, Some(T0 + 60));
    assert_eq!(new.expires_at, None);
    let now = e.clock.now();
    assert!(old.is_live(now) && new.is_live(now));
    assert!(old.is_live(now + 59));

    e.clock.advance(61);
    let now = e.clock.now();
    let secrets = e.store.get_credential(&id).await.unwrap().unwrap().secrets;
    let old = secrets.iter().find(|s| s.id == old_id);
    assert!(old.is_none_or(|s| !s.is_live(now)), "{old:?}");
    let new = secrets.iter().find(|s| s.id != old_id).unwrap();
    assert!(new.is_live(now));
}

async fn a_second_rotation_never_extends_an_earlier_grace(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let first_id = created.credential.secrets[0].id.clone();

    e.admin.rotate_secret(&id, 60).await.unwrap();
    e.clock.advance(10);
    let second = e.admin.rotate_secret(&id, 3600).await.unwrap();
    let secrets = second.credential.secrets;
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    let first = secrets.iter().find(|s| s.id == first_id).unwrap();
    assert_eq!(first.expires_at, Some(T0 + 60), "grace is not extended");
    let live_at_70 = secrets.iter().filter(|s| s.is_live(T0 + 70)).count();
    assert_eq!(live_at_70, 2);

    // A rotation after the first grace ended drops the expired secret.
    e.clock.advance(100);
    let third = e.admin.rotate_secret(&id, 0).await.unwrap();
    assert_eq!(third.credential.secrets.len(), 1);
    assert!(third.credential.secrets.iter().all(|s| s.id != first_id));
}

async fn operations_on_unknown_credentials_are_not_found(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    e.credential(&c.id, "groups:read").await;
    let missing = unknown_client();
    assert!(matches!(
        e.admin.rotate_secret(&missing, 0).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.rotate_secret(&missing, 60).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin
            .update_credential(
                &missing,
                CredentialChanges {
                    label: Some("x".into()),
                    scopes: None,
                    ..Default::default()
                }
            )
            .await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.delete_credential(&missing).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.credential(&missing).await,
        Err(AdminError::CredentialNotFound)
    ));
    // Grace outside 0..=30 days is refused before anything else.
    for grace in [-1, MAX_GRACE_SECS + 1] {
        let r = e.admin.rotate_secret(&missing, grace).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{grace}: {r:?}");
    }
    assert_eq!(e.store.list_all_credentials().await.unwrap().len(), 1);
}

async fn last_used_is_recorded_as_the_latest_time(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let id = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let seq = e.store.last_change_seq().await.unwrap();
    e.store.record_last_used(&[]).await.unwrap();
    e.store
        .record_last_used(&[(id.clone(), T0 + 50)])
        .await
        .unwrap();
    e.store
        .record_last_used(&[(id.clone(), T0 + 20), (unknown_client(), T0)])
        .await
        .unwrap();
    let cred = e.store.get_credential(&id).await.unwrap().unwrap();
    assert_eq!(cred.last_used_at, Some(T0 + 50));
    // Last-used times are not a change the hot path needs to replay.
    assert_eq!(e.store.last_change_seq().await.unwrap(), seq);
}

on_both_backends! {
    company_create_list_and_update,
    company_inputs_are_validated,
    credential_create_get_list_update,
    credential_scopes_must_exist_and_lie_within_the_ceiling,
    eleventh_credential_hits_the_default_limit,
    limit_set_by_update_company_is_enforced,
    concurrent_creation_never_exceeds_the_limit multi_thread,
    rotate_without_grace_removes_the_old_secret,
    rotate_with_grace_keeps_both_secrets_until_it_ends,
    a_second_rotation_never_extends_an_earlier_grace,
    operations_on_unknown_credentials_are_not_found,
    last_used_is_recorded_as_the_latest_time,
}
