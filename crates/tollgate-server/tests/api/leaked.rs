//! A leaked secret revoked from its text alone through the admin API: its tokens and the secret
//! stop at once, the credential gets a new secret, the change is audited, and another company's
//! admin learns nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::accounts::Role;

use crate::admin::{PASSWORD, admin_setup, login, user};
use crate::helpers::{self, error_of};

#[tokio::test]
async fn a_leaked_secret_is_revoked_from_its_text_and_audited() {
    let (app, company, p) = admin_setup().await;
    let cred = app.credential_in(company, "groups:read").await;
    let token = app.token(&cred).await;
    assert_eq!(
        tollgate_core::secret::check_format(&cred.secret),
        tollgate_core::secret::SecretFormat::Checked,
        "new secrets carry a checksum"
    );

    // Another company's admin: the secret reads as unknown, and nothing changes.
    let other = app.company("groups:read").await;
    user(&app, other, "eve@example.com", Role::Admin).await;
    let eve = login(&app, "eve@example.com", PASSWORD).await.unwrap();
    let (status, body, _) = error_of(
        eve.req(Method::POST, "/admin/api/v1/credentials/revoke-leaked")
            .json(&json!({"secret": cred.secret}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("credentialNotFound"))
    );
    assert_eq!(app.request_token(&cred).await.status(), 200);

    // Bad input: clear errors, nothing changes.
    for bad in [
        json!({}),
        json!({"secret": 7}),
        json!({"secret": cred.secret, "x": 1}),
    ] {
        let r = p
            .req(Method::POST, "/admin/api/v1/credentials/revoke-leaked")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = p
        .req(Method::POST, "/admin/api/v1/credentials/revoke-leaked")
        .json(&json!({"secret": "tgsec_not-one-of-ours"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The owner's admin: revoked at once, a new secret once.
    let r = p
        .req(Method::POST, "/admin/api/v1/credentials/revoke-leaked")
        .json(&json!({"secret": cred.secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["client_id"], cred.client_id.as_str());
    let fresh = v["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(fresh, cred.secret);
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "the leaked secret's tokens are refused at once"
    );
    let (status, body, _) = error_of(app.request_token(&cred).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let renewed = helpers::Cred {
        secret: fresh.clone(),
        ..cred.clone()
    };
    let token = app.token(&renewed).await;
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Once revoked, the leaked text finds nothing.
    let r = p
        .req(Method::POST, "/admin/api/v1/credentials/revoke-leaked")
        .json(&json!({"secret": cred.secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (leaked, audit) = p.audit_of("credential.secret_leaked").await;
    assert_eq!(leaked.len(), 1, "{audit}");
    assert_eq!(leaked[0]["target"], cred.client_id.as_str());
    assert!(!audit.to_string().contains(&cred.secret) && !audit.to_string().contains(&fresh));
}
