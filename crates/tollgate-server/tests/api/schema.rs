//! tollgate's responses validated against the reference's OpenAPI schemas
//! (`tests/fixtures/openapi-subset.json`, a copy of `shared/reference/openapi-subset.json`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers;

fn doc() -> Value {
    let text = include_str!("../fixtures/openapi-subset.json");
    serde_json::from_str(text).unwrap()
}

/// Validates `instance` against the response schema of `path`/`method`/`status`.
fn check(path: &str, method: &str, status: u16, instance: &Value) {
    let d = doc();
    let schema = &d["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "no schema for {method} {path} {status}");
    let root = json!({"components": d["components"], "allOf": [schema]});
    let v = jsonschema::draft202012::new(&root).expect("schema compiles");
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{instance}"
    );
}

fn group_fields() -> Vec<String> {
    let d = doc();
    d["components"]["schemas"]["GroupDTO"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn responses_match_the_reference_schemas() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;

    let r = app
        .post_token_json(&json!({"grant_type":"client_credentials","client_id":cred.client_id,"client_secret":cred.secret}))
        .await;
    let tok: Value = r.json().await.unwrap();
    check("/api/v2/oauth2/token", "post", 200, &tok);
    let token = tok["access_token"].as_str().unwrap();

    let root = app.root_group(token).await;
    let r = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": "Engineering Team", "public": false, "parentId": root, "custom": "Unit 101",
                      "termsOfUse": {"url": "https://example.com/terms"}, "logoImageId": "507f1f77bcf86cd799439011"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    check("/api/v2/groups", "post", 201, &g);
    let id = g["_id"].as_str().unwrap();

    let list: Value = app
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups", "get", 200, &list);
    let allowed = group_fields();
    for g in list.as_array().unwrap() {
        for k in g.as_object().unwrap().keys() {
            assert!(allowed.contains(k), "field {k} is not in GroupDTO");
        }
    }
    let one: Value = app
        .api(Method::GET, &format!("/api/v2/groups/{id}"), token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups/{groupId}", "get", 200, &one);
    let patched: Value = app
        .api(Method::PATCH, &format!("/api/v2/groups/{id}"), token)
        .json(&json!({"name": "Marketing Team"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups/{groupId}", "patch", 200, &patched);

    // Errors.
    let e: Value = app
        .client
        .get(format!("{}/api/v2/groups", app.base))
        .header("360-api-version", "v2.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups", "get", 401, &e);
    let e: Value = app
        .client
        .get(format!("{}/api/v2/groups", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups", "get", 400, &e);
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
    check("/api/v2/groups/{groupId}", "get", 404, &e);
    let e: Value = app
        .api(Method::DELETE, &format!("/api/v2/groups/{root}"), token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups/{groupId}", "delete", 400, &e);
    let e: Value = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": "x", "public": false, "parentId": "507f1f77bcf86cd799439011"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups", "post", 404, &e);

    let read_only = app.credential_in(cred.company, "groups:read").await;
    let ro = app.token(&read_only).await;
    let e: Value = app
        .api(Method::POST, "/api/v2/groups", &ro)
        .json(&json!({"name": "x", "public": false, "parentId": root}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("/api/v2/groups", "post", 403, &e);

    let bad_client: Value = app
        .post_token_json(
            &json!({"grant_type":"client_credentials","client_id":"nope","client_secret":"nope"}),
        )
        .await
        .json()
        .await
        .unwrap();
    check("/api/v2/oauth2/token", "post", 401, &bad_client);
    let bad_grant: Value = app
        .post_token_json(&json!({"grant_type":"password","client_id":"a","client_secret":"b"}))
        .await
        .json()
        .await
        .unwrap();
    check("/api/v2/oauth2/token", "post", 400, &bad_grant);
}
