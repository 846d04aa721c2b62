//! The directory and the authority over a store: issuing, authorizing, syncing changes made elsewhere, expiry, tampering, rotation grace.

use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::authority::{ClientAuthFailure, IssueError, TokenRejection};
use tollgate_core::secret::ClientSecret;

use crate::helpers::{Backend, T0, TTL, admin_over, env, ss, unknown_client};

async fn issue_authenticates_the_client_and_checks_scopes(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let id = &created.credential.client_id;
    let authority = e.authority().await;
    assert_eq!(authority.directory().credential_count(), 1);

    let t = authority.issue(id, &created.secret, None).unwrap();
    assert_eq!(t.expires_in, TTL);
    assert_eq!(t.scope, ss("groups:read groups:write"));
    assert_eq!(t.access_token.split('.').count(), 3);

    let t = authority
        .issue(id, &created.secret, Some(&ss("groups:read")))
        .unwrap();
    assert_eq!(t.scope, ss("groups:read"));

    let r = authority.issue(id, &ClientSecret::new("tgsec_wrong"), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    let r = authority.issue(&unknown_client(), &created.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    // Another credential's secret does not work.
    let other = e.credential(&c.id, "groups:read").await;
    authority.sync(&*e.store).await.unwrap();
    let r = authority.issue(id, &other.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );

    // In the company's ceiling but not the credential's: invalid_scope, naming what is missing.
    match authority.issue(id, &created.secret, Some(&ss("groups:read users:read"))) {
        Err(IssueError::InvalidScope(missing)) => assert_eq!(missing, ss("users:read")),
        other => panic!("expected InvalidScope, got {other:?}"),
    }
    match authority.issue(id, &created.secret, Some(&ss("webhooks:read"))) {
        Err(IssueError::InvalidScope(missing)) => assert_eq!(missing, ss("webhooks:read")),
        other => panic!("expected InvalidScope, got {other:?}"),
    }

    // Issuing notes the client as used.
    let used = authority.take_last_used();
    assert!(used.iter().any(|(c, t)| c == id && *t == T0), "{used:?}");
    assert!(authority.take_last_used().is_empty());
}

async fn credential_created_later_is_known_after_sync(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let authority = e.authority().await;
    // Created by another process.
    let other = admin_over(e.reopen().await, &e.clock).await;
    let created = other
        .create_credential(&c.id, "late", ss("groups:read"))
        .await
        .unwrap();
    let id = &created.credential.client_id;
    let r = authority.issue(id, &created.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    let out = authority.sync(&*e.store).await.unwrap();
    assert!(out.applied > 0 && !out.full_reload, "{out:?}");
    authority.issue(id, &created.secret, None).unwrap();
}

async fn authorize_accepts_a_fresh_token(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read users:read").await;
    let authority = e.authority().await;
    let t = authority
        .issue(
            &created.credential.client_id,
            &created.secret,
            Some(&ss("groups:read")),
        )
        .unwrap();
    let access = authority.authorize(&t.access_token).unwrap();
    assert!(access.allows("groups:read"));
    assert!(!access.allows("users:read"), "not requested");
    assert!(!access.allows("groups:write"), "not held");
    assert_eq!(access.client_id(), &created.credential.client_id);
    assert_eq!(access.company_id(), c.id);
    assert_eq!(access.effective_scopes(), ss("groups:read"));
    // Again (now from the verified-token cache).
    assert!(
        authority
            .authorize(&t.access_token)
            .unwrap()
            .allows("groups:read")
    );

    // Another authority over the same database (another node) accepts it too.
    let node2 = e.authority().await;
    assert!(
        node2
            .authorize(&t.access_token)
            .unwrap()
            .allows("groups:read")
    );
}

async fn deleting_a_credential_in_another_process_revokes_its_tokens(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let keep = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let id = &created.credential.client_id;
    let token = authority
        .issue(id, &created.secret, None)
        .unwrap()
        .access_token;
    let kept = authority
        .issue(&keep.credential.client_id, &keep.secret, None)
        .unwrap()
        .access_token;
    assert!(authority.authorize(&token).unwrap().allows("groups:read"));

    // The CLI, another process, deletes the credential.
    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.delete_credential(&created.credential.client_id)
        .await
        .unwrap();

    authority.sync(&*e.store).await.unwrap();
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(id, &created.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    // The other credential's token is unaffected.
    assert!(authority.authorize(&kept).unwrap().allows("groups:read"));
}

async fn narrowing_the_company_ceiling_takes_effect_after_sync(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let authority = e.authority().await;
    let id = &created.credential.client_id;
    let token = authority
        .issue(id, &created.secret, None)
        .unwrap()
        .access_token;
    let a = authority.authorize(&token).unwrap();
    assert!(a.allows("groups:read") && a.allows("groups:write"));

    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.update_company(
        &c.id,
        CompanyChanges {
            scopes: Some(ss("groups:read")),
            ..CompanyChanges::default()
        },
    )
    .await
    .unwrap();
    authority.sync(&*e.store).await.unwrap();

    let a = authority.authorize(&token).unwrap();
    assert!(a.allows("groups:read"));
    assert!(!a.allows("groups:write"));
    assert_eq!(a.effective_scopes(), ss("groups:read"));
    // New tokens only get the narrowed scopes, and asking for more is refused.
    let t = authority.issue(id, &created.secret, None).unwrap();
    assert_eq!(t.scope, ss("groups:read"));
    let r = authority.issue(id, &created.secret, Some(&ss("groups:write")));
    assert!(matches!(r, Err(IssueError::InvalidScope(_))), "{r:?}");
}

async fn narrowing_credential_scopes_takes_effect_after_sync(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let authority = e.authority().await;
    let token = authority
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap()
        .access_token;
    e.admin
        .update_credential(
            &created.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("groups:write")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    authority.sync(&*e.store).await.unwrap();
    let a = authority.authorize(&token).unwrap();
    assert!(!a.allows("groups:read"));
    assert!(a.allows("groups:write"));
}

async fn tokens_expire_after_ttl(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap()
        .access_token;
    assert!(authority.authorize(&token).is_ok());
    e.clock.advance(i64::from(TTL) - 1);
    assert!(
        authority.authorize(&token).is_ok(),
        "valid until the last second"
    );
    e.clock.advance(1);
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Expired
    );
    // A node that never saw the token (no cache) agrees.
    let fresh = e.authority().await;
    assert_eq!(
        fresh.authorize(&token).unwrap_err(),
        TokenRejection::Expired
    );
}

fn flip_char(s: &str, at: usize) -> String {
    s.char_indices()
        .map(|(i, c)| {
            if i == at {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect()
}

async fn tampered_or_foreign_tokens_are_rejected(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap()
        .access_token;
    // Cache the genuine token first: tampered variants must not ride on it.
    assert!(authority.authorize(&token).is_ok());

    let sig_start = token.rfind('.').unwrap() + 1;
    let sig_len = token.len() - sig_start;
    for at in [sig_start, sig_start + sig_len / 2, token.len() - 2] {
        let bad = flip_char(&token, at);
        assert_ne!(bad, token);
        let r = authority.authorize(&bad);
        assert!(
            matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
            "signature byte {at}: {r:?}"
        );
    }
    // A changed payload no longer matches the signature.
    let payload_mid = token.find('.').unwrap() + 10;
    let r = authority.authorize(&flip_char(&token, payload_mid));
    assert!(
        matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
        "{r:?}"
    );
    // Without a signature.
    let r = authority.authorize(&token[..sig_start]);
    assert!(
        matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
        "{r:?}"
    );
    for junk in ["", "abc", "a.b.c", "not a token at all"] {
        assert_eq!(
            authority.authorize(junk).unwrap_err(),
            TokenRejection::Malformed,
            "{junk:?}"
        );
    }

    // A token signed by another deployment's key is invalid here.
    let foreign = env(b).await;
    let fc = foreign.company("groups:read", None).await;
    let fcred = foreign.credential(&fc.id, "groups:read").await;
    let fauth = foreign.authority().await;
    let ftoken = fauth
        .issue(&fcred.credential.client_id, &fcred.secret, None)
        .unwrap()
        .access_token;
    assert_eq!(
        authority.authorize(&ftoken).unwrap_err(),
        TokenRejection::Invalid
    );
}

async fn rotation_grace_governs_old_secret_and_its_tokens(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let authority = e.authority().await;
    let old_token = authority
        .issue(&id, &created.secret, None)
        .unwrap()
        .access_token;

    let rotated = e.admin.rotate_secret(&id, 60).await.unwrap();
    authority.sync(&*e.store).await.unwrap();
    assert!(
        authority.authorize(&old_token).is_ok(),
        "within the grace period"
    );
    authority
        .issue(&id, &created.secret, None)
        .expect("old secret works during the grace period");
    let new_token = authority
        .issue(&id, &rotated.secret, None)
        .unwrap()
        .access_token;

    e.clock.advance(61);
    assert_eq!(
        authority.authorize(&old_token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(&id, &created.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    assert!(authority.authorize(&new_token).is_ok());

    // Rotating without grace revokes the current secret's tokens at the next sync.
    let last = e.admin.rotate_secret(&id, 0).await.unwrap();
    authority.sync(&*e.store).await.unwrap();
    assert_eq!(
        authority.authorize(&new_token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(&id, &rotated.secret, None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    authority.issue(&id, &last.secret, None).unwrap();
}

async fn sync_recovers_from_a_pruned_feed(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(&created.credential.client_id, &created.secret, None)
        .unwrap()
        .access_token;

    // Changes the node never saw, then pruned away.
    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.delete_credential(&created.credential.client_id)
        .await
        .unwrap();
    let added = cli
        .create_credential(&c.id, "added", ss("groups:read"))
        .await
        .unwrap();
    e.store.prune_changes(-1).await.unwrap();

    let out = authority.sync(&*e.store).await.unwrap();
    assert!(out.full_reload, "{out:?}");
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Revoked
    );
    authority
        .issue(&added.credential.client_id, &added.secret, None)
        .unwrap();
    assert_eq!(authority.directory().credential_count(), 1);
}

on_both_backends! {
    issue_authenticates_the_client_and_checks_scopes,
    credential_created_later_is_known_after_sync,
    authorize_accepts_a_fresh_token,
    deleting_a_credential_in_another_process_revokes_its_tokens,
    narrowing_the_company_ceiling_takes_effect_after_sync,
    narrowing_credential_scopes_takes_effect_after_sync,
    tokens_expire_after_ttl,
    tampered_or_foreign_tokens_are_rejected,
    rotation_grace_governs_old_secret_and_its_tokens,
    sync_recovers_from_a_pruned_feed,
}
