//! Discovery (RFC 8414), JWKS and key rotation, introspection (RFC 7662), revocation (RFC 7009).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::clock::Clock;
use tollgate_core::ids::ClientId;
use tollgate_core::keys::SigningAlg;

use crate::helpers::{self, Cred, TestApp, error_of};

fn kid_of(token: &str) -> String {
    let h: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

async fn jwks(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies `token` offline with the published JWKS, as a foreign resource server would.
async fn verify_offline(app: &TestApp, token: &str) -> Result<Value, String> {
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(jwks(app).await).map_err(|e| e.to_string())?;
    let kid = kid_of(token);
    let jwk = set.find(&kid).ok_or("kid not published")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[&app.base]);
    v.set_issuer(&[&app.base]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

async fn form(app: &TestApp, path: &str, cred: &Cred, body: &str) -> reqwest::Response {
    app.client
        .post(format!("{}{}", app.base, path))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn introspect(app: &TestApp, cred: &Cred, token: &str) -> Value {
    let r = form(
        app,
        "/api/v2/oauth2/introspect",
        cred,
        &format!("token={token}"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

#[tokio::test]
async fn metadata_is_served_at_both_well_known_paths() {
    let app = helpers::spawn().await;
    let a: Value = app
        .client
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a["issuer"], app.base.as_str());
    assert_eq!(a["token_endpoint"], app.token_url().as_str());
    assert_eq!(
        a["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base).as_str()
    );
    assert_eq!(
        a["introspection_endpoint"],
        format!("{}/api/v2/oauth2/introspect", app.base).as_str()
    );
    assert_eq!(
        a["revocation_endpoint"],
        format!("{}/api/v2/oauth2/revoke", app.base).as_str()
    );
    assert_eq!(a["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(
        a["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    let scopes = a["scopes_supported"].as_array().unwrap();
    assert!(
        scopes.contains(&json!("groups:read")) && scopes.contains(&json!("credentials:manage"))
    );
}

#[tokio::test]
async fn jwks_publishes_the_signing_key_and_tokens_verify_offline() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let set = jwks(&app).await;
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], kid_of(&token).as_str());
    assert_eq!(keys[0]["alg"], "ES256", "the default of a new installation");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert!(keys[0].get("d").is_none(), "no private part");
    let claims = verify_offline(&app, &token).await.unwrap();
    assert_eq!(claims["client_id"], cred.client_id.as_str());
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_until_the_overlap_ends() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let old = app.token(&cred).await;
    let old_kid = kid_of(&old);
    let new_key = tollgate_core::keys::rotate(&*app.store, SigningAlg::EdDSA, 600, app.clock.now())
        .await
        .unwrap();
    app.sync().await;
    let new = app.token(&cred).await;
    assert_eq!(kid_of(&new), new_key.kid, "new tokens use the new key");
    let kids: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_key.kid),
        "{kids:?}"
    );
    for t in [&old, &new] {
        assert_eq!(
            app.api(Method::GET, "/api/v2/groups", t)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        verify_offline(&app, t).await.unwrap();
    }
    // The overlap ends: the old key is retired from the JWKS and its tokens are refused.
    app.clock.advance(600);
    app.sync().await;
    let kids: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, vec![new_key.kid.clone()]);
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &old)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &new)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn each_algorithm_is_selectable() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let app = helpers::spawn_with(|s| s.signing_alg = Some(alg.parse().unwrap())).await;
        let cred = app.credential("groups:read").await;
        let token = app.token(&cred).await;
        let h: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(h["alg"], alg);
        assert_eq!(
            app.api(Method::GET, "/api/v2/groups", &token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        verify_offline(&app, &token).await.unwrap();
        // alg confusion: the same token re-labelled with another algorithm is refused.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut hv = h.clone();
        hv["alg"] = json!(if alg == "EdDSA" { "ES256" } else { "EdDSA" });
        parts[0] = URL_SAFE_NO_PAD.encode(hv.to_string());
        let forged = parts.join(".");
        assert_eq!(
            app.api(Method::GET, "/api/v2/groups", &forged)
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
}

#[tokio::test]
async fn changing_the_configured_algorithm_rotates_at_start() {
    use jsonwebtoken::Algorithm;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let alg_of = |t: &str| jsonwebtoken::decode_header(t).unwrap().alg;
    // A new database, nothing configured: ES256.
    let app = helpers::spawn_with(|s| s.database_url = url.clone()).await;
    let cred = app.credential("groups:read").await;
    let es_token = app.token(&cred).await;
    assert_eq!(alg_of(&es_token), Algorithm::ES256);
    let issuer = app.base.clone();
    app.stop().await;
    let restart = |alg: Option<SigningAlg>| {
        let (url, issuer) = (url.clone(), issuer.clone());
        helpers::spawn_with(move |s| {
            s.database_url = url;
            s.issuer = Some(issuer);
            s.signing_alg = alg;
        })
    };
    // Configured EdDSA: rotated at start.
    let app = restart(Some(SigningAlg::EdDSA)).await;
    let ed_token = app.token(&cred).await;
    assert_eq!(alg_of(&ed_token), Algorithm::EdDSA);
    app.stop().await;
    // Nothing configured again: the database keeps the algorithm it has, and its key.
    let app = restart(None).await;
    let token = app.token(&cred).await;
    assert_eq!(alg_of(&token), Algorithm::EdDSA);
    assert_eq!(kid_of(&token), kid_of(&ed_token), "no rotation");
    // The ES256 key stays published for one token lifetime: its token still works.
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &es_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(jwks(&app).await["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn introspection_reports_active_tokens_of_the_callers_company_only() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let v = introspect(&app, &cred, &token).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], cred.client_id.as_str());
    assert_eq!(v["sub"], cred.client_id.as_str());
    assert_eq!(v["scope"], "groups:read groups:write");
    assert_eq!(v["company_id"], cred.company.to_string());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], app.base.as_str());
    assert!(v["exp"].as_i64().unwrap() > v["iat"].as_i64().unwrap());

    // Another credential of the same company may introspect it; one of another company sees nothing.
    let sibling = app.credential_in(cred.company, "groups:read").await;
    assert_eq!(introspect(&app, &sibling, &token).await["active"], true);
    let stranger = app.credential("groups:read").await;
    assert_eq!(
        introspect(&app, &stranger, &token).await,
        json!({"active": false})
    );

    // Malformed and unknown tokens.
    for t in ["garbage", "a.b.c", &token[..token.len() - 4]] {
        assert_eq!(introspect(&app, &cred, t).await, json!({"active": false}));
    }
    // JSON bodies work too (the reference's style), with client_secret_post.
    let r = app
        .client
        .post(format!("{}/api/v2/oauth2/introspect", app.base))
        .json(&json!({"token": token, "client_id": cred.client_id, "client_secret": cred.secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);

    // Scope narrowing shows.
    app.admin
        .update_credential(
            &ClientId::parse(&cred.client_id).unwrap(),
            tollgate_core::admin::CredentialChanges {
                scopes: Some("groups:read".parse().unwrap()),
                label: None,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    assert_eq!(
        introspect(&app, &sibling, &token).await["scope"],
        "groups:read"
    );

    // Expired.
    app.clock.advance(3600);
    assert_eq!(
        introspect(&app, &sibling, &token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspection_of_a_deleted_credentials_token_is_inactive() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let caller = app.credential_in(cred.company, "groups:read").await;
    let token = app.token(&cred).await;
    app.admin
        .delete_credential(&ClientId::parse(&cred.client_id).unwrap())
        .await
        .unwrap();
    app.sync().await;
    assert_eq!(
        introspect(&app, &caller, &token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspection_and_revocation_need_client_authentication() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    for path in ["/api/v2/oauth2/introspect", "/api/v2/oauth2/revoke"] {
        let bad = Cred {
            secret: "wrong".into(),
            company: cred.company,
            client_id: cred.client_id.clone(),
        };
        let (status, body, www) =
            error_of(form(&app, path, &bad, &format!("token={token}")).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{path}"
        );
        assert_eq!(www.as_deref(), Some("Basic realm=\"tollgate\""));
        let r = app
            .client
            .post(format!("{}{}", app.base, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap();
        // No client authentication at all, or a client_id without its secret: a failed client
        // authentication (RFC 6749 §5.2, RFC 7662 §2.1), with the Basic challenge.
        let (status, body, www) = error_of(r).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{path}: no client auth"
        );
        assert_eq!(www.as_deref(), Some("Basic realm=\"tollgate\""), "{path}");
        let r = app
            .client
            .post(format!("{}{}", app.base, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&client_id={}", cred.client_id))
            .send()
            .await
            .unwrap();
        let (status, body, www) = error_of(r).await;
        assert_eq!(
            (status, body["error"].as_str(), www.is_some()),
            (401, Some("invalid_client"), true),
            "{path}: client_id without a secret"
        );
        let (status, body, _) = error_of(form(&app, path, &cred, "").await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{path}: missing token"
        );
    }
    // The token is untouched.
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn revocation_refuses_the_token_at_once_and_everywhere() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    // Issued past half the first one's lifetime, so not the same token answered again (reuse).
    app.clock.advance(1801);
    let other_token = app.token(&cred).await;
    // A second node on the same database.
    let node2 = helpers::spawn_with(|s| {
        s.database_url = app.db_url.clone();
        s.issuer = Some(app.base.clone());
    })
    .await;
    assert_eq!(
        node2
            .api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let r = form(
        &app,
        "/api/v2/oauth2/revoke",
        &cred,
        &format!("token={token}&token_type_hint=access_token"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let (status, body, _) = error_of(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "refused at once on the node that revoked it");
    assert_eq!(
        body["error_description"],
        "the access token has been revoked"
    );
    assert_eq!(
        introspect(&app, &cred, &token).await,
        json!({"active": false})
    );
    node2.sync().await;
    assert_eq!(
        node2
            .api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "and on the other node after its change-feed sync"
    );
    // Other tokens of the same credential are not affected.
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &other_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Revoking again, or an unknown token: 200 (RFC 7009 §2.2).
    assert_eq!(
        form(
            &app,
            "/api/v2/oauth2/revoke",
            &cred,
            &format!("token={token}")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        form(&app, "/api/v2/oauth2/revoke", &cred, "token=nonsense")
            .await
            .status(),
        200
    );
    // A restart keeps the revocation.
    let node3 = helpers::spawn_with(|s| {
        s.database_url = app.db_url.clone();
        s.issuer = Some(app.base.clone());
    })
    .await;
    assert_eq!(
        node3
            .api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let app = helpers::spawn().await;
    let owner = app.credential("groups:read").await;
    let other = app.credential_in(owner.company, "groups:read").await;
    let token = app.token(&owner).await;
    let basic = STANDARD.encode(format!("{}:{}", other.client_id, other.secret));
    let r = app
        .client
        .post(format!("{}/api/v2/oauth2/revoke", app.base))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(r).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn revocations_are_pruned_once_the_token_has_expired() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    assert_eq!(
        form(
            &app,
            "/api/v2/oauth2/revoke",
            &cred,
            &format!("token={token}")
        )
        .await
        .status(),
        200
    );
    let now = app.clock.now();
    assert_eq!(app.store.revoked_tokens(now).await.unwrap().len(), 1);
    app.store.prune_revoked(now + 3600).await.unwrap();
    assert!(app.store.revoked_tokens(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn scheduled_rotation_publishes_the_new_key_before_it_signs() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let old = app.token(&cred).await;
    let new_key = tollgate_core::keys::rotate_scheduled(
        &*app.store,
        SigningAlg::EdDSA,
        3600,
        90,
        app.clock.now(),
    )
    .await
    .unwrap();
    app.sync().await;
    let kids: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(kids.contains(&new_key.kid), "published ahead");
    assert_eq!(
        kid_of(&app.token(&cred).await),
        kid_of(&old),
        "old key still signs"
    );
    app.clock.advance(90);
    app.sync().await;
    assert_eq!(
        kid_of(&app.token(&cred).await),
        new_key.kid,
        "new key signs after the delay"
    );
    assert_eq!(
        app.api(Method::GET, "/api/v2/groups", &old)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// `token` with its claims changed by `edit` and signed again with this deployment's own current
/// key: what a node with a wrong clock, or a holder of the key, could produce.
async fn resigned(app: &TestApp, token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    edit(&mut claims);
    let key = app
        .store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .rfind(|k| k.retired_at.is_none())
        .unwrap();
    let (alg, signer) = match key.alg {
        SigningAlg::EdDSA => (
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::EncodingKey::from_ed_der(&key.private_pkcs8),
        ),
        SigningAlg::ES256 => (
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::EncodingKey::from_ec_der(&key.private_pkcs8),
        ),
        SigningAlg::RS256 => panic!("re-signing with RS256 is not needed here"),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &signer).unwrap()
}

#[tokio::test]
async fn tokens_from_the_future_are_refused_beyond_a_minute_of_skew() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let now = app.clock.now();
    let status = |t: String| {
        let r = app.api(Method::GET, "/api/v2/groups", &t).send();
        async move { r.await.unwrap().status().as_u16() }
    };
    // Re-signed as it was: accepted (the signature path works; what follows is about the claims).
    assert_eq!(status(resigned(&app, &token, |_| {}).await).await, 200);
    // `iat` or `nbf` up to 60 s ahead: another node's clock, accepted.
    let ahead = |field: &'static str, secs: i64| {
        move |c: &mut Value| {
            c[field] = json!(now + secs);
        }
    };
    assert_eq!(
        status(resigned(&app, &token, ahead("iat", 60)).await).await,
        200
    );
    assert_eq!(
        status(resigned(&app, &token, ahead("nbf", 60)).await).await,
        200
    );
    // Further ahead: refused as an invalid token.
    for field in ["iat", "nbf"] {
        let r = app
            .api(
                Method::GET,
                "/api/v2/groups",
                &resigned(&app, &token, ahead(field, 61)).await,
            )
            .send()
            .await
            .unwrap();
        let (status, _, www) = error_of(r).await;
        assert_eq!(status, 401, "{field} 61 s ahead");
        assert!(www.unwrap().contains("invalid_token"), "{field}");
    }
}

/// Issue 17: `X-Request-Id` is kept when the caller sends a sane one and made otherwise; latencies
/// per route and status class are on `/metrics`, which Prometheus's own `promtool check metrics`
/// accepts.
#[tokio::test]
async fn request_ids_latency_histograms_and_promtool() {
    let app = crate::helpers::spawn().await;
    let get = |id: Option<&str>| {
        let mut r = app.client.get(format!("{}/healthz", app.base));
        if let Some(id) = id {
            r = r.header("x-request-id", id);
        }
        async move { r.send().await.unwrap() }
    };
    let kept = get(Some("abc-123")).await;
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
    let made = get(None).await;
    let a = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = get(Some(&"x".repeat(200))).await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(a.contains('-') && a != b && b.len() < 40, "{a} {b}");
    assert_eq!(
        app.api_status(reqwest::Method::GET, "/api/v2/groups", "nope")
            .await,
        401
    );

    let text = app.metrics_text().await;
    assert!(
        text.contains(
            r#"tollgate_http_request_duration_seconds_count{route="/healthz",status_class="2xx"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v2/groups",status_class="4xx""#),
        "{text}"
    );
    promtool(&["check", "metrics"], None, Some(&text));
}

/// Runs Prometheus's `promtool ARGS` (in `dir`, with `stdin` on its standard input) and asserts
/// that it succeeds.
fn promtool(args: &[&str], dir: Option<&std::path::Path>, stdin: Option<&str>) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("promtool");
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect(
        "promtool (Debian's prometheus package; .ci/run installs it: apt-get install prometheus)",
    );
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 17: `/metrics` answers an operator's questions: how far behind the change feed this node
/// is and how often it resynced, how often a token's signature had to be checked (the cache's
/// misses), and which rate limit refused how many requests.
#[tokio::test]
async fn metrics_show_feed_lag_cache_misses_and_refusals_by_limit() {
    let app = crate::helpers::spawn_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.token_per_client_per_minute = 1;
        s.rate_limits.redis_prefix = format!(
            "tollgate-test-{}",
            tollgate_core::ids::ClientId::generate().unwrap().as_str()
        );
    })
    .await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    assert_eq!(app.request_token(&cred).await.status(), 429);
    for _ in 0..3 {
        assert_eq!(
            app.api_status(reqwest::Method::GET, "/api/v2/groups", &token)
                .await,
            200
        );
    }
    let text = app.metrics_text().await;
    assert_eq!(
        crate::helpers::sample(
            &text,
            r#"tollgate_rate_limit_refusals_total{limit="token_requests"}"#
        ),
        1.0
    );
    assert_eq!(
        crate::helpers::sample(
            &text,
            r#"tollgate_rate_limit_refusals_total{limit="api_reads"}"#
        ),
        0.0
    );
    // Three calls with one token: its signature was checked once.
    assert_eq!(
        crate::helpers::sample(&text, "tollgate_token_signature_checks_total"),
        1.0
    );
    assert!(crate::helpers::sample(&text, "tollgate_directory_reloads_total") >= 1.0);
    assert!(crate::helpers::sample(&text, "tollgate_companies_cached") >= 1.0);
    assert!(
        crate::helpers::sample(&text, "tollgate_change_feed_lag_seconds") <= 1.0,
        "{text}"
    );
}

/// `tollgate_change_feed_lag_seconds` is how long ago, on the node's clock, it last read the
/// change feed to its end: it grows while nothing reads the feed and is back to nothing once a
/// read does (here a catch-up, for a client ID the node does not know).
#[tokio::test]
async fn the_feed_lag_grows_until_the_feed_is_read() {
    // The background read of the feed only once a minute (real time): the test's clock moves on
    // before it comes.
    let app = crate::helpers::spawn_with(|s| s.sync_interval_ms = 60_000).await;
    let cred = app.credential("groups:read").await;
    assert!(app.metric("tollgate_change_feed_lag_seconds").await <= 1.0);
    // On PostgreSQL the credential's NOTIFY wakes a read of the feed: let it come first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.clock.advance(30);
    let behind = app.metric("tollgate_change_feed_lag_seconds").await;
    assert!((30.0..=31.0).contains(&behind), "{behind}");
    let unknown = crate::helpers::Cred {
        client_id: tollgate_core::ids::ClientId::generate()
            .unwrap()
            .as_str()
            .to_owned(),
        ..cred
    };
    assert_eq!(app.request_token(&unknown).await.status(), 401);
    assert!(app.metric("tollgate_change_feed_lag_seconds").await <= 1.0);
}

/// Issue 17: the alerting rules (`docs/prometheus-alerts.yml`) pass `promtool check rules` and
/// their own `promtool test rules`, and every metric they and the Grafana dashboard
/// (`docs/grafana-dashboard.json`) name is on a live `/metrics`.
#[tokio::test]
async fn the_alerts_and_the_dashboard_name_live_metrics() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    promtool(
        &["check", "rules", "prometheus-alerts.yml"],
        Some(&docs),
        None,
    );
    promtool(
        &["test", "rules", "prometheus-alerts.test.yml"],
        Some(&docs),
        None,
    );
    let app = crate::helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    assert_eq!(
        app.api_status(reqwest::Method::GET, "/api/v2/groups", &token)
            .await,
        200
    );
    let text = app.metrics_text().await;
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(docs.join("grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    assert!(dashboard["panels"].as_array().unwrap().len() >= 8);
    let named = std::fs::read_to_string(docs.join("prometheus-alerts.yml")).unwrap()
        + &dashboard.to_string();
    let names: std::collections::BTreeSet<&str> = named
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("tollgate_"))
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        assert!(
            text.lines().any(|l| l
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))),
            "{name} is not on /metrics:\n{text}"
        );
    }
}
