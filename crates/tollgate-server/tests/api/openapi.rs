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

/// Every operation of the admin JSON API, by hand: the document must list exactly these, and the
/// server must serve each (checked against the running server below, in both directions).
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("/admin/api/v1/credentials", "get"),
    ("/admin/api/v1/credentials", "post"),
    ("/admin/api/v1/credentials/{client_id}", "get"),
    ("/admin/api/v1/credentials/{client_id}", "patch"),
    ("/admin/api/v1/credentials/{client_id}", "delete"),
    ("/admin/api/v1/credentials/revoke-leaked", "post"),
    ("/admin/api/v1/credentials/{client_id}/rotate", "post"),
    (
        "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}",
        "delete",
    ),
    ("/admin/api/v1/users", "get"),
    ("/admin/api/v1/users", "post"),
    ("/admin/api/v1/users/{id}", "patch"),
    ("/admin/api/v1/users/{id}", "delete"),
    ("/admin/api/v1/webhooks", "get"),
    ("/admin/api/v1/webhooks", "post"),
    ("/admin/api/v1/webhooks/{id}", "get"),
    ("/admin/api/v1/webhooks/{id}", "patch"),
    ("/admin/api/v1/webhooks/{id}", "delete"),
    ("/admin/api/v1/webhooks/{id}/rotate-secret", "post"),
    ("/admin/api/v1/webhooks/{id}/test", "post"),
    ("/admin/api/v1/webhooks/{id}/deliveries", "get"),
    ("/admin/api/v1/audit", "get"),
    ("/admin/api/v1/session", "get"),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// The operations the document lists under `prefix`, sorted.
fn operations(doc: &Value, prefix: &str) -> Vec<(String, String)> {
    let mut ops: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with(prefix))
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item[**m].is_object())
                .map(|m| (path.clone(), (*m).to_owned()))
        })
        .collect();
    ops.sort();
    ops
}

/// `path` with each `{param}` replaced by a value of the right form that names nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "507f1f77bcf86cd799439011"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

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
        ROUTES.len() + ADMIN_ROUTES.len(),
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

/// The admin API in the document is the admin API the server serves: each documented operation is
/// routed (no credentials: 401 in the documented error shape, never 404 or 405), each other method
/// on a documented path is refused with 405, a path next to them is a 404 (so a 401 is not what any
/// path gets), and the hand list above matches the document both ways.
#[tokio::test]
async fn document_lists_the_admin_api_as_served() {
    let app = helpers::spawn().await;
    let doc = document(&app).await;
    let ops = operations(&doc, "/admin/");
    let mut expected: Vec<(String, String)> = ADMIN_ROUTES
        .iter()
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(
        ops, expected,
        "documented admin operations != the admin API"
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let paths: std::collections::BTreeSet<&String> = ops.iter().map(|(p, _)| p).collect();
    for path in paths {
        let url = format!("{}{}", app.base, concrete(path));
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = client.request(m, &url).send().await.unwrap();
            let status = r.status().as_u16();
            let op = &doc["paths"][path.as_str()][*method];
            if op.is_object() {
                assert_eq!(
                    status, 401,
                    "{method} {path}: documented, but answered {status}"
                );
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
                check(&doc, path, method, 401, &body);
                assert_eq!(op["tags"], json!(["admin"]), "{method} {path}");
                // The session is accepted everywhere; a bearer token everywhere but /session; a
                // state-changing session call also needs the CSRF header.
                let security = op["security"].as_array().unwrap();
                let session = security
                    .iter()
                    .find(|s| s.get("admin_session").is_some())
                    .unwrap_or_else(|| panic!("{method} {path}: no admin_session security"));
                assert_eq!(
                    session.get("csrf").is_some(),
                    *method != "get",
                    "{method} {path}: the CSRF header is needed exactly on state-changing calls"
                );
                let bearer = security
                    .iter()
                    .any(|s| s["bearer"] == json!(["credentials:manage"]));
                assert_eq!(
                    bearer,
                    path != "/admin/api/v1/session",
                    "{method} {path}: {security:?}"
                );
                let documented_401 = &op["responses"]["401"];
                assert!(documented_401.is_object(), "{method} {path}: no 401");
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path}: served but not documented ({status})"
                );
            }
        }
    }
    let r = client
        .get(format!("{}/admin/api/v1/nothing-here", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["admin_session"],
        json!({"type": "apiKey", "in": "cookie", "name": "tollgate_session",
               "description": schemes["admin_session"]["description"]})
    );
    assert_eq!(schemes["csrf"]["type"], "apiKey");
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "admin")
    );
    // Every tag an operation uses is declared, with a description.
    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["description"].is_string())
        .filter_map(|t| t["name"].as_str())
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for tag in op["tags"].as_array().into_iter().flatten() {
                assert!(
                    declared.contains(&tag.as_str().unwrap()),
                    "{method} {path}: tag {tag} is not declared"
                );
            }
        }
    }
}

/// The admin API's answers match the document: a logged-in admin's, a bearer token's, and the
/// errors (a missing CSRF token, a missing credential, bad input).
#[tokio::test]
async fn admin_answers_match_the_document() {
    let (app, company, p) = crate::admin::admin_setup().await;
    let doc = document(&app).await;
    let (s, session) = p.json(Method::GET, "/admin/api/v1/session", None).await;
    assert_eq!(s, 200);
    check(&doc, "/admin/api/v1/session", "get", 200, &session);

    // Credentials.
    let (s, c) = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials",
            Some(json!({"label": "Payroll", "scopes": ["groups:read"], "allowed_ips": ["10.0.0.0/8"]})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    check(&doc, "/admin/api/v1/credentials", "post", 201, &c);
    assert!(c["client_secret"].is_string());
    let id = c["client_id"].as_str().unwrap().to_owned();
    let one = format!("/admin/api/v1/credentials/{id}");
    let (s, list) = p.json(Method::GET, "/admin/api/v1/credentials", None).await;
    assert_eq!(s, 200);
    check(&doc, "/admin/api/v1/credentials", "get", 200, &list);
    let (s, got) = p.json(Method::GET, &one, None).await;
    assert_eq!(s, 200);
    assert!(got["usage"].is_object(), "{got}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}",
        "get",
        200,
        &got,
    );
    let (s, changed) = p
        .json(
            Method::PATCH,
            &one,
            Some(json!({"label": "Payroll 2", "expires_at": null})),
        )
        .await;
    assert_eq!(s, 200, "{changed}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}",
        "patch",
        200,
        &changed,
    );
    let (s, bad) = p
        .json(Method::PATCH, &one, Some(json!({"scopes": ["no:such"]})))
        .await;
    assert_eq!(s, 400, "{bad}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}",
        "patch",
        400,
        &bad,
    );
    let (s, rotated) = p
        .json(
            Method::POST,
            &format!("{one}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}/rotate",
        "post",
        200,
        &rotated,
    );
    let old = rotated["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !s["expires_at"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, ended) = p
        .json(Method::DELETE, &format!("{one}/secrets/{old}"), None)
        .await;
    assert_eq!(s, 200, "{ended}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}",
        "delete",
        200,
        &ended,
    );
    let (s, last) = p
        .json(
            Method::DELETE,
            &format!(
                "{one}/secrets/{}",
                ended["secrets"][0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 409, "{last}");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}",
        "delete",
        409,
        &last,
    );
    let (s, leaked) = p
        .json(
            Method::POST,
            "/admin/api/v1/credentials/revoke-leaked",
            Some(json!({"secret": rotated["client_secret"]})),
        )
        .await;
    assert_eq!(s, 200, "{leaked}");
    check(
        &doc,
        "/admin/api/v1/credentials/revoke-leaked",
        "post",
        200,
        &leaked,
    );
    // Without the CSRF header, a session's write is refused as documented.
    let r = app
        .client
        .delete(format!("{}{one}", app.base))
        .header("cookie", p.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "invalidCsrfToken");
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}",
        "delete",
        403,
        &e,
    );
    let (s, none) = p.json(Method::DELETE, &one, None).await;
    assert_eq!((s, none), (204, Value::Null));
    let (s, missing) = p.json(Method::GET, &one, None).await;
    assert_eq!(s, 404);
    check(
        &doc,
        "/admin/api/v1/credentials/{client_id}",
        "get",
        404,
        &missing,
    );

    // A bearer token holding credentials:manage.
    let cred = app.credential_in(company, "credentials:manage").await;
    let token = app.token(&cred).await;
    let r = app
        .client
        .get(format!("{}/admin/api/v1/credentials", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check(
        &doc,
        "/admin/api/v1/credentials",
        "get",
        200,
        &r.json().await.unwrap(),
    );
    let cred = app.credential_in(company, "groups:read").await;
    let token = app.token(&cred).await;
    let r = app
        .client
        .get(format!("{}/admin/api/v1/credentials", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    check(
        &doc,
        "/admin/api/v1/credentials",
        "get",
        403,
        &r.json().await.unwrap(),
    );

    // Users.
    let (s, u) = p
        .json(
            Method::POST,
            "/admin/api/v1/users",
            Some(json!({"email": "bob@example.com", "role": "member", "password": crate::admin::PASSWORD})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    check(&doc, "/admin/api/v1/users", "post", 201, &u);
    let (s, users) = p.json(Method::GET, "/admin/api/v1/users", None).await;
    assert_eq!(s, 200);
    check(&doc, "/admin/api/v1/users", "get", 200, &users);
    let user = format!("/admin/api/v1/users/{}", u["id"].as_str().unwrap());
    let (s, u) = p
        .json(Method::PATCH, &user, Some(json!({"role": "admin"})))
        .await;
    assert_eq!(s, 200, "{u}");
    check(&doc, "/admin/api/v1/users/{id}", "patch", 200, &u);
    let (s, _) = p.json(Method::DELETE, &user, None).await;
    assert_eq!(s, 204);

    // Webhooks.
    let (s, w) = p
        .json(
            Method::POST,
            "/admin/api/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/tollgate", "events": ["credential.created"]})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    check(&doc, "/admin/api/v1/webhooks", "post", 201, &w);
    assert!(w["secret"].is_string());
    let hook = format!("/admin/api/v1/webhooks/{}", w["id"].as_str().unwrap());
    let (s, list) = p.json(Method::GET, "/admin/api/v1/webhooks", None).await;
    assert_eq!(s, 200);
    check(&doc, "/admin/api/v1/webhooks", "get", 200, &list);
    let (s, got) = p.json(Method::GET, &hook, None).await;
    assert_eq!(s, 200);
    check(&doc, "/admin/api/v1/webhooks/{id}", "get", 200, &got);
    let (s, changed) = p
        .json(Method::PATCH, &hook, Some(json!({"enabled": false})))
        .await;
    assert_eq!(s, 200, "{changed}");
    check(&doc, "/admin/api/v1/webhooks/{id}", "patch", 200, &changed);
    let (s, bad) = p
        .json(Method::PATCH, &hook, Some(json!({"events": ["no.such"]})))
        .await;
    assert_eq!(s, 400, "{bad}");
    check(&doc, "/admin/api/v1/webhooks/{id}", "patch", 400, &bad);
    let (s, rotated) = p
        .json(Method::POST, &format!("{hook}/rotate-secret"), None)
        .await;
    assert_eq!(s, 200, "{rotated}");
    check(
        &doc,
        "/admin/api/v1/webhooks/{id}/rotate-secret",
        "post",
        200,
        &rotated,
    );
    let (s, d) = p.json(Method::POST, &format!("{hook}/test"), None).await;
    assert_eq!(s, 202, "{d}");
    check(&doc, "/admin/api/v1/webhooks/{id}/test", "post", 202, &d);
    let (s, ds) = p
        .json(Method::GET, &format!("{hook}/deliveries?limit=5"), None)
        .await;
    assert_eq!(s, 200, "{ds}");
    check(
        &doc,
        "/admin/api/v1/webhooks/{id}/deliveries",
        "get",
        200,
        &ds,
    );
    let (s, _) = p.json(Method::DELETE, &hook, None).await;
    assert_eq!(s, 204);
    let (s, missing) = p.json(Method::GET, &hook, None).await;
    assert_eq!(s, 404);
    check(&doc, "/admin/api/v1/webhooks/{id}", "get", 404, &missing);

    // The audit log, and its filters as documented parameters.
    let (s, audit) = p
        .json(
            Method::GET,
            "/admin/api/v1/audit?action=credential.created&limit=10",
            None,
        )
        .await;
    assert_eq!(s, 200, "{audit}");
    assert!(!audit.as_array().unwrap().is_empty());
    check(&doc, "/admin/api/v1/audit", "get", 200, &audit);
    let (s, bad) = p
        .json(Method::GET, "/admin/api/v1/audit?limit=0", None)
        .await;
    assert_eq!(s, 400);
    check(&doc, "/admin/api/v1/audit", "get", 400, &bad);
    let mut params: Vec<&str> = doc["paths"]["/admin/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query");
            p["name"].as_str().unwrap()
        })
        .collect();
    params.sort_unstable();
    assert_eq!(
        params,
        [
            "action",
            "actor",
            "before",
            "credential",
            "limit",
            "since",
            "until"
        ]
    );
}
