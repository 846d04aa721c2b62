//! Audience binding (RFC 8707 resource indicators): a token request may name `resource`s among
//! its company's (and its credential's, when it lists some); the token's `aud` is what was asked,
//! or the default audience. tollgate's own API serves the default audience only; a gateway route
//! may declare its own; a resource no longer listed is refused at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_core::admin::{CompanyChanges, CredentialChanges};
use tollgate_core::audience::Resources;
use tollgate_server::Settings;

use crate::helpers::{self, Cred, TestApp, client_id, error_of};

const BILLING: &str = "https://billing.example";
const REPORTS: &str = "urn:example:reports";

/// An app with a route for the billing resource (and the test upstream behind it), and a
/// credential whose company lists both resources.
async fn setup() -> (TestApp, Cred) {
    let up = crate::gateway::upstream().await;
    let routes = crate::gateway::routes(
        &format!(
            r#"
            [[routes]]
            prefix = "/api/v2/invoices"
            upstream = "http://UP"
            audience = "{BILLING}"
            [routes.scopes]
            GET = ["groups:read"]
            [[routes]]
            prefix = "/api/v2/users"
            upstream = "http://UP"
            [routes.scopes]
            GET = ["groups:read"]
            "#
        ),
        up.addr,
    );
    let app = helpers::spawn_with(|s: &mut Settings| s.gateway = routes).await;
    let cred = app.credential("groups:read").await;
    list_resources(&app, &cred, &[BILLING, REPORTS]).await;
    (app, cred)
}

/// The credential limited to `resources` of its company's (`None`: all of them).
async fn limit_credential(app: &TestApp, cred: &Cred, resources: Option<&[&str]>) {
    let changes = CredentialChanges {
        resources: Some(resources.map(|r| Resources::parse(r).unwrap())),
        ..Default::default()
    };
    app.admin
        .update_credential(&client_id(cred), changes)
        .await
        .unwrap();
    app.sync().await;
}

/// The resources `cred`'s company lists, set by the operator.
async fn list_resources(app: &TestApp, cred: &Cred, resources: &[&str]) {
    let changes = CompanyChanges {
        resources: Some(Resources::parse(resources).unwrap()),
        ..Default::default()
    };
    app.admin
        .update_company(&cred.company, changes)
        .await
        .unwrap();
    app.sync().await;
}

/// A JSON token request for `cred` with `resource` as given (a string or an array).
async fn token_for(app: &TestApp, cred: &Cred, resource: Option<Value>) -> reqwest::Response {
    let mut body = json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    });
    if let Some(r) = resource {
        body["resource"] = r;
    }
    app.post_token_json(&body).await
}

async fn token_ok(app: &TestApp, cred: &Cred, resource: Option<Value>) -> String {
    let r = token_for(app, cred, resource).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

fn aud_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["aud"].clone()
}

/// Status and `WWW-Authenticate` of `GET path` with `token`.
async fn get(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let (status, _, www) = error_of(app.api(Method::GET, path, token).send().await.unwrap()).await;
    (status, www.unwrap_or_default())
}

const NOT_FOR_IT: &str = "the access token is not meant for this resource";

#[tokio::test]
async fn a_token_is_for_the_resources_it_asked_for_and_no_other() {
    let (app, cred) = setup().await;

    // No resource: the default audience; the built-in API and routes without an audience serve it.
    let plain = token_ok(&app, &cred, None).await;
    assert_eq!(aud_of(&plain), json!(app.base));
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &plain).await,
        200
    );
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/users/1", &plain).await,
        200
    );
    let (status, www) = get(&app, "/api/v2/invoices/1", &plain).await;
    assert_eq!(status, 401);
    assert!(
        www.contains("invalid_token") && www.contains(NOT_FOR_IT),
        "{www}"
    );

    // For billing (a JSON string): the billing route serves it, the built-in API does not.
    let billing = token_ok(&app, &cred, Some(json!(BILLING))).await;
    assert_eq!(aud_of(&billing), json!(BILLING));
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/invoices/1", &billing)
            .await,
        200
    );
    let (status, www) = get(&app, "/api/v2/groups", &billing).await;
    assert_eq!(status, 401);
    assert!(www.contains(NOT_FOR_IT), "{www}");
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/users/1", &billing)
            .await,
        401
    );
    // /auth/verify asks the same of the route.
    let verify = |token| crate::gateway::verify_get(&app, "/api/v2/invoices/7", token);
    assert_eq!(verify(&billing).await.status(), 200);
    assert_eq!(verify(&plain).await.status(), 401);

    // Several, as a JSON array or a repeated form parameter: `aud` is an array, each serves.
    let both = token_ok(&app, &cred, Some(json!([BILLING, app.base]))).await;
    let aud = aud_of(&both);
    assert!(
        aud.as_array().is_some_and(|a| a.len() == 2
            && a.contains(&json!(BILLING))
            && a.contains(&json!(app.base))),
        "{aud}"
    );
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/groups", &both).await,
        200
    );
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/invoices/1", &both)
            .await,
        200
    );
    let r = app
        .client
        .post(app.token_url())
        .basic_auth(&cred.client_id, Some(&cred.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", BILLING),
            ("resource", REPORTS),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        aud_of(v["access_token"].as_str().unwrap()),
        json!([BILLING, REPORTS])
    );

    // Introspection tells the audience as the token has it.
    let i = app.introspect(&cred, &billing).await;
    assert_eq!(
        (i["active"].clone(), i["aud"].clone()),
        (json!(true), json!(BILLING))
    );
    assert_eq!(
        app.introspect(&cred, &both).await["aud"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Reuse answers the same request only: another resource set is another token.
    assert_eq!(token_ok(&app, &cred, Some(json!(BILLING))).await, billing);
    assert_eq!(token_ok(&app, &cred, None).await, plain);
    assert_ne!(billing, plain);
}

#[tokio::test]
async fn a_resource_the_credential_may_not_use_is_invalid_target() {
    let (app, cred) = setup().await;
    for (resource, why) in [
        (json!("https://other.example"), "not the company's"),
        (json!("billing.example"), "not an absolute URI"),
        (json!(format!("{BILLING}#frag")), "a fragment"),
        (
            json!([BILLING, "https://other.example"]),
            "one of them not the company's",
        ),
    ] {
        let (status, body, _) = error_of(token_for(&app, &cred, Some(resource)).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{why}: {body}"
        );
    }
    assert_eq!(
        app.metric(r#"tollgate_token_requests_total{outcome="invalid_target"}"#)
            .await,
        4.0
    );

    // Limited to reports, the credential may not ask for billing any more (the default audience
    // stays allowed).
    limit_credential(&app, &cred, Some(&[REPORTS])).await;
    let (status, body, _) = error_of(token_for(&app, &cred, Some(json!(BILLING))).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_target");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(BILLING),
        "{body}"
    );
    token_ok(&app, &cred, Some(json!(REPORTS))).await;
    token_ok(&app, &cred, Some(json!(app.base))).await;
}

#[tokio::test]
async fn a_resource_no_longer_listed_is_refused_at_once() {
    let (app, cred) = setup().await;
    let billing = token_ok(&app, &cred, Some(json!(BILLING))).await;
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/invoices/1", &billing)
            .await,
        200
    );

    // The credential limited to reports: its billing token stops at once.
    limit_credential(&app, &cred, Some(&[REPORTS])).await;
    let (status, www) = get(&app, "/api/v2/invoices/1", &billing).await;
    assert_eq!(status, 401);
    assert!(www.contains(NOT_FOR_IT), "{www}");

    // Back to all of the company's: it serves again; then the company drops billing.
    limit_credential(&app, &cred, None).await;
    assert_eq!(
        app.api_status(Method::GET, "/api/v2/invoices/1", &billing)
            .await,
        200
    );
    list_resources(&app, &cred, &[REPORTS]).await;
    assert_eq!(get(&app, "/api/v2/invoices/1", &billing).await.0, 401);
    let (status, body, _) = error_of(token_for(&app, &cred, Some(json!(BILLING))).await).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_target"))
    );
}

#[tokio::test]
async fn the_admin_api_shows_and_sets_a_credentials_resources() {
    let (app, cred) = setup().await;
    // A bearer of the admin API acts for its own credential's company: one in the same company.
    app.admin
        .update_company(
            &cred.company,
            CompanyChanges {
                scopes: Some("groups:read credentials:manage".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let manager = app.credential_in(cred.company, "credentials:manage").await;
    let token_of_company = app.token(&manager).await;
    let url = format!("{}/admin/api/v1/credentials/{}", app.base, cred.client_id);
    let call = |m: Method, body: Option<Value>| {
        let mut r = app.client.request(m, &url).bearer_auth(&token_of_company);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let v: Value = call(Method::GET, None).await.unwrap().json().await.unwrap();
    assert_eq!(v["resources"], Value::Null, "all of the company's: {v}");
    let r = call(Method::PATCH, Some(json!({"resources": [REPORTS]})))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resources"], json!([REPORTS]));
    let r = call(
        Method::PATCH,
        Some(json!({"resources": ["https://other.example"]})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("https://other.example"), "{body}");
    let r = call(Method::PATCH, Some(json!({"resources": ["not a uri"]})))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = call(Method::PATCH, Some(json!({"resources": null})))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["resources"], Value::Null);
}

/// The panel offers the company's resources on the create and edit forms: all of them (the
/// default), or those ticked; a refused form keeps what was ticked.
#[tokio::test]
async fn the_panel_limits_a_credential_to_some_of_the_companys_resources() {
    let (app, company, p) = crate::admin::admin_setup().await;
    let page = p.text("/admin/credentials").await;
    assert!(!page.contains("resources_mode"), "no resources, no field");
    app.admin
        .update_company(
            &company,
            CompanyChanges {
                resources: Some(Resources::parse(&[BILLING, REPORTS]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let page = p.text("/admin/credentials").await;
    assert!(
        page.contains(r#"name="resources_mode" value="all" checked"#),
        "{page}"
    );
    assert!(page.contains(&format!(r#"name="resource" value="{BILLING}" checked"#)));

    let r = p
        .req(Method::POST, "/admin/credentials")
        .form(&[
            ("csrf", crate::admin::hidden(&page, "csrf").as_str()),
            ("nonce", crate::admin::hidden(&page, "nonce").as_str()),
            ("label", "Billing"),
            ("scope", "groups:read"),
            ("resources_mode", "some"),
            ("resource", BILLING),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let stored = app.admin.credentials(&company).await.unwrap().remove(0);
    assert_eq!(
        stored.access.resources,
        Some(Resources::parse(&[BILLING]).unwrap())
    );

    // The edit page shows the choice; a resource the company does not list is refused, the
    // ticks kept; "all" lifts the limit.
    let path = format!("/admin/credentials/{}", stored.client_id);
    let edit = p.text(&path).await;
    assert!(
        edit.contains(r#"name="resources_mode" value="some" checked"#),
        "{edit}"
    );
    assert!(edit.contains(&format!(r#"name="resource" value="{BILLING}" checked"#)));
    assert!(
        edit.contains(&format!(r#"name="resource" value="{REPORTS}">"#)),
        "{edit}"
    );
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("csrf", crate::admin::hidden(&edit, "csrf")),
            ("label", "Billing".to_owned()),
            ("scope", "groups:read".to_owned()),
        ];
        form.extend(fields);
        p.req(Method::POST, &path).form(&form).send()
    };
    let r = post(vec![
        ("resources_mode", "some".into()),
        ("resource", REPORTS.into()),
        ("resource", "https://other.example".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="resources-error" role="alert">"#)
            && html.contains("other.example is not one of the company"),
        "{html}"
    );
    assert!(html.contains(&format!(r#"name="resource" value="{REPORTS}" checked"#)));
    assert_eq!(
        app.admin
            .credential(&stored.client_id)
            .await
            .unwrap()
            .access
            .resources,
        Some(Resources::parse(&[BILLING]).unwrap()),
        "refused: unchanged"
    );
    let r = post(vec![("resources_mode", "all".into())]).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.admin
            .credential(&stored.client_id)
            .await
            .unwrap()
            .access
            .resources,
        None
    );
}
