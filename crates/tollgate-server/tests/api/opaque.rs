//! Opaque tokens (`token_format = "opaque"`): `tgo1_…`, the claims sealed with AES-256-GCM under a
//! key each signing key derives. Everything a JWT does on tollgate's resource side, an opaque
//! token does too (the API, the gateway, `/auth/verify`, introspection, revocation, every refusal),
//! without the holder being able to read it; both formats are accepted whichever is configured.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::Value;
use tollgate_core::admin::CredentialChanges;
use tollgate_core::authority::TokenFormat;
use tollgate_core::clock::{Clock, ManualClock, SystemClock};
use tollgate_proto::SigningAlg;

use crate::helpers::{self, Backend, Cred, TestApp, TestDb, client_id, error_of};

async fn opaque_app() -> TestApp {
    helpers::spawn_with(|s| s.token_format = TokenFormat::Opaque).await
}

/// The `error_description` of a 401/403 from the API for `token`.
async fn refusal(app: &TestApp, method: Method, token: &str) -> (u16, String) {
    let (status, _, www) = error_of(
        app.api(method, "/api/v2/groups", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status, www.unwrap_or_default())
}

/// `token` with one character of its sealed part changed.
fn tampered(token: &str) -> String {
    let mut t = token.to_owned().into_bytes();
    let i = t.len() / 2;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(t).unwrap()
}

#[tokio::test]
async fn an_opaque_token_works_like_a_jwt_and_shows_nothing_of_its_claims() {
    let app = opaque_app().await;
    let cred = app.credential("groups:read").await;
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "groups:read");
    let token = v["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tgo1_"), "{token}");
    assert!(!token.contains('.'), "not a JWT: {token}");
    let raw = URL_SAFE_NO_PAD.decode(&token["tgo1_".len()..]).unwrap();
    for visible in [
        cred.client_id.as_bytes(),
        b"groups:read",
        cred.company.to_string().as_bytes(),
    ] {
        assert!(
            !raw.windows(visible.len()).any(|w| w == visible),
            "{:?} readable in the token",
            String::from_utf8_lossy(visible)
        );
    }
    // Answered again by reuse, like a JWT.
    assert_eq!(app.token(&cred).await, token);

    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &token).await,
        200
    );
    let (status, www) = refusal(&app, Method::POST, &token).await;
    assert_eq!(status, 403);
    assert!(www.contains("insufficient_scope"), "{www}");

    let i = app.introspect(&cred, &token).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], cred.client_id.as_str());
    assert_eq!(i["company_id"], cred.company.to_string().as_str());
    assert_eq!(i["scope"], "groups:read");
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["iss"], app.base.as_str());
    assert_eq!(
        i["exp"].as_i64().unwrap() - i["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(i["jti"].as_str().unwrap().len(), 32);

    // One character changed anywhere: refused, and inactive.
    let forged = tampered(&token);
    let (status, www) = refusal(&app, Method::GET, &forged).await;
    assert_eq!(status, 401);
    assert!(
        www.contains("invalid_token") && www.contains("the access token is invalid"),
        "{www}"
    );
    assert_eq!(app.introspect(&cred, &forged).await["active"], false);
    let (status, www) = refusal(&app, Method::GET, "tgo1_not*base64").await;
    assert_eq!(status, 401);
    assert!(www.contains("the access token is malformed"), "{www}");

    // Revoked by its client (RFC 7009): refused at once, inactive, never answered again.
    let r = app.revoke(&cred, &token).await;
    assert_eq!(r.status(), 200);
    let (status, www) = refusal(&app, Method::GET, &token).await;
    assert_eq!(status, 401);
    assert!(www.contains("revoked"), "{www}");
    assert_eq!(app.introspect(&cred, &token).await["active"], false);
    assert_ne!(app.token(&cred).await, token);
}

#[tokio::test]
async fn opaque_tokens_expire_and_end_with_their_secret_scopes_and_credential() {
    let app = helpers::spawn_with(|s| {
        s.token_format = TokenFormat::Opaque;
        s.token_ttl = 600;
    })
    .await;
    let cred = app.credential("groups:read groups:write").await;
    let id = client_id(&cred);

    let short = app.token(&cred).await;
    app.clock.advance(600);
    let (status, www) = refusal(&app, Method::GET, &short).await;
    assert_eq!(status, 401);
    assert!(www.contains("expired"), "{www}");

    // Scope narrowing applies to a live token at once.
    let token = app.token(&cred).await;
    assert_eq!(
        app.api_status(Method::POST, "/api/v2/groups", &token).await,
        400
    );
    app.admin
        .update_credential(
            &id,
            CredentialChanges {
                scopes: Some("groups:read".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    assert_eq!(refusal(&app, Method::POST, &token).await.0, 403);
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &token).await,
        200
    );

    // The secret that obtained it rotated away without grace: revoked.
    let rotated = app.admin.rotate_secret(&id, 0).await.unwrap();
    app.sync().await;
    let (status, www) = refusal(&app, Method::GET, &token).await;
    assert_eq!((status, www.contains("revoked")), (401, true), "{www}");

    // The credential deleted: its new secret's tokens are refused too.
    let new = Cred {
        secret: rotated.secret.expose_secret().to_owned(),
        ..cred.clone()
    };
    let token = app.token(&new).await;
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &token).await,
        200
    );
    app.admin.delete_credential(&id).await.unwrap();
    app.sync().await;
    assert_eq!(refusal(&app, Method::GET, &token).await.0, 401);
}

#[tokio::test]
async fn an_opaque_token_outlives_a_key_rotation_for_the_overlap_and_no_longer() {
    let app = opaque_app().await;
    let cred = app.credential("groups:read").await;
    let old = app.token(&cred).await;
    tollgate_core::keys::rotate(&*app.store, SigningAlg::ES256, 600, app.clock.now())
        .await
        .unwrap();
    app.sync().await;
    let new = app.token(&cred).await;
    assert_ne!(new, old, "the new key seals new tokens");
    // The key tag (the first bytes after the prefix) names another key.
    assert_ne!(new[..16], old[..16]);
    for t in [&old, &new] {
        assert_eq!(app.api_status(Method::GET, "/api/v2/groups", t).await, 200);
    }
    app.clock.advance(600);
    app.sync().await;
    let (status, www) = refusal(&app, Method::GET, &old).await;
    assert_eq!(status, 401);
    assert!(www.contains("the access token is invalid"), "{www}");
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &new).await,
        200
    );
}

#[tokio::test]
async fn the_gateway_and_forward_auth_accept_opaque_tokens() {
    let up = crate::gateway::upstream().await;
    let routes = crate::gateway::routes(
        r#"
        [[routes]]
        prefix = "/api/v2/users"
        upstream = "http://UP"
        [routes.scopes]
        GET = ["users:read"]
        "#,
        up.addr,
    );
    let app = helpers::spawn_with(|s| {
        s.token_format = TokenFormat::Opaque;
        s.extra_scopes = vec!["users:read".into()];
        s.gateway = routes;
    })
    .await;
    let cred = app.credential("users:read").await;
    let token = app.token(&cred).await;
    assert!(token.starts_with("tgo1_"));

    let r = app
        .api(Method::GET, "/api/v2/users/7", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["headers"]["x-tollgate-client-id"],
        cred.client_id.as_str()
    );
    assert_eq!(v["headers"]["x-tollgate-scopes"], "users:read");
    assert!(v["headers"].get("authorization").is_none());

    let r = crate::gateway::verify_get(&app, "/api/v2/users/7", &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-tollgate-client-id"], cred.client_id.as_str());
    let r = crate::gateway::verify_get(&app, "/api/v2/users/7", &tampered(&token)).await;
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.contains("invalid_token"), "{www}");
}

/// Two nodes on one PostgreSQL database, one issuing JWTs and one opaque tokens: each accepts the
/// other's (the opaque key is derived from the shared signing key), so a format can be switched
/// node by node without cutting off live tokens.
#[tokio::test]
async fn nodes_of_either_format_accept_each_others_tokens() {
    let (db_url, db) = helpers::fresh_database(Backend::Postgres).await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let node = |format| {
        helpers::spawn_node(db_url.clone(), TestDb::Shared, clock.clone(), move |s| {
            s.issuer = Some("https://tollgate.formats.test".into());
            s.token_format = format;
        })
    };
    let jwt_node = node(TokenFormat::Jwt).await;
    let opaque_node = node(TokenFormat::Opaque).await;
    let cred = jwt_node.credential("groups:read").await;
    opaque_node.sync().await;
    let jwt = jwt_node.token(&cred).await;
    let opaque = opaque_node.token(&cred).await;
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert!(opaque.starts_with("tgo1_"), "{opaque}");
    for n in [&jwt_node, &opaque_node] {
        for t in [&jwt, &opaque] {
            assert_eq!(n.api_status(Method::GET, "/api/v2/groups", t).await, 200);
        }
    }
    let i = jwt_node.introspect(&cred, &opaque).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["iss"], "https://tollgate.formats.test");
    drop((jwt_node, opaque_node));
    drop(db);
}
