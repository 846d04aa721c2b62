//! `tollgate token` and `tollgate call`, run as a user would against a real server: JSON on stdout,
//! errors on stderr with a non-zero exit, and the client secret never echoed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;
use tollgate_core::clock::SystemClock;
use tollgate_core::ids::CompanyId;
use tollgate_groups::{Group, GroupId, GroupStore};
use tollgate_server::{App, Metrics, Settings};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

struct Server {
    base: String,
    groups: Arc<dyn GroupStore>,
    metrics: Arc<Metrics>,
    company: CompanyId,
    client_id: String,
    secret: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
}

/// A server with a company (groups:read/write) and a credential holding both scopes.
async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.path().join("t.db").display()),
        sync_interval_ms: 50,
        ..Settings::default()
    };
    let mut app = App::build(settings, Arc::new(SystemClock)).await.unwrap();
    let groups = Arc::clone(tollgate_groups::mount(&mut app).await.unwrap().store());
    let admin = app.admin().clone();
    let company = admin
        .create_company(
            "Acme",
            Some("groups:read groups:write".parse().unwrap()),
            None,
        )
        .await
        .unwrap();
    let cred = admin
        .create_credential(
            &company.id,
            "CLI",
            "groups:read groups:write".parse().unwrap(),
        )
        .await
        .unwrap();
    app.authority().sync(&*app.store()).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = Server {
        base: format!("http://{}", app.local_addr()),
        groups,
        metrics: app.metrics(),
        company: company.id,
        client_id: cred.credential.client_id.as_str().to_owned(),
        secret: cred.secret.expose_secret().to_owned(),
        _stop: tx,
        _dir: dir,
    };
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    s
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and `env` (and no client credentials from the test's environment).
async fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(&args)
            .env_remove("TOLLGATE_CLIENT_ID")
            .env_remove("TOLLGATE_CLIENT_SECRET")
            .env_remove("TOLLGATE_CONFIG")
            .envs(env)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn ok_json(o: &Out) -> Value {
    assert_eq!(o.code, 0, "failed: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.stdout))
}

#[tokio::test]
async fn token_prints_a_token_response() {
    let s = server().await;
    let o = run(
        &[
            "token",
            "--url",
            &s.base,
            "--client-id",
            &s.client_id,
            "--client-secret",
            &s.secret,
        ],
        &[],
    )
    .await;
    let v = ok_json(&o);
    assert_eq!(v["token_type"], "Bearer");
    // A full hour, or less when an earlier request of the same credential and scopes is answered
    // again by token reuse (expires_in: the time left).
    assert!(
        (3590..=3600).contains(&v["expires_in"].as_i64().unwrap()),
        "{}",
        v["expires_in"]
    );
    assert_eq!(v["scope"], "groups:read groups:write");
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert!(!o.stdout.contains(&s.secret) && !o.stderr.contains(&s.secret));
    // The printed token works.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v2/groups", s.base))
        .header("360-api-version", "v2.0")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A narrower scope, a form body and Basic authentication.
    let o = run(
        &[
            "token",
            "--url",
            &s.base,
            "--scope",
            "groups:read",
            "--form",
            "--basic",
        ],
        &[
            ("TOLLGATE_CLIENT_ID", &s.client_id),
            ("TOLLGATE_CLIENT_SECRET", &s.secret),
        ],
    )
    .await;
    assert_eq!(ok_json(&o)["scope"], "groups:read");
    assert_eq!(s.metrics.tokens_issued(), 2);
}

#[tokio::test]
async fn call_paginate_prints_every_item_in_one_array() {
    let s = server().await;
    let env = [
        ("TOLLGATE_CLIENT_ID", s.client_id.as_str()),
        ("TOLLGATE_CLIENT_SECRET", s.secret.as_str()),
    ];
    let first = ok_json(&run(&["call", "--url", &s.base, "GET", "/api/v2/groups"], &env).await);
    let root = GroupId::parse(first[0]["_id"].as_str().unwrap()).unwrap();
    for i in 0..700 {
        s.groups
            .insert_group(&Group {
                id: GroupId::generate(1_700_000_000 + i).unwrap(),
                company_id: s.company,
                name: format!("g{i}"),
                public: false,
                custom: None,
                parent_id: Some(root),
                extra: Default::default(),
            })
            .await
            .unwrap();
    }
    // Without --paginate: the first page only.
    let page = ok_json(&run(&["call", "--url", &s.base, "GET", "/api/v2/groups"], &env).await);
    assert_eq!(page.as_array().unwrap().len(), 500);
    // With it: one array, every item once.
    let o = run(
        &[
            "call",
            "--url",
            &s.base,
            "--paginate",
            "--api-version",
            "v2.0",
            "GET",
            "/api/v2/groups",
        ],
        &env,
    )
    .await;
    let all = ok_json(&o);
    let items = all.as_array().unwrap();
    assert_eq!(items.len(), 701);
    let ids: HashSet<&str> = items.iter().map(|g| g["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 701);
    assert!(!o.stdout.contains(&s.secret) && !o.stderr.contains(&s.secret));
}

#[tokio::test]
async fn call_sends_data_reads_the_secret_from_a_file_and_reports_api_errors() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{}\n", s.secret)).unwrap();
    let file = file.to_str().unwrap();
    let base = [
        "call",
        "--url",
        &s.base,
        "--client-id",
        &s.client_id,
        "--client-secret-file",
        file,
    ];
    let call = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &[]).await
        }
    };
    let groups = ok_json(&call(&["get", "/api/v2/groups"]).await);
    let root = groups[0]["_id"].as_str().unwrap().to_owned();
    let data = format!(r#"{{"name": "Payroll", "public": false, "parentId": "{root}"}}"#);
    let created = ok_json(&call(&["POST", "/api/v2/groups", "--data", &data]).await);
    assert_eq!(created["name"], "Payroll");
    let path = format!("/api/v2/groups/{}", created["_id"].as_str().unwrap());
    let deleted = call(&["DELETE", &path]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(deleted.stdout, "", "204: nothing to print");

    // API errors: stderr, exit 1, nothing on stdout.
    let missing = call(&["GET", &path]).await;
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stdout, "");
    assert!(
        missing.stderr.contains("404 groupNotFound"),
        "{}",
        missing.stderr
    );
    let old = call(&["--api-version", "v1.0", "GET", "/api/v2/groups"]).await;
    assert_ne!(old.code, 0);
    assert!(
        old.stderr.contains("unsupportedApiVersion"),
        "{}",
        old.stderr
    );
    let bad = call(&["POST", "/api/v2/groups", "--data", "{not json"]).await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("--data is not valid JSON"),
        "{}",
        bad.stderr
    );
    for o in [&missing, &old, &bad] {
        assert!(!o.stderr.contains(&s.secret));
    }
}

#[tokio::test]
async fn a_wrong_or_missing_secret_fails_clearly_and_is_never_echoed() {
    let s = server().await;
    let wrong = "tgsec_wrongwrongwrongwrongwrongwrongwrongwrong";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, wrong).unwrap();
    let file = file.to_str().unwrap();
    let id = ("TOLLGATE_CLIENT_ID", s.client_id.as_str());
    let attempts = [
        run(
            &[
                "token",
                "--url",
                &s.base,
                "--client-id",
                &s.client_id,
                "--client-secret",
                wrong,
            ],
            &[],
        )
        .await,
        run(
            &["token", "--url", &s.base, "--basic"],
            &[id, ("TOLLGATE_CLIENT_SECRET", wrong)],
        )
        .await,
        run(
            &[
                "call",
                "--url",
                &s.base,
                "--client-secret-file",
                file,
                "GET",
                "/api/v2/groups",
            ],
            &[id],
        )
        .await,
        run(
            &[
                "call",
                "--url",
                &s.base,
                "--paginate",
                "GET",
                "/api/v2/groups",
            ],
            &[id, ("TOLLGATE_CLIENT_SECRET", wrong)],
        )
        .await,
    ];
    for o in &attempts {
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert_eq!(o.stdout, "");
        assert!(o.stderr.contains("invalid_client"), "{}", o.stderr);
        assert!(!o.stderr.contains(wrong), "secret echoed: {}", o.stderr);
        assert!(
            !o.stderr.contains("wrongwrong"),
            "secret echoed: {}",
            o.stderr
        );
    }
    assert_eq!(s.metrics.tokens_issued(), 0);

    let none = run(&["token", "--url", &s.base], &[id]).await;
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("no client secret"), "{}", none.stderr);
    let down = run(
        &["token", "--url", "http://127.0.0.1:9", "--timeout", "1"],
        &[id, ("TOLLGATE_CLIENT_SECRET", wrong)],
    )
    .await;
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("gave up after"), "{}", down.stderr);
    assert!(!down.stderr.contains("wrongwrong"), "{}", down.stderr);
    // --help shows no secret from the environment.
    let help = run(&["call", "--help"], &[("TOLLGATE_CLIENT_SECRET", wrong)]).await;
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--client-secret-file"));
    assert!(!help.stdout.contains("wrongwrong"));
}

/// Reads the pretty-printed JSON object `serve --demo` prints on stdout.
fn read_demo_json(stdout: impl std::io::Read) -> Value {
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line == "}" {
            break;
        }
    }
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn call_works_against_the_quickstart_demo_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("demo.db").display()))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = tokio::task::spawn_blocking(move || read_demo_json(stdout))
        .await
        .unwrap();
    let base = demo["token_url"]
        .as_str()
        .unwrap()
        .trim_end_matches("/api/v2/oauth2/token")
        .to_owned();
    let o = run(
        &[
            "call",
            "--url",
            &base,
            "--paginate",
            "GET",
            "/api/v2/groups",
        ],
        &[
            ("TOLLGATE_CLIENT_ID", demo["client_id"].as_str().unwrap()),
            (
                "TOLLGATE_CLIENT_SECRET",
                demo["client_secret"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let groups = ok_json(&o);
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Engineering Team"), "{names:?}");
    assert_eq!(names.len(), 4, "the root and three demo groups");
}
