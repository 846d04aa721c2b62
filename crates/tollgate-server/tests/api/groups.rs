//! The example API: shapes, tenant isolation, pagination.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{self, error_of};

#[tokio::test]
async fn crud_roundtrip_with_reference_shapes() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;

    let r = app
        .api(Method::POST, "/api/v2/groups", &token)
        .json(&json!({"name": "Engineering Team", "public": false, "parentId": root, "custom": "Unit 101"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    let id = g["_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(g["name"], "Engineering Team");
    assert_eq!(g["public"], false);
    assert_eq!(g["custom"], "Unit 101");
    assert_eq!(g["parentId"], root.as_str());

    let got: Value = app
        .api(Method::GET, &format!("/api/v2/groups/{id}"), &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, g);

    let r = app
        .api(Method::PATCH, &format!("/api/v2/groups/{id}"), &token)
        .json(&json!({"name": "Marketing Team", "custom": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["name"], "Marketing Team");
    assert!(patched.get("custom").is_none(), "custom cleared by null");

    let r = app
        .api(Method::DELETE, &format!("/api/v2/groups/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body, _) = error_of(
        app.api(Method::GET, &format!("/api/v2/groups/{id}"), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "groupNotFound");
}

#[tokio::test]
async fn root_group_rules() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let (status, body, _) = error_of(
        app.api(Method::DELETE, &format!("/api/v2/groups/{root}"), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("groupIsRoot"))
    );
    let (status, body, _) = error_of(
        app.api(Method::PATCH, &format!("/api/v2/groups/{root}"), &token)
            .json(&json!({"public": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("rootGroupNotPublic"))
    );
}

#[tokio::test]
async fn a_group_cannot_move_under_itself_or_a_descendant() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let mk = |parent: String| {
        app.api(Method::POST, "/api/v2/groups", &token)
            .json(&json!({"name": "g", "public": false, "parentId": parent}))
    };
    let a: Value = mk(root.clone()).send().await.unwrap().json().await.unwrap();
    let a = a["_id"].as_str().unwrap().to_owned();
    let b: Value = mk(a.clone()).send().await.unwrap().json().await.unwrap();
    let b = b["_id"].as_str().unwrap().to_owned();
    for parent in [&a, &b] {
        let (status, body, _) = error_of(
            app.api(Method::PATCH, &format!("/api/v2/groups/{a}"), &token)
                .json(&json!({"parentId": parent}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "parentGroupNotDescendantOrSelf");
    }
    // Deleting a removes b too.
    assert_eq!(
        app.api(Method::DELETE, &format!("/api/v2/groups/{a}"), &token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.api(Method::GET, &format!("/api/v2/groups/{b}"), &token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn public_groups_refuse_private_only_fields() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let (status, body, _) = error_of(
        app.api(Method::POST, "/api/v2/groups", &token)
            .json(&json!({"name": "p", "public": true, "parentId": root, "subdomain": "acme-team"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("noSubdomainOnPublicGroup"))
    );
    // Private: stored and returned as given.
    let r = app
        .api(Method::POST, "/api/v2/groups", &token)
        .json(&json!({"name": "p", "public": false, "parentId": root, "subdomain": "acme-team",
                      "privacyPolicy": {"url": "https://example.com/policy", "explicitConsent": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    assert_eq!(g["subdomain"], "acme-team");
    assert_eq!(g["privacyPolicy"]["explicitConsent"], true);
}

#[tokio::test]
async fn companies_are_isolated() {
    let app = helpers::spawn().await;
    let a = app.credential("groups:read groups:write").await;
    let b = app.credential("groups:read groups:write").await;
    let ta = app.token(&a).await;
    let tb = app.token(&b).await;
    let root_a = app.root_group(&ta).await;
    let root_b = app.root_group(&tb).await;
    assert_ne!(root_a, root_b);
    let g: Value = app
        .api(Method::POST, "/api/v2/groups", &ta)
        .json(&json!({"name": "secret team", "public": false, "parentId": root_a}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ga = g["_id"].as_str().unwrap();
    // B's list does not show A's groups.
    let list: Value = app
        .api(Method::GET, "/api/v2/groups", &tb)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|g| g["_id"] != ga && g["_id"] != root_a.as_str())
    );
    for (m, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "x"}))),
        (Method::DELETE, None),
    ] {
        let mut req = app.api(m.clone(), &format!("/api/v2/groups/{ga}"), &tb);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, body, _) = error_of(req.send().await.unwrap()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("groupNotFound")),
            "{m}"
        );
    }
    let (status, body, _) = error_of(
        app.api(Method::POST, "/api/v2/groups", &tb)
            .json(&json!({"name": "x", "public": false, "parentId": ga}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("parentGroupNotFound"))
    );
    // A's group is intact.
    let g2: Value = app
        .api(Method::GET, &format!("/api/v2/groups/{ga}"), &ta)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g2["name"], "secret team");
}

#[tokio::test]
async fn listing_pages_by_500_with_link_next() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let root_id = tollgate_groups::GroupId::parse(&root).unwrap();
    for i in 0..1099 {
        let g = tollgate_groups::Group {
            id: tollgate_groups::GroupId::generate(1_700_000_000 + i).unwrap(),
            company_id: cred.company,
            name: format!("g{i}"),
            public: false,
            custom: None,
            parent_id: Some(root_id),
            extra: Default::default(),
        };
        app.group_store.insert_group(&g).await.unwrap();
    }
    let mut url = format!("{}/api/v2/groups", app.base);
    let mut seen = std::collections::HashSet::new();
    let mut pages = vec![];
    loop {
        let r = app
            .client
            .get(&url)
            .header("360-api-version", "v2.0")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let items: Vec<Value> = r.json().await.unwrap();
        pages.push(items.len());
        for g in &items {
            assert!(
                seen.insert(g["_id"].as_str().unwrap().to_owned()),
                "duplicate across pages"
            );
        }
        match link {
            Some(l) => {
                assert!(l.ends_with(">; rel=\"next\""), "{l}");
                url = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, vec![500, 500, 100]);
    assert_eq!(seen.len(), 1100);
}
