//! Every way of asking for a token, against tollgate; and the API client's requests.

use serde_json::{Value, json};
use tollgate_client::{ApiClient, ClientAuth, Error, OAuthErrorCode, RequestFormat, TokenSource};

use crate::helpers;

#[tokio::test]
async fn json_and_form_bodies_post_and_basic_auth_and_scope_all_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read groups:write").await;
    let mut n = 0;
    for format in [RequestFormat::Json, RequestFormat::Form] {
        for auth in [ClientAuth::SecretPost, ClientAuth::SecretBasic] {
            let tokens = TokenSource::builder(&server.base, &cred.client_id, cred.secret.as_str())
                .request_format(format)
                .client_auth(auth)
                .scope("groups:read")
                .build()
                .unwrap();
            let t = tokens.token().await.unwrap();
            assert_eq!(t.scope(), Some("groups:read"), "{format:?} {auth:?}");
            assert_eq!(t.token_type(), "Bearer");
            assert_eq!(t.expires_in().as_secs(), 3600);
            n += 1;
            assert_eq!(server.tokens_issued(), n);
        }
    }
    // Without a scope, every scope of the credential.
    let t = helpers::tokens(&server, &cred).token().await.unwrap();
    assert_eq!(t.scope(), Some("groups:read groups:write"));

    // A scope the credential lacks: invalid_scope, at once, not retried.
    let err = TokenSource::builder(&server.base, &cred.client_id, cred.secret.as_str())
        .scope("users:read")
        .build()
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidScope),
        "{err:?}"
    );
    assert_eq!(
        server
            .counter("tollgate_token_requests_total{outcome=\"invalid_scope\"}")
            .await,
        1
    );
}

#[tokio::test]
async fn api_client_writes_reads_and_reports_api_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read groups:write").await;
    let api = helpers::api(&server, &cred);
    let groups: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    let root = groups[0]["_id"].as_str().unwrap().to_owned();

    let created: Value = api
        .post(
            "/api/v2/groups",
            &json!({"name": "Payroll", "public": false, "parentId": root}),
        )
        .await
        .unwrap();
    let id = created["_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v2/groups/{id}");
    let patched: Value = api.patch(&path, &json!({"name": "Pay"})).await.unwrap();
    assert_eq!(patched["name"], "Pay");
    let got: Value = api.get(&path).await.unwrap();
    assert_eq!(got["name"], "Pay");
    api.delete(&path).await.unwrap();

    // The reference's error envelope, kept.
    match api.get::<Value>(&path).await {
        Err(Error::Api(e)) => {
            assert_eq!(e.status, 404);
            assert_eq!(e.code.as_deref(), Some("groupNotFound"));
        }
        other => panic!("{other:?}"),
    }
    // A version the server does not support.
    let old = ApiClient::builder(api.tokens().clone())
        .api_version("v1.0")
        .build()
        .unwrap();
    match old.get::<Value>("/api/v2/groups").await {
        Err(Error::Api(e)) => assert_eq!(e.code.as_deref(), Some("unsupportedApiVersion")),
        other => panic!("{other:?}"),
    }
    // A token without the scope: 403 is not a reason to renew.
    let reader = helpers::api(&server, &server.credential("groups:read").await);
    let before = server.tokens_issued();
    match reader
        .post::<_, Value>(
            "/api/v2/groups",
            &json!({"name": "x", "public": false, "parentId": root}),
        )
        .await
    {
        Err(Error::Api(e)) => {
            assert_eq!((e.status, e.code.as_deref()), (403, Some("invalid_scope")))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.tokens_issued(), before + 1);
    // Absolute URLs must stay on the server.
    assert!(matches!(
        api.get::<Value>("https://elsewhere.example/api/v2/groups")
            .await,
        Err(Error::Config(_))
    ));
}
