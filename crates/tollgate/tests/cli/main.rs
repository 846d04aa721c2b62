//! The `tollgate` binary, run as a user would: JSON on stdout, errors on stderr with a non-zero exit,
//! changes seen by a running server within a second, and `serve --demo` answering the reference's
//! own curl commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod checks;
mod keys_at_rest;
mod operator;
mod users;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_core::clock::SystemClock;
use tollgate_server::{App, Settings};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(db: &Path, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("TOLLGATE_DATABASE_URL")
        .output()
        .expect("run tollgate");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok_json(db: &Path, args: &[&str]) -> Value {
    let o = run(db, args);
    assert_eq!(o.code, 0, "{args:?} failed: {}", o.stderr);
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", o.stdout))
}

fn fails(db: &Path, args: &[&str], needle: &str) {
    let o = run(db, args);
    assert_ne!(o.code, 0, "{args:?} should fail");
    assert!(
        o.stdout.is_empty(),
        "nothing on stdout on error: {}",
        o.stdout
    );
    assert!(
        o.stderr.contains(needle),
        "{args:?}: stderr {:?} lacks {needle:?}",
        o.stderr
    );
}

#[test]
fn company_and_credential_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    assert_eq!(ok_json(&db, &["migrate"])["migrated"], true);

    let c = ok_json(
        &db,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read,groups:write",
            "--max-credentials",
            "2",
        ],
    );
    let cid = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["scopes"], json!(["groups:read", "groups:write"]));
    assert_eq!(c["max_credentials"], 2);
    assert_eq!(
        ok_json(&db, &["company", "list"]).as_array().unwrap().len(),
        1
    );
    assert_eq!(ok_json(&db, &["company", "show", &cid])["name"], "Acme");

    let cred = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "HR Integration - Payroll System",
            "--scopes",
            "groups:read",
        ],
    );
    let client_id = cred["client_id"].as_str().unwrap().to_owned();
    let secret = cred["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tgsec_"));
    assert_eq!(cred["scopes"], json!(["groups:read"]));

    // The secret is never shown again.
    let shown = run(&db, &["credential", "show", &client_id]);
    assert_eq!(shown.code, 0);
    assert!(!shown.stdout.contains(&secret));
    let listed = run(&db, &["credential", "list", "--company", &cid]);
    assert!(!listed.stdout.contains(&secret));
    assert!(listed.stdout.contains(&client_id));

    let upd = ok_json(
        &db,
        &[
            "credential",
            "update",
            &client_id,
            "--label",
            "Payroll",
            "--scopes",
            "groups:read,groups:write",
        ],
    );
    assert_eq!(upd["label"], "Payroll");
    assert_eq!(upd["scopes"], json!(["groups:read", "groups:write"]));

    // Policies.
    fails(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "x",
            "--scopes",
            "users:read",
        ],
        "outside the company's allowed scopes",
    );
    fails(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "x",
            "--scopes",
            "nope:read",
        ],
        "unknown scope",
    );
    fails(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "x",
            "--scopes",
            "not a scope",
        ],
        "invalid --scopes",
    );
    ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "second",
            "--scopes",
            "groups:read",
        ],
    );
    fails(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "third",
            "--scopes",
            "groups:read",
        ],
        "maximum of 2 credentials",
    );
    fails(&db, &["company", "show", "zzz"], "not a company id");
    fails(
        &db,
        &["company", "show", "507f1f77bcf86cd799439011"],
        "company not found",
    );
    fails(
        &db,
        &["credential", "delete", "0123456789abcdef0123456789abcdef"],
        "credential not found",
    );

    // Narrowing the ceiling narrows effective scopes.
    let narrowed = ok_json(&db, &["company", "update", &cid, "--scopes", "groups:read"]);
    assert_eq!(narrowed["scopes"], json!(["groups:read"]));
    let shown = ok_json(&db, &["credential", "show", &client_id]);
    assert_eq!(shown["scopes"], json!(["groups:read", "groups:write"]));
    assert_eq!(shown["effective_scopes"], json!(["groups:read"]));

    // The token quota override: a number, or back to the server's default.
    assert_eq!(narrowed["token_quota_per_hour"], Value::Null);
    let quota = ["company", "update", &cid, "--token-quota-per-hour"];
    let set = ok_json(&db, &[&quota[..], &["500"]].concat());
    assert_eq!(set["token_quota_per_hour"], 500);
    assert_eq!(
        ok_json(&db, &["company", "show", &cid])["token_quota_per_hour"],
        500
    );
    fails(
        &db,
        &[&quota[..], &["lots"]].concat(),
        "a number of tokens per hour (0: no quota), or `default`",
    );
    let reset = ok_json(&db, &[&quota[..], &["default"]].concat());
    assert_eq!(reset["token_quota_per_hour"], Value::Null);

    let rotated = ok_json(&db, &["credential", "rotate", &client_id, "--grace", "60"]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(
        rotated["secrets"].as_array().unwrap().len(),
        2,
        "old secret kept for the grace period"
    );
    let rotated = ok_json(&db, &["credential", "rotate", &client_id]);
    assert_eq!(
        rotated["secrets"].as_array().unwrap().len(),
        1,
        "grace 0 drops old secrets"
    );

    assert_eq!(
        ok_json(&db, &["credential", "delete", &client_id])["deleted"],
        client_id.as_str()
    );
    fails(
        &db,
        &["credential", "show", &client_id],
        "credential not found",
    );

    // Every change above is in the company's audit log, by the operator; refused ones are not.
    let audit = ok_json(&db, &["audit", "list", "--company", &cid]);
    let mut actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "operator", "{e}");
            e["action"].as_str().unwrap()
        })
        .collect();
    // A role is parsed with the arguments: an unknown one is a usage error (exit 2) naming the
    // three roles.
    let bad_role = run(
        &db,
        &[
            "user",
            "create",
            "--company",
            &cid,
            "--email",
            "a@example.com",
            "--role",
            "boss",
        ],
    );
    assert_eq!(bad_role.code, 2, "{}", bad_role.stderr);
    assert!(
        bad_role
            .stderr
            .contains("[possible values: owner, admin, member]"),
        "{}",
        bad_role.stderr
    );
    actions.reverse(); // oldest first
    assert_eq!(
        actions,
        [
            "company.created",
            "credential.created",
            "credential.updated",
            "credential.created",
            "company.updated",
            // The quota set, then back to the default (the refused value wrote nothing).
            "company.updated",
            "company.updated",
            "credential.rotated",
            "credential.rotated",
            "credential.deleted",
        ],
        "{audit}"
    );
    assert!(!audit.to_string().contains(&secret));
}

#[test]
fn config_file_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tollgate.toml");
    std::fs::write(&cfg, "token_ttl = 60\nbogus = 1\n").unwrap();
    let o = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("t.db").display()))
        .arg("migrate")
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bogus"));
}

#[test]
fn tls_flags_go_together_and_bad_files_stop_serve_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    fails(&db, &["serve", "--tls-cert", "c.pem"], "--tls-key");
    let cert = dir.path().join("missing-cert.pem");
    let o = run(
        &db,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            "k.pem",
        ],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("missing-cert.pem"), "{}", o.stderr);
}

#[tokio::test]
async fn cli_changes_reach_a_running_server_within_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", db.display()),
        ..Settings::default()
    };
    let mut app = App::build(settings, Arc::new(SystemClock)).await.unwrap();
    tollgate_groups::mount(&mut app).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));

    let db2 = db.clone();
    let (client_id, secret) = tokio::task::spawn_blocking(move || {
        let c = ok_json(&db2, &["company", "create", "--name", "Acme"]);
        let cid = c["id"].as_str().unwrap().to_owned();
        let cred = ok_json(
            &db2,
            &[
                "credential",
                "create",
                "--company",
                &cid,
                "--label",
                "x",
                "--scopes",
                "groups:read",
            ],
        );
        (
            cred["client_id"].as_str().unwrap().to_owned(),
            cred["client_secret"].as_str().unwrap().to_owned(),
        )
    })
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let body = json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret});
    // The server picks up the new credential from the change feed.
    let start = Instant::now();
    let token = loop {
        let r = http
            .post(format!("{base}/api/v2/oauth2/token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let v: Value = r.json().await.unwrap();
            break v["access_token"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "new credential not usable within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let get = || {
        http.get(format!("{base}/api/v2/groups"))
            .header("360-api-version", "v2.0")
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);

    let db3 = db.clone();
    let id = client_id.clone();
    tokio::task::spawn_blocking(move || ok_json(&db3, &["credential", "delete", &id]))
        .await
        .unwrap();
    let deleted_at = Instant::now();
    loop {
        if get().await.unwrap().status() == 401 {
            break;
        }
        assert!(
            deleted_at.elapsed() < Duration::from_secs(1),
            "deleted credential's token accepted after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

/// Reads the pretty-printed JSON object the demo prints on stdout.
fn read_demo_json(stdout: impl Read) -> Value {
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line == "}" {
            break;
        }
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("demo output not JSON ({e}): {text}"))
}

#[tokio::test]
async fn serve_demo_answers_the_reference_curl_commands_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let mut child = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = tokio::task::spawn_blocking(move || read_demo_json(stdout))
        .await
        .unwrap();
    let token_url = demo["token_url"].as_str().unwrap().to_owned();
    let base = token_url
        .trim_end_matches("/api/v2/oauth2/token")
        .to_owned();
    let http = reqwest::Client::new();

    // Step 1 of the reference, as written (JSON body).
    let body = format!(
        "\n{{\n  \"grant_type\": \"client_credentials\",\n  \"client_id\": \"{}\",\n  \"client_secret\": \"{}\"\n}}\n",
        demo["client_id"].as_str().unwrap(),
        demo["client_secret"].as_str().unwrap()
    );
    // The printed credential works on the first request: no waiting for a sync.
    let r = http
        .post(&token_url)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    // A full hour, or less when an earlier request of the same credential and scopes is answered
    // again by token reuse (expires_in: the time left).
    assert!(
        (3590..=3600).contains(&v["expires_in"].as_i64().unwrap()),
        "{}",
        v["expires_in"]
    );
    let token = v["access_token"].as_str().unwrap().to_owned();
    // Step 2, as written.
    let r = http
        .get(format!("{base}/api/v2/groups"))
        .header("accept", "application/json")
        .header("360-api-version", "v2.0")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let groups: Vec<Value> = r.json().await.unwrap();
    assert!(groups.len() >= 4, "root and demo groups");
    // README's "try it": `tollgate call` with the printed credential (the secret from the
    // environment, as --help advises) gets a token by itself and calls the API.
    let call = Command::new(BIN)
        .args([
            "call",
            "--url",
            &base,
            "--client-id",
            demo["client_id"].as_str().unwrap(),
            "GET",
            "/api/v2/groups",
        ])
        .env(
            "TOLLGATE_CLIENT_SECRET",
            demo["client_secret"].as_str().unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        call.status.success(),
        "{}",
        String::from_utf8_lossy(&call.stderr)
    );
    let called: Value = serde_json::from_slice(&call.stdout).unwrap();
    assert!(called.as_array().is_some_and(|g| g.len() >= 4), "{called}");
    // The front page leads to the panel, where the printed demo admin logs in.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects.get(format!("{base}/")).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/admin");
    assert_eq!(demo["admin_panel"], format!("{base}/admin/login"));
    let r = no_redirects
        .post(format!("{base}/admin/login"))
        .form(&[
            ("email", demo["admin_email"].as_str().unwrap()),
            ("password", demo["admin_password"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the demo admin logs in");
    // A refused request, for the log.
    let r = http
        .post(&token_url)
        .basic_auth(demo["client_id"].as_str().unwrap(), Some("tgsec_wrong"))
        .header("x-request-id", "trace-me-42")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["x-request-id"],
        "trace-me-42",
        "the caller's id comes back"
    );

    // SIGTERM: graceful stop, exit 0.
    let stderr = child.stderr.take().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");

    // The default log (RUST_LOG unset): a line for the refused request, none for the successful
    // ones (they are `debug`), no secret, and no colour codes in a log that is not a terminal.
    let mut log = String::new();
    BufReader::new(stderr).read_to_string(&mut log).unwrap();
    let request_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("tollgate::http"))
        .collect();
    assert_eq!(request_lines.len(), 1, "{log}");
    assert!(
        request_lines[0].contains("status=401")
            && request_lines[0].contains("route=\"/api/v2/oauth2/token\""),
        "{log}"
    );
    // Every line of that request carries its id: the request line and the refusal's own.
    let traced: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request_id=trace-me-42"))
        .collect();
    assert!(traced.len() >= 2, "{log}");
    assert!(
        traced
            .iter()
            .any(|l| l.contains("client authentication failed")),
        "{log}"
    );
    // The start-up line names the database.
    assert!(
        log.lines().any(|l| l.contains("tollgate listening")
            && l.contains(&format!("database=sqlite://{}", db.display()))),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "colour codes in the log: {log}");
    // (The demo's curl hint on stderr shows the secret once, by design; log lines never do.)
    let secret = demo["client_secret"].as_str().unwrap();
    let password = demo["admin_password"].as_str().unwrap();
    assert!(
        log.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .all(|l| !l.contains(secret) && !l.contains(password)),
        "{log}"
    );

    // A second start on the same database does not create or print anything again.
    let mut again = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = again.stderr.take().unwrap();
    // Keep reading stderr to its end (a closed pipe would break the child's logging).
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("listening") {
                let _ = ready_tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("second start listening");
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || again.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let note = reader.join().unwrap();
    assert!(out.status.success(), "{:?}: {note}", out.status);
    assert!(note.contains("--demo ignored"), "{note}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !printed.contains(demo["client_secret"].as_str().unwrap()),
        "secret printed twice"
    );
}

#[test]
fn key_rotate_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    assert_eq!(ok_json(&db, &["key", "list"]), json!([]));
    let first = ok_json(&db, &["key", "rotate"]);
    assert_eq!(first["alg"], "ES256", "the default with no key yet");
    let second = ok_json(
        &db,
        &["key", "rotate", "--overlap", "600", "--alg", "EdDSA"],
    );
    assert_eq!(second["alg"], "EdDSA");
    let list = ok_json(&db, &["key", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let old = list.iter().find(|k| k["kid"] == first["kid"]).unwrap();
    let new = list.iter().find(|k| k["kid"] == second["kid"]).unwrap();
    assert_eq!(old["current"], false);
    assert!(old["retired_at"].is_string() && old["publish_until"].is_string());
    assert_eq!(new["current"], true);
    assert!(new["retired_at"].is_null());
    let o = run(&db, &["key", "list"]);
    assert!(!o.stdout.contains("private"), "never the private key");
    fails(
        &db,
        &["key", "rotate", "--alg", "HS256"],
        "unsupported signing algorithm",
    );
    fails(
        &db,
        &["key", "rotate", "--overlap=-5"],
        "--overlap must be between",
    );
}

/// Runs `serve` on a fresh database with `extra` flags, sends `bodies` to the token endpoint as
/// JSON (each refused: no such client), stops the server and returns its log.
async fn log_of_refused_token_requests(extra: &[&str], bodies: &[Value]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("log.db").display()))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("listening")
                && let Some(at) = line.find("127.0.0.1:")
            {
                let port: String = line[at + 10..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let _ = addr_tx.send(format!("127.0.0.1:{port}"));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let http = reqwest::Client::new();
    for body in bodies {
        let r = http
            .post(format!("http://{addr}/api/v2/oauth2/token"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{body}");
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    reader.join().unwrap()
}

#[tokio::test]
async fn client_supplied_values_cannot_forge_log_lines_or_leak_a_secret() {
    let forged = "evil\r\n2026-12-01T00:00:00.000000Z  INFO tollgate: forged line\u{1b}[2J\u{0}";
    let bodies = [
        json!({"grant_type": "client_credentials", "client_id": forged, "client_secret": "s"}),
        // Fields swapped: the secret pasted into client_id.
        json!({"grant_type": "client_credentials", "client_id": "tgsec_pastedSecretValue123",
               "client_secret": "my-client"}),
    ];
    for format in [&[][..], &["--log-json"][..]] {
        let log = log_of_refused_token_requests(format, &bodies).await;
        assert!(
            !log.lines().any(|l| l.starts_with("2026-12-01T00:00:00")),
            "a forged line: {log}"
        );
        assert!(!log.contains('\u{1b}') && !log.contains('\0'), "{log:?}");
        assert!(!log.contains("tgsec_pasted"), "a secret in the log: {log}");
        // Both attempts are logged, the forged one escaped.
        let failures: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("client authentication failed"))
            .collect();
        assert_eq!(failures.len(), 2, "{log}");
        assert!(
            failures[0].contains("evil\\\\r\\\\n") || failures[0].contains("evil\\r\\n"),
            "{log}"
        );
        assert!(failures[1].contains("[redacted]"), "{log}");
        if !format.is_empty() {
            // (The empty-database hint on stderr is text for the operator, not a log line.)
            for l in log.lines().filter(|l| l.contains("\"level\"")) {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            }
            for l in &failures {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            }
        }
    }
}

/// Runs `tollgate ARGS` with `input` on stdin.
fn run_with_stdin(db: &Path, args: &[&str], input: &str) -> Out {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("TOLLGATE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn secrets_are_checked_offline_and_a_leaked_one_is_revoked_from_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let company = ok_json(
        &db,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read",
        ],
    );
    let cred = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            company["id"].as_str().unwrap(),
            "--label",
            "l",
            "--scopes",
            "groups:read",
        ],
    );
    let secret = cred["client_secret"].as_str().unwrap().to_owned();

    // Offline: no database is opened (a path that cannot exist is fine).
    let nowhere = Path::new("/nonexistent/dir/x.db");
    let check = |text: &str| ok_json(nowhere, &["secret", "check", text])["format"].clone();
    assert_eq!(check(&secret), "checked");
    assert_eq!(check(&format!("tgsec_{}", "b".repeat(43))), "legacy");
    let mut typo = secret.clone();
    typo.replace_range(10..11, if &secret[10..11] == "x" { "y" } else { "x" });
    assert_eq!(check(&typo), "not_a_secret");
    assert_eq!(check("hello"), "not_a_secret");
    let o = run_with_stdin(nowhere, &["secret", "check"], &format!("{secret}\n"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("\"checked\""), "{}", o.stdout);

    // Revoked from its text on stdin: a new secret, the old one gone, audited.
    let o = run_with_stdin(
        &db,
        &["credential", "revoke-leaked"],
        &format!("{secret}\n"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let renewed: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(renewed["client_id"], cred["client_id"]);
    let fresh = renewed["client_secret"].as_str().unwrap();
    assert_ne!(fresh, secret);
    assert!(!o.stderr.contains(&secret));
    let o = run_with_stdin(
        &db,
        &["credential", "revoke-leaked"],
        &format!("{secret}\n"),
    );
    assert_ne!(o.code, 0, "the old text finds nothing any more");
    assert!(
        o.stdout.is_empty() && !o.stderr.contains(&secret),
        "{}",
        o.stderr
    );
    let audit = ok_json(
        &db,
        &[
            "audit",
            "list",
            "--company",
            company["id"].as_str().unwrap(),
        ],
    );
    assert!(
        audit.to_string().contains("credential.secret_leaked"),
        "{audit}"
    );
}
