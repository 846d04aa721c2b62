//! The token endpoint's contract and the token lifecycle seen from the resource side.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::clock::Clock;
use tollgate_core::ids::ClientId;

use crate::helpers::{self, error_of};

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test]
async fn json_body_as_in_the_reference_gets_a_bearer_token() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], json!(3600), "expires_in is a JSON number");
    assert_eq!(v["scope"], "groups:read groups:write");
    let token = v["access_token"].as_str().unwrap();
    let h = header(token);
    assert_eq!(h["alg"], "ES256", "the default of a new installation");
    assert_eq!(h["typ"], "at+jwt");
    assert!(h["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let c = claims(token);
    assert_eq!(c["sub"], cred.client_id.as_str());
    assert_eq!(c["client_id"], cred.client_id.as_str());
    assert_eq!(c["iss"], app.base.as_str());
    assert_eq!(c["aud"], app.base.as_str());
    assert_eq!(c["company_id"], cred.company.to_string());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    // The token works on the API.
    let r = app
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn form_body_client_secret_post_works() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        cred.client_id, cred.secret
    );
    let r = app
        .post_token_raw("application/x-www-form-urlencoded", body)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "groups:read");
}

#[tokio::test]
async fn basic_auth_client_secret_basic_works_with_form_and_json() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let basic = STANDARD.encode(format!("{}:{}", cred.client_id, cred.secret));
    let r = app
        .client
        .post(app.token_url())
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.token_url())
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn scope_parameter_asks_for_a_subset() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let r = app
        .post_token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.secret,
            "scope": "groups:read",
        }))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "groups:read");
    let token = v["access_token"].as_str().unwrap();
    // Reads work, writes are refused: the token holds only groups:read.
    let root = app.root_group(token).await;
    let r = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": "x", "public": false, "parentId": root}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn configured_ttl_is_honoured_and_expiry_is_exact() {
    let app = helpers::spawn_with(|s| s.token_ttl = 120).await;
    let cred = app.credential("groups:read").await;
    let r = app.request_token(&cred).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], json!(120));
    let token = v["access_token"].as_str().unwrap().to_owned();
    app.clock.advance(119);
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "valid one second before exp");
    app.clock.advance(1);
    let (status, body, www) = error_of(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "refused at exp");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "the access token has expired");
    let www = www.unwrap();
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    // A new token works again: clients re-authenticate on their own.
    let token = app.token(&cred).await;
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn deleting_a_credential_revokes_its_tokens_at_once() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.admin
        .delete_credential(&ClientId::parse(&cred.client_id).unwrap())
        .await
        .unwrap();
    app.sync().await;
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error_description"],
        "the access token has been revoked"
    );
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn background_sync_applies_changes_within_a_second() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    app.admin
        .delete_credential(&ClientId::parse(&cred.client_id).unwrap())
        .await
        .unwrap();
    // No manual sync: the server's own change-feed loop must pick it up.
    let start = std::time::Instant::now();
    loop {
        let s = app
            .api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status();
        if s == 401 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still accepted after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn rotation_without_grace_kills_old_secret_and_tokens() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let old_token = app.token(&cred).await;
    let rotated = app
        .admin
        .rotate_secret(&ClientId::parse(&cred.client_id).unwrap(), 0)
        .await
        .unwrap();
    app.sync().await;
    let r = app
        .api(Method::GET, "/api/v2/groups", &old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 401, "old secret refused");
    let new = helpers::Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        ..cred
    };
    let token = app.token(&new).await;
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn rotation_with_grace_keeps_old_secret_until_grace_ends() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let old_token = app.token(&cred).await;
    let rotated = app
        .admin
        .rotate_secret(&ClientId::parse(&cred.client_id).unwrap(), 300)
        .await
        .unwrap();
    app.sync().await;
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &old_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let _still = app.token(&cred).await; // old secret still accepted during grace
    let new = helpers::Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        company: cred.company,
        client_id: cred.client_id.clone(),
    };
    let new_token = app.token(&new).await;
    app.clock.advance(300);
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &old_token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &new_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn narrowing_credential_scopes_applies_to_existing_tokens() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let create = || {
        app.api(Method::POST, "/api/v2/groups", &token)
            .json(&json!({"name": "Team", "public": false, "parentId": root}))
    };
    assert_eq!(create().send().await.unwrap().status(), 201);
    app.admin
        .update_credential(
            &ClientId::parse(&cred.client_id).unwrap(),
            CredentialChanges {
                scopes: Some("groups:read".parse().unwrap()),
                label: None,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let (status, body, www) = error_of(create().send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "invalid_scope");
    assert!(www.unwrap().contains("scope=\"groups:write\""));
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn narrowing_the_company_ceiling_applies_at_once() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    app.admin
        .update_company(
            &cred.company,
            CompanyChanges {
                scopes: Some("users:read".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "invalid_scope");
    // New tokens carry only what is left.
    let r = app.request_token(&cred).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "");
}

#[tokio::test]
async fn restart_keeps_tokens_valid() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let app = helpers::spawn_with(|s| s.database_url = url.clone()).await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let issuer = app.base.clone();
    app.stop().await;
    // Same database, same issuer: the signing key was kept.
    let app = helpers::spawn_with(|s| {
        s.database_url = url.clone();
        s.issuer = Some(issuer.clone());
    })
    .await;
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn last_used_is_recorded_off_the_hot_path() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let id = ClientId::parse(&cred.client_id).unwrap();
    assert_eq!(app.admin.credential(&id).await.unwrap().last_used_at, None);
    let _ = app.token(&cred).await;
    let now = app.clock.now();
    let start = std::time::Instant::now();
    loop {
        if app.admin.credential(&id).await.unwrap().last_used_at == Some(now) {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "last_used_at never written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = helpers::spawn().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    let r = app
        .client
        .get(format!("{}/nope", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "notFound");
}

#[tokio::test]
async fn metrics_count_token_requests_and_authorizations() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let bad = helpers::Cred {
        secret: "wrong".into(),
        company: cred.company,
        client_id: cred.client_id.clone(),
    };
    assert_eq!(app.request_token(&bad).await.status(), 401);
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let text = app.metrics_text().await;
    assert!(
        text.contains("tollgate_token_requests_total{outcome=\"issued\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_token_requests_total{outcome=\"invalid_client\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_api_authorizations_total{outcome=\"allowed\"} 1"),
        "{text}"
    );
    assert!(text.contains("tollgate_credentials_cached 1"), "{text}");
    assert!(!text.contains(&cred.secret));
}
