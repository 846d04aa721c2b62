//! Three `tollgate serve` processes on one PostgreSQL database (a fresh one, dropped at the end). Under
//! load, one is killed with SIGKILL: the others keep serving without a single error, and every write
//! that the killed node acknowledged is in the database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_store::testing::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const ISSUER: &str = "https://tollgate.cluster.test";

fn cli(db: &str, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["--database-url", db])
        .args(args)
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

/// Starts `tollgate serve` on a free port; returns once it listens. Its log is drained in a thread.
fn start(db: &str) -> Node {
    let mut child = Command::new(BIN)
        .args(["--database-url", db])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            ISSUER,
            "--log-json",
        ])
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
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("node listening");
    Node {
        child,
        base: format!("http://{addr}"),
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_under_load_costs_no_error_elsewhere_and_no_acknowledged_write() {
    let db = TestDatabase::create().await.unwrap();
    let url = db.url().to_owned();
    let company = cli(
        &url,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read,groups:write",
        ],
    );
    let company = company["id"].as_str().unwrap();
    let cred = cli(
        &url,
        &[
            "credential",
            "create",
            "--company",
            company,
            "--label",
            "load",
            "--scopes",
            "groups:read,groups:write",
        ],
    );
    let mut nodes: Vec<Node> = (0..3).map(|_| start(&url)).collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/api/v2/oauth2/token", bases[1]))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": cred["client_id"],
            "client_secret": cred["client_secret"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let api = move |method: reqwest::Method, base: &str, path: &str| {
        http.request(method, format!("{base}{path}"))
            .header("360-api-version", "v2.0")
            .bearer_auth(&token)
    };
    let groups: Vec<Value> = api(reqwest::Method::GET, &bases[2], "/api/v2/groups")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root = groups.iter().find(|g| g.get("parentId").is_none()).unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Readers on nodes 2 and 3; a writer on node 1 (then on node 2, once node 1 is gone).
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, read_errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut readers = Vec::new();
    for i in 0..4 {
        let (api, base) = (api.clone(), bases[1 + i % 2].clone());
        let (stop, reads, read_errors) = (stop.clone(), reads.clone(), read_errors.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let outcome = match api(reqwest::Method::GET, &base, "/api/v2/groups")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        r.bytes().await.map(drop).map_err(|e| e.to_string())
                    }
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("read on {base} failed: {e}");
                        read_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let writer = {
        let (api, bases, stop, root) = (api.clone(), bases.clone(), stop.clone(), root.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut target = 0;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let r = api(reqwest::Method::POST, &bases[target], "/api/v2/groups")
                    .json(&json!({"name": format!("g{n}"), "public": false, "parentId": root}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        let g: Value = r.json().await.unwrap();
                        acknowledged.push(g["_id"].as_str().unwrap().to_owned());
                    }
                    // Node 1 died with this request in flight: not acknowledged; go elsewhere.
                    _ if target == 0 => target = 1,
                    other => panic!("write on a live node failed: {other:?}"),
                }
            }
            (acknowledged, target)
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = Instant::now();
    nodes[0].child.kill().unwrap(); // SIGKILL
    nodes[0].child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    let (acknowledged, target) = writer.await.unwrap();

    eprintln!(
        "{} reads on nodes 2 and 3 without error; {} writes acknowledged",
        reads.load(Ordering::Relaxed),
        acknowledged.len()
    );
    assert_eq!(
        read_errors.load(Ordering::Relaxed),
        0,
        "the live nodes failed reads"
    );
    assert!(
        reads.load(Ordering::Relaxed) > 50,
        "too little load to mean anything"
    );
    assert_eq!(target, 1, "the writer noticed node 1 was gone");
    assert!(killed_at.elapsed() >= Duration::from_secs(1));
    // Every acknowledged write, from before and after the kill, reads back through node 3.
    assert!(acknowledged.len() > 10, "{} writes", acknowledged.len());
    for id in &acknowledged {
        let r = api(
            reqwest::Method::GET,
            &bases[2],
            &format!("/api/v2/groups/{id}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "acknowledged group {id} is missing");
    }
    drop(nodes);
    drop(db);
}
