//! The generated OpenAPI document covers every route, its schemas match what the server sends, and
//! the rendered page works offline.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers;

const ROUTES: &[(&str, &str)] = &[
    ("/api/v2/oauth2/token", "post"),
    ("/api/v2/oauth2/introspect", "post"),
    ("/api/v2/oauth2/revoke", "post"),
    ("/.well-known/oauth-authorization-server", "get"),
    ("/.well-known/openid-configuration", "get"),
    ("/.well-known/jwks.json", "get"),
    ("/api/v2/groups", "get"),
    ("/api/v2/groups", "post"),
    ("/api/v2/groups/{groupId}", "get"),
    ("/api/v2/groups/{groupId}", "patch"),
    ("/api/v2/groups/{groupId}", "delete"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/api/v2/oauth2/revocations", "get"),
    ("/auth/verify", "get"),
];

fn check(doc: &Value, path: &str, method: &str, status: u16, instance: &Value) {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "no schema for {method} {path} {status}");
    let root = json!({"components": doc["components"], "allOf": [schema]});
    let v = jsonschema::draft202012::new(&root).expect("schema compiles");
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{instance}"
    );
}

async fn document(app: &helpers::TestApp) -> Value {
    app.client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn document_lists_every_route_and_matches_responses() {
    let app = helpers::spawn().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], app.base.as_str());
    for (path, method) in ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "undocumented or unknown operations"
    );
    assert_eq!(
        doc["paths"]["/api/v2/groups"]["get"]["security"][0]["bearer"],
        json!(["groups:read"])
    );

    // Responses validate against the generated schemas.
    let cred = app.credential("groups:read groups:write").await;
    let r = app.request_token(&cred).await;
    let tok: Value = r.json().await.unwrap();
    check(&doc, "/api/v2/oauth2/token", "post", 200, &tok);
    let token = tok["access_token"].as_str().unwrap();
    let root = app.root_group(token).await;
    let g: Value = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": "Team", "public": false, "parentId": root, "subdomain": "team-a"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/groups", "post", 201, &g);
    let list: Value = app
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/groups", "get", 200, &list);
    let e: Value = app
        .client
        .get(format!("{}/api/v2/groups", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/groups", "get", 401, &e);
    let e: Value = app
        .api(
            Method::GET,
            "/api/v2/groups/507f1f77bcf86cd799439011",
            token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/groups/{groupId}", "get", 404, &e);
    let bad: Value = app
        .post_token_json(&json!({"grant_type": "password", "client_id": "a", "client_secret": "b"}))
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/oauth2/token", "post", 400, &bad);
    let intro: Value = app
        .client
        .post(format!("{}/api/v2/oauth2/introspect", app.base))
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/api/v2/oauth2/introspect", "post", 200, &intro);
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "/.well-known/jwks.json", "get", 200, &jwks);
}

/// Every rate-limited route documents its 429, and the answer matches it.
#[tokio::test]
async fn rate_limited_answers_match_the_document() {
    let app = helpers::spawn_with(|s| {
        s.rate_limits.token_per_client_per_minute = 1;
        s.rate_limits.api_reads_per_company_per_second = 1;
    })
    .await;
    let doc = document(&app).await;
    for (path, method) in &ROUTES[..3] {
        assert_429_documented(&doc, path, method);
    }
    for (path, method) in ROUTES[6..11].iter().chain(&ROUTES[14..16]) {
        assert_429_documented(&doc, path, method);
    }
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let r = app.request_token(&cred).await;
    assert_eq!(r.status(), 429);
    check(
        &doc,
        "/api/v2/oauth2/token",
        "post",
        429,
        &r.json().await.unwrap(),
    );
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            app.api(Method::GET, "/api/v2/groups", &token)
                .send()
                .await
                .unwrap(),
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429);
    check(&doc, "/api/v2/groups", "get", 429, &r.json().await.unwrap());
}

fn assert_429_documented(doc: &Value, path: &str, method: &str) {
    let r = &doc["paths"][path][method]["responses"]["429"];
    assert!(
        r["headers"]["Retry-After"].is_object(),
        "{method} {path}: no documented 429 with Retry-After"
    );
}

#[tokio::test]
async fn rendered_page_works_offline() {
    let app = helpers::spawn().await;
    let r = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for cdn in ["unpkg", "jsdelivr", "cdnjs", "https://"] {
        assert!(!html.contains(cdn), "page loads from the network: {cdn}");
    }
    // Every asset the page names is served by tollgate itself.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        let r = app
            .client
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        let body = r.text().await.unwrap();
        if asset == "swagger-initializer.js" {
            assert!(body.contains("/openapi.json"), "{body}");
        }
    }
}
