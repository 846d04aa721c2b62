//! Issue 13: "Revoke old secret now". During a rotation's grace period the old secret can be ended
//! at once (`DELETE /admin/api/v1/credentials/{client_id}/secrets/{secret_id}`, or the button on
//! the panel's edit page): it and its tokens are refused from then on; the only live secret cannot
//! be ended (rotate instead).

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::{admin_setup, hidden};
use crate::helpers::{Cred, TestApp, error_of};

async fn groups_status(app: &TestApp, token: &str) -> u16 {
    app.api_status(Method::GET, "/api/v2/groups", token).await
}

/// The id of the secret of `view` that is not `known` (secrets made in one second come in id order).
fn other_secret(view: &Value, known: &str) -> String {
    let ids: Vec<&str> = view["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .filter(|id| *id != known)
        .collect();
    assert_eq!(ids.len(), 1, "{view}");
    ids[0].to_owned()
}

#[tokio::test]
async fn an_old_secret_is_ended_at_once_with_its_tokens_and_the_last_one_is_kept() {
    let (app, company, p) = admin_setup().await;
    let created: Value = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials",
            Some(json!({"label": "Payroll", "scopes": ["groups:read"]})),
        )
        .await
        .1;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let old = Cred {
        company,
        client_id: id.clone(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let old_id = created["secrets"][0]["id"].as_str().unwrap().to_owned();
    let old_token = app.token(&old).await;

    let rotated: Value = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{id}/rotate"),
        )
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = Cred {
        secret: rotated["client_secret"].as_str().unwrap().to_owned(),
        ..old.clone()
    };
    let new_id = other_secret(&rotated, &old_id);
    assert_eq!(groups_status(&app, &old_token).await, 200, "in its grace");

    // The edit page says until when the old secret works, and offers to end it.
    let edit = p.text(&format!("/admin/credentials/{id}")).await;
    assert!(edit.contains("Old secret valid until"), "{edit}");
    assert!(edit.contains("(in 60 min)"), "{edit}");
    // Times are relative to the server's clock, the exact UTC time in the tooltip.
    let now = tollgate_core::clock::Clock::now(&*app.clock);
    let end = tollgate_core::clock::rfc3339(now + 3600);
    let exact = format!("{} UTC", end.replace('T', " ").trim_end_matches('Z'));
    assert!(
        edit.contains(&format!("<time datetime=\"{end}\" title=\"{exact}\">")),
        "{edit}"
    );
    assert!(edit.contains(">just now</time>"), "{edit}");
    assert!(
        edit.contains(&format!("/admin/credentials/{id}/secrets/{old_id}/revoke")),
        "{edit}"
    );
    assert!(
        !edit.contains(&format!("/secrets/{new_id}/revoke")),
        "no button for the current secret"
    );

    // Ended from the panel: refused at once, with its token; the new secret works.
    let r = p
        .req(
            Method::POST,
            &format!("/admin/credentials/{id}/secrets/{old_id}/revoke"),
        )
        .form(&[("csrf", hidden(&edit, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.request_token(&old).await.status(), 401);
    assert_eq!(groups_status(&app, &old_token).await, 401);
    assert_eq!(app.request_token(&new).await.status(), 200);
    let (entries, audit) = p.audit_of("credential.secret_revoked").await;
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(!audit.to_string().contains(&old.secret));

    // The only live secret stays (409), an unknown one is 404, and nothing changes.
    let path = |sid: &str| format!("/admin/api/v1/credentials/{id}/secrets/{sid}");
    for (sid, status, code) in [
        (new_id.as_str(), 409, "lastSecret"),
        (old_id.as_str(), 404, "secretNotFound"),
        ("tgs_nope", 404, "secretNotFound"),
    ] {
        let (s, body, _) = error_of(p.req(Method::DELETE, &path(sid)).send().await.unwrap()).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(app.request_token(&new).await.status(), 200);

    // Rotated again, the API ends the old one the same way.
    let again: Value = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{id}/rotate"),
        )
        .json(&json!({"grace_seconds": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = p.req(Method::DELETE, &path(&new_id)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(shown["secrets"][0]["id"], other_secret(&again, &new_id));
    assert_eq!(app.request_token(&new).await.status(), 401);
}

#[tokio::test]
async fn another_companys_secret_reads_as_missing() {
    let (app, _company, p) = admin_setup().await;
    let other = app.credential("groups:read").await;
    let sid = app
        .admin
        .credential(&crate::helpers::client_id(&other))
        .await
        .unwrap()
        .secrets[0]
        .id
        .as_str()
        .to_owned();
    let (s, body, _) = error_of(
        p.req(
            Method::DELETE,
            &format!(
                "/admin/api/v1/credentials/{}/secrets/{sid}",
                other.client_id
            ),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("credentialNotFound"))
    );
    assert_eq!(app.request_token(&other).await.status(), 200);
}
