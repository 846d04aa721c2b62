//! The gateway: `[[gateway.routes]]` forward to a real upstream (an axum server on a port-0
//! listener in this process) after the built-in API's checks, and `/auth/verify` answers the same
//! question for a proxy in front. What the upstream receives is read back from its echo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::ids::ClientId;
use tollgate_server::{GatewaySettings, Settings};

use crate::helpers::{self, Cred, TestApp, VERSION_HEADER, error_of, until};

/// The test upstream: echoes what it received as JSON, and a few special paths.
pub struct Upstream {
    pub addr: SocketAddr,
    /// Requests that reached it.
    pub hits: Arc<AtomicUsize>,
}

/// Starts an upstream on a free port (it runs until the test's runtime ends).
pub async fn upstream() -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        counted.fetch_add(1, Ordering::SeqCst);
        answer(req)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { addr, hits }
}

async fn answer(mut req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    if path.ends_with("/slow") {
        tokio::time::sleep(Duration::from_secs(5)).await;
        return "late".into_response();
    }
    if req.headers().get("upgrade").is_some_and(|v| v == "echo") {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(up) = on.await else { return };
            let mut io = hyper_util::rt::TokioIo::new(up);
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Body::empty())
            .unwrap();
    }
    if path.ends_with("/upload") {
        let mut n: u64 = 0;
        let mut body = req.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            n += chunk.unwrap().len() as u64;
        }
        return n.to_string().into_response();
    }
    if path.ends_with("/download") {
        let n: usize = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("bytes="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        let chunks = n / chunk.len();
        let stream = futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        return Response::builder()
            .header("keep-alive", "timeout=5")
            .header("x-upstream", "yes")
            .body(Body::from_stream(stream))
            .unwrap();
    }
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .keys()
        .map(|k| {
            let all: Vec<&str> = req
                .headers()
                .get_all(k)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            (k.as_str().to_owned(), Value::from(all.join(" | ")))
        })
        .collect();
    let echo = json!({
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "version": format!("{:?}", req.version()),
        "headers": headers,
    });
    let mut resp = axum::Json(echo).into_response();
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("x-secret-hop"));
    resp.headers_mut()
        .insert("x-secret-hop", HeaderValue::from_static("dropped"));
    resp
}

/// `/auth/verify` as nginx's `auth_request` asks it: a `GET` of `uri` with `token` and the
/// version header.
pub async fn verify_get(app: &TestApp, uri: &str, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/auth/verify", app.base))
        .header(VERSION_HEADER, "v2.0")
        .header("x-original-method", "GET")
        .header("x-original-uri", uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The `[gateway]` of `toml_text`, with `UP` replaced by the upstream's address.
pub fn routes(toml_text: &str, up: SocketAddr) -> GatewaySettings {
    toml::from_str(&toml_text.replace("UP", &up.to_string())).unwrap()
}

const USERS: &str = r#"
[[routes]]
prefix = "/api/v2/users"
upstream = "http://UP"
[routes.scopes]
GET = ["users:read"]
"*" = ["users:write"]
"#;

async fn gateway(toml_text: &str) -> (TestApp, Upstream) {
    let up = upstream().await;
    let gw = routes(toml_text, up.addr);
    let app = helpers::spawn_with(|s: &mut Settings| {
        s.extra_scopes = vec!["users:read".into(), "users:write".into()];
        s.gateway = gw;
    })
    .await;
    (app, up)
}

/// A credential whose company's ceiling holds the users scopes.
async fn users_credential(app: &TestApp, scopes: &str) -> Cred {
    let company = app.company("groups:read users:read users:write").await;
    app.credential_in(company, scopes).await
}

fn client_id(cred: &Cred) -> ClientId {
    ClientId::parse(&cred.client_id).unwrap()
}

async fn echo(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.api(Method::GET, path, token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_upstream_sees_the_callers_identity_and_not_its_token() {
    let (app, up) = gateway(USERS).await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let r = app
        .api(Method::GET, "/api/v2/users/7?fields=name", &token)
        .header("x-tollgate-client-id", "forged")
        .header("x-tollgate-scopes", "users:write")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "x-hop")
        .header("x-hop", "must not pass")
        .header("keep-alive", "timeout=5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("x-secret-hop").is_none(),
        "a header the upstream named in Connection is not passed back"
    );
    let v: Value = r.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(v["method"], "GET");
    assert_eq!(v["uri"], "/api/v2/users/7?fields=name");
    assert_eq!(h["x-tollgate-client-id"], cred.client_id.as_str());
    assert_eq!(
        h["x-tollgate-company-id"],
        cred.company.to_string().as_str()
    );
    assert_eq!(h["x-tollgate-scopes"], "users:read");
    assert!(h.get("authorization").is_none(), "{h}");
    assert!(
        h.get("x-hop").is_none() && h.get("keep-alive").is_none(),
        "{h}"
    );
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    let tollgate_host = app.base.trim_start_matches("http://");
    assert_eq!(h["x-forwarded-host"], tollgate_host);
    assert_eq!(h["host"], up.addr.to_string().as_str());
    assert_eq!(h[VERSION_HEADER], "v2.0", "other headers pass as sent");
    assert_eq!(up.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn strip_prefix_base_paths_forward_token_and_http2_upstreams() {
    let (app, _up) = gateway(
        r#"
        [[routes]]
        prefix = "/svc"
        upstream = "http://UP/base/"
        strip_prefix = true
        forward_token = true
        scopes = { "*" = [] }
        [[routes]]
        prefix = "/h2"
        upstream = "http://UP"
        http2 = true
        version_header = false
        scopes = { GET = [] }
        "#,
    )
    .await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let v = echo(&app, "/svc/a/b?q=1", &token).await;
    assert_eq!(v["uri"], "/base/a/b?q=1");
    assert_eq!(v["headers"]["authorization"], format!("Bearer {token}"));
    assert_eq!(echo(&app, "/svc", &token).await["uri"], "/base/");
    assert_eq!(v["version"], "HTTP/1.1");

    // version_header = false: no version header needed; HTTP/2 by prior knowledge upstream.
    let r = app
        .client
        .get(format!("{}/h2/x", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], "HTTP/2.0");
    assert!(v["uri"].as_str().unwrap().ends_with("/h2/x"), "{v}");
}

#[tokio::test]
async fn every_refusal_of_the_built_in_api_holds_through_the_gateway() {
    let (app, up) = gateway(USERS).await;
    let cred = users_credential(&app, "users:read users:write").await;
    let token = app.token(&cred).await;
    let url = format!("{}/api/v2/users/1", app.base);

    let (status, body, www) = error_of(app.client.get(&url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(www.as_deref(), Some("Bearer realm=\"tollgate\""));

    let (status, _, www) = error_of(
        app.api(Method::GET, "/api/v2/users/1", "not-a-jwt")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(www.unwrap().contains("error=\"invalid_token\""));

    let r = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("missingApiVersion"))
    );

    // A method the route names no scopes for… there is "*" here, so PUT needs users:write: allowed.
    let r = app
        .api(Method::PUT, "/api/v2/users/1", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A path that could mean two things is refused before anything else.
    let r = app
        .api(Method::GET, "/api/v2/users/..%2Fadmin", &token)
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalidInput"))
    );
    let hits = up.hits.load(Ordering::SeqCst);

    // Narrowed: users:write taken from the credential; POST (needs it) is refused at once.
    app.admin
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
    let refused = until(|| async {
        app.api(Method::POST, "/api/v2/users", &token)
            .send()
            .await
            .unwrap()
            .status()
            == 403
    })
    .await;
    assert!(refused < Duration::from_secs(1), "{refused:?}");
    let (status, body, www) = error_of(
        app.api(Method::POST, "/api/v2/users", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "invalid_scope");
    assert_eq!(
        body["error"]["message"],
        "this request needs the scope users:write"
    );
    assert!(
        www.unwrap()
            .contains("error=\"insufficient_scope\", scope=\"users:write\"")
    );
    assert_eq!(echo(&app, "/api/v2/users/1", &token).await["method"], "GET");

    // Revoked (RFC 7009): refused at once.
    let r = app.revoke(&cred, &token).await;
    assert_eq!(r.status(), 200);
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/users/1", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error_description"],
        "the access token has been revoked"
    );

    // Expired: a fresh token, then the clock past its hour.
    let token = app.token(&cred).await;
    assert_eq!(echo(&app, "/api/v2/users/1", &token).await["method"], "GET");
    app.clock.advance(3601);
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/users/1", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error_description"], "the access token has expired");
    app.clock.advance(-3601);

    // Deleted credential: refused within a second.
    assert_eq!(echo(&app, "/api/v2/users/1", &token).await["method"], "GET");
    app.admin
        .delete_credential(&client_id(&cred))
        .await
        .unwrap();
    let refused = until(|| async {
        app.api(Method::GET, "/api/v2/users/1", &token)
            .send()
            .await
            .unwrap()
            .status()
            == 401
    })
    .await;
    assert!(refused < Duration::from_secs(1), "{refused:?}");
    let before = up.hits.load(Ordering::SeqCst);
    for _ in 0..3 {
        let r = app
            .api(Method::GET, "/api/v2/users/1", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        before,
        "refused requests never reach the upstream"
    );
    assert!(before > hits);
}

#[tokio::test]
async fn a_method_without_scopes_is_405_and_unknown_paths_keep_the_404() {
    let (app, up) = gateway(
        r#"
        [[routes]]
        prefix = "/"
        upstream = "http://UP"
        scopes = { GET = ["users:read"] }
        "#,
    )
    .await;
    let cred = users_credential(&app, "users:read groups:read").await;
    let token = app.token(&cred).await;
    let (status, body, _) = error_of(
        app.api(Method::DELETE, "/anything", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("methodNotAllowed"))
    );
    assert_eq!(
        echo(&app, "/anything/else", &token).await["uri"],
        "/anything/else"
    );
    // tollgate's own routes win over a catch-all route.
    let r = app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap().is_array());
    let hits = up.hits.load(Ordering::SeqCst);
    assert_eq!(hits, 1);

    // Without routes: today's 404.
    let (plain, _) = gateway("").await;
    let (status, body, _) = error_of(
        plain
            .api(Method::GET, "/anything", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("notFound"))
    );
}

#[tokio::test]
async fn an_upstream_that_refuses_is_502_and_one_that_is_slow_is_504() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (app, _up) = gateway(&format!(
        r#"
        [[routes]]
        prefix = "/down"
        upstream = "http://{closed}"
        scopes = {{ "*" = [] }}
        [[routes]]
        prefix = "/api/v2/users"
        upstream = "http://UP"
        timeout_ms = 300
        scopes = {{ "*" = [] }}
        "#
    ))
    .await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let (status, body, _) = error_of(
        app.api(Method::GET, "/down/x", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "badGateway");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream")
    );
    assert!(
        !body.to_string().contains(&closed.to_string()),
        "no upstream address in the body"
    );

    let start = Instant::now();
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/users/slow", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "gatewayTimeout");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the 300 ms timeout, not the upstream's 5 s"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("tollgate_gateway_requests_total{outcome=\"bad_gateway\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_gateway_requests_total{outcome=\"timeout\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bodies_stream_both_ways_and_hop_by_hop_headers_stay_behind() {
    let (app, _up) = gateway(USERS).await;
    let cred = users_credential(&app, "users:read users:write").await;
    let token = app.token(&cred).await;
    const N: usize = 8 * 1024 * 1024;
    let r = app
        .api(
            Method::GET,
            &format!("/api/v2/users/download?bytes={N}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-upstream"], "yes");
    assert!(r.headers().get("keep-alive").is_none());
    assert_eq!(r.bytes().await.unwrap().len(), N);

    let r = app
        .api(Method::POST, "/api/v2/users/upload", &token)
        .body(vec![b'y'; N])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        N.to_string(),
        "a body larger than max_body_bytes streams"
    );
}

#[tokio::test]
async fn an_upgrade_passes_through_after_authorization() {
    let (app, _up) = gateway(USERS).await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    for (auth, expect) in [
        (format!("Bearer {token}"), "HTTP/1.1 101"),
        ("Bearer nope".to_owned(), "HTTP/1.1 401"),
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "GET /api/v2/users/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\
             {VERSION_HEADER}: v2.0\r\nAuthorization: {auth}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(text.starts_with(expect), "{text}");
        if expect.ends_with("101") {
            assert!(
                text.to_ascii_lowercase().contains("upgrade: echo"),
                "{text}"
            );
            s.write_all(b"ping through the tunnel").await.unwrap();
            let mut got = vec![0u8; 23];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(got, b"ping through the tunnel");
        }
    }
}

#[tokio::test]
async fn forward_auth_answers_nginx_traefik_and_envoy_from_the_same_routes() {
    let (app, up) = gateway(
        r#"
        [[routes]]
        prefix = "/api/v2/users"
        [routes.scopes]
        GET = ["users:read"]
        POST = ["users:write"]
        "#,
    )
    .await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let verify = |path: &str| {
        app.client
            .get(format!("{}{path}", app.base))
            .header(VERSION_HEADER, "v2.0")
    };

    // nginx auth_request.
    let r = verify("/auth/verify")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api/v2/users/7?x=1")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-tollgate-client-id"], cred.client_id.as_str());
    assert_eq!(
        r.headers()["x-tollgate-company-id"],
        cred.company.to_string().as_str()
    );
    assert_eq!(r.headers()["x-tollgate-scopes"], "users:read");

    // Traefik forwardAuth: a POST needs users:write.
    let r = verify("/auth/verify")
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", "/api/v2/users")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body, www) = error_of(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("invalid_scope"))
    );
    assert!(www.unwrap().contains("insufficient_scope"));

    // Envoy ext_authz: the original method, the original path after the prefix.
    let r = app
        .client
        .post(format!("{}/auth/verify/api/v2/users", app.base))
        .header(VERSION_HEADER, "v2.0")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .delete(format!("{}/auth/verify/api/v2/users/1", app.base))
        .header(VERSION_HEADER, "v2.0")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "no scopes named for DELETE");

    // No token: 401 with the challenge.
    let r = verify("/auth/verify")
        .header("x-original-uri", "/api/v2/users")
        .send()
        .await
        .unwrap();
    let (status, _, www) = error_of(r).await;
    assert_eq!(
        (status, www.as_deref()),
        (401, Some("Bearer realm=\"tollgate\""))
    );

    // No such route, no original URI, a path that could mean two things.
    let (status, body, _) = error_of(
        verify("/auth/verify")
            .header("x-original-uri", "/other")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("notFound"))
    );
    let (status, body, _) = error_of(
        verify("/auth/verify")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalidInput"))
    );
    let (status, _, _) = error_of(
        verify("/auth/verify")
            .header("x-original-uri", "/api/v2/users/../../admin")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);

    // A route without an upstream is for /auth/verify only.
    let (status, _, _) = error_of(
        app.api(Method::GET, "/api/v2/users/7", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(up.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_company_budget_is_counted_through_the_gateway_and_forward_auth() {
    let up = upstream().await;
    let gw = routes(USERS, up.addr);
    let app = helpers::spawn_with(|s: &mut Settings| {
        s.extra_scopes = vec!["users:read".into(), "users:write".into()];
        s.gateway = gw;
        s.rate_limits.enabled = true;
        s.rate_limits.api_reads_per_company_per_second = 3;
    })
    .await;
    let cred = users_credential(&app, "users:read").await;
    let token = app.token(&cred).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = if i % 2 == 0 {
            app.api(Method::GET, "/api/v2/users/1", &token)
                .send()
                .await
                .unwrap()
        } else {
            app.client
                .get(format!("{}/auth/verify", app.base))
                .header(VERSION_HEADER, "v2.0")
                .header("x-original-uri", "/api/v2/users/1")
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
        };
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 3,
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
}
