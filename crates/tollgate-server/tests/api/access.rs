//! Issue 13: a credential's expiry and IP allowlist. An expired credential is refused
//! (`invalid_client`) and so are its tokens; a token never outlives its credential. A token request
//! from outside the allowlist is refused, with a description only for the secret's holder; behind
//! `trusted_proxies` the forwarded address is the client's.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::allowlist::IpAllowlist;
use tollgate_core::clock::{Clock, rfc3339};

use crate::admin::admin_setup;
use crate::helpers::{self, Cred, TestApp, client_id, error_of};

fn now(app: &TestApp) -> i64 {
    app.clock.now()
}

fn cred_of(v: &Value, company: tollgate_core::ids::CompanyId) -> Cred {
    Cred {
        company,
        client_id: v["client_id"].as_str().unwrap().to_owned(),
        secret: v["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn groups_status(app: &TestApp, token: &str) -> u16 {
    app.api_status(Method::GET, "/api/v2/groups", token).await
}

/// A token request's status and `error_description`.
async fn token_refusal(app: &TestApp, cred: &Cred, secret: &str) -> (u16, Value) {
    let (status, body, _) = error_of(
        app.post_token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": secret,
        }))
        .await,
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn a_credential_expires_with_its_tokens_and_a_token_never_outlives_it() {
    let (app, company, p) = admin_setup().await;
    let expires_at = now(&app) + 600;
    let (status, created) = p.json(Method::POST, "/admin/api/v1/credentials", Some(json!({"label": "Contractor", "scopes": ["groups:read"], "expires_at": rfc3339(expires_at)}))).await;
    assert_eq!(status, 201);
    assert_eq!(created["expires_at"], rfc3339(expires_at));
    let cred = cred_of(&created, company);

    // Ten minutes left: the token lasts ten minutes, not the hour.
    let issued: Value = app.request_token(&cred).await.json().await.unwrap();
    assert_eq!(issued["expires_in"], 600, "{issued}");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(groups_status(&app, &token).await, 200);

    app.clock.set(expires_at);
    let (status, body) = token_refusal(&app, &cred, &cred.secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        body["error_description"],
        "client authentication failed: the credential has expired"
    );
    // Only the secret's holder learns why.
    let (_, body) = token_refusal(&app, &cred, "tgsec_not_the_secret").await;
    assert_eq!(body["error_description"], "client authentication failed");
    let (status, _, www) = error_of(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(www.unwrap().contains("expired"), "its token ends with it");

    // Setting an expiry in the past, or one that is not RFC 3339, changes nothing.
    let path = format!("/admin/api/v1/credentials/{}", cred.client_id);
    for (bad, says) in [
        (json!(rfc3339(now(&app) - 1)), "future"),
        (json!("next tuesday"), "RFC 3339"),
        (json!(1_900_000_000), "invalid"),
    ] {
        let (status, body) = p
            .json(Method::PATCH, &path, Some(json!({ "expires_at": bad })))
            .await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.to_string().contains(says), "{bad}: {body}");
    }
    let (_, shown) = p.json(Method::GET, &path, None).await;
    assert_eq!(shown["expires_at"], rfc3339(expires_at));

    // Extended (null: no expiry): it works again; a PATCH without the field keeps it.
    let (status, _) = p
        .json(Method::PATCH, &path, Some(json!({ "expires_at": null })))
        .await;
    assert_eq!(status, 200);
    let (_, shown) = p
        .json(
            Method::PATCH,
            &path,
            Some(json!({ "label": "Contractor (extended)" })),
        )
        .await;
    assert_eq!(shown["expires_at"], Value::Null, "{shown}");
    let issued: Value = app.request_token(&cred).await.json().await.unwrap();
    assert_eq!(issued["expires_in"], 3600, "{issued}");

    // An expiry set after a token was issued ends that token too.
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let (status, _) = p
        .json(
            Method::PATCH,
            &path,
            Some(json!({ "expires_at": rfc3339(now(&app) + 60) })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(groups_status(&app, &token).await, 200);
    app.clock.advance(60);
    assert_eq!(groups_status(&app, &token).await, 401);
}

#[tokio::test]
async fn an_ip_allowlist_refuses_other_addresses_and_tells_only_the_secret_holder() {
    let (app, company, p) = admin_setup().await;
    let (status, created) = p.json(Method::POST, "/admin/api/v1/credentials", Some(json!({"label": "Office only", "scopes": ["groups:read"], "allowed_ips": ["203.0.113.0/24"]}))).await;
    assert_eq!(status, 201);
    assert_eq!(created["allowed_ips"], json!(["203.0.113.0/24"]));
    let cred = cred_of(&created, company);

    let failed_before = invalid_client_count(&app).await;
    let (status, body) = token_refusal(&app, &cred, &cred.secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let why = body["error_description"].as_str().unwrap();
    assert_eq!(
        why,
        "client authentication failed: the credential may not be used from this address"
    );
    assert!(
        !why.contains("203.0.113"),
        "never which addresses are allowed"
    );
    let (_, body) = token_refusal(&app, &cred, "tgsec_not_the_secret").await;
    assert_eq!(body["error_description"], "client authentication failed");
    assert_eq!(
        invalid_client_count(&app).await,
        failed_before + 2,
        "counted as failed authentications"
    );
    // Introspection authenticates the same way.
    let r = app
        .client
        .post(format!("{}/api/v2/oauth2/introspect", app.base))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A malformed entry is refused with the reason, and nothing changes.
    let path = format!("/admin/api/v1/credentials/{}", cred.client_id);
    for (bad, says) in [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
        ("example.com", "not an IP address or a CIDR"),
    ] {
        let (status, body) = p
            .json(Method::PATCH, &path, Some(json!({ "allowed_ips": [bad] })))
            .await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.to_string().contains(says), "{bad}: {body}");
    }
    let (_, shown) = p.json(Method::GET, &path, None).await;
    assert_eq!(shown["allowed_ips"], json!(["203.0.113.0/24"]));

    // The loopback address the tests come from: allowed.
    let (status, _) = p
        .json(
            Method::PATCH,
            &path,
            Some(json!({ "allowed_ips": ["127.0.0.0/8", "::1"] })),
        )
        .await;
    assert_eq!(status, 200);
    let token = app.token(&cred).await;
    assert_eq!(groups_status(&app, &token).await, 200);
    // Emptied: any address.
    let (_, shown) = p
        .json(Method::PATCH, &path, Some(json!({ "allowed_ips": [] })))
        .await;
    assert_eq!(shown["allowed_ips"], json!([]));
}

async fn invalid_client_count(app: &TestApp) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("tollgate_token_requests_total{outcome=\"invalid_client\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse().unwrap())
}

async fn from(app: &TestApp, cred: &Cred, forwarded: Option<&str>) -> u16 {
    let mut r = app
        .client
        .post(app.token_url())
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.unwrap().status().as_u16()
}

async fn office_only(app: &TestApp) -> Cred {
    let cred = app.credential("groups:read").await;
    app.admin
        .update_credential(
            &client_id(&cred),
            CredentialChanges {
                allowed_ips: Some(IpAllowlist::parse(&["203.0.113.0/24"]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    cred
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_clients() {
    let app = helpers::spawn_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".into(), "::1".into()];
        s.token_reuse = false;
    })
    .await;
    let cred = office_only(&app).await;
    assert_eq!(from(&app, &cred, Some("203.0.113.5")).await, 200);
    // What the client wrote first is skipped: the proxy appended the address it saw.
    assert_eq!(
        from(&app, &cred, Some("203.0.113.5, 198.51.100.1")).await,
        401
    );
    assert_eq!(
        from(&app, &cred, Some("198.51.100.1, 203.0.113.5")).await,
        200
    );
    assert_eq!(
        from(&app, &cred, None).await,
        401,
        "the proxy's own address"
    );

    // Without trusted proxies, anyone can write the header: it is ignored.
    let plain = helpers::spawn().await;
    let cred = office_only(&plain).await;
    assert_eq!(from(&plain, &cred, Some("203.0.113.5")).await, 401);

    // A trusted proxy that is not an address or a network is a configuration error.
    let bad = tollgate_server::Settings {
        trusted_proxies: vec!["10.0.0.0/33".into()],
        ..Default::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("trusted_proxies"), "{e}");
}

#[tokio::test]
async fn the_panel_sets_expiry_and_allowlist_keeps_refused_values_and_marks_expiring_ones() {
    let (app, company, p) = admin_setup().await;
    let get = |path: &str| {
        let r = p.req(Method::GET, path);
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let post = |page: String, expires: String, ips: &'static str| {
        let r = p.req(Method::POST, "/admin/credentials").form(&[
            ("csrf", crate::admin::hidden(&page, "csrf")),
            ("nonce", crate::admin::hidden(&page, "nonce")),
            ("label", "Contractor".into()),
            ("scope", "groups:read".into()),
            ("expires_at", expires),
            ("allowed_ips", ips.into()),
        ]);
        async move { r.send().await.unwrap() }
    };
    // A bad network: refused, the typed values come back, the message by its field.
    let in_ten_days = rfc3339(now(&app) + 10 * 86_400)[..16].to_owned();
    let r = post(
        get("/admin/credentials").await,
        in_ten_days.clone(),
        "203.0.113.0/24\n10.0.0.1/8",
    )
    .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"name="expires_at" value="{in_ten_days}""#)),
        "{html}"
    );
    assert!(
        html.contains("203.0.113.0/24\n10.0.0.1/8</textarea>"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="ips-error" role="alert">&#34;10.0.0.1/8&#34; has host bits set: did you mean 10.0.0.0/8?<"#),
        "{html}"
    );
    assert!(app.admin.credentials(&company).await.unwrap().is_empty());

    // Sent right: stored as typed (the time read as UTC), marked as expiring in the list.
    let r = post(
        get("/admin/credentials").await,
        in_ten_days.clone(),
        "203.0.113.0/24\n198.51.100.7",
    )
    .await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    assert!(html.contains("expires in 10 days"), "{html}");
    assert!(html.contains("IP allowlist"), "{html}");
    let stored = app.admin.credentials(&company).await.unwrap().remove(0);
    assert_eq!(
        rfc3339(stored.access.expires_at.unwrap())[..16],
        in_ten_days[..]
    );
    assert_eq!(
        stored.access.allowed_ips.to_string(),
        "198.51.100.7/32 203.0.113.0/24"
    );

    // The edit page shows them; emptied there, they are gone.
    let edit = get(&format!("/admin/credentials/{}", stored.client_id)).await;
    assert!(
        edit.contains(&format!(r#"name="expires_at" value="{in_ten_days}""#)),
        "{edit}"
    );
    assert!(
        edit.contains("198.51.100.7/32\n203.0.113.0/24</textarea>"),
        "{edit}"
    );
    let r = p
        .req(
            Method::POST,
            &format!("/admin/credentials/{}", stored.client_id),
        )
        .form(&[
            ("csrf", crate::admin::hidden(&edit, "csrf").as_str()),
            ("label", "Contractor"),
            ("scope", "groups:read"),
            ("expires_at", ""),
            ("allowed_ips", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let c = app.admin.credential(&stored.client_id).await.unwrap();
    assert_eq!(c.access, tollgate_core::model::CredentialAccess::default());
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_login_and_the_audit_log_see_the_clients_address() {
    let app = helpers::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let company = app.company("groups:read").await;
    crate::admin::user(
        &app,
        company,
        "ada@example.com",
        tollgate_core::accounts::Role::Admin,
    )
    .await;
    let r = app
        .client
        .post(format!("{}/admin/login", app.base))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[
            ("email", "ada@example.com"),
            ("password", crate::admin::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
    let audit = app.store.list_audit(&company, 10).await.unwrap();
    let login = audit
        .iter()
        .find(|e| e.action == tollgate_core::accounts::AuditAction::LoginSucceeded)
        .expect("login audited");
    assert_eq!(login.remote_addr.as_deref(), Some("203.0.113.9"));
}

/// The server's background loop writes `credential.expired` once the expiry passes (the store
/// suite shows that concurrent sweeps write it once).
#[tokio::test]
async fn the_server_audits_an_expiry_when_it_passes() {
    let app = helpers::spawn_with(|s| s.last_used_flush_ms = 50).await;
    let cred = app.credential("groups:read").await;
    let id = client_id(&cred);
    app.admin
        .update_credential(
            &id,
            CredentialChanges {
                expires_at: Some(Some(now(&app) + 30)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let expired = || async {
        app.store
            .list_audit(&cred.company, 50)
            .await
            .unwrap()
            .iter()
            .filter(|e| {
                e.action == tollgate_core::accounts::AuditAction::CredentialExpired
                    && e.target == id.as_str()
            })
            .count()
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(expired().await, 0, "not before it passes");
    app.clock.advance(30);
    helpers::until(|| async { expired().await == 1 }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(expired().await, 1, "written once");
}
