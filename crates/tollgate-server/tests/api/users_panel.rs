//! Issue 13, users: a message after every action on the users page, removal behind a confirmation
//! step, and nobody makes themself an owner (the panel and the admin API).

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::accounts::Role;

use crate::admin::{PASSWORD, admin_setup, hidden, user};

#[tokio::test]
async fn users_page_confirms_removal_says_what_happened_and_refuses_self_promotion() {
    let (app, company, p) = admin_setup().await;
    let page = |path: &'static str| {
        let r = p.req(Method::GET, path);
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/admin/users").await;
    let csrf = hidden(&html, "csrf");

    let r = p
        .req(Method::POST, "/admin/users")
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "bob@example.com"),
            ("role", "member"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/users?done=added");
    let html = page("/admin/users?done=added").await;
    assert!(html.contains(r#"role="status">User added.<"#), "{html}");
    // Removal is a second step: the button that removes names the user.
    assert!(
        html.contains(r#"<details class="confirm"><summary>Remove<span class="visually-hidden"> bob@example.com</span>…</summary>"#)
            && html.contains("<button type=\"submit\">Remove bob@example.com</button>"),
        "{html}"
    );

    let users: Value = p.json(Method::GET, "/admin/api/v1/users", None).await.1;
    let id_of = |email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ada, bob) = (id_of("ada@example.com"), id_of("bob@example.com"));

    // Ada (an admin) cannot make herself an owner, in the panel or through the API.
    let r = p
        .req(Method::POST, &format!("/admin/users/{ada}/role"))
        .form(&[("csrf", csrf.as_str()), ("role", "owner")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("You cannot make yourself an owner"), "{html}");
    let r = p
        .req(Method::PATCH, &format!("/admin/api/v1/users/{ada}"))
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // She may promote someone else; an owner may promote her.
    let r = p
        .req(Method::POST, &format!("/admin/users/{bob}/role"))
        .form(&[("csrf", csrf.as_str()), ("role", "owner")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/users?done=role");
    user(&app, company, "olga@example.com", Role::Owner).await;
    let olga = crate::admin::login(&app, "olga@example.com", PASSWORD)
        .await
        .unwrap();
    let r = olga
        .req(Method::PATCH, &format!("/admin/api/v1/users/{ada}"))
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = p
        .req(Method::POST, &format!("/admin/users/{bob}/delete"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/users?done=removed");
    let html = page("/admin/users?done=removed").await;
    assert!(
        html.contains("User removed; their sessions ended."),
        "{html}"
    );
    assert!(!html.contains("bob@example.com"), "{html}");
}

#[tokio::test]
async fn a_user_changes_their_own_password_and_every_session_of_theirs_ends() {
    let (app, company, admin) = admin_setup().await;
    user(&app, company, "mia@example.com", Role::Member).await;
    let mia = crate::admin::login(&app, "mia@example.com", PASSWORD)
        .await
        .unwrap();
    let other = crate::admin::login(&app, "mia@example.com", PASSWORD)
        .await
        .unwrap();
    let html = mia.text("/admin/password").await;
    assert!(html.contains(r#"id="password-form""#), "{html}");
    let csrf = hidden(&html, "csrf");
    let new = "a much longer passphrase";
    let send = |current: &'static str, new: &'static str, confirm: &'static str| {
        let r = mia.req(Method::POST, "/admin/password").form(&[
            ("csrf", csrf.as_str()),
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", confirm),
        ]);
        async move {
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.headers().get("set-cookie").cloned(),
                r.text().await.unwrap(),
            )
        }
    };
    for (current, n, confirm, field) in [
        ("not my password!", new, new, "current-error"),
        (PASSWORD, new, "a much longer passphrasf", "confirm-error"),
        (PASSWORD, "short", "short", "new-error"),
        (PASSWORD, PASSWORD, PASSWORD, "new-error"),
    ] {
        let (status, _, html) = send(current, n, confirm).await;
        assert_eq!(status, 400, "{field}");
        assert!(
            html.contains(&format!(r#"id="{field}" role="alert""#)),
            "{field}: {html}"
        );
    }
    // Refusals changed nothing: the old password still logs in.
    crate::admin::login(&app, "mia@example.com", PASSWORD)
        .await
        .unwrap();

    let (status, cookie, html) = send(PASSWORD, new, new).await;
    assert_eq!(status, 200);
    assert!(html.contains("Password changed"), "{html}");
    assert!(cookie.unwrap().to_str().unwrap().contains("Max-Age=0"));
    for session in [&mia, &other] {
        let r = session
            .req(Method::GET, "/admin/api/v1/session")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "every session of hers ended");
    }
    assert!(
        crate::admin::login(&app, "mia@example.com", PASSWORD)
            .await
            .is_err()
    );
    crate::admin::login(&app, "mia@example.com", new)
        .await
        .unwrap();
    let (changed, audit) = admin.audit_of("user.password_changed").await;
    assert_eq!(changed.len(), 1, "{audit}");
    assert!(!audit.to_string().contains(new));
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_logins() {
    let app = crate::helpers::spawn_with(|s| s.login_attempts_per_account = 3).await;
    let company = app.company("groups:read").await;
    user(&app, company, "mia@example.com", Role::Member).await;
    let mia = crate::admin::login(&app, "mia@example.com", PASSWORD)
        .await
        .unwrap();
    let html = mia.text("/admin/password").await;
    let csrf = hidden(&html, "csrf");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = mia
            .req(Method::POST, "/admin/password")
            .form(&[
                ("csrf", csrf.as_str()),
                ("current_password", "a wrong guess here"),
                ("new_password", "a much longer passphrase"),
                ("confirm_password", "a much longer passphrase"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // The login used one attempt of the account's three.
    assert_eq!(statuses, [400, 400, 429]);
}
