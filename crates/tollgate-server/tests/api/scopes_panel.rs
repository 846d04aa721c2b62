//! Issue 13, scopes as an admin sees them: a matrix with one row per resource (read, write, bulk;
//! other actions last) and its description, a checkbox only where the company allows the scope;
//! the list says "All N permissions" or "N permissions", the credential's page names them.

use reqwest::Method;
use serde_json::json;

use crate::admin::{PASSWORD, hidden, login, user};
use crate::helpers;

#[tokio::test]
async fn the_matrix_has_a_row_per_resource_and_cells_only_where_allowed() {
    let app = helpers::spawn().await;
    let company = app
        .company("groups:read groups:write groups:bulk users:read")
        .await;
    user(
        &app,
        company,
        "ada@example.com",
        tollgate_core::accounts::Role::Admin,
    )
    .await;
    let p = login(&app, "ada@example.com", PASSWORD).await.unwrap();
    let html = p.text("/admin/credentials").await;
    let matrix = &html[html
        .find(r#"<table class="matrix" id="create-scopes">"#)
        .expect("a matrix")..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert_eq!(matrix.matches("<tr data-resource=").count(), 2, "{matrix}");
    assert!(matrix.contains(r#"<tr data-resource="groups"><th scope="row"><code>groups</code><span class="help">Groups of users"#), "{matrix}");
    for s in ["groups:read", "groups:write", "groups:bulk", "users:read"] {
        assert!(matrix.contains(&format!(r#"value="{s}""#)), "{s}");
    }
    // users:write and users:bulk are not allowed: no checkbox, a dash.
    assert!(!matrix.contains(r#"value="users:write""#));
    assert_eq!(matrix.matches(r#"<span class="na""#).count(), 2);
    assert!(html.contains("4 scopes are allowed for this company"));
    // The tools need the script: hidden without it.
    assert!(html.contains(r#"<div class="matrix-tools" data-js-only hidden>"#));

    // Ticked cells are what the credential gets.
    let r = p
        .req(Method::POST, "/admin/credentials")
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("nonce", hidden(&html, "nonce")),
            ("label", "Everything".into()),
            ("scope", "groups:read".into()),
            ("scope", "groups:write".into()),
            ("scope", "groups:bulk".into()),
            ("scope", "users:read".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, one) = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials",
            Some(json!({"label": "One", "scopes": ["users:read"]})),
        )
        .await;
    let html = p.text("/admin/credentials").await;
    assert!(html.contains(">All 4 permissions</td>"), "{html}");
    assert!(
        html.contains(r#"data-scopes="users:read" title="users:read">1 permission</td>"#),
        "{html}"
    );
    let id = one["client_id"].as_str().unwrap();
    let edit = p.text(&format!("/admin/credentials/{id}")).await;
    assert!(
        edit.contains(r#"<p id="granted">1 permission: <code class="wrap">users:read</code></p>"#),
        "{edit}"
    );
    assert!(
        edit.contains(r#"value="users:read" checked data-action="read""#),
        "{edit}"
    );
    assert!(
        edit.contains(r#"value="groups:read" data-action="read">"#),
        "unticked: {edit}"
    );
}
