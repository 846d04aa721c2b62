//! Issue 13, the credentials page's states: empty, the one-time box (client ID, secret, token URL
//! and a ready command), and at the limit the create button disabled with one message.

use reqwest::Method;
use tollgate_core::admin::CompanyChanges;

use crate::admin::{admin_setup, hidden};

#[tokio::test]
async fn the_credentials_page_is_empty_then_shows_the_one_time_box_then_the_limit() {
    let (app, company, p) = admin_setup().await;
    let html = p.text("/admin/credentials").await;
    assert!(html.contains(r#"id="no-credentials""#), "{html}");
    assert!(
        !html.contains(r#"<table id="credentials""#),
        "no empty table: {html}"
    );

    let r = p
        .req(Method::POST, "/admin/credentials")
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("nonce", hidden(&html, "nonce")),
            ("label", "Payroll".into()),
            ("scope", "groups:read".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    let token_url = format!("{}/api/v2/oauth2/token", app.base);
    assert!(
        html.contains(&format!(r#"<code id="token-url">{token_url}</code>"#)),
        "{html}"
    );
    let curl_start = html
        .find(r#"<pre id="ready-curl">"#)
        .expect("a ready command");
    let curl = &html[curl_start..][..html[curl_start..].find("</pre>").unwrap()];
    assert!(
        curl.contains(&format!("curl -s -X POST {token_url}")),
        "{curl}"
    );
    assert!(
        curl.contains("tgsec_"),
        "the command carries the secret: {curl}"
    );
    assert!(
        html.contains(r#"data-copy="client-id""#) && html.contains(r#"data-copy="ready-curl""#)
    );
    assert!(!html.contains(r#"id="no-credentials""#));

    // At the limit: one message, and the create button disabled and pointing at it.
    app.admin
        .update_company(
            &company,
            CompanyChanges {
                max_credentials: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let html = p.text("/admin/credentials").await;
    assert_eq!(
        html.matches("reached its limit of 1 API credentials")
            .count(),
        1,
        "{html}"
    );
    assert!(
        html.contains(r#"<button type="submit" disabled aria-describedby="limit-reached">Create credential</button>"#),
        "{html}"
    );
}
