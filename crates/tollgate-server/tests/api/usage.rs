//! Issue 13: a credential's usage for the last 30 days (tokens, API calls, failed
//! authentications, 429s) and each secret's last use (time and address), in the admin API and as
//! the credential page's chart and numbers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::{PASSWORD, login, user};
use crate::helpers::{self, Cred, until};

#[tokio::test]
async fn usage_is_counted_per_day_and_each_secret_shows_its_last_use() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits.token_per_client_per_minute = 4;
        s.token_reuse = false;
    })
    .await;
    let company = app.company("groups:read").await;
    user(
        &app,
        company,
        "ada@example.com",
        tollgate_core::accounts::Role::Admin,
    )
    .await;
    let p = login(&app, "ada@example.com", PASSWORD).await.unwrap();
    let (_, created) = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials",
            Some(json!({"label": "Payroll sync", "scopes": ["groups:read"]})),
        )
        .await;
    let cred = Cred {
        company,
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let path = format!("/admin/api/v1/credentials/{}", cred.client_id);

    // Nothing yet: zeros, and no last use.
    let (_, v) = p.json(Method::GET, &path, None).await;
    assert_eq!(v["usage"]["api_calls"], 0, "{v}");
    assert_eq!(v["usage"]["days"], 30);
    assert!(v["secrets"][0]["last_used_at"].is_null(), "{v}");

    // 3 tokens, 1 wrong secret, 5 API calls, then the 4-a-minute token budget refuses one (429).
    let mut token = String::new();
    for _ in 0..3 {
        token = app.token(&cred).await;
    }
    let wrong = app
        .post_token_json(&json!({"grant_type": "client_credentials", "client_id": cred.client_id, "client_secret": "tgsec_wrong"}))
        .await;
    assert_eq!(wrong.status(), 401);
    let limited = app.request_token(&cred).await;
    assert_eq!(limited.status(), 429);
    for _ in 0..5 {
        assert_eq!(
            app.api_status(Method::GET, "/api/v2/groups", &token).await,
            200
        );
    }
    // A refused API call is not an API call.
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", "not-a-token")
            .await,
        401
    );

    let usage = |p: &crate::admin::Panel| {
        let path = path.clone();
        let r = p.req(Method::GET, &path);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    until(|| async { usage(&p).await["usage"]["api_calls"] == 5 }).await;
    let v = usage(&p).await;
    let u = &v["usage"];
    assert_eq!(
        (
            &u["tokens"],
            &u["api_calls"],
            &u["failed_auth"],
            &u["rate_limited"]
        ),
        (&json!(3), &json!(5), &json!(1), &json!(1)),
        "{u}"
    );
    let today = tollgate_core::clock::rfc3339(tollgate_core::clock::Clock::now(&*app.clock));
    assert_eq!(
        u["daily"],
        json!([{"date": &today[..10], "tokens": 3, "api_calls": 5, "failed_auth": 1, "rate_limited": 1}])
    );
    let s = &v["secrets"][0];
    assert_eq!(s["last_used_ip"], "127.0.0.1", "{v}");
    assert!(s["last_used_at"].is_string());

    // The credential page: the totals, one bar pair per day, and the secret's last use.
    let html = p
        .req(
            Method::GET,
            &format!("/admin/credentials/{}", cred.client_id),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<strong>5</strong> API calls · <strong>3</strong> tokens issued · <strong>1</strong> failed authentications · <strong>1</strong> requests refused"), "{html}");
    assert_eq!(html.matches(r#"<rect class="bar-calls""#).count(), 30);
    assert!(
        html.contains(r#"height="100"></rect>"#),
        "the busiest day is full height"
    );
    assert!(html.contains("from 127.0.0.1"), "{html}");

    // A new day starts at zero, the old one is kept; a rotated-in secret has not been used yet.
    app.clock.advance(86_400);
    let p = login(&app, "ada@example.com", PASSWORD).await.unwrap(); // sessions last 8 h
    app.token(&cred).await;
    until(|| async { usage(&p).await["usage"]["daily"].as_array().unwrap().len() == 2 }).await;
    assert_eq!(usage(&p).await["usage"]["tokens"], 4);
    let (status, _) = p
        .json(
            Method::POST,
            &format!("{path}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(status, 200);
    let v = usage(&p).await;
    let secrets = v["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(
        secrets
            .iter()
            .filter(|s| s["last_used_at"].is_null())
            .count(),
        1,
        "{v}"
    );
}
