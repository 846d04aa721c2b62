//! A leaked secret revoked from its text alone through the admin API: its tokens and the secret
//! stop at once, the credential gets a new secret, the change is audited, and another company's
//! admin learns nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::accounts::Role;

use crate::admin::{PASSWORD, admin_setup, hidden, login, user};
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

#[tokio::test]
async fn the_panel_revokes_a_leaked_secret_pasted_into_its_form() {
    let (app, company, p) = admin_setup().await;
    let cred = app.credential_in(company, "groups:read").await;
    let token = app.token(&cred).await;
    let page = |p: &crate::admin::Panel| {
        let r = p.req(Method::GET, "/admin/credentials");
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let post = |p: &crate::admin::Panel, html: &str, secret: &str| {
        let form = [
            ("csrf", hidden(html, "csrf")),
            ("nonce", hidden(html, "nonce")),
            ("secret", secret.to_owned()),
        ];
        let r = p
            .req(Method::POST, "/admin/credentials/revoke-leaked")
            .form(&form);
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let html = page(&p).await;
    assert!(html.contains("Revoke a leaked secret"), "{html}");

    // Not one of this company's secrets: the message, and nothing changes.
    let (status, body) = post(&p, &html, "tgsec_not-one-of-ours").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("No credential of this company has that secret"),
        "{body}"
    );
    assert!(
        !body.contains("tgsec_not-one-of-ours"),
        "the pasted text is not echoed"
    );
    let (status, body) = post(&p, &page(&p).await, "  ").await;
    assert_eq!(status, 400);
    assert!(
        body.contains(r#"id="secret-error" role="alert">Paste the leaked client secret.<"#)
            && body.contains(r#"aria-invalid="true" aria-describedby="leaked-help secret-error""#),
        "{body}"
    );
    assert_eq!(app.request_token(&cred).await.status(), 200);

    // This company's secret, pasted with the newline an editor adds: revoked, a new secret shown once.
    let (status, body) = post(&p, &page(&p).await, &format!("{}\n", cred.secret)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no longer works"), "{body}");
    let fresh = hidden_secret(&body);
    assert_ne!(fresh, cred.secret);
    assert!(
        !body.contains(&cred.secret),
        "the leaked secret is not shown back"
    );
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(app.request_token(&cred).await.status(), 401);
    let renewed = helpers::Cred {
        secret: fresh,
        ..cred.clone()
    };
    assert_eq!(app.request_token(&renewed).await.status(), 200);
    let (leaked, audit) = p.audit_of("credential.secret_leaked").await;
    assert_eq!(leaked.len(), 1, "{audit}");

    // The same form sent again (a reload) does nothing more.
    let (status, _) = post(&p, &html, &cred.secret).await;
    assert_ne!(status, 200);
    assert_eq!(p.audit_of("credential.secret_leaked").await.0.len(), 1);
}

/// The secret shown once on the credentials page.
fn hidden_secret(html: &str) -> String {
    let marker = "<code id=\"client-secret\">";
    let start = html.find(marker).expect("a secret is shown") + marker.len();
    html[start..][..html[start..].find('<').unwrap()].to_owned()
}
