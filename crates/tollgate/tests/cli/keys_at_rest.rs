//! Keys at rest, through the binary and the app: a database sealed under a key-encryption key is
//! useless alone, keys rotate, a database of before keeps working and is sealed by `rewrap`, and
//! without a key the server warns and serves.

use super::*;

/// Runs the binary on `db` with `env` set (and no key-encryption key inherited from the caller).
fn run_env(db: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("TOLLGATE_DATABASE_URL")
        .env_remove("TOLLGATE_SECRETS_KEY")
        .env_remove("TOLLGATE_SECRETS_KEY_FILE")
        .envs(env.iter().copied())
        .output()
        .expect("run tollgate");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok_json_env(db: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let o = run_env(db, env, args);
    assert_eq!(o.code, 0, "{args:?} failed: {}", o.stderr);
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", o.stdout))
}

fn fails_env(db: &Path, env: &[(&str, &str)], args: &[&str], needle: &str) {
    let o = run_env(db, env, args);
    assert_ne!(o.code, 0, "{args:?} should fail");
    assert!(o.stdout.is_empty(), "nothing on stdout: {}", o.stdout);
    assert!(
        o.stderr.contains(needle),
        "{args:?}: stderr {:?} lacks {needle:?}",
        o.stderr
    );
}

/// A new key-encryption key from `tollgate secrets generate-key`, and the id it reports.
fn generate_kek() -> (String, String) {
    let o = run_env(Path::new("/nonexistent"), &[], &["secrets", "generate-key"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let key = o.stdout.trim().to_owned();
    assert_eq!(key.len(), 43, "{key}");
    let id = o
        .stderr
        .split_whitespace()
        .find(|w| w.len() == 17 && w.ends_with(';'))
        .unwrap_or_else(|| panic!("no id in {:?}", o.stderr))
        .trim_end_matches(';')
        .to_owned();
    (key, id)
}

/// The app over `db` with key-encryption keys `keks` (the first seals); one issuer whatever the port,
/// so a token of one run verifies in the next.
async fn app_over(db: &Path, keks: &str) -> anyhow::Result<App> {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        issuer: Some("http://tollgate.test".into()),
        database_url: format!("sqlite://{}", db.display()),
        secrets_key: tollgate_core::kek::KeyWrap::parse(keks).unwrap(),
        ..Settings::default()
    };
    with_groups(App::build(settings, Arc::new(SystemClock)).await?).await
}

/// `app` with the example API mounted, as `tollgate serve` mounts it.
async fn with_groups(mut app: App) -> anyhow::Result<App> {
    tollgate_groups::mount(&mut app).await?;
    Ok(app)
}

/// A running app: [`Running::stop`] stops it and waits until it has let go of the database (a CLI
/// command run right after must not meet the server's last writes or the file's checkpoint).
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Runs `app` until [`Running::stop`]; its base URL.
fn spawn_app(app: App) -> (String, Running) {
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    (base, Running { stop: tx, task })
}

async fn token(base: &str, client_id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v2/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .unwrap()
}

async fn groups_status(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/v2/groups"))
        .header("360-api-version", "v2.0")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn with_the_database_file_alone_no_token_is_minted_or_verified() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let (a, a_id) = generate_kek();
    let with_a = [("TOLLGATE_SECRETS_KEY", a.as_str())];
    let c = ok_json_env(&db, &with_a, &["company", "create", "--name", "Acme"]);
    let cid = c["id"].as_str().unwrap().to_owned();
    let cred = ok_json_env(
        &db,
        &with_a,
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
    let client_id = cred["client_id"].as_str().unwrap().to_owned();
    let secret = cred["client_secret"].as_str().unwrap().to_owned();
    ok_json_env(&db, &with_a, &["key", "rotate"]);
    let status = ok_json_env(&db, &with_a, &["secrets", "status"]);
    assert_eq!(status["configured"], json!([a_id]), "{status}");
    assert_eq!(status["plaintext"], 0, "{status}");
    assert_eq!(
        status["sealed"][&a_id], 2,
        "the server key and one signing key: {status}"
    );
    assert_eq!(status["to_rewrap"], 0);

    // With the key: tokens are minted and accepted.
    let (base, stop) = spawn_app(app_over(&db, &a).await.unwrap());
    let r = token(&base, &client_id, &secret).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(groups_status(&base, &access).await, 200);
    stop.stop().await;

    // The database file alone: no server, no CLI that needs a key, no key written in the clear.
    // (The store's tests check the file's bytes hold no private key; here, every way in.)
    let alone = db.clone();
    let needle = "no key-encryption key is configured";
    fails_env(&alone, &[], &["serve", "--listen", "127.0.0.1:0"], needle);
    fails_env(
        &alone,
        &[],
        &["credential", "list", "--company", &cid],
        needle,
    );
    fails_env(&alone, &[], &["key", "rotate"], needle);
    fails_env(
        &alone,
        &[],
        &["secrets", "rewrap"],
        "no key-encryption key configured",
    );
    let err = app_over_none(&alone).await.unwrap_err();
    assert!(format!("{err:#}").contains(needle), "{err:#}");
    // A wrong key is refused too, naming the key the database needs.
    let (b, _) = generate_kek();
    let o = run_env(
        &alone,
        &[("TOLLGATE_SECRETS_KEY", &b)],
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("not among the configured") && o.stderr.contains(&a_id),
        "{}",
        o.stderr
    );
    // `secrets status` still reports, without reading any secret.
    let status = ok_json_env(&alone, &[], &["secrets", "status"]);
    assert_eq!(status["readable"], false, "{status}");

    // Rotation: the new key first and the old one after; rewrap; then the old one is dropped and
    // the token minted before still verifies, and new ones are minted.
    let key_file = dir.path().join("kek");
    std::fs::write(&key_file, format!("{b}\n{a}\n")).unwrap();
    let file_flag = key_file.to_str().unwrap();
    let moved = ok_json_env(
        &db,
        &[],
        &["--secrets-key-file", file_flag, "secrets", "rewrap"],
    );
    assert_eq!(moved["rewrapped"], 2, "{moved}");
    let again = ok_json_env(
        &db,
        &[],
        &["--secrets-key-file", file_flag, "secrets", "rewrap"],
    );
    assert_eq!(
        (again["rewrapped"].clone(), again["unchanged"].clone()),
        (json!(0), json!(2))
    );
    fails_env(&db, &with_a, &["key", "list"], "not among the configured");
    std::fs::write(&key_file, format!("{b}\n")).unwrap();
    ok_json_env(&db, &[], &["--secrets-key-file", file_flag, "key", "list"]);
    let (base, stop) = spawn_app(app_over(&db, &b).await.unwrap());
    assert_eq!(groups_status(&base, &access).await, 200);
    assert_eq!(token(&base, &client_id, &secret).await.status(), 200);
    stop.stop().await;
    // Both the variable and the file: which one seals would be a guess.
    fails_env(
        &db,
        &[("TOLLGATE_SECRETS_KEY", &b)],
        &["--secrets-key-file", file_flag, "key", "list"],
        "give the keys one way",
    );
}

async fn app_over_none(db: &Path) -> anyhow::Result<App> {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", db.display()),
        ..Settings::default()
    };
    with_groups(App::build(settings, Arc::new(SystemClock)).await?).await
}

#[tokio::test]
async fn a_database_of_before_keeps_working_under_a_key_and_rewrap_seals_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    // Written without a key, as every database was before.
    let c = ok_json_env(&db, &[], &["company", "create", "--name", "Acme"]);
    let cid = c["id"].as_str().unwrap().to_owned();
    let cred = ok_json_env(
        &db,
        &[],
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
    ok_json_env(&db, &[], &["key", "rotate"]);
    assert_eq!(
        ok_json_env(&db, &[], &["secrets", "status"])["plaintext"],
        2
    );
    // Without a key the server starts, with a loud warning.
    let o = run_env(&db, &[], &["secrets", "rewrap"]);
    assert_ne!(o.code, 0);
    let (a, a_id) = generate_kek();
    let with_a = [("TOLLGATE_SECRETS_KEY", a.as_str())];
    // With a key: the plaintext rows still read, and rewrap seals them.
    let (base, stop) = spawn_app(app_over(&db, &a).await.unwrap());
    let secret = cred["client_secret"].as_str().unwrap();
    let client_id = cred["client_id"].as_str().unwrap();
    assert_eq!(token(&base, client_id, secret).await.status(), 200);
    stop.stop().await;
    let moved = ok_json_env(&db, &with_a, &["secrets", "rewrap"]);
    assert_eq!(
        (moved["rewrapped"].clone(), moved["kek"].clone()),
        (json!(2), json!(a_id))
    );
    let status = ok_json_env(&db, &with_a, &["secrets", "status"]);
    assert_eq!(
        (status["plaintext"].clone(), status["to_rewrap"].clone()),
        (json!(0), json!(0))
    );
    fails_env(
        &db,
        &[],
        &["company", "list"],
        "no key-encryption key is configured",
    );
    let (base, stop) = spawn_app(app_over(&db, &a).await.unwrap());
    assert_eq!(token(&base, client_id, secret).await.status(), 200);
    stop.stop().await;
}

#[test]
fn without_a_key_the_server_warns_loudly_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let mut child = Command::new(BIN)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("TOLLGATE_SECRETS_KEY")
        .env_remove("TOLLGATE_SECRETS_KEY_FILE")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
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
    let ready = ready_rx.recv_timeout(Duration::from_secs(20));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert!(ready.is_ok(), "never listened: {log}");
    assert!(status.success(), "{status:?}: {log}");
    assert!(
        log.contains("NO KEY-ENCRYPTION KEY") && log.contains("IN THE CLEAR"),
        "{log}"
    );
}
