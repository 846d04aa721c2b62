//! Several nodes on one PostgreSQL database: what one node changes, every node enforces within a
//! second. Three apps run in this process on loopback port-0 listeners, sharing one fresh database,
//! one issuer (as behind a load balancer) and one clock. Their periodic change-feed poll is slowed to
//! 30 s, so only PostgreSQL's LISTEN/NOTIFY can make them this quick.
//!
//! These tests use PostgreSQL whatever `TOLLGATE_TEST_BACKEND` says (`.ci/run` skips them in the
//! suite's second run).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::clock::{Clock, ManualClock, SystemClock};
use tollgate_core::keys::{self, SigningAlg};

use crate::helpers::{self, Backend, Cred, TestApp, TestDb, client_id, error_of, until};

const ISSUER: &str = "https://tollgate.cluster.test";
/// The safety-net poll, slowed down so that it cannot be what makes a test pass.
const SLOW_POLL_MS: u64 = 30_000;
const WITHIN: Duration = Duration::from_secs(1);

struct Cluster {
    nodes: Vec<TestApp>,
    clock: Arc<ManualClock>,
    relay: Option<Relay>,
    // Last: the database outlives the nodes.
    db: TestDb,
}

/// Three nodes on one fresh PostgreSQL database.
async fn cluster() -> Cluster {
    start_cluster(false).await
}

/// As [`cluster`]; with `relayed`, the nodes reach the database through a [`Relay`].
async fn start_cluster(relayed: bool) -> Cluster {
    let (db_url, db) = helpers::fresh_database(Backend::Postgres).await;
    let relay = if relayed {
        Some(Relay::start(postgres_addr(&db_url)).await)
    } else {
        None
    };
    let url = relay
        .as_ref()
        .map_or(db_url.clone(), |r| via(&db_url, r.addr));
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            helpers::spawn_node(url.clone(), TestDb::Shared, clock.clone(), |s| {
                s.issuer = Some(ISSUER.into());
                s.sync_interval_ms = SLOW_POLL_MS;
                // A forward-auth route (no upstream): the gateway's checks on every node.
                s.gateway = toml::from_str(
                    "[[routes]]\nprefix = \"/api/v2/users\"\nscopes = { GET = [\"groups:read\"] }",
                )
                .unwrap();
            })
            .await,
        );
    }
    Cluster {
        nodes,
        clock,
        relay,
        db,
    }
}

impl Cluster {
    fn database(&self) -> &tollgate_store::testing::TestDatabase {
        match &self.db {
            TestDb::Postgres(db) => db,
            _ => panic!("a cluster runs on PostgreSQL"),
        }
    }

    /// A credential created through node 1, once every node can issue tokens for it.
    async fn credential(&self, scopes: &str) -> Cred {
        let cred = self.nodes[0].credential(scopes).await;
        for (i, node) in self.nodes.iter().enumerate() {
            let took = until(|| async { node.request_token(&cred).await.status() == 200 }).await;
            assert!(
                took < WITHIN,
                "node {} learned of the credential after {took:?}",
                i + 1
            );
        }
        cred
    }
}

async fn status(node: &TestApp, token: &str) -> u16 {
    node.api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(node: &TestApp) -> Vec<String> {
    let set: Value = node
        .client
        .get(format!("{}/.well-known/jwks.json", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_credential_deleted_on_one_node_is_refused_on_the_others_within_a_second() {
    let c = cluster().await;
    let cred = c.credential("groups:read").await;
    let token = c.nodes[1].token(&cred).await;
    for node in &c.nodes {
        assert_eq!(status(node, &token).await, 200);
    }

    c.nodes[0]
        .admin
        .delete_credential(&client_id(&cred))
        .await
        .unwrap();
    for (i, node) in c.nodes.iter().enumerate().skip(1) {
        let took = until(|| async { status(node, &token).await == 401 }).await;
        assert!(
            took < WITHIN,
            "node {} still accepted the token after {took:?}",
            i + 1
        );
        let (status, body, _) = error_of(node.request_token(&cred).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
}

#[tokio::test]
async fn a_key_rotated_on_one_node_signs_everywhere_and_every_token_verifies_everywhere() {
    let c = cluster().await;
    let cred = c.credential("groups:read").await;
    let before = c.nodes[2].token(&cred).await;
    let old_kid = kid_of(&before);

    // `tollgate key rotate` through node 2's database handle.
    let new_key = keys::rotate(&*c.nodes[1].store, SigningAlg::EdDSA, 3600, c.clock.now())
        .await
        .unwrap();
    assert_ne!(new_key.kid, old_kid);
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { kid_of(&node.token(&cred).await) == new_key.kid }).await;
        assert!(
            took < WITHIN,
            "node {} signed with the old key for {took:?}",
            i + 1
        );
        let kids = published_kids(node).await;
        assert!(
            kids.contains(&new_key.kid) && kids.contains(&old_kid),
            "node {}: JWKS {kids:?} lacks a key of the overlap",
            i + 1
        );
    }

    // A token of node 3 with the new key, and one from before the rotation, verify on every node.
    let after = c.nodes[2].token(&cred).await;
    assert_eq!(kid_of(&after), new_key.kid);
    for node in &c.nodes {
        assert_eq!(status(node, &after).await, 200);
        assert_eq!(
            status(node, &before).await,
            200,
            "old key's token within the overlap"
        );
    }
}

/// The status `/auth/verify` gives `token` for `GET /api/v2/users/1` on `node`.
async fn verified(node: &TestApp, token: &str) -> u16 {
    node.client
        .get(format!("{}/auth/verify", node.base))
        .header(helpers::VERSION_HEADER, "v2.0")
        .header("x-original-uri", "/api/v2/users/1")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_gateways_checks_follow_revocation_narrowing_and_deletion_on_every_node_within_a_second()
 {
    let c = cluster().await;
    let cred = c.credential("groups:read groups:write").await;
    let revoked = c.nodes[0].token(&cred).await;
    // Past half the first one's lifetime: another token, not the first answered again (reuse).
    c.clock.advance(1801);
    let token = c.nodes[0].token(&cred).await;
    for node in &c.nodes {
        assert_eq!(verified(node, &revoked).await, 200);
    }
    let within = |what: &'static str, token: String, expect: u16| {
        let c = &c;
        async move {
            for (i, node) in c.nodes.iter().enumerate() {
                let took = until(|| async { verified(node, &token).await == expect }).await;
                assert!(took < WITHIN, "{what}: node {} took {took:?}", i + 1);
            }
        }
    };

    let r = c.nodes[0]
        .client
        .post(format!("{}/api/v2/oauth2/revoke", c.nodes[0].base))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    within("revoked", revoked, 401).await;
    for node in &c.nodes {
        assert_eq!(
            verified(node, &token).await,
            200,
            "the other token stays good"
        );
    }

    c.nodes[0]
        .admin
        .update_credential(
            &client_id(&cred),
            CredentialChanges {
                label: None,
                scopes: Some("groups:write".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    within("narrowed", token.clone(), 403).await;

    c.nodes[0]
        .admin
        .delete_credential(&client_id(&cred))
        .await
        .unwrap();
    within("deleted", token, 401).await;
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_on_the_others_within_a_second() {
    let c = cluster().await;
    let cred = c.credential("groups:read").await;
    let token = c.nodes[0].token(&cred).await;
    // Past half the first one's lifetime: another token, not the first answered again (reuse).
    c.clock.advance(1801);
    let other = c.nodes[0].token(&cred).await;
    assert_eq!(status(&c.nodes[2], &token).await, 200);

    let r = c.nodes[0]
        .client
        .post(format!("{}/api/v2/oauth2/revoke", c.nodes[0].base))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { status(node, &token).await == 401 }).await;
        assert!(
            took < WITHIN,
            "node {} still accepted the token after {took:?}",
            i + 1
        );
        assert_eq!(
            status(node, &other).await,
            200,
            "other tokens are not affected"
        );
    }
}

#[tokio::test]
async fn scopes_secrets_and_ceilings_changed_on_one_node_apply_everywhere_within_a_second() {
    let c = cluster().await;
    let cred = c.credential("groups:read groups:write").await;
    let token = c.nodes[0].token(&cred).await;
    let write = |node: &TestApp, token: String| {
        let req = node
            .api(Method::POST, "/api/v2/groups", &token)
            .json(&serde_json::json!({"name": "x"}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_ne!(write(&c.nodes[2], token.clone()).await, 403);

    // The company's ceiling narrowed on node 2: writes refused on nodes 1 and 3.
    c.nodes[1]
        .admin
        .update_company(
            &cred.company,
            CompanyChanges {
                scopes: Some("groups:read users:read".parse().unwrap()),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    for i in [0, 2] {
        let took = until(|| async { write(&c.nodes[i], token.clone()).await == 403 }).await;
        assert!(
            took < WITHIN,
            "node {} allowed the write for {took:?}",
            i + 1
        );
    }

    // The credential's own scopes narrowed on node 3: reads refused everywhere.
    c.nodes[2]
        .admin
        .update_credential(
            &client_id(&cred),
            CredentialChanges {
                label: None,
                scopes: Some("users:read".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { status(node, &token).await == 403 }).await;
        assert!(
            took < WITHIN,
            "node {} allowed the read for {took:?}",
            i + 1
        );
    }

    // The secret rotated without grace on node 1: the old one fails and the new one works everywhere.
    let rotated = c.nodes[0]
        .admin
        .rotate_secret(&client_id(&cred), 0)
        .await
        .unwrap();
    let fresh = Cred {
        company: cred.company,
        client_id: cred.client_id.clone(),
        secret: rotated.secret.expose_secret().to_owned(),
    };
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async {
            node.request_token(&cred).await.status() == 401
                && node.request_token(&fresh).await.status() == 200
        })
        .await;
        assert!(
            took < WITHIN,
            "node {} lagged the rotation by {took:?}",
            i + 1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The database goes away and comes back
// ---------------------------------------------------------------------------------------------

/// A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored: a database outage as the nodes see it, without touching the shared server.
struct Relay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*state.borrow() {
                    continue; // refused: dropped at once
                }
                let mut cut = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, hostpath) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let path = &hostpath[hostpath.find('/').unwrap()..];
    format!("{scheme}://{userinfo}{addr}{path}")
}

/// Where the test databases live (host:port of the maintenance URL).
fn postgres_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let hostpath = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = &hostpath[..hostpath.find('/').unwrap()];
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport.parse().unwrap()
}

async fn ready(node: &TestApp) -> u16 {
    node.client
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn nodes_serve_from_cache_while_the_database_is_away_and_catch_up_when_it_returns() {
    let c = start_cluster(true).await;
    let relay = c.relay.as_ref().unwrap();
    let cred = c.credential("groups:read").await;
    let token = c.nodes[0].token(&cred).await;
    // The operator's CLI, straight to the database.
    let operator = tollgate_store::open(c.database().url()).await.unwrap();

    relay.cut();
    for node in &c.nodes {
        let took = until(|| async { ready(node).await == 503 }).await;
        assert!(
            took < Duration::from_secs(10),
            "readiness noticed after {took:?}"
        );
        // Tokens are issued and checked from the in-memory directory. (The example API's own data
        // lives in the database: its calls fail with 500 meanwhile.)
        assert_eq!(node.request_token(&cred).await.status(), 200);
        assert_eq!(node.introspect(&cred, &token).await["active"], true);
    }

    // A change the nodes cannot hear of while they are cut off: the NOTIFY is lost for them.
    operator.delete_credential(&client_id(&cred)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.restore();
    let restored = Instant::now();
    for (i, node) in c.nodes.iter().enumerate() {
        // Each node's listener reconnects on its own (backoff at most 2 s) and reads the feed.
        until(|| async { status(node, &token).await == 401 }).await;
        let took = restored.elapsed();
        assert!(
            took < Duration::from_secs(4),
            "node {} caught up {took:?} after the database came back",
            i + 1
        );
        assert_eq!(ready(node).await, 200);
        assert_eq!(node.request_token(&cred).await.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_at_once_on_an_empty_database_agree_on_one_signing_key() {
    nodes_agree_on_one_signing_key(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_started_at_once_on_an_empty_sqlite_file_agree_on_one_signing_key() {
    nodes_agree_on_one_signing_key(Backend::Sqlite).await;
}

async fn nodes_agree_on_one_signing_key(backend: Backend) {
    // Every node finds no signing key and makes one: they must end with one current key between them.
    for round in 0..5 {
        let (url, _db) = helpers::fresh_database(backend).await;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let starting: Vec<_> = (0..4)
            .map(|_| {
                let (url, clock) = (url.clone(), clock.clone());
                tokio::spawn(async move {
                    helpers::spawn_node(url, TestDb::Shared, clock, |s| {
                        s.issuer = Some(ISSUER.into());
                    })
                    .await
                })
            })
            .collect();
        let mut nodes = Vec::new();
        for s in starting {
            nodes.push(
                s.await
                    .unwrap_or_else(|e| panic!("round {round}: a node failed to start: {e}")),
            );
        }
        // A node that read the keys before a later one rotated learns of it through the feed.
        let kids = || {
            nodes
                .iter()
                .map(|n| n.authority.keys().current().kid().to_owned())
                .collect::<std::collections::HashSet<String>>()
        };
        let took = until(|| async { kids().len() == 1 }).await;
        assert!(
            took < WITHIN,
            "round {round}: nodes signed with {:?} for {took:?}",
            kids()
        );
        // And the database agrees: one key is current, the others retired (published for a while).
        let current: Vec<String> = nodes[0]
            .store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.retired_at.is_none())
            .map(|k| k.kid)
            .collect();
        assert_eq!(
            current,
            kids().into_iter().collect::<Vec<_>>(),
            "round {round}"
        );
        // Every node restarts fine on what was left.
        let again = helpers::spawn_node(url.clone(), TestDb::Shared, clock.clone(), |s| {
            s.issuer = Some(ISSUER.into());
        })
        .await;
        assert!(kids().contains(again.authority.keys().current().kid()));
    }
}

async fn group_names(node: &TestApp, token: &str) -> Vec<String> {
    let v: Value = node
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Every node keeps the first page of a company's groups in memory: a group created, renamed or
/// deleted through one node shows in every node's list within a second, and at once on the node
/// that wrote it.
#[tokio::test]
async fn group_writes_on_one_node_show_in_every_nodes_cached_list_within_a_second() {
    let c = cluster().await;
    let cred = c.credential("groups:read groups:write").await;
    let token = c.nodes[0].token(&cred).await;
    for node in &c.nodes {
        assert_eq!(group_names(node, &token).await.len(), 1, "the root group");
    }
    let root = c.nodes[0].root_group(&token).await;

    let r = c.nodes[1]
        .api(Method::POST, "/api/v2/groups", &token)
        .json(&serde_json::json!({"name": "Cached Team", "public": false, "parentId": root}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let id = r.json::<Value>().await.unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        group_names(&c.nodes[1], &token)
            .await
            .contains(&"Cached Team".to_owned()),
        "the writing node lists it at once"
    );
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async {
            group_names(node, &token)
                .await
                .contains(&"Cached Team".to_owned())
        })
        .await;
        assert!(took < WITHIN, "node {} listed it after {took:?}", i + 1);
    }

    let r = c.nodes[2]
        .api(Method::PATCH, &format!("/api/v2/groups/{id}"), &token)
        .json(&serde_json::json!({"name": "Renamed Team"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async {
            let names = group_names(node, &token).await;
            names.contains(&"Renamed Team".to_owned()) && !names.contains(&"Cached Team".to_owned())
        })
        .await;
        assert!(
            took < WITHIN,
            "node {} showed the rename after {took:?}",
            i + 1
        );
    }

    let r = c.nodes[0]
        .api(Method::DELETE, &format!("/api/v2/groups/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { group_names(node, &token).await.len() == 1 }).await;
        assert!(
            took < WITHIN,
            "node {} still listed it after {took:?}",
            i + 1
        );
    }
}

/// Issue 13: an IP allowlist or an expiry set on one node holds on every node within a second.
#[tokio::test]
async fn an_allowlist_or_expiry_set_on_one_node_holds_on_every_node_within_a_second() {
    let c = cluster().await;
    let cred = c.credential("groups:read").await;
    let token = c.nodes[1].token(&cred).await;
    let set = |changes: CredentialChanges| {
        let c = &c;
        let id = client_id(&cred);
        async move {
            c.nodes[0]
                .admin
                .update_credential(&id, changes)
                .await
                .unwrap()
        }
    };

    set(CredentialChanges {
        allowed_ips: Some(
            tollgate_core::allowlist::IpAllowlist::parse(&["203.0.113.0/24"]).unwrap(),
        ),
        ..Default::default()
    })
    .await;
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { node.request_token(&cred).await.status() == 401 }).await;
        assert!(took < WITHIN, "allowlist: node {} took {took:?}", i + 1);
    }
    set(CredentialChanges {
        allowed_ips: Some(tollgate_core::allowlist::IpAllowlist::default()),
        expires_at: Some(Some(c.clock.now() + 60)),
        ..Default::default()
    })
    .await;
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { node.request_token(&cred).await.status() == 200 }).await;
        assert!(
            took < WITHIN,
            "allowlist removed: node {} took {took:?}",
            i + 1
        );
    }
    c.clock.advance(60);
    for (i, node) in c.nodes.iter().enumerate() {
        let took = until(|| async { status(node, &token).await == 401 }).await;
        assert!(took < WITHIN, "expired: node {} took {took:?}", i + 1);
        assert_eq!(node.request_token(&cred).await.status(), 401);
    }
}
