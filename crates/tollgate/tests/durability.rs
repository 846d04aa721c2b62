//! Durability: `tollgate serve` is killed with SIGKILL while 1,000 credential creations go through
//! the admin API, on SQLite and on PostgreSQL. After a restart on the same database, every
//! credential acknowledged with a 201 exists and obtains a token, no credential lacks a secret, and
//! the audit log holds exactly one `credential.created` entry per credential: none without its
//! credential, none missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_core::ids::CompanyId;
use tollgate_store::testing::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const ISSUER: &str = "https://tollgate.durability.test";
/// Creations attempted.
const CREATIONS: usize = 1_000;
/// Requests in flight at once.
const IN_FLIGHT: usize = 64;
/// The server is killed once this many creations were acknowledged.
const KILL_AFTER: usize = 250;

fn cli(db: &str, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["--database-url", db])
        .args(args)
        .env_remove("TOLLGATE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Node {
    child: Child,
    base: String,
}

/// Starts `tollgate serve` on a free port (rate limits off); returns once it listens and is ready.
async fn start(db: &str, http: &reqwest::Client) -> Node {
    let mut child = Command::new(BIN)
        .args(["--database-url", db])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            ISSUER,
            "--rate-limits",
            "off",
            "--log-json",
        ])
        .env_remove("TOLLGATE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["fields"]["message"] == "tollgate listening"
            {
                let _ = tx.send(v["fields"]["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("node listening");
    let node = Node {
        child,
        base: format!("http://{addr}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http.get(format!("{}/readyz", node.base)).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("not ready: {other:?}"),
        }
    }
    node
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token for `client_id`, or the response that refused it.
async fn token(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
) -> Result<String, String> {
    let r = http
        .post(format!("{base}/api/v2/oauth2/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    match body["access_token"].as_str() {
        Some(t) if status == 200 => Ok(t.to_owned()),
        _ => Err(format!("{status}: {body}")),
    }
}

async fn killed_mid_creation_loses_nothing_acknowledged(url: &str) {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let company = cli(
        url,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read,credentials:manage",
            "--max-credentials",
            "2000",
        ],
    );
    let company_id = company["id"].as_str().unwrap().to_owned();
    let manager = cli(
        url,
        &[
            "credential",
            "create",
            "--company",
            &company_id,
            "--label",
            "manager",
            "--scopes",
            "credentials:manage",
        ],
    );
    let manager_id = manager["client_id"].as_str().unwrap().to_owned();

    let mut node = start(url, &http).await;
    let bearer = token(
        &http,
        &node.base,
        &manager_id,
        manager["client_secret"].as_str().unwrap(),
    )
    .await
    .unwrap();

    // 1,000 creations, IN_FLIGHT at a time; the server is SIGKILLed once KILL_AFTER are acknowledged.
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let kill_tx = Arc::new(Mutex::new(Some(kill_tx)));
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (http, base, bearer) = (http.clone(), node.base.clone(), bearer.clone());
        let (next, acked, kill_tx) = (next.clone(), acked.clone(), kill_tx.clone());
        workers.push(tokio::spawn(async move {
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= CREATIONS {
                    return failed;
                }
                let r = http
                    .post(format!("{base}/admin/api/v1/credentials"))
                    .bearer_auth(&bearer)
                    .json(&json!({"label": format!("durable {i}"), "scopes": ["groups:read"]}))
                    .send()
                    .await;
                let created = match r {
                    Ok(r) if r.status() == 201 => r.json::<Value>().await.ok(),
                    Ok(r) if r.status().is_server_error() => None,
                    Ok(r) => panic!("creation {i}: {} {:?}", r.status(), r.text().await),
                    Err(_) => None,
                };
                match created {
                    Some(c) => {
                        let pair = (
                            c["client_id"].as_str().unwrap().to_owned(),
                            c["client_secret"].as_str().unwrap().to_owned(),
                        );
                        let n = {
                            let mut a = acked.lock().unwrap();
                            a.push(pair);
                            a.len()
                        };
                        if n >= KILL_AFTER
                            && let Some(tx) = kill_tx.lock().unwrap().take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    // The server died with this request in flight (or before it was sent).
                    None => failed += 1,
                }
            }
        }));
    }
    kill_rx
        .await
        .expect("the kill threshold was reached before every creation finished");
    node.child.kill().unwrap(); // SIGKILL
    node.child.wait().unwrap();
    let mut failed = 0;
    for w in workers {
        failed += w.await.unwrap();
    }
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    eprintln!(
        "{} creations acknowledged, {failed} not, before and after the SIGKILL",
        acked.len()
    );
    // The kill really happened mid-run: some creations acknowledged, some not.
    assert!(acked.len() >= KILL_AFTER, "{} acknowledged", acked.len());
    assert!(
        failed > 0,
        "every creation was acknowledged: the kill came too late"
    );
    assert_eq!(acked.len() + failed, CREATIONS);

    // Restart on the same database.
    let node = start(url, &http).await;

    // Every acknowledged credential obtains a token.
    let acked = Arc::new(acked);
    let next = Arc::new(AtomicUsize::new(0));
    let mut checkers = Vec::new();
    for _ in 0..16 {
        let (http, base, acked, next) =
            (http.clone(), node.base.clone(), acked.clone(), next.clone());
        checkers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, secret)) = acked.get(i) else {
                    return;
                };
                if let Err(e) = token(&http, &base, id, secret).await {
                    panic!("acknowledged credential {id} obtains no token: {e}");
                }
            }
        }));
    }
    for c in checkers {
        c.await.unwrap();
    }

    // The database itself, read directly.
    let store = tollgate_store::open(url).await.unwrap();
    let company = CompanyId::parse(&company_id).unwrap();
    let all = store.list_all_credentials().await.unwrap();
    for c in &all {
        assert!(
            !c.secrets.is_empty(),
            "credential {} has no secret",
            c.client_id
        );
    }
    let stored: HashSet<String> = store
        .list_credentials(&company)
        .await
        .unwrap()
        .iter()
        .map(|c| c.client_id.as_str().to_owned())
        .collect();
    assert_eq!(stored.len(), all.len(), "credentials of another company");
    for (id, _) in acked.iter() {
        assert!(
            stored.contains(id),
            "acknowledged credential {id} is missing"
        );
    }
    assert!(stored.contains(&manager_id));
    assert!(
        stored.len() <= 1 + CREATIONS,
        "{} credentials stored",
        stored.len()
    );

    // One `credential.created` entry per credential, and none for a credential that is not there.
    let mut audited: HashMap<String, usize> = HashMap::new();
    for e in store.list_audit(&company, 100_000).await.unwrap() {
        if e.action.as_str() == "credential.created" {
            *audited.entry(e.target.clone()).or_default() += 1;
        }
    }
    for (target, n) in &audited {
        assert!(
            stored.contains(target),
            "audit entry for {target}, a credential that does not exist"
        );
        assert_eq!(*n, 1, "{n} audit entries for the creation of {target}");
    }
    for id in &stored {
        assert!(
            audited.contains_key(id),
            "credential {id} exists without its audit entry"
        );
    }
    eprintln!(
        "{} credentials stored ({} beyond the acknowledged ones), each with its secret and its one \
         audit entry; {:.1?} in all",
        stored.len(),
        stored.len() - 1 - acked.len(),
        started.elapsed()
    );
    drop(store);
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_creations_on_sqlite_loses_no_acknowledged_credential() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("durable.db").display());
    killed_mid_creation_loses_nothing_acknowledged(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_creations_on_postgres_loses_no_acknowledged_credential() {
    let db = TestDatabase::create().await.unwrap();
    killed_mid_creation_loses_nothing_acknowledged(db.url()).await;
    drop(db);
}
