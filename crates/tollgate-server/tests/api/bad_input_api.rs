//! Bad input to the protected API, over real HTTP: missing, forged, expired or foreign tokens,
//! a missing or unsupported version header, a missing scope, malformed bodies and ids, and another
//! company's groups. Each test checks the documented answer (DESIGN.md, "HTTP contract" and
//! "Errors") and that the groups are as they were. The token endpoint's bad input is in
//! `bad_input` and `token_parsing`.

// Test code: a failed expectation is a panic.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Map, Value, json};
use tollgate_core::clock::Clock as _;
use tollgate_core::ids::ClientId;
use tollgate_core::keys::{KeyRing, generate_ed25519};
use tollgate_groups::{Group, GroupId};

use crate::helpers::{self, Cred, TestApp, VERSION_HEADER, error_of};
use crate::token_parsing::basic;

const JSON: &str = "application/json";

async fn send(rb: RequestBuilder) -> Response {
    rb.send().await.expect("send")
}

// ---------------------------------------------------------------------------------------------
// API helpers
// ---------------------------------------------------------------------------------------------

/// An app with a company, a read/write credential, its token, the root group and one child group.
struct ApiFixture {
    app: TestApp,
    cred: Cred,
    token: String,
    root: String,
    child: String,
}

async fn api_setup() -> ApiFixture {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let child = create_group(&app, &token, &root, "child").await;
    ApiFixture {
        app,
        cred,
        token,
        root,
        child,
    }
}

async fn create_group(app: &TestApp, token: &str, parent: &str, name: &str) -> String {
    let r = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": name, "public": false, "parentId": parent}))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "create group: {v}");
    v["_id"].as_str().expect("_id").to_owned()
}

/// The first page of the caller's groups, sorted by id.
async fn groups(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "list groups: {v}");
    let mut list = v.as_array().expect("array").clone();
    list.sort_by(|a, b| a["_id"].as_str().cmp(&b["_id"].as_str()));
    list
}

/// A request with the version header and, when given, the raw `Authorization` value.
fn raw_api(app: &TestApp, method: Method, path: &str, auth: Option<&str>) -> RequestBuilder {
    let rb = app
        .client
        .request(method, format!("{}{}", app.base, path))
        .header(VERSION_HEADER, "v2.0");
    match auth {
        Some(a) => rb.header("authorization", a),
        None => rb,
    }
}

/// How the Bearer challenge must look.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// A token was sent: `error="invalid_token"` and a description.
    InvalidToken,
    /// No token at all: no `error=` (RFC 6750 §3.1).
    NoToken,
    /// Either of the above (the contract does not say which applies).
    Either,
}

/// Checks a 401 `invalid_token` answer.
async fn assert_invalid_token(r: Response, challenge: Challenge, case: &str) {
    let (status, body, www) = error_of(r).await;
    assert_eq!(status, 401, "{case}: status (body: {body})");
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object: {body}"));
    assert_eq!(body["error"], "invalid_token", "{case}: body {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{case}: error_description: {body}"
    );
    assert!(
        obj.keys().all(|k| k == "error" || k == "error_description"),
        "{case}: unexpected members in {body}"
    );
    let www = www.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
    assert!(
        www.starts_with(r#"Bearer realm="tollgate""#),
        "{case}: WWW-Authenticate {www}"
    );
    let with_error = www
        .starts_with(r#"Bearer realm="tollgate", error="invalid_token", error_description=""#)
        && www.ends_with('"')
        && www.len()
            > r#"Bearer realm="tollgate", error="invalid_token", error_description="""#.len();
    match challenge {
        Challenge::InvalidToken => assert!(with_error, "{case}: WWW-Authenticate {www}"),
        Challenge::NoToken => assert!(!www.contains("error="), "{case}: WWW-Authenticate {www}"),
        Challenge::Either => assert!(
            with_error || !www.contains("error"),
            "{case}: WWW-Authenticate {www}"
        ),
    }
}

/// Every groups route refuses `auth` with 401 `invalid_token`; then the groups are unchanged.
async fn assert_refused_everywhere(
    f: &ApiFixture,
    auth: Option<&str>,
    challenge: Challenge,
    case: &str,
) {
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            raw_api(&f.app, Method::GET, "/api/v2/groups", auth),
        ),
        ("GET one", raw_api(&f.app, Method::GET, &one, auth)),
        (
            "POST",
            raw_api(&f.app, Method::POST, "/api/v2/groups", auth).json(&json!({
                "name": "intruder", "public": false, "parentId": f.root
            })),
        ),
        (
            "PATCH",
            raw_api(&f.app, Method::PATCH, &one, auth).json(&json!({"name": "renamed"})),
        ),
        ("DELETE", raw_api(&f.app, Method::DELETE, &one, auth)),
    ];
    for (what, rb) in requests {
        assert_invalid_token(send(rb).await, challenge, &format!("{case}: {what}")).await;
    }
    let after = groups(&f.app, &f.token).await;
    assert_eq!(before, after, "{case}: groups changed");
}

/// Splits a JWT into its three parts.
fn jwt_parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        panic!("not a compact JWS: {token}");
    };
    (h.to_owned(), p.to_owned(), s.to_owned())
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn b64_of(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// `s` with the character at `i` replaced by another base64url character.
fn change_char(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

fn assert_envelope(body: &Value, case: &str) -> String {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object: {body}"));
    assert_eq!(obj.len(), 1, "{case}: body {body}");
    let err = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{case}: `error` is not an object: {body}"));
    let code = err
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{case}: no code: {body}"));
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{case}: no message: {body}"
    );
    code.to_owned()
}

/// Checks an API error in the reference's envelope: status and code.
async fn assert_api_error(r: Response, status: u16, code: Option<&str>, case: &str) -> Value {
    let (got, body, _) = error_of(r).await;
    assert_eq!(got, status, "{case}: status (body: {body})");
    let c = assert_envelope(&body, case);
    match code {
        Some(code) => assert_eq!(c, code, "{case}: code (body: {body})"),
        None => assert!(
            c.starts_with(|ch: char| ch.is_ascii_lowercase())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric()),
            "{case}: code must be camelCase: {body}"
        ),
    }
    body
}

// ---------------------------------------------------------------------------------------------
// API: tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_without_authorization_header_is_401_without_error_in_challenge() {
    let f = api_setup().await;
    assert_refused_everywhere(&f, None, Challenge::NoToken, "no Authorization").await;
    // Another scheme is no bearer token either (RFC 6750 §3.1).
    let basic_auth = basic(&f.cred.client_id, &f.cred.secret);
    assert_refused_everywhere(&f, Some(&basic_auth), Challenge::NoToken, "Basic scheme").await;
}

#[tokio::test]
async fn api_bearer_without_token_is_401() {
    let f = api_setup().await;
    for auth in ["Bearer", "Bearer ", "Bearer    "] {
        assert_refused_everywhere(&f, Some(auth), Challenge::Either, &format!("{auth:?}")).await;
    }
}

#[tokio::test]
async fn api_garbled_token_is_401() {
    let f = api_setup().await;
    for token in ["abc", "a.b.c", "..", "eyJhbGciOiJFZERTQSJ9", "Bearer"] {
        let auth = format!("Bearer {token}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, token).await;
    }
}

#[tokio::test]
async fn api_token_with_changed_signature_is_401() {
    let f = api_setup().await;
    let (h, p, s) = jwt_parts(&f.token);
    for i in [0, s.len() / 2, s.len() - 2] {
        let forged = format!("{h}.{p}.{}", change_char(&s, i));
        assert_ne!(forged, f.token);
        let auth = format!("Bearer {forged}");
        assert_refused_everywhere(
            &f,
            Some(&auth),
            Challenge::InvalidToken,
            &format!("signature char {i} changed"),
        )
        .await;
    }
    // Signature dropped.
    let auth = format!("Bearer {h}.{p}.");
    assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, "no signature").await;
}

#[tokio::test]
async fn api_token_with_altered_payload_is_401() {
    let f = api_setup().await;
    // A read-only credential tries to give itself groups:write (and more time).
    let reader = f.app.credential_in(f.cred.company, "groups:read").await;
    let token = f.app.token(&reader).await;
    let (h, p, s) = jwt_parts(&token);
    let claims = b64_json(&p);
    assert_eq!(claims["scope"], "groups:read");

    let mut wider = claims.clone();
    wider["scope"] = json!("groups:read groups:write");
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().expect("exp") + 86_400);
    let mut other_client = claims.clone();
    other_client["client_id"] = json!(f.cred.client_id);
    other_client["sub"] = json!(f.cred.client_id);
    for (case, c) in [
        ("scope widened", wider),
        ("exp extended", longer),
        ("client swapped", other_client),
    ] {
        let forged = format!("{h}.{}.{s}", b64_of(&c));
        let auth = format!("Bearer {forged}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
    // The genuine token still only reads.
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn api_expired_token_is_401() {
    let f = api_setup().await;
    // Still good one second before expiry.
    f.app.clock.advance(3599);
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &f.token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the token is valid until exp");
    f.app.clock.advance(2);

    // Past exp: refused everywhere. The check uses a fresh token, as the old one is expired too.
    let fresh = f.app.token(&f.cred).await;
    let before = groups(&f.app, &fresh).await;
    let auth = format!("Bearer {}", f.token);
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            raw_api(&f.app, Method::GET, "/api/v2/groups", Some(&auth)),
        ),
        ("GET one", raw_api(&f.app, Method::GET, &one, Some(&auth))),
        (
            "POST",
            raw_api(&f.app, Method::POST, "/api/v2/groups", Some(&auth))
                .json(&json!({"name": "late", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            raw_api(&f.app, Method::PATCH, &one, Some(&auth)).json(&json!({"name": "late"})),
        ),
        ("DELETE", raw_api(&f.app, Method::DELETE, &one, Some(&auth))),
    ];
    for (what, rb) in requests {
        assert_invalid_token(
            send(rb).await,
            Challenge::InvalidToken,
            &format!("expired: {what}"),
        )
        .await;
    }
    assert_eq!(before, groups(&f.app, &fresh).await, "groups changed");
}

#[tokio::test]
async fn api_token_signed_by_another_key_is_401() {
    let f = api_setup().await;
    let (h, p, _) = jwt_parts(&f.token);
    let header = b64_json(&h);
    let server_kid = header["kid"].as_str().expect("kid").to_owned();
    let claims = URL_SAFE_NO_PAD.decode(&p).expect("claims");

    // Our own Ed25519 key (aws-lc-rs, through tollgate-core).
    let mut rec = generate_ed25519(f.app.clock.now()).expect("key");
    let own_kid = rec.kid.clone();
    assert_ne!(own_kid, server_kid);
    let now = f.app.clock.now();
    let with_own_kid = KeyRing::from_records(std::slice::from_ref(&rec), now)
        .expect("ring")
        .current()
        .sign_jwt(&claims)
        .expect("sign");
    // The same key, claiming to be the server's key.
    rec.kid = server_kid;
    let with_server_kid = KeyRing::from_records(&[rec], now)
        .expect("ring")
        .current()
        .sign_jwt(&claims)
        .expect("sign");

    for (case, token) in [
        ("other key, own kid", with_own_kid),
        ("other key, server's kid", with_server_kid),
    ] {
        assert_eq!(jwt_parts(&token).1, p, "same claims");
        let auth = format!("Bearer {token}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
}

#[tokio::test]
async fn api_token_with_alg_none_is_401() {
    let f = api_setup().await;
    let (h, p, _) = jwt_parts(&f.token);
    let kid = b64_json(&h)["kid"].clone();
    let cases = [
        ("alg none", json!({"alg": "none", "typ": "at+jwt"})),
        (
            "alg none with kid",
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        ),
        (
            "alg None",
            json!({"alg": "None", "typ": "at+jwt", "kid": kid}),
        ),
        (
            "alg EdDSA, empty signature",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}),
        ),
    ];
    for (case, header) in cases {
        let auth = format!("Bearer {}.{p}.", b64_of(&header));
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
}

#[tokio::test]
async fn api_token_of_deleted_credential_is_401() {
    let f = api_setup().await;
    let doomed = f
        .app
        .credential_in(f.cred.company, "groups:read groups:write")
        .await;
    let token = f.app.token(&doomed).await;
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "works before the delete");
    f.app
        .admin
        .delete_credential(&ClientId::parse(&doomed.client_id).expect("client id"))
        .await
        .expect("delete");
    f.app.sync().await;
    let auth = format!("Bearer {token}");
    assert_refused_everywhere(
        &f,
        Some(&auth),
        Challenge::InvalidToken,
        "deleted credential",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// API: version header and scope
// ---------------------------------------------------------------------------------------------

fn no_version(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client
        .request(method, format!("{}{}", app.base, path))
        .bearer_auth(token)
}

#[tokio::test]
async fn api_missing_version_header_is_400_missing_api_version() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            no_version(&f.app, Method::GET, "/api/v2/groups", &f.token),
        ),
        ("GET one", no_version(&f.app, Method::GET, &one, &f.token)),
        (
            "POST",
            no_version(&f.app, Method::POST, "/api/v2/groups", &f.token)
                .json(&json!({"name": "x", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            no_version(&f.app, Method::PATCH, &one, &f.token).json(&json!({"name": "y"})),
        ),
        ("DELETE", no_version(&f.app, Method::DELETE, &one, &f.token)),
    ];
    for (case, rb) in requests {
        let body = assert_api_error(send(rb).await, 400, Some("missingApiVersion"), case).await;
        let msg = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("v2.0"),
            "{case}: the message must name the supported versions: {msg}"
        );
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

#[tokio::test]
async fn api_unsupported_version_is_400_unsupported_api_version() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    for version in ["v9.9", "v1.0"] {
        let v = |rb: RequestBuilder| rb.header(VERSION_HEADER, version);
        let requests = [
            (
                "GET list",
                v(no_version(&f.app, Method::GET, "/api/v2/groups", &f.token)),
            ),
            (
                "POST",
                v(no_version(&f.app, Method::POST, "/api/v2/groups", &f.token))
                    .json(&json!({"name": "x", "public": false, "parentId": f.root})),
            ),
            (
                "DELETE",
                v(no_version(&f.app, Method::DELETE, &one, &f.token)),
            ),
        ];
        for (what, rb) in requests {
            let case = format!("{version} {what}");
            let body =
                assert_api_error(send(rb).await, 400, Some("unsupportedApiVersion"), &case).await;
            let msg = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                msg.contains("v2.0"),
                "{case}: the message must name the supported versions: {msg}"
            );
        }
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

async fn assert_insufficient_scope(r: Response, scope: &str, case: &str) {
    let (status, body, www) = error_of(r).await;
    assert_eq!(status, 403, "{case}: status (body: {body})");
    assert_eq!(
        assert_envelope(&body, case),
        "invalid_scope",
        "{case}: body {body}"
    );
    let www = www.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
    assert!(www.starts_with("Bearer "), "{case}: {www}");
    assert!(
        www.contains(r#"error="insufficient_scope""#),
        "{case}: {www}"
    );
    assert!(
        www.contains(&format!(r#"scope="{scope}""#)),
        "{case}: {www}"
    );
}

#[tokio::test]
async fn api_missing_scope_is_403_invalid_scope() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let reader = f.app.credential_in(f.cred.company, "groups:read").await;
    let reader = f.app.token(&reader).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let writes = [
        (
            "POST",
            f.app
                .api(Method::POST, "/api/v2/groups", &reader)
                .json(&json!({"name": "x", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            f.app
                .api(Method::PATCH, &one, &reader)
                .json(&json!({"name": "y"})),
        ),
        ("DELETE", f.app.api(Method::DELETE, &one, &reader)),
    ];
    for (case, rb) in writes {
        assert_insufficient_scope(send(rb).await, "groups:write", case).await;
    }

    let writer = f.app.credential_in(f.cred.company, "groups:write").await;
    let writer = f.app.token(&writer).await;
    for (case, path) in [("GET list", "/api/v2/groups"), ("GET one", one.as_str())] {
        let r = send(f.app.api(Method::GET, path, &writer)).await;
        assert_insufficient_scope(r, "groups:read", case).await;
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

// ---------------------------------------------------------------------------------------------
// API: bodies and ids
// ---------------------------------------------------------------------------------------------

/// Sends each body as a POST (and, for `patch`, each as a PATCH of the child): 400 in the envelope,
/// and the groups do not change.
async fn assert_bodies_refused(
    f: &ApiFixture,
    posts: Vec<(&str, String)>,
    patches: Vec<(&str, String)>,
) {
    let before = groups(&f.app, &f.token).await;
    for (case, body) in posts {
        let r = send(
            f.app
                .api(Method::POST, "/api/v2/groups", &f.token)
                .header("content-type", JSON)
                .body(body.clone()),
        )
        .await;
        let b = assert_api_error(r, 400, None, &format!("POST {case}: {body}")).await;
        assert_ne!(b["error"]["code"], "invalid_scope");
    }
    let one = format!("/api/v2/groups/{}", f.child);
    for (case, body) in patches {
        let r = send(
            f.app
                .api(Method::PATCH, &one, &f.token)
                .header("content-type", JSON)
                .body(body.clone()),
        )
        .await;
        assert_api_error(r, 400, None, &format!("PATCH {case}: {body}")).await;
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

#[tokio::test]
async fn api_group_post_missing_field_is_400() {
    let f = api_setup().await;
    let full = json!({"name": "n", "public": false, "parentId": f.root});
    let mut posts = Vec::new();
    for field in ["name", "public", "parentId"] {
        let mut b = full.clone();
        b.as_object_mut().expect("object").remove(field);
        posts.push((field, b.to_string()));
    }
    posts.push(("empty object", "{}".to_owned()));
    assert_bodies_refused(&f, posts, Vec::new()).await;
}

#[tokio::test]
async fn api_group_unknown_field_is_400() {
    let f = api_setup().await;
    let posts = vec![
        (
            "foo",
            json!({"name": "n", "public": false, "parentId": f.root, "foo": 1}).to_string(),
        ),
        (
            "_id",
            json!({"name": "n", "public": false, "parentId": f.root, "_id": f.child}).to_string(),
        ),
        (
            "parentID (wrong case)",
            json!({"name": "n", "public": false, "parentId": f.root, "parentID": f.root})
                .to_string(),
        ),
    ];
    let patches = vec![
        ("foo", json!({"name": "n", "foo": 1}).to_string()),
        ("companyId", json!({"companyId": "x"}).to_string()),
    ];
    assert_bodies_refused(&f, posts, patches).await;
}

#[tokio::test]
async fn api_group_wrong_types_are_400() {
    let f = api_setup().await;
    let root = f.root.clone();
    let posts = vec![
        (
            "name number",
            json!({"name": 5, "public": false, "parentId": root}).to_string(),
        ),
        (
            "name null",
            json!({"name": null, "public": false, "parentId": root}).to_string(),
        ),
        (
            "public string",
            json!({"name": "n", "public": "false", "parentId": root}).to_string(),
        ),
        (
            "public number",
            json!({"name": "n", "public": 0, "parentId": root}).to_string(),
        ),
        (
            "parentId number",
            json!({"name": "n", "public": false, "parentId": 123}).to_string(),
        ),
        (
            "parentId array",
            json!({"name": "n", "public": false, "parentId": [root]}).to_string(),
        ),
        (
            "custom number",
            json!({"name": "n", "public": false, "parentId": root, "custom": 7}).to_string(),
        ),
        (
            "array body",
            format!(
                "[{}]",
                json!({"name": "n", "public": false, "parentId": root})
            ),
        ),
        ("string body", "\"n\"".to_owned()),
        ("malformed JSON", "{\"name\":".to_owned()),
    ];
    let patches = vec![
        ("public string", json!({"public": "yes"}).to_string()),
        ("name number", json!({"name": 1}).to_string()),
        ("array body", "[]".to_owned()),
    ];
    assert_bodies_refused(&f, posts, patches).await;
}

#[tokio::test]
async fn api_group_parent_id_not_24_hex_is_400() {
    let f = api_setup().await;
    let bad_ids = [
        "abc".to_owned(),
        String::new(),
        f.root[..23].to_owned(),
        format!("{}0", f.root),
        "z".repeat(24),
        format!(" {}", &f.root[1..]),
    ];
    let posts = bad_ids
        .iter()
        .map(|id| {
            (
                "parentId",
                json!({"name": "n", "public": false, "parentId": id}).to_string(),
            )
        })
        .collect();
    let patches = bad_ids
        .iter()
        .map(|id| ("parentId", json!({"parentId": id}).to_string()))
        .collect();
    assert_bodies_refused(&f, posts, patches).await;
}

/// A second company, with its own credential, token, root and child group.
async fn other_company(f: &ApiFixture) -> (String, String, String) {
    let company = f.app.company("groups:read groups:write").await;
    let cred = f
        .app
        .credential_in(company, "groups:read groups:write")
        .await;
    let token = f.app.token(&cred).await;
    let root = f.app.root_group(&token).await;
    let child = create_group(&f.app, &token, &root, "theirs").await;
    (token, root, child)
}

#[tokio::test]
async fn api_parent_in_another_company_is_404_parent_group_not_found() {
    let f = api_setup().await;
    let (their_token, their_root, their_child) = other_company(&f).await;
    let ours = groups(&f.app, &f.token).await;
    let theirs = groups(&f.app, &their_token).await;

    for parent in [&their_root, &their_child] {
        let r = send(
            f.app
                .api(Method::POST, "/api/v2/groups", &f.token)
                .json(&json!({"name": "n", "public": false, "parentId": parent})),
        )
        .await;
        assert_api_error(
            r,
            404,
            Some("parentGroupNotFound"),
            "POST under their group",
        )
        .await;

        let r = send(
            f.app
                .api(
                    Method::PATCH,
                    &format!("/api/v2/groups/{}", f.child),
                    &f.token,
                )
                .json(&json!({"parentId": parent})),
        )
        .await;
        assert_api_error(
            r,
            404,
            Some("parentGroupNotFound"),
            "PATCH under their group",
        )
        .await;
    }
    // Indistinguishable from a parent that does not exist.
    let missing = "0000000000000000000000ff";
    let r = send(
        f.app
            .api(Method::POST, "/api/v2/groups", &f.token)
            .json(&json!({"name": "n", "public": false, "parentId": missing})),
    )
    .await;
    assert_api_error(r, 404, Some("parentGroupNotFound"), "POST under missing").await;

    assert_eq!(ours, groups(&f.app, &f.token).await, "our groups changed");
    assert_eq!(
        theirs,
        groups(&f.app, &their_token).await,
        "their groups changed"
    );
}

#[tokio::test]
async fn api_group_of_another_company_is_404_group_not_found() {
    let f = api_setup().await;
    let (their_token, their_root, their_child) = other_company(&f).await;
    let theirs = groups(&f.app, &their_token).await;
    let ours = groups(&f.app, &f.token).await;
    let missing = "0000000000000000000000ff".to_owned();

    let mut bodies = Vec::new();
    for id in [&their_child, &their_root, &missing] {
        let path = format!("/api/v2/groups/{id}");
        let requests = [
            ("GET", f.app.api(Method::GET, &path, &f.token)),
            (
                "PATCH",
                f.app
                    .api(Method::PATCH, &path, &f.token)
                    .json(&json!({"name": "pwned"})),
            ),
            ("DELETE", f.app.api(Method::DELETE, &path, &f.token)),
        ];
        for (what, rb) in requests {
            let body = assert_api_error(
                send(rb).await,
                404,
                Some("groupNotFound"),
                &format!("{what} {id}"),
            )
            .await;
            bodies.push((what, body));
        }
    }
    // Another company's group reads exactly as a missing one.
    for (what, body) in &bodies {
        let same = bodies
            .iter()
            .filter(|(w, _)| w == what)
            .all(|(_, b)| b == body);
        assert!(
            same,
            "{what}: answers differ between foreign and missing: {bodies:?}"
        );
    }
    assert_eq!(
        theirs,
        groups(&f.app, &their_token).await,
        "their groups changed"
    );
    assert_eq!(ours, groups(&f.app, &f.token).await, "our groups changed");
}

#[tokio::test]
async fn api_tampered_cursor_is_400_invalid_cursor() {
    let f = api_setup().await;
    // 1 root + 1 child + 499 = 501 groups: two pages.
    let root = GroupId::parse(&f.root).expect("root id");
    let now = f.app.clock.now();
    for i in 0..499 {
        let g = Group {
            id: GroupId::generate(now).expect("id"),
            company_id: f.cred.company,
            name: format!("g{i}"),
            public: false,
            custom: None,
            parent_id: Some(root),
            extra: Map::new(),
        };
        f.app.group_store.insert_group(&g).await.expect("insert");
    }
    let r = send(f.app.api(Method::GET, "/api/v2/groups", &f.token)).await;
    assert_eq!(r.status(), 200);
    let link = r
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("Link header")
        .to_owned();
    let page: Vec<Value> = r.json().await.expect("json");
    assert_eq!(page.len(), 500);
    let cursor = link
        .split("cursor=")
        .nth(1)
        .and_then(|s| s.split('>').next())
        .expect("cursor")
        .to_owned();
    assert!(link.ends_with(r#">; rel="next""#), "{link}");

    // Control: the real cursor gives the last group.
    let r = send(f.app.api(
        Method::GET,
        &format!("/api/v2/groups?cursor={cursor}"),
        &f.token,
    ))
    .await;
    assert_eq!(r.status(), 200);
    let next: Vec<Value> = r.json().await.expect("json");
    assert_eq!(next.len(), 1);

    let mut tampered = vec![
        ("garbage".to_owned(), "garbage".to_owned()),
        ("empty".to_owned(), String::new()),
        (
            "truncated".to_owned(),
            cursor[..cursor.len() - 4].to_owned(),
        ),
        ("extended".to_owned(), format!("{cursor}AAAA")),
    ];
    for i in [0, 5, cursor.len() / 2, cursor.len() - 10, cursor.len() - 2] {
        tampered.push((format!("char {i} changed"), change_char(&cursor, i)));
    }
    for (case, c) in tampered {
        assert_ne!(c, cursor);
        let r = send(
            f.app
                .api(Method::GET, &format!("/api/v2/groups?cursor={c}"), &f.token),
        )
        .await;
        assert_api_error(r, 400, Some("invalidCursor"), &case).await;
    }

    // A real cursor is bound to its company: another company cannot use it.
    let company = f.app.company("groups:read").await;
    let cred = f.app.credential_in(company, "groups:read").await;
    let token = f.app.token(&cred).await;
    let r = send(f.app.api(
        Method::GET,
        &format!("/api/v2/groups?cursor={cursor}"),
        &token,
    ))
    .await;
    assert_api_error(r, 400, Some("invalidCursor"), "another company's cursor").await;
}

/// The reference documents 400 for bad input on the groups operations, and no 415: a POST or
/// PATCH without a JSON body (no content type, another one, or none at all) is a 400 `invalidInput`.
#[tokio::test]
async fn api_group_write_without_a_json_body_is_400_not_415() {
    let f = api_setup().await;
    let good = json!({"name": "n", "public": false, "parentId": f.root}).to_string();
    let cases: [(Method, String, Option<&str>, String); 4] = [
        (Method::POST, "/api/v2/groups".into(), None, good.clone()),
        (
            Method::POST,
            "/api/v2/groups".into(),
            Some("text/plain"),
            good.clone(),
        ),
        (Method::POST, "/api/v2/groups".into(), None, String::new()),
        (
            Method::PATCH,
            format!("/api/v2/groups/{}", f.child),
            Some("application/x-www-form-urlencoded"),
            "name=x".into(),
        ),
    ];
    for (method, path, content_type, body) in cases {
        let mut rb = f.app.api(method.clone(), &path, &f.token).body(body);
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        let case = format!("{method} {path} {content_type:?}");
        assert_api_error(send(rb).await, 400, Some("invalidInput"), &case).await;
    }
    assert_eq!(
        groups(&f.app, &f.token).await.len(),
        2,
        "nothing was created"
    );
}
