//! Token reuse (`token_reuse`, on by default): a repeated token request gets the token answered
//! before while at least half of its lifetime remains, and a new one as soon as anything it was
//! issued from changed.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::clock::Clock;
use tollgate_core::ids::ClientId;
use tollgate_proto::SigningAlg;

use crate::helpers::{self, Cred, TestApp};

/// `(access_token, expires_in, scope)` of a JSON token request for `cred`, with `scope` if given.
async fn grant(app: &TestApp, cred: &Cred, scope: Option<&str>) -> (String, u64, String) {
    let mut body = json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    });
    if let Some(s) = scope {
        body["scope"] = json!(s);
    }
    let r = app.post_token_json(&body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["expires_in"].as_u64().unwrap(),
        v["scope"].as_str().unwrap().to_owned(),
    )
}

fn id(cred: &Cred) -> ClientId {
    ClientId::parse(&cred.client_id).unwrap()
}

async fn reused_count(app: &TestApp) -> String {
    let text = app.metrics_text().await;
    text.lines()
        .find(|l| l.starts_with("tollgate_tokens_reused_total "))
        .unwrap_or_else(|| panic!("no reuse counter in {text}"))
        .to_owned()
}

#[tokio::test]
async fn a_repeated_request_gets_the_same_token_until_half_its_lifetime_is_gone() {
    let app = helpers::spawn_with(|s| s.token_ttl = 600).await;
    let cred = app.credential("groups:read groups:write").await;
    let (first, ttl, scope) = grant(&app, &cred, None).await;
    assert_eq!((ttl, scope.as_str()), (600, "groups:read groups:write"));

    app.clock.advance(100);
    let (again, left, _) = grant(&app, &cred, None).await;
    assert_eq!(again, first, "answered again");
    assert_eq!(left, 500, "expires_in tells the time left");
    // The same request in the form and Basic variants is the same request.
    let r = app
        .client
        .post(app.token_url())
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["access_token"], first);
    assert_eq!(reused_count(&app).await, "tollgate_tokens_reused_total 2");
    // It still works on the API.
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &again)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A second before half is gone: still the same one. At half (by the whole-second count, so
    // really less than half is left), a new one with the full lifetime.
    app.clock.advance(199);
    let (same, left, _) = grant(&app, &cred, None).await;
    assert_eq!((same.as_str(), left), (first.as_str(), 301));
    app.clock.advance(1);
    let (fresh, ttl, _) = grant(&app, &cred, None).await;
    assert_ne!(fresh, first);
    assert_eq!(ttl, 600);
    assert_eq!(grant(&app, &cred, None).await.0, fresh);
}

#[tokio::test]
async fn another_scope_set_or_another_secret_gets_its_own_token() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let (all, _, _) = grant(&app, &cred, None).await;
    let (read, _, scope) = grant(&app, &cred, Some("groups:read")).await;
    assert_eq!(scope, "groups:read");
    assert_ne!(read, all);
    assert_eq!(grant(&app, &cred, Some("groups:read")).await.0, read);
    // The same set spelled in another order is the same set.
    assert_eq!(
        grant(&app, &cred, Some("groups:write groups:read")).await.0,
        all
    );

    // A second live secret (rotation with grace): each secret has its own token, and the rotation
    // changed the credential, so the old secret's token is not answered again either.
    let rotated = app.admin.rotate_secret(&id(&cred), 300).await.unwrap();
    app.sync().await;
    let new = Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        ..cred.clone()
    };
    let (by_old, _, _) = grant(&app, &cred, None).await;
    let (by_new, _, _) = grant(&app, &new, None).await;
    assert_ne!(by_old, all);
    assert_ne!(by_new, by_old);
    assert_eq!(grant(&app, &new, None).await.0, by_new);
    assert_eq!(grant(&app, &cred, None).await.0, by_old);

    // Another credential never gets this one's token.
    let other = app.credential("groups:read groups:write").await;
    assert_ne!(grant(&app, &other, None).await.0, by_new);
}

#[tokio::test]
async fn revocation_an_edit_a_narrowed_ceiling_or_a_new_key_end_reuse_at_once() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;

    // Revoked by the client itself (RFC 7009).
    let (t1, _, _) = grant(&app, &cred, None).await;
    let r = app.revoke(&cred, &t1).await;
    assert_eq!(r.status(), 200);
    let (t2, _, _) = grant(&app, &cred, None).await;
    assert_ne!(t2, t1, "a revoked token is never answered again");

    // An edit of the credential, even one that keeps its scopes.
    app.admin
        .update_credential(
            &id(&cred),
            CredentialChanges {
                label: Some("Renamed".into()),
                scopes: None,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let (t3, _, _) = grant(&app, &cred, None).await;
    assert_ne!(t3, t2);

    // The company's ceiling narrowed: the new token carries what is left.
    app.admin
        .update_company(
            &cred.company,
            CompanyChanges {
                scopes: Some("groups:read".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let (t4, _, scope) = grant(&app, &cred, None).await;
    assert_ne!(t4, t3);
    assert_eq!(scope, "groups:read");

    // A new signing key: the next token is signed by it.
    let key = tollgate_core::keys::rotate(&*app.store, SigningAlg::EdDSA, 3600, app.clock.now())
        .await
        .unwrap();
    app.sync().await;
    let (t5, _, _) = grant(&app, &cred, None).await;
    assert_ne!(t5, t4);
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            t5.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], key.kid);
    assert_eq!(grant(&app, &cred, None).await.0, t5);

    // A rotation without grace: the old secret fails, the new one gets a new token.
    let rotated = app.admin.rotate_secret(&id(&cred), 0).await.unwrap();
    app.sync().await;
    assert_eq!(app.request_token(&cred).await.status(), 401);
    let new = Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        ..cred.clone()
    };
    assert_ne!(grant(&app, &new, None).await.0, t5);

    // Deleted: no token at all.
    app.admin.delete_credential(&id(&cred)).await.unwrap();
    app.sync().await;
    assert_eq!(app.request_token(&new).await.status(), 401);
}

#[tokio::test]
async fn with_token_reuse_off_every_request_gets_a_new_token() {
    let app = helpers::spawn_with(|s| s.token_reuse = false).await;
    let cred = app.credential("groups:read").await;
    let (a, _, _) = grant(&app, &cred, None).await;
    let (b, _, _) = grant(&app, &cred, None).await;
    assert_ne!(a, b);
    assert_eq!(reused_count(&app).await, "tollgate_tokens_reused_total 0");
}
