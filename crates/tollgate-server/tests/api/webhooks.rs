//! Issue 13's webhooks, end to end: a real receiver (`interop/python/webhook_receiver.py`, which
//! verifies every delivery with the Standard Webhooks reference library) gets credential events
//! signed, retried after a failure with the same `webhook-id`, signed with both secrets after a
//! rotation; deliveries survive a restart and go out once with two senders; private addresses are
//! refused unless allowed; a burst of failed authentications sends `credential.auth_failures`;
//! members and other companies cannot touch endpoints.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use tollgate_core::accounts::Role;
use tollgate_core::ids::CompanyId;
use tollgate_server::Settings;

use crate::admin::{PASSWORD, Panel, login, user};
use crate::helpers::{self, TestApp, TestDb, until};

/// The receiver process, its port, its secrets file and every request it reported.
struct Receiver {
    port: u16,
    secrets: PathBuf,
    seen: Arc<Mutex<Vec<Value>>>,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    async fn start(fail_first: u32) -> Self {
        let interop = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/python");
        let deps = interop.join(".deps");
        assert!(
            deps.join("standardwebhooks").is_dir(),
            "the webhook receiver needs the standardwebhooks package: run `bash interop/setup` (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::write(&secrets, "").unwrap();
        let mut child = std::process::Command::new("python3")
            .arg(interop.join("webhook_receiver.py"))
            .arg(&secrets)
            .args(["--fail", &fail_first.to_string()])
            .env("PYTHONPATH", &deps)
            .env("PYTHONNOUSERSITE", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let port = u16::try_from(first["port"].as_u64().unwrap()).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str::<Value>(&line).unwrap());
            }
        });
        Self {
            port,
            secrets,
            seen,
            child,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/tollgate", self.port)
    }

    fn trust(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).unwrap();
    }

    fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        until(|| async { self.seen().len() >= n }).await;
        self.seen()
    }
}

/// Settings for the webhook tests: deliveries to the loopback receiver, polled every 20 ms,
/// retried a second after a failure.
fn fast(s: &mut Settings) {
    s.webhooks.private_targets = true;
    s.webhooks.poll_interval_ms = 20;
    s.webhooks.retry_delays_secs = vec![1];
    s.webhooks.timeout_ms = 2_000;
}

async fn admin_of(app: &TestApp, scopes: &str) -> (CompanyId, Panel) {
    let company = app.company(scopes).await;
    let email = format!("admin-{company}@example.com");
    user(app, company, &email, Role::Admin).await;
    (company, login(app, &email, PASSWORD).await.unwrap())
}

async fn add_webhook(p: &Panel, url: &str, events: &[&str]) -> (String, String) {
    let (status, w) = p
        .json(
            Method::POST,
            "/admin/api/v1/webhooks",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    (
        w["id"].as_str().unwrap().to_owned(),
        w["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn deliveries_reach_a_real_receiver_signed_retried_and_signed_twice_after_rotation() {
    let rx = Receiver::start(1).await;
    let app = helpers::spawn_with(fast).await;
    let (company, p) = admin_of(&app, "groups:read").await;
    let (id, secret) =
        add_webhook(&p, &rx.url(), &["credential.created", "credential.rotated"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    rx.trust(&[&secret]);
    // The secret is shown once: reading the endpoint does not show it.
    let (_, shown) = p
        .json(Method::GET, &format!("/admin/api/v1/webhooks/{id}"), None)
        .await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(
        shown["events"],
        json!(["credential.created", "credential.rotated"])
    );

    let (status, cred) = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials",
            Some(json!({"label": "Payroll sync", "scopes": ["groups:read"]})),
        )
        .await;
    assert_eq!(status, 201);
    let client_id = cred["client_id"].as_str().unwrap().to_owned();
    let client_secret = cred["client_secret"].as_str().unwrap().to_owned();

    // The first attempt is answered 500 (verified all the same); the retry a second later
    // carries the same webhook-id and is accepted.
    let first = rx.wait_for(1).await;
    assert_eq!(first[0]["verified"], true, "{}", first[0]);
    assert_eq!(first[0]["status"], 500);
    assert_eq!(first[0]["path"], "/hooks/tollgate");
    let payload = &first[0]["payload"];
    assert_eq!(payload["type"], "credential.created");
    assert_eq!(payload["data"]["client_id"], client_id.as_str());
    assert_eq!(payload["data"]["label"], "Payroll sync");
    assert_eq!(payload["data"]["company_id"], company.to_string());
    assert!(
        payload["data"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    assert!(
        !first[0].to_string().contains(&client_secret),
        "no secret in a delivery"
    );
    assert!(
        first[0]["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with("tollgate-webhooks/")
    );
    app.clock.advance(2);
    let two = rx.wait_for(2).await;
    assert_eq!(two[1]["verified"], true);
    assert_eq!(two[1]["status"], 204);
    assert_eq!(
        two[1]["headers"]["webhook-id"],
        first[0]["headers"]["webhook-id"]
    );
    let (_, log) = p
        .json(
            Method::GET,
            &format!("/admin/api/v1/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    until(|| async {
        let (_, log) = p
            .json(
                Method::GET,
                &format!("/admin/api/v1/webhooks/{id}/deliveries"),
                None,
            )
            .await;
        log[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");

    // Rotating the signing secret: the receiver that still knows only the old one verifies the
    // next delivery, and so does one that knows only the new one (both signatures are sent).
    let (status, rotated) = p
        .json(
            Method::POST,
            &format!("/admin/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated["previous_secret_valid_until"].is_string());
    let (status, _) = p
        .json(
            Method::POST,
            &format!("/admin/api/v1/credentials/{client_id}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(status, 200);
    let three = rx.wait_for(3).await;
    assert_eq!(three[2]["payload"]["type"], "credential.rotated");
    assert_eq!(three[2]["payload"]["data"]["detail"], "grace 60s");
    assert_eq!(
        three[2]["verified"], true,
        "the old secret still verifies: {}",
        three[2]
    );
    let sig = three[2]["headers"]["webhook-signature"].as_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    rx.trust(&[&new_secret]);
    let (status, test) = p
        .json(
            Method::POST,
            &format!("/admin/api/v1/webhooks/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{test}");
    let four = rx.wait_for(4).await;
    assert_eq!(four[3]["payload"]["type"], "webhook.test");
    assert_eq!(
        four[3]["verified"], true,
        "the new secret verifies: {}",
        four[3]
    );
    // A receiver with a wrong secret does not verify (the check can fail).
    rx.trust(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);
    p.json(
        Method::POST,
        &format!("/admin/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    let five = rx.wait_for(5).await;
    assert_eq!(five[4]["verified"], false, "{}", five[4]);
    // Events the endpoint did not choose are not sent.
    p.json(
        Method::DELETE,
        &format!("/admin/api/v1/credentials/{client_id}"),
        None,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.clock.advance(2);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        rx.seen()[5..]
            .iter()
            .all(|r| r["status"] == 500 || r["payload"]["type"] != "credential.deleted"),
        "{:?}",
        rx.seen()
    );
}

#[tokio::test]
async fn queued_deliveries_survive_a_restart_and_two_senders_send_each_once() {
    let rx = Receiver::start(0).await;
    let (db_url, db) = helpers::fresh_database(helpers::Backend::from_env()).await;
    // A node that does not send: the events wait in the database.
    let quiet = helpers::spawn_on(db_url.clone(), TestDb::Shared, |s| {
        fast(s);
        s.webhooks.send = false;
    })
    .await;
    let (company, p) = admin_of(&quiet, "groups:read").await;
    let (_, secret) =
        add_webhook(&p, &rx.url(), &["credential.created", "credential.deleted"]).await;
    rx.trust(&[&secret]);
    for _ in 0..6 {
        let cred = quiet.credential_in(company, "groups:read").await;
        let c = helpers::client_id(&cred);
        tollgate_core::accounts::Accounts::new(quiet.store.clone(), quiet.clock.clone())
            .record(
                tollgate_core::accounts::AdminActor::operator(company).event(
                    tollgate_core::accounts::AuditAction::CredentialDeleted,
                    c.as_str(),
                    0,
                ),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        rx.seen().is_empty(),
        "nothing sent by a node with webhooks.send = false"
    );
    quiet.stop().await;

    // Two sending nodes on the same database: every delivery arrives once.
    let a = helpers::spawn_on(db_url.clone(), TestDb::Shared, fast).await;
    let b = helpers::spawn_on(db_url, db, fast).await;
    let got = rx.wait_for(6).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = if rx.seen().len() > got.len() {
        rx.seen()
    } else {
        got
    };
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r["headers"]["webhook-id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6, "{got:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "each once");
    assert!(got.iter().all(|r| r["verified"] == true));
    drop((a, b));
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let rx = Receiver::start(0).await;
    let app = helpers::spawn_with(|s| {
        fast(s);
        s.webhooks.private_targets = false;
    })
    .await;
    let (_, p) = admin_of(&app, "groups:read").await;
    // Registering a loopback http URL is allowed (a receiver on the same machine)…
    let (id, secret) = add_webhook(&p, &rx.url(), &["credential.created"]).await;
    rx.trust(&[&secret]);
    p.json(
        Method::POST,
        &format!("/admin/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    // …but tollgate does not connect to it while private targets are off.
    let path = format!("/admin/api/v1/webhooks/{id}/deliveries");
    until(|| async { p.json(Method::GET, &path, None).await.1[0]["attempts"] == 1 }).await;
    let (_, log) = p.json(Method::GET, &path, None).await;
    let error = log[0]["last_error"].as_str().unwrap();
    assert!(error.contains("private or reserved"), "{error}");
    assert_eq!(log[0]["status"], "pending", "retried later");
    assert!(log[0]["last_status"].is_null());
    assert!(
        !error.contains("/hooks/tollgate"),
        "no URL path in the error: {error}"
    );
    assert!(rx.seen().is_empty());
}

#[tokio::test]
async fn a_burst_of_failed_authentications_sends_one_event() {
    let rx = Receiver::start(0).await;
    let app = helpers::spawn_with(|s| {
        fast(s);
        s.webhooks.auth_failure_threshold = 3;
        s.webhooks.auth_failure_window_secs = 60;
    })
    .await;
    let (company, p) = admin_of(&app, "groups:read").await;
    let (_, secret) = add_webhook(&p, &rx.url(), &["credential.auth_failures"]).await;
    rx.trust(&[&secret]);
    let cred = app.credential_in(company, "groups:read").await;
    for _ in 0..5 {
        let r = app
            .post_token_json(&json!({"grant_type": "client_credentials", "client_id": cred.client_id, "client_secret": "tgsec_wrong"}))
            .await;
        assert_eq!(r.status(), 401);
    }
    let got = rx.wait_for(1).await;
    assert_eq!(got[0]["payload"]["type"], "credential.auth_failures");
    assert_eq!(
        got[0]["payload"]["data"]["client_id"],
        cred.client_id.as_str()
    );
    assert_eq!(got[0]["payload"]["data"]["actor"], "system");
    assert!(
        got[0]["payload"]["data"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("3 failed authentications"),
        "{}",
        got[0]
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rx.seen().len(), 1, "once per window");
    // The audit log shows it too.
    let (_, audit) = p
        .json(
            Method::GET,
            "/admin/api/v1/audit?action=credential.auth_failures",
            None,
        )
        .await;
    assert_eq!(audit.as_array().map_or(0, Vec::len), 1, "{audit}");
}

#[tokio::test]
async fn only_the_companys_admins_manage_its_webhooks_and_bad_input_changes_nothing() {
    let app = helpers::spawn_with(fast).await;
    let (company, p) = admin_of(&app, "groups:read").await;
    let (_, other) = admin_of(&app, "groups:read").await;
    let (id, _) = add_webhook(&p, "https://hooks.example.com/a", &["credential.created"]).await;

    // Another company's admin: not found, for every operation.
    for (m, path) in [
        (Method::GET, format!("/admin/api/v1/webhooks/{id}")),
        (Method::PATCH, format!("/admin/api/v1/webhooks/{id}")),
        (Method::DELETE, format!("/admin/api/v1/webhooks/{id}")),
        (Method::POST, format!("/admin/api/v1/webhooks/{id}/test")),
        (
            Method::POST,
            format!("/admin/api/v1/webhooks/{id}/rotate-secret"),
        ),
        (
            Method::GET,
            format!("/admin/api/v1/webhooks/{id}/deliveries"),
        ),
    ] {
        let body = (m == Method::PATCH).then(|| json!({"enabled": false}));
        let (status, e) = other.json(m.clone(), &path, body).await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (404, Some("webhookNotFound")),
            "{m} {path}"
        );
    }
    let (_, theirs) = other
        .json(Method::GET, "/admin/api/v1/webhooks", None)
        .await;
    assert_eq!(theirs, json!([]));

    // A member: forbidden.
    user(&app, company, "member@example.com", Role::Member).await;
    let m = login(&app, "member@example.com", PASSWORD).await.unwrap();
    let (status, _) = m.json(Method::GET, "/admin/api/v1/webhooks", None).await;
    assert_eq!(status, 403);

    // Bad input: a clear 400 naming the field, and nothing changed.
    for body in [
        json!({"url": "http://hooks.example.com/", "events": ["credential.created"]}),
        json!({"url": "https://hooks.example.com/", "events": []}),
        json!({"url": "https://hooks.example.com/", "events": ["credential.nope"]}),
        json!({"url": "https://hooks.example.com/", "events": ["credential.created"], "extra": 1}),
        json!({"events": ["credential.created"]}),
    ] {
        let (status, e) = p
            .json(Method::POST, "/admin/api/v1/webhooks", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {e}");
        assert!(e["error"]["message"].is_string(), "{e}");
    }
    let (_, e) = p
        .json(
            Method::POST,
            "/admin/api/v1/webhooks",
            Some(json!({"url": "ftp://x/", "events": ["credential.created"]})),
        )
        .await;
    assert!(
        e["error"]["message"].as_str().unwrap().starts_with("url: "),
        "{e}"
    );
    let (status, _) = p
        .json(
            Method::PATCH,
            &format!("/admin/api/v1/webhooks/{id}"),
            Some(json!({"url": "nope"})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, list) = p.json(Method::GET, "/admin/api/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["url"], "https://hooks.example.com/a");

    // The limit.
    for i in 1..20 {
        add_webhook(
            &p,
            &format!("https://hooks.example.com/{i}"),
            &["credential.created"],
        )
        .await;
    }
    let (status, e) = p
        .json(
            Method::POST,
            "/admin/api/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/x", "events": ["credential.created"]})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("webhookLimitReached"))
    );

    // Disable, then delete; both audited.
    let (status, w) = p
        .json(
            Method::PATCH,
            &format!("/admin/api/v1/webhooks/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!((status, &w["enabled"]), (200, &json!(false)));
    let r = p
        .req(Method::DELETE, &format!("/admin/api/v1/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, audit) = p
        .json(Method::GET, "/admin/api/v1/audit?limit=100", None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    // The audit target names the host, never the path (which may hold a receiver's secret).
    assert!(
        !audit.to_string().contains("hooks.example.com/a"),
        "{audit}"
    );
}

#[tokio::test]
async fn the_panel_adds_an_endpoint_shows_its_secret_once_and_lists_deliveries() {
    let rx = Receiver::start(0).await;
    let app = helpers::spawn_with(fast).await;
    let (_, p) = admin_of(&app, "groups:read").await;
    let page = |path: String| {
        let r = p.req(Method::GET, &path);
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/admin/webhooks".into()).await;
    assert!(
        html.contains(r#"id="no-webhooks""#),
        "an empty state: {html}"
    );
    let (csrf, nonce) = (
        crate::admin::hidden(&html, "csrf"),
        crate::admin::hidden(&html, "nonce"),
    );

    // A refused form keeps what was typed and says why next to the field.
    let r = p
        .req(Method::POST, "/admin/webhooks")
        .form(&[
            ("csrf", csrf.as_str()),
            ("nonce", nonce.as_str()),
            ("url", "http://hooks.example.com/x"),
            ("event", "credential.rotated"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="url-error""#) && html.contains("Use https://"),
        "{html}"
    );
    assert!(
        html.contains(r#"value="http://hooks.example.com/x""#),
        "the URL is kept"
    );
    assert!(
        html.contains(r#"value="credential.rotated" checked"#),
        "the choice is kept"
    );
    assert!(!html.contains(r#"value="credential.created" checked"#));

    let nonce = crate::admin::hidden(&html, "nonce");
    let url = rx.url();
    let form = [
        ("csrf", csrf.as_str()),
        ("nonce", nonce.as_str()),
        ("url", url.as_str()),
        ("event", "credential.created"),
    ];
    let r = p
        .req(Method::POST, "/admin/webhooks")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    let secret = html
        .split(r#"<code id="webhook-secret" class="wrap">"#)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{html}");
    rx.trust(&[&secret]);
    // Posting the same form again adds nothing and shows no secret.
    let r = p
        .req(Method::POST, "/admin/webhooks")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/webhooks?done=already");
    let html = page("/admin/webhooks".into()).await;
    assert!(!html.contains("whsec_"), "the secret is shown once");
    let (_, list) = p.json(Method::GET, "/admin/api/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // "Send test event" from the endpoint's page; the delivery shows up with its answer.
    let html = page(format!("/admin/webhooks/{id}")).await;
    assert!(html.contains(r#"id="no-deliveries""#), "{html}");
    let r = p
        .req(Method::POST, &format!("/admin/webhooks/{id}/test"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("/admin/webhooks/{id}?done=test").as_str()
    );
    rx.wait_for(1).await;
    until(|| async {
        page(format!("/admin/webhooks/{id}"))
            .await
            .contains("HTTP 204")
    })
    .await;
    let html = page(format!("/admin/webhooks/{id}")).await;
    assert!(
        html.contains("<code>webhook.test</code>") && html.contains("delivered"),
        "{html}"
    );

    // Disabling keeps the endpoint and stops new deliveries; the form says it is disabled.
    let r = p
        .req(Method::POST, &format!("/admin/webhooks/{id}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("url", &rx.url()),
            ("event", "credential.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("/admin/webhooks/{id}?done=saved").as_str()
    );
    let (_, w) = p
        .json(Method::GET, &format!("/admin/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(w["enabled"], false);
    assert!(page("/admin/webhooks".into()).await.contains("Disabled"));

    // Removing it, behind a confirmation step.
    let html = page(format!("/admin/webhooks/{id}")).await;
    assert!(html.contains(r#"<details class="confirm"><summary>Remove…</summary>"#));
    let r = p
        .req(Method::POST, &format!("/admin/webhooks/{id}/delete"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/webhooks?done=removed");
    assert!(
        page("/admin/webhooks?done=removed".into())
            .await
            .contains("Webhook removed.")
    );
    // A wrong CSRF token changes nothing.
    let r = p
        .req(Method::POST, "/admin/webhooks")
        .form(&[
            ("csrf", "nope"),
            ("nonce", "0123456789abcdef0123"),
            ("url", "https://x.example/"),
            ("event", "credential.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        p.json(Method::GET, "/admin/api/v1/webhooks", None).await.1,
        json!([])
    );
}
