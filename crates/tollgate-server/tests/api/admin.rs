//! The admin JSON API and the panel's HTTP behaviour: roles, sessions, CSRF, tenant isolation, audit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_core::accounts::{Accounts, Role};
use tollgate_core::admin::CompanyChanges;
use tollgate_core::ids::CompanyId;

use crate::helpers::{self, TestApp};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct Panel {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn accounts(app: &TestApp) -> Accounts {
    Accounts::new(app.store.clone(), app.clock.clone())
}

pub(crate) async fn user(app: &TestApp, company: CompanyId, email: &str, role: Role) {
    accounts(app)
        .create_user(&company, email, role, PASSWORD, None)
        .await
        .unwrap();
}

pub(crate) async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> Result<Panel, (u16, String)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/admin/login", app.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::SEE_OTHER {
        let s = r.status().as_u16();
        return Err((s, r.text().await.unwrap()));
    }
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/admin"),
        "{set}"
    );
    // Over plain HTTP a Secure cookie would never come back (tls.rs checks it is Secure on TLS).
    assert!(!set.contains("Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let s: Value = client
        .get(format!("{}/admin/api/v1/session", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Ok(Panel {
        client,
        base: app.base.clone(),
        cookie,
        csrf: s["csrf_token"].as_str().unwrap().to_owned(),
    })
}

impl Panel {
    /// The company's audit log entries with `action`, and the whole log (for messages).
    pub(crate) async fn audit_of(&self, action: &str) -> (Vec<Value>, Value) {
        let audit: Value = self
            .req(Method::GET, "/admin/api/v1/audit")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .cloned()
            .collect();
        (found, audit)
    }

    /// The page at `path`, as text.
    pub(crate) async fn text(&self, path: &str) -> String {
        let r = self.req(Method::GET, path).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// `method path` with the JSON `body`: the status and the JSON answer (`null` if none).
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The session cookie (`name=value`), for requests without the CSRF header.
    pub(crate) fn cookie(&self) -> &str {
        &self.cookie
    }

    pub(crate) fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }
}

pub(crate) async fn admin_setup() -> (TestApp, CompanyId, Panel) {
    let app = helpers::spawn().await;
    let company = app
        .company("groups:read groups:write users:read credentials:manage")
        .await;
    user(&app, company, "ada@example.com", Role::Admin).await;
    let p = login(&app, "ada@example.com", PASSWORD).await.unwrap();
    (app, company, p)
}

#[tokio::test]
async fn admin_manages_credentials_through_the_json_api() {
    let (app, _company, p) = admin_setup().await;
    let r = p
        .req(Method::POST, "/admin/api/v1/credentials")
        .json(&json!({"label": "HR Integration - Payroll System", "scopes": ["groups:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    let id = c["client_id"].as_str().unwrap().to_owned();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    app.sync().await;
    let cred = helpers::Cred {
        company: _company,
        client_id: id.clone(),
        secret: secret.clone(),
    };
    let token = app.token(&cred).await;

    // Never the secret again.
    let list = p
        .req(Method::GET, "/admin/api/v1/credentials")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&id) && !list.contains(&secret));
    let one = p
        .req(Method::GET, &format!("/admin/api/v1/credentials/{id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!one.contains(&secret));

    // Edit scopes: the token's effective scopes follow.
    let r = p
        .req(Method::PATCH, &format!("/admin/api/v1/credentials/{id}"))
        .json(&json!({"scopes": ["groups:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.sync().await;
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // Rotate without grace: old secret refused.
    let r: Value = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{id}/rotate"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(r["client_secret"], secret.as_str());
    app.sync().await;
    assert_eq!(app.request_token(&cred).await.status(), 401);

    // Delete: gone.
    assert_eq!(
        p.req(Method::DELETE, &format!("/admin/api/v1/credentials/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        p.req(Method::GET, &format!("/admin/api/v1/credentials/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A second (concurrent) delete is not an error the user can act on: 404.
    assert_eq!(
        p.req(Method::DELETE, &format!("/admin/api/v1/credentials/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Audit log.
    let audit: Value = p
        .req(Method::GET, "/admin/api/v1/audit")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "credential.created",
        "credential.updated",
        "credential.rotated",
        "credential.deleted",
        "login.succeeded",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] != "" && e["at"].is_string())
    );
    assert!(!audit.to_string().contains(&secret));
}

/// What an admin changes on a node holds on that node at once, not at its next change-feed read:
/// the periodic read is set to a minute here (SQLite has no push), so only the write-through can
/// make these pass.
#[tokio::test]
async fn admin_writes_hold_at_once_on_the_node_that_made_them() {
    let app = helpers::spawn_with(|s| s.sync_interval_ms = 60_000).await;
    let company = app
        .company("groups:read groups:write credentials:manage")
        .await;
    user(&app, company, "ada@example.com", Role::Admin).await;
    let p = login(&app, "ada@example.com", PASSWORD).await.unwrap();
    let status = |r: reqwest::Response| r.status().as_u16();

    // Created: its secret works on the next request.
    let c: Value = p
        .req(Method::POST, "/admin/api/v1/credentials")
        .json(&json!({"label": "Payroll", "scopes": ["groups:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = c["client_id"].as_str().unwrap().to_owned();
    let cred = helpers::Cred {
        company,
        client_id: id.clone(),
        secret: c["client_secret"].as_str().unwrap().to_owned(),
    };
    let token = app.token(&cred).await;
    let groups = || app.api(Method::GET, "/api/v2/groups", &token).send();
    assert_eq!(status(groups().await.unwrap()), 200);

    // Scopes edited: the live token loses groups:read at once.
    let r = p
        .req(Method::PATCH, &format!("/admin/api/v1/credentials/{id}"))
        .json(&json!({"scopes": ["groups:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 200);
    assert_eq!(status(groups().await.unwrap()), 403);
    p.req(Method::PATCH, &format!("/admin/api/v1/credentials/{id}"))
        .json(&json!({"scopes": ["groups:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(groups().await.unwrap()), 200);

    // The operator narrows the company's ceiling: refused at once; widened again: allowed.
    let narrow = |scopes: &str| CompanyChanges {
        scopes: Some(scopes.parse().unwrap()),
        ..CompanyChanges::default()
    };
    app.admin
        .update_company(&company, narrow("groups:write credentials:manage"))
        .await
        .unwrap();
    assert_eq!(status(groups().await.unwrap()), 403);
    app.admin
        .update_company(
            &company,
            narrow("groups:read groups:write credentials:manage"),
        )
        .await
        .unwrap();
    assert_eq!(status(groups().await.unwrap()), 200);

    // Rotated without grace: the old secret and its token are refused, the new secret works.
    let r: Value = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{id}/rotate"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status(app.request_token(&cred).await), 401);
    assert_eq!(status(groups().await.unwrap()), 401);
    let rotated = helpers::Cred {
        company,
        client_id: id.clone(),
        secret: r["client_secret"].as_str().unwrap().to_owned(),
    };
    let token = app.token(&rotated).await;

    // Deleted: its token and its secret are refused on the next request.
    let r = p
        .req(Method::DELETE, &format!("/admin/api/v1/credentials/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 204);
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 401);
    assert_eq!(status(app.request_token(&rotated).await), 401);
}

/// Logging out ends the session (its cookie no longer works) and is in the audit log.
#[tokio::test]
async fn logout_ends_the_session_and_is_audited() {
    let (app, company, p) = admin_setup().await;
    user(&app, company, "bob@example.com", Role::Admin).await;
    let bob = login(&app, "bob@example.com", PASSWORD).await.unwrap();
    // A wrong CSRF token logs nobody out.
    bob.client
        .post(format!("{}/admin/logout", app.base))
        .header("cookie", &bob.cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    let session = |panel: &Panel| panel.req(Method::GET, "/admin/api/v1/session").send();
    assert_eq!(session(&bob).await.unwrap().status(), 200);
    let r = bob
        .client
        .post(format!("{}/admin/logout", app.base))
        .header("cookie", &bob.cookie)
        .form(&[("csrf", bob.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/login");
    assert_eq!(session(&bob).await.unwrap().status(), 401);
    let (logouts, audit) = p.audit_of("logout").await;
    assert_eq!(logouts.len(), 1, "{audit}");
    assert_eq!(logouts[0]["actor"], "user:bob@example.com");
    assert_eq!(session(&p).await.unwrap().status(), 200, "only bob is out");
}

#[tokio::test]
async fn policies_give_clear_errors_and_change_nothing() {
    let (app, company, p) = admin_setup().await;
    let create = |label: &str, scopes: Value| {
        p.req(Method::POST, "/admin/api/v1/credentials")
            .json(&json!({"label": label, "scopes": scopes}))
    };
    for (label, scopes, code) in [
        ("", json!(["groups:read"]), "invalidInput"),
        (&"x".repeat(201)[..], json!(["groups:read"]), "invalidInput"),
        ("ok", json!(["users:write"]), "scopeNotAllowed"),
        ("ok", json!(["nope:read"]), "unknownScope"),
        ("ok", json!(["not a scope"]), "invalidInput"),
        ("ok", json!([]), "invalidInput"),
    ] {
        let r = create(label, scopes).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code);
    }
    let r = p
        .req(Method::POST, "/admin/api/v1/credentials")
        .body("{nope")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        app.admin.credentials(&company).await.unwrap().is_empty(),
        "nothing created"
    );

    // The limit.
    app.admin
        .update_company(
            &company,
            CompanyChanges {
                max_credentials: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            create("ok", json!(["groups:read"]))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let r = create("third", json!(["groups:read"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "credentialLimitReached");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum of 2")
    );

    // Editing away every scope is refused too, and changes nothing.
    let id = app.admin.credentials(&company).await.unwrap()[0]
        .client_id
        .clone();
    let r = p
        .req(Method::PATCH, &format!("/admin/api/v1/credentials/{id}"))
        .json(&json!({"scopes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalidInput");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at least one scope")
    );
    let kept = app.admin.credential(&id).await.unwrap().scopes;
    assert_eq!(kept, "groups:read".parse().unwrap());
}

#[tokio::test]
async fn csrf_and_sessions_are_enforced() {
    let (app, company, p) = admin_setup().await;
    // No CSRF header / wrong one: 403, nothing created.
    for csrf in [None, Some("wrong")] {
        let mut req = p
            .client
            .post(format!("{}/admin/api/v1/credentials", app.base))
            .header("cookie", &p.cookie)
            .json(&json!({"label": "x", "scopes": ["groups:read"]}));
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalidCsrfToken");
    }
    // Panel form without the token.
    let r = p
        .client
        .post(format!("{}/admin/credentials", app.base))
        .header("cookie", &p.cookie)
        .form(&[("label", "x"), ("scope", "groups:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(app.admin.credentials(&company).await.unwrap().is_empty());
    // No session, garbage session, expired session.
    let r = app
        .client
        .get(format!("{}/admin/api/v1/credentials", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(format!("{}/admin/api/v1/credentials", app.base))
        .header("cookie", "tollgate_session=garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.clock.advance(tollgate_core::accounts::SESSION_TTL);
    assert_eq!(
        p.req(Method::GET, "/admin/api/v1/credentials")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = p
        .client
        .get(format!("{}/admin/credentials", app.base))
        .header("cookie", &p.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "panel pages redirect to login");
}

#[tokio::test]
async fn logins_fail_clearly_are_audited_and_rate_limited() {
    let app = helpers::spawn_with(|s| s.login_attempts_per_account = 3).await;
    let company = app.company("groups:read").await;
    user(&app, company, "ada@example.com", Role::Admin).await;
    let (status, body) = login(&app, "ada@example.com", "wrong password!!")
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("Wrong email or password"));
    let (status, _) = login(&app, "nobody@example.com", "wrong password!!")
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    let _ = login(&app, "ada@example.com", "wrong password!!").await;
    let _ = login(&app, "ada@example.com", "wrong password!!").await;
    let (status, _) = login(&app, "ada@example.com", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 429, "4th attempt for the account within a minute");
    let events = accounts(&app).audit(&company, 100).await.unwrap();
    assert!(
        events
            .iter()
            .filter(|e| e.action.as_str() == "login.failed")
            .count()
            >= 2
    );
    assert!(
        events
            .iter()
            .filter(|e| e.action.as_str().starts_with("login."))
            .all(|e| e.remote_addr.as_deref() == Some("127.0.0.1"))
    );
}

#[tokio::test]
async fn members_are_refused_everywhere() {
    let app = helpers::spawn().await;
    let company = app.company("groups:read").await;
    user(&app, company, "bob@example.com", Role::Member).await;
    let p = login(&app, "bob@example.com", PASSWORD).await.unwrap();
    let home = p
        .client
        .get(format!("{}/admin", app.base))
        .header("cookie", &p.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("ask your platform admin")
    );
    for path in ["/admin/credentials", "/admin/users", "/admin/audit"] {
        let r = p
            .client
            .get(format!("{}{path}", app.base))
            .header("cookie", &p.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    for (m, path) in [
        (Method::GET, "/admin/api/v1/credentials"),
        (Method::POST, "/admin/api/v1/credentials"),
        (Method::GET, "/admin/api/v1/users"),
        (Method::GET, "/admin/api/v1/audit"),
    ] {
        let r = p
            .req(m.clone(), path)
            .json(&json!({"label": "x", "scopes": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{m} {path}");
    }
}

#[tokio::test]
async fn tenants_are_isolated_on_every_route() {
    let (app, _a, pa) = admin_setup().await;
    let b = app.company("groups:read groups:write").await;
    let cred_b = app.credential_in(b, "groups:read").await;
    user(&app, b, "bea@example.com", Role::Admin).await;
    let bea_id = accounts(&app)
        .users(&tollgate_core::accounts::AdminActor::for_client(
            b,
            tollgate_core::ids::ClientId::parse(&cred_b.client_id).unwrap(),
            None,
        ))
        .await
        .unwrap()[0]
        .id
        .to_string();
    let id = &cred_b.client_id;
    for (m, path, body) in [
        (Method::GET, format!("/admin/api/v1/credentials/{id}"), None),
        (
            Method::PATCH,
            format!("/admin/api/v1/credentials/{id}"),
            Some(json!({"label": "pwned"})),
        ),
        (
            Method::POST,
            format!("/admin/api/v1/credentials/{id}/rotate"),
            None,
        ),
        (
            Method::DELETE,
            format!("/admin/api/v1/credentials/{id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/admin/api/v1/users/{bea_id}"),
            Some(json!({"role": "member"})),
        ),
        (
            Method::DELETE,
            format!("/admin/api/v1/users/{bea_id}"),
            None,
        ),
    ] {
        let mut req = pa.req(m.clone(), &path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        assert_eq!(req.send().await.unwrap().status(), 404, "{m} {path}");
    }
    for path in [
        format!("/admin/credentials/{id}"),
        format!("/admin/credentials/{id}/delete"),
    ] {
        let r = pa
            .client
            .get(format!("{}{path}", app.base))
            .header("cookie", &pa.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = pa
        .client
        .post(format!("{}/admin/credentials/{id}/delete", app.base))
        .header("cookie", &pa.cookie)
        .form(&[("csrf", pa.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // B's things are intact and invisible to A.
    let list = pa
        .req(Method::GET, "/admin/api/v1/credentials")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains(id.as_str()));
    let users = pa
        .req(Method::GET, "/admin/api/v1/users")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!users.contains("bea@example.com"));
    assert!(!app.token(&cred_b).await.is_empty());
}

#[tokio::test]
async fn a_token_with_credentials_manage_can_script_the_admin_api() {
    let app = helpers::spawn().await;
    let company = app.company("groups:read credentials:manage").await;
    let manager = app.credential_in(company, "credentials:manage").await;
    let token = app.token(&manager).await;
    let r = app
        .client
        .post(format!("{}/admin/api/v1/credentials", app.base))
        .bearer_auth(&token)
        .json(&json!({"label": "made by a script", "scopes": ["groups:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let audit = accounts(&app).audit(&company, 10).await.unwrap();
    assert_eq!(audit[0].actor, format!("client:{}", manager.client_id));
    // It manages member accounts, but never an owner or admin: a machine credential must not mint
    // a human login with admin rights (which would outlive it), nor demote or remove one.
    let api = |method: Method, path: &str| {
        app.client
            .request(method, format!("{}/admin/api/v1/{path}", app.base))
            .bearer_auth(&token)
    };
    for role in ["owner", "admin"] {
        let r = api(Method::POST, "users")
            .json(&json!({"email": format!("{role}@example.com"), "role": role, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let (status, body, _) = helpers::error_of(r).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("humanSessionRequired")),
            "{role}"
        );
    }
    let r = api(Method::POST, "users")
        .json(&json!({"email": "member@example.com", "role": "member", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let member: Value = r.json().await.unwrap();
    let member_id = member["id"].as_str().unwrap().to_owned();
    let r = api(Method::PATCH, &format!("users/{member_id}"))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "promotion by a credential");
    user(&app, company, "boss@example.com", Role::Owner).await;
    let boss = accounts(&app)
        .users(&tollgate_core::accounts::AdminActor::operator(company))
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email.as_str() == "boss@example.com")
        .unwrap();
    for r in [
        api(Method::PATCH, &format!("users/{}", boss.id)).json(&json!({"role": "member"})),
        api(Method::DELETE, &format!("users/{}", boss.id)),
    ] {
        assert_eq!(
            r.send().await.unwrap().status(),
            403,
            "an owner touched by a credential"
        );
    }
    let people = accounts(&app)
        .users(&tollgate_core::accounts::AdminActor::operator(company))
        .await
        .unwrap();
    assert_eq!(people.len(), 2, "only the member was created: {people:?}");
    assert!(
        people
            .iter()
            .any(|u| u.id == boss.id && u.role == Role::Owner)
    );
    let r = api(Method::DELETE, &format!("users/{member_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "members come and go");
    // Without the scope: 403.
    let plain = app.credential_in(company, "groups:read").await;
    let t = app.token(&plain).await;
    let r = app
        .client
        .get(format!("{}/admin/api/v1/credentials", app.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn users_are_managed_and_the_last_admin_stays() {
    let (app, company, p) = admin_setup().await;
    let r = p
        .req(Method::POST, "/admin/api/v1/users")
        .json(&json!({"email": "Bob@Example.com", "role": "member", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bob: Value = r.json().await.unwrap();
    assert_eq!(bob["email"], "bob@example.com");
    let r = p
        .req(Method::POST, "/admin/api/v1/users")
        .json(&json!({"email": "bob@example.com", "role": "member", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = p
        .req(Method::POST, "/admin/api/v1/users")
        .json(&json!({"email": "x@example.com", "role": "member", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let users: Value = p
        .req(Method::GET, "/admin/api/v1/users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Ada is the only admin: she cannot demote or remove herself.
    let r = p
        .req(Method::PATCH, &format!("/admin/api/v1/users/{ada}"))
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        p.req(Method::DELETE, &format!("/admin/api/v1/users/{ada}"))
            .send()
            .await
            .unwrap()
            .status(),
        409
    );
    // Promote Bob, then Ada may step down.
    let bob_id = bob["id"].as_str().unwrap();
    assert_eq!(
        p.req(Method::PATCH, &format!("/admin/api/v1/users/{bob_id}"))
            .json(&json!({"role": "owner"}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        p.req(Method::DELETE, &format!("/admin/api/v1/users/{bob_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let events = accounts(&app).audit(&company, 50).await.unwrap();
    assert!(events.iter().any(|e| e.action.as_str() == "user.created"));
    assert!(
        events
            .iter()
            .any(|e| e.action.as_str() == "user.role_changed")
    );
    assert!(events.iter().any(|e| e.action.as_str() == "user.removed"));
}

#[tokio::test]
async fn labels_are_escaped_in_the_panel() {
    let (app, company, p) = admin_setup().await;
    app.admin
        .create_credential(
            &company,
            "<script>alert(1)</script>",
            "groups:read".parse().unwrap(),
        )
        .await
        .unwrap();
    let html = p
        .client
        .get(format!("{}/admin/credentials", app.base))
        .header("cookie", &p.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;"),
        "escaped"
    );
}

/// Issue 13, bug 1: after the operator narrows the ceiling, saving the Edit page unchanged (or a
/// PATCH) used to drop the stored scopes outside it, and widening the ceiling did not bring them back.
#[tokio::test]
async fn scopes_outside_a_narrowed_ceiling_survive_edits_and_come_back_when_it_widens() {
    let (app, company, p) = admin_setup().await;
    let cred = app
        .credential_in(company, "groups:read groups:write users:read")
        .await;
    let stored = |app: &TestApp, id: String| {
        let admin = app.admin.clone();
        async move {
            let id = tollgate_core::ids::ClientId::parse(&id).unwrap();
            admin.credential(&id).await.unwrap().scopes.to_string()
        }
    };
    let ceiling = |scopes: &str| CompanyChanges {
        scopes: Some(scopes.parse().unwrap()),
        ..CompanyChanges::default()
    };
    app.admin
        .update_company(&company, ceiling("groups:read credentials:manage"))
        .await
        .unwrap();

    // The Edit page shows them, disabled and marked; saving it unchanged keeps them.
    let page = p
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
    assert!(page.contains("not allowed for this company now"), "{page}");
    assert!(
        page.contains(r#"value="groups:write" checked disabled"#)
            && page.contains(r#"value="users:read" checked disabled"#),
        "{page}"
    );
    let csrf = hidden(&page, "csrf");
    // What a browser sends: the enabled, ticked boxes only.
    let r = p
        .req(
            Method::POST,
            &format!("/admin/credentials/{}", cred.client_id),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("label", "Payroll"),
            ("scope", "groups:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        stored(&app, cred.client_id.clone()).await,
        "groups:read groups:write users:read"
    );

    // The admin API: a PATCH keeps them too, whether it sends them back or not; it cannot add one.
    for scopes in [
        json!(["groups:read"]),
        json!(["groups:read", "groups:write"]),
    ] {
        let r = p
            .req(
                Method::PATCH,
                &format!("/admin/api/v1/credentials/{}", cred.client_id),
            )
            .json(&json!({ "scopes": scopes }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scopes}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["scopes"],
            json!(["groups:read", "groups:write", "users:read"])
        );
        assert_eq!(v["effective_scopes"], json!(["groups:read"]));
    }
    let r = p
        .req(
            Method::PATCH,
            &format!("/admin/api/v1/credentials/{}", cred.client_id),
        )
        .json(&json!({"scopes": ["credentials:manage", "groups:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "credentials:manage is in the ceiling now");
    let r = p
        .req(
            Method::PATCH,
            &format!("/admin/api/v1/credentials/{}", cred.client_id),
        )
        .json(&json!({"scopes": ["groups:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "only dormant scopes: nothing in force");

    // Widened again: every one is back in force.
    app.admin
        .update_company(
            &company,
            ceiling("groups:read groups:write users:read credentials:manage"),
        )
        .await
        .unwrap();
    assert_eq!(
        stored(&app, cred.client_id.clone()).await,
        "credentials:manage groups:read groups:write users:read"
    );
    app.sync().await;
    let token = app.token(&cred).await;
    let r = app
        .api(Method::POST, "/api/v2/groups", &token)
        .json(
            &json!({"name": "Payroll", "public": false, "parentId": app.root_group(&token).await}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "groups:write is in force again");
}

/// The value of the first hidden input `name` of a panel page (`csrf`, `nonce`).
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// Issue 13, bug 2: a refused form comes back as it was sent, with the message next to the field.
#[tokio::test]
async fn refused_forms_keep_what_was_typed_and_say_which_field_is_wrong() {
    let (app, company, p) = admin_setup().await;
    let get = |path: &str| {
        let r = p.req(Method::GET, path);
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let page = get("/admin/credentials").await;
    let nonce = hidden(&page, "nonce");
    // A label of control characters: the label and the ticked scopes come back, the message is
    // the label's.
    let r = p
        .req(Method::POST, "/admin/credentials")
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("nonce", nonce.as_str()),
            ("label", "Payroll\u{7}"),
            ("scope", "groups:read"),
            ("scope", "users:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"Payroll\u{7}\""), "{html}");
    assert!(
        html.contains(r#"value="groups:read" checked"#)
            && html.contains(r#"value="users:read" checked"#)
            && !html.contains(r#"value="groups:write" checked"#),
        "{html}"
    );
    assert!(
        html.contains(r#"aria-invalid="true" aria-describedby="label-error""#)
            && html.contains(
                r#"id="label-error" role="alert">Label must not contain control characters.<"#
            ),
        "{html}"
    );
    assert!(app.admin.credentials(&company).await.unwrap().is_empty());

    // No scope ticked: the message is the scopes'.
    let page = get("/admin/credentials").await;
    let nonce = hidden(&page, "nonce");
    let html = p
        .req(Method::POST, "/admin/credentials")
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("nonce", nonce.as_str()),
            ("label", "Payroll"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"value="Payroll""#), "{html}");
    assert!(
        html.contains(r#"<fieldset aria-invalid="true" aria-describedby="scopes-error">"#)
            && html.contains("A credential needs at least one scope."),
        "{html}"
    );

    // The Edit page: the label typed and the boxes ticked stay.
    let cred = app.credential_in(company, "groups:read").await;
    let path = format!("/admin/credentials/{}", cred.client_id);
    let page = get(&path).await;
    let html = p
        .req(Method::POST, &path)
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("label", " "),
            ("scope", "groups:write"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"value=" ""#) && html.contains(r#"value="groups:write" checked"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"value="groups:read" checked"#),
        "the form as sent, not as stored"
    );
    assert!(html.contains("Label must not be empty."), "{html}");

    // Users: a short password keeps the email and the role chosen.
    let page = get("/admin/users").await;
    let html = p
        .req(Method::POST, "/admin/users")
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("email", "grace@example.com"),
            ("role", "admin"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"value="grace@example.com""#), "{html}");
    assert!(
        html.contains(r#"<option value="admin" selected>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"aria-describedby="password-error""#)
            && html.contains("A password has 12 to"),
        "{html}"
    );

    // Login: a wrong password keeps the email.
    let r = reqwest::Client::new()
        .post(format!("{}/admin/login", app.base))
        .form(&[
            ("email", "ada@example.com"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"value="ada@example.com""#)
            && html.contains(r#"aria-invalid="true" aria-describedby="login-error""#),
        "{html}"
    );
}
