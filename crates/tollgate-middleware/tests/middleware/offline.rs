//! Offline verification: claims and header checks, key rotation, the unknown-`kid` flood, and the
//! layer's answers in tollgate's formats.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use tollgate_core::keys::rotate;
use tollgate_middleware::{Claims, Options, Rejection, VerifyLayer};
use tollgate_proto::SigningAlg;

use crate::helpers::{self, eventually};

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// Claims as tollgate writes them, for `cred`, from `app`, changed by `edit`.
fn claims(app: &helpers::Tollgate, cred: &helpers::Cred, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let now = app.authority.now();
    let mut c = json!({
        "iss": app.base, "sub": cred.client_id, "aud": app.base, "iat": now, "exp": now + 600,
        "jti": "0123456789abcdef", "client_id": cred.client_id, "scope": "users:read",
        "company_id": cred.company.to_string(), "tg_sid": "unused",
    });
    edit(&mut c);
    c.to_string().into_bytes()
}

/// A token signed by tollgate's current key (its real header: `alg`, `typ: at+jwt`, `kid`).
fn signed(app: &helpers::Tollgate, claims: &[u8]) -> String {
    app.authority.keys().current().sign_jwt(claims).unwrap()
}

/// A token with `header` and `claims`, and a signature that is not one.
fn forged(header: Value, claims: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims),
        b64(b"not a signature")
    )
}

#[tokio::test]
async fn tollgate_tokens_verify_and_wrong_iss_aud_typ_alg_exp_are_refused() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read users:write").await;
    let v = app.verifier(Options::default()).await;

    let token = app.token(&cred).await;
    let c = v.verify(&token).await.unwrap();
    assert_eq!(c.client_id, cred.client_id);
    assert_eq!(c.company_id, cred.company.to_string());
    assert_eq!(c.scopes.to_string(), "users:read users:write");
    assert!(c.require("users:read").is_ok());
    assert_eq!(
        c.require("groups:read"),
        Err(Rejection::InsufficientScope("groups:read".into()))
    );

    // Signed by tollgate's own key: only the claim is wrong.
    assert!(
        v.verify(&signed(&app, &claims(&app, &cred, |_| {})))
            .await
            .is_ok()
    );
    let wrong_iss = signed(
        &app,
        &claims(&app, &cred, |c| c["iss"] = json!("http://evil")),
    );
    assert_eq!(v.verify(&wrong_iss).await, Err(Rejection::Invalid));
    let wrong_aud = signed(
        &app,
        &claims(&app, &cred, |c| c["aud"] = json!("other-api")),
    );
    assert_eq!(v.verify(&wrong_aud).await, Err(Rejection::Invalid));
    let now = app.authority.now();
    let expired = signed(&app, &claims(&app, &cred, |c| c["exp"] = json!(now - 60)));
    assert_eq!(v.verify(&expired).await, Err(Rejection::Expired));
    let future = signed(&app, &claims(&app, &cred, |c| c["iat"] = json!(now + 3600)));
    assert_eq!(v.verify(&future).await, Err(Rejection::Invalid));
    let sub_differs = signed(&app, &claims(&app, &cred, |c| c["sub"] = json!("someone")));
    assert_eq!(v.verify(&sub_differs).await, Err(Rejection::Invalid));

    // The header, with tokens really signed by tollgate's key: only the header is wrong.
    let kid = app.authority.keys().current().kid().to_owned();
    let record = app
        .store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kid == kid)
        .unwrap();
    let ed = jsonwebtoken::EncodingKey::from_ed_der(&record.private_pkcs8);
    let body: Value = serde_json::from_slice(&claims(&app, &cred, |_| {})).unwrap();
    let sign = |alg, typ: Option<&str>, kid: Option<&str>, key: &jsonwebtoken::EncodingKey| {
        let mut h = jsonwebtoken::Header::new(alg);
        h.typ = typ.map(str::to_owned);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, &body, key).unwrap()
    };
    use jsonwebtoken::Algorithm::{EdDSA, HS256};
    assert!(
        v.verify(&sign(EdDSA, Some("at+jwt"), Some(&kid), &ed))
            .await
            .is_ok(),
        "signed here with tollgate's header: accepted"
    );
    assert!(
        v.verify(&sign(EdDSA, Some("application/at+jwt"), Some(&kid), &ed))
            .await
            .is_ok(),
        "the media-type form of typ"
    );
    // The classic confusion: HMAC keyed with the public key.
    let public = jsonwebtoken::EncodingKey::from_secret(&record.public).unwrap();
    for (token, why) in [
        (sign(EdDSA, Some("JWT"), Some(&kid), &ed), "typ JWT"),
        (sign(EdDSA, None, Some(&kid), &ed), "no typ"),
        (sign(EdDSA, Some("at+jwt"), None, &ed), "no kid"),
        (sign(HS256, Some("at+jwt"), Some(&kid), &public), "HMAC"),
        (
            forged(
                json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
                &claims(&app, &cred, |_| {}),
            ),
            "not the key's alg",
        ),
    ] {
        assert_eq!(v.verify(&token).await, Err(Rejection::Invalid), "{why}");
    }
    let payload = token.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"at+jwt"}"#));
    assert!(v.verify(&none).await.is_err(), "alg none");
    assert_eq!(v.verify("not.a.jwt").await, Err(Rejection::Malformed));
    // The shape of tollgate's opaque tokens (`tgo1_` + base64url, no dots): not a JWT it can read.
    let opaque = format!("tgo1_{}", b64(&[7u8; 96]));
    assert_eq!(v.verify(&opaque).await, Err(Rejection::Malformed));

    // An allow-list without EdDSA refuses tollgate's EdDSA tokens.
    let rs_only = app
        .verifier(Options {
            algorithms: vec![SigningAlg::RS256],
            ..Options::default()
        })
        .await;
    assert_eq!(rs_only.verify(&token).await, Err(Rejection::Invalid));

    // Another audience than the tokens'.
    let other = tollgate_middleware::Verifier::discover(&app.base, "other-api", Options::default())
        .await
        .unwrap();
    assert_eq!(other.verify(&token).await, Err(Rejection::Invalid));

    // The metadata must name the issuer asked for (the same server under another name will not do).
    let renamed = app.base.replace("127.0.0.1", "localhost");
    let err = tollgate_middleware::Verifier::discover(&renamed, &renamed, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, tollgate_middleware::DiscoverError::Metadata(_)),
        "{err}"
    );
    let slash = format!("{}/", app.base);
    assert!(
        tollgate_middleware::Verifier::discover(&slash, &app.base, Options::default())
            .await
            .is_ok(),
        "a trailing slash is the same issuer"
    );
}

#[tokio::test]
async fn after_a_key_rotation_new_tokens_verify_after_one_refetch() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let interval = Duration::from_millis(300);
    let v = app
        .verifier(Options {
            min_refetch_interval: interval,
            ..Options::default()
        })
        .await;
    let old = app.token(&cred).await;
    assert!(v.verify(&old).await.is_ok());
    assert_eq!(v.metrics().jwks_fetches, 1, "discovery's fetch");

    // Rotate to another algorithm (the old key stays published for its tokens).
    rotate(&*app.store, SigningAlg::ES256, 3600, app.authority.now())
        .await
        .unwrap();
    app.sync().await;
    let new = app.token(&cred).await;
    assert_ne!(
        jsonwebtoken::decode_header(&new).unwrap().kid,
        jsonwebtoken::decode_header(&old).unwrap().kid
    );
    // The refetch limit counts from discovery's fetch: let it pass.
    eventually(
        Duration::from_secs(5),
        "refetch interval passed",
        || async {
            v.metrics()
                .jwks_last_fetch_age
                .is_some_and(|a| a >= interval)
        },
    )
    .await;
    let c = v.verify(&new).await.unwrap();
    assert_eq!(c.client_id, cred.client_id);
    assert_eq!(v.metrics().jwks_fetches, 2, "one refetch for the new kid");
    assert!(v.verify(&new).await.is_ok());
    assert!(
        v.verify(&old).await.is_ok(),
        "the old key is still published"
    );
    assert_eq!(v.metrics().jwks_fetches, 2, "no fetch for known kids");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_key_set_at_most_once_per_interval() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let interval = Duration::from_secs(1);
    let v = app
        .verifier(Options {
            min_refetch_interval: interval,
            ..Options::default()
        })
        .await;
    let body = claims(&app, &cred, |_| {});
    let flood = |n: usize| {
        let tokens: Vec<String> = (0..n)
            .map(|_| {
                let kid = format!("{:032x}", fastrand::u128(..));
                forged(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}), &body)
            })
            .collect();
        let v = v.clone();
        async move {
            let started = tokio::time::Instant::now();
            let tasks: Vec<_> = tokens
                .into_iter()
                .map(|t| {
                    let v = v.clone();
                    tokio::spawn(async move { v.verify(&t).await })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), Err(Rejection::Invalid));
            }
            started.elapsed()
        }
    };

    // Right after discovery: within the interval, no fetch at all.
    let took = flood(300).await;
    let m = v.metrics();
    let allowed = 1 + took.as_millis() / interval.as_millis();
    assert!(m.jwks_fetches - 1 < allowed as u64, "{m:?} in {took:?}");

    // Once the interval has passed: concurrent misses share one fetch, the rest wait for it.
    eventually(
        Duration::from_secs(5),
        "refetch interval passed",
        || async {
            v.metrics()
                .jwks_last_fetch_age
                .is_some_and(|a| a >= interval)
        },
    )
    .await;
    let before = v.metrics().jwks_fetches;
    let took = flood(300).await;
    let m = v.metrics();
    let allowed = 1 + took.as_millis() / interval.as_millis();
    assert!(m.jwks_fetches > before, "a miss after the interval fetches");
    assert!(
        u128::from(m.jwks_fetches - before) <= allowed,
        "at most one fetch per interval: {m:?} in {took:?}"
    );
    assert!(
        m.unknown_kid_refused_fetches >= 598 - 2 * allowed as u64,
        "{m:?}"
    );
    // A real token still verifies.
    assert!(v.verify(&app.token(&cred).await).await.is_ok());
}

async fn whoami(claims: Claims) -> Result<String, Rejection> {
    claims.require("users:read")?;
    Ok(claims.client_id)
}

async fn admin_only(claims: Claims) -> Result<String, Rejection> {
    claims.require("users:write")?;
    Ok("ok".into())
}

#[tokio::test]
async fn the_layer_answers_in_tollgates_formats() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let v = app.verifier(Options::default()).await;
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route("/admin", get(admin_only))
        .layer(VerifyLayer::new(v));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let token = app.token(&cred).await;

    let r = http
        .get(format!("{base}/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), cred.client_id);

    let r = http.get(format!("{base}/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tollgate\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");

    let r = http
        .get(format!("{base}/whoami"))
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"the access token is malformed\""
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "invalid_token", "error_description": "the access token is malformed"})
    );

    let r = http
        .get(format!("{base}/admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"tollgate\", error=\"insufficient_scope\", scope=\"users:write\""
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "invalid_scope", "message": "this request needs the scope users:write"}})
    );
}

/// RFC 8707: a service verifying tokens itself names its own resource as the audience; tokens
/// asked for it (alone, or among others) verify, tokens for the default audience do not.
#[tokio::test]
async fn a_verifier_for_a_resource_takes_tokens_asked_for_it_only() {
    let (url, _db) = helpers::database().await;
    let app = helpers::start(&url, "127.0.0.1:0".parse().unwrap()).await;
    let cred = app.credential("users:read").await;
    let billing = "https://billing.example";
    app.admin
        .update_company(
            &cred.company,
            tollgate_core::admin::CompanyChanges {
                resources: Some(tollgate_core::audience::Resources::parse(&[billing]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let ask = |resource: Value| {
        app.http
            .post(format!("{}/api/v2/oauth2/token", app.base))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": cred.client_id,
                "client_secret": cred.secret,
                "resource": resource,
            }))
            .send()
    };
    let token = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let for_billing = token(ask(json!(billing)).await.unwrap()).await;
    let for_both = token(ask(json!([billing, app.base])).await.unwrap()).await;
    let plain = app.token(&cred).await;

    let v = tollgate_middleware::Verifier::discover(&app.base, billing, Options::default())
        .await
        .unwrap();
    assert!(v.verify(&for_billing).await.is_ok());
    assert!(v.verify(&for_both).await.is_ok());
    assert_eq!(v.verify(&plain).await, Err(Rejection::Invalid));
    // The default verifier (audience: the issuer) takes the default token and refuses billing's.
    let d = app.verifier(Options::default()).await;
    assert!(d.verify(&plain).await.is_ok());
    assert!(d.verify(&for_both).await.is_ok());
    assert_eq!(d.verify(&for_billing).await, Err(Rejection::Invalid));
}
