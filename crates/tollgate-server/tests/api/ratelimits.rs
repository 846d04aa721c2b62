//! Rate limits: brute-force protection on client authentication, token requests per client, API
//! budgets per company; in memory per node, or in Redis shared by every node (127.0.0.1:6379, which
//! `.ci/run` starts), falling back to memory while Redis is away. Each app's clock stands still, so
//! every request of a test falls in the same window until the test moves the clock.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::clock::{Clock, ManualClock, SystemClock};
use tollgate_server::RateLimitSettings;

use crate::helpers::{self, Backend, Cred, TestApp, TestDb};

const REDIS: &str = "redis://127.0.0.1:6379/0";

/// Test settings, with Redis keys of their own (tests share one Redis).
fn limits(tweak: impl FnOnce(&mut RateLimitSettings)) -> RateLimitSettings {
    let random = tollgate_core::ids::ClientId::generate().unwrap();
    let mut s = RateLimitSettings {
        redis_prefix: format!("tollgate-test-{}", random.as_str()),
        ..RateLimitSettings::default()
    };
    tweak(&mut s);
    s
}

/// Asserts a 429 with `Retry-After` and the documented body.
async fn assert_limited(r: reqwest::Response) -> u64 {
    assert_eq!(r.status(), 429);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "tooManyRequests"})
    );
    retry
}

fn wrong(cred: &Cred) -> Cred {
    Cred {
        company: cred.company,
        client_id: cred.client_id.clone(),
        secret: "tgsec_wrong".into(),
    }
}

#[tokio::test]
async fn failed_authentications_lock_the_client_id_out_even_for_the_right_secret() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| l.failed_auth_per_client_per_minute = 3);
    })
    .await;
    let cred = app.credential("groups:read").await;
    for _ in 0..3 {
        assert_eq!(app.request_token(&wrong(&cred)).await.status(), 401);
    }
    // The budget is spent: a guesser learns nothing more, right secret or not.
    let retry = assert_limited(app.request_token(&cred).await).await;
    assert_limited(app.request_token(&wrong(&cred)).await).await;
    // Another client from the same address is not affected.
    let other = app.credential("groups:read").await;
    assert_eq!(app.request_token(&other).await.status(), 200);
    // Nor are introspection and revocation spared: they authenticate clients too.
    let r = app
        .client
        .post(format!("{}/api/v2/oauth2/introspect", app.base))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_limited(r).await;

    app.clock.advance(retry as i64);
    assert_eq!(app.request_token(&cred).await.status(), 200);
}

#[tokio::test]
async fn failed_authentications_lock_the_address_out() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| l.failed_auth_per_ip_per_minute = 4);
    })
    .await;
    let cred = app.credential("groups:read").await;
    for i in 0..4 {
        let unknown = Cred {
            company: cred.company,
            client_id: format!("{i:032x}"),
            secret: "tgsec_x".into(),
        };
        assert_eq!(app.request_token(&unknown).await.status(), 401);
    }
    assert_limited(app.request_token(&cred).await).await;
}

#[tokio::test]
async fn token_requests_are_limited_per_client() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| l.token_per_client_per_minute = 2);
    })
    .await;
    let cred = app.credential("groups:read").await;
    let other = app.credential("groups:read").await;
    for _ in 0..2 {
        assert_eq!(app.request_token(&cred).await.status(), 200);
    }
    assert_limited(app.request_token(&cred).await).await;
    assert_eq!(app.request_token(&other).await.status(), 200);
}

async fn get_groups(app: &TestApp, token: &str) -> reqwest::Response {
    app.api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap()
}

async fn post_group(app: &TestApp, token: &str) -> reqwest::Response {
    let root = app.root_group(token).await;
    app.api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": "team", "public": false, "parentId": root}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn api_reads_and_writes_have_separate_budgets_per_company() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| {
            l.api_reads_per_company_per_second = 5;
            l.api_writes_per_company_per_second = 1;
        });
    })
    .await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    // `post_group` reads the root group first: 1 read + 1 write.
    assert_eq!(post_group(&app, &token).await.status(), 201);
    assert_limited(post_group(&app, &token).await).await;
    for _ in 0..2 {
        assert_eq!(get_groups(&app, &token).await.status(), 200);
    }
    // 5 reads in this second so far (2 by `post_group`, 2 here, and this one).
    assert_eq!(get_groups(&app, &token).await.status(), 200);
    assert_limited(get_groups(&app, &token).await).await;

    // Another company has its own budget; a request without a valid token is not counted.
    let other = app.credential("groups:read").await;
    let other_token = app.token(&other).await;
    assert_eq!(get_groups(&app, &other_token).await.status(), 200);
    assert_eq!(get_groups(&app, "not-a-token").await.status(), 401);

    app.clock.advance(1);
    assert_eq!(get_groups(&app, &token).await.status(), 200);

    // The two refusals are in the metrics.
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("tollgate_api_authorizations_total{outcome=\"rate_limited\"} 2"),
        "{metrics}"
    );
}

/// The guard accepts the scheme in any case (RFC 7235), so the budget must count every spelling:
/// `bearer` or `BEARER` does not escape it.
#[tokio::test]
async fn no_spelling_of_the_bearer_scheme_escapes_a_companys_budget() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| l.api_reads_per_company_per_second = 3);
    })
    .await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let send = |scheme: &'static str| {
        app.client
            .get(format!("{}/api/v2/groups", app.base))
            .header("360-api-version", "v2.0")
            .header("authorization", format!("{scheme} {token}"))
            .send()
    };
    for scheme in ["bearer", "BEARER", "Bearer"] {
        assert_eq!(send(scheme).await.unwrap().status(), 200, "{scheme}");
    }
    for scheme in ["bearer", "BEARER", "Bearer"] {
        assert_limited(send(scheme).await.unwrap()).await;
    }
}

#[tokio::test]
async fn rate_limits_off_switches_every_limit_off() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| {
            l.enabled = false;
            l.failed_auth_per_client_per_minute = 1;
            l.token_per_client_per_minute = 1;
            l.api_reads_per_company_per_second = 1;
        });
    })
    .await;
    let cred = app.credential("groups:read").await;
    for _ in 0..3 {
        assert_eq!(app.request_token(&wrong(&cred)).await.status(), 401);
    }
    let token = app.token(&cred).await;
    for _ in 0..3 {
        assert!(!app.token(&cred).await.is_empty());
        assert_eq!(get_groups(&app, &token).await.status(), 200);
    }
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["rate_limits"], "off");
}

#[tokio::test]
async fn with_redis_the_sum_over_nodes_respects_a_companys_budget() {
    let backend = Backend::from_env();
    let (url, _db) = helpers::fresh_database(backend).await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let settings = limits(|l| l.api_reads_per_company_per_second = 10);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let settings = settings.clone();
        nodes.push(
            helpers::spawn_node(url.clone(), TestDb::Shared, clock.clone(), move |s| {
                s.issuer = Some("https://tollgate.cluster.test".into());
                s.rate_limits = settings;
                s.redis_url = Some(REDIS.into());
            })
            .await,
        );
    }
    let cred = nodes[0].credential("groups:read").await;
    let token = nodes[0].token(&cred).await;
    for node in &nodes[1..] {
        node.sync().await;
    }
    // 30 reads spread over the three nodes, all in one second of the shared clock.
    let (mut ok, mut limited) = (0, 0);
    for i in 0..30 {
        match get_groups(&nodes[i % 3], &token).await.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        (ok, limited),
        (10, 20),
        "the budget is shared, not per node"
    );
    for node in &nodes {
        let ready: Value = node
            .client
            .get(format!("{}/readyz", node.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["rate_limits"], "redis");
    }
    clock.advance(1);
    assert_eq!(get_groups(&nodes[2], &token).await.status(), 200);
}

#[tokio::test]
async fn without_redis_a_node_counts_on_its_own_and_says_so() {
    // Nothing listens on port 1: every Redis call fails at once.
    let app = helpers::spawn_with(|s| {
        s.rate_limits = limits(|l| l.token_per_client_per_minute = 2);
        s.redis_url = Some("redis://127.0.0.1:1/0".into());
    })
    .await;
    let cred = app.credential("groups:read").await;
    for _ in 0..2 {
        assert_eq!(app.request_token(&cred).await.status(), 200);
    }
    assert_limited(app.request_token(&cred).await).await;
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a node without Redis still serves");
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["rate_limits"], "memory (redis unreachable)");
}

#[tokio::test]
async fn default_limits_leave_ordinary_use_alone() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    // A few dozen mistakes, then the right secret: not blocked.
    for _ in 0..30 {
        assert_eq!(app.request_token(&wrong(&cred)).await.status(), 401);
    }
    let token = app.token(&cred).await;
    for _ in 0..100 {
        assert_eq!(get_groups(&app, &token).await.status(), 200);
    }
}
