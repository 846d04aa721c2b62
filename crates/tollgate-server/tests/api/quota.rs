//! The issuance quota: at most N new tokens per credential per hour (`[rate_limits]
//! tokens_per_credential_per_hour`, off by default; a company may override it), then 429 with
//! `Retry-After` until the hour ends. Tokens answered again by reuse do not count.

use reqwest::Method;
use serde_json::json;
use tollgate_core::admin::CompanyChanges;

use crate::helpers::{self, Cred, TestApp, error_of};

/// An hour boundary (in the tests' clock) plus `offset` seconds.
fn at_hour(app: &TestApp, offset: i64) {
    let now = tollgate_core::clock::Clock::now(&*app.clock);
    app.clock.set((now.div_euclid(3600) + 1) * 3600 + offset);
}

async fn status(app: &TestApp, cred: &Cred, scope: Option<&str>) -> u16 {
    let mut body = json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    });
    if let Some(scope) = scope {
        body["scope"] = scope.into();
    }
    app.post_token_json(&body).await.status().as_u16()
}

async fn quota_refusals(app: &TestApp) -> String {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("tollgate_token_requests_total{outcome=\"quota_exceeded\"}"))
        .expect("quota outcome in /metrics")
        .to_owned()
}

#[tokio::test]
async fn over_the_quota_a_credential_gets_429_until_the_hour_ends_and_others_are_untouched() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits.tokens_per_credential_per_hour = 3;
        s.token_reuse = false;
    })
    .await;
    at_hour(&app, 10);
    let cred = app.credential("groups:read").await;
    let other = app.credential("groups:read").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(app.token(&cred).await);
    }
    let r = app.request_token(&cred).await;
    let retry = r.headers()["retry-after"].to_str().unwrap().to_owned();
    let (status, body, _) = error_of(r).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("tooManyRequests"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("quota"),
        "{body}"
    );
    assert_eq!(retry, "3590", "seconds to the end of the hour");
    assert!(quota_refusals(&app).await.ends_with(" 1"));
    // The tokens it has keep working; another credential is not affected.
    for t in &tokens {
        assert_eq!(
            app.api(Method::GET, "/api/v2/groups", t)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(status_of(&app, &other).await, 200);
    // The next hour, the quota is back.
    app.clock.advance(3590);
    assert_eq!(status_of(&app, &cred).await, 200);
}

async fn status_of(app: &TestApp, cred: &Cred) -> u16 {
    status(app, cred, None).await
}

#[tokio::test]
async fn reused_tokens_do_not_count_against_the_quota() {
    let app = helpers::spawn_with(|s| s.rate_limits.tokens_per_credential_per_hour = 1).await;
    at_hour(&app, 0);
    let cred = app.credential("groups:read groups:write").await;
    let first = app.token(&cred).await;
    for _ in 0..20 {
        assert_eq!(app.token(&cred).await, first, "answered by reuse");
    }
    // Another scope set needs a new token: over the quota.
    assert_eq!(status(&app, &cred, Some("groups:read")).await, 429);
    assert_eq!(status(&app, &cred, None).await, 200, "reuse still answers");
}

#[tokio::test]
async fn a_company_overrides_the_default_quota_or_lifts_it() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits.tokens_per_credential_per_hour = 2;
        s.token_reuse = false;
    })
    .await;
    at_hour(&app, 0);
    let raised = app.credential("groups:read").await;
    let lifted = app.credential("groups:read").await;
    let default = app.credential("groups:read").await;
    for (cred, quota) in [(&raised, Some(5)), (&lifted, Some(0))] {
        app.admin
            .update_company(
                &cred.company,
                CompanyChanges {
                    token_quota_per_hour: Some(quota),
                    ..CompanyChanges::default()
                },
            )
            .await
            .unwrap();
    }
    app.sync().await;
    let mut got = Vec::new();
    for cred in [&raised, &lifted, &default] {
        let mut ok = 0;
        for _ in 0..8 {
            if status_of(&app, cred).await == 200 {
                ok += 1;
            }
        }
        got.push(ok);
    }
    assert_eq!(
        got,
        [5, 8, 2],
        "override 5, override 0 (no quota), the default 2"
    );
    // Back to the default: the count of this hour stands.
    app.admin
        .update_company(
            &raised.company,
            CompanyChanges {
                token_quota_per_hour: Some(None),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    assert_eq!(status_of(&app, &raised).await, 429);
}

#[tokio::test]
async fn without_a_quota_configured_nothing_is_counted() {
    let app = helpers::spawn_with(|s| s.token_reuse = false).await;
    let cred = app.credential("groups:read").await;
    for _ in 0..30 {
        assert_eq!(status_of(&app, &cred).await, 200);
    }
    assert!(quota_refusals(&app).await.ends_with(" 0"));
}
