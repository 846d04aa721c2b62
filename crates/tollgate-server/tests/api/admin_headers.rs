//! The headers every admin response carries (panel pages, their assets, the admin API).

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::admin_setup;

#[tokio::test]
async fn admin_responses_carry_the_security_headers() {
    let (app, _company, p) = admin_setup().await;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // A panel page: no inline code allowed, no framing, nothing cached, sniffed or referred.
    let page = app
        .client
        .get(format!("{}/admin/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        header(&page, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&page, "referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-store"));
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<style") && !html.contains("onclick="),
        "{html}"
    );
    // Its stylesheet and script come from the panel itself.
    for (path, kind) in [
        ("/admin/assets/panel.css", "text/css"),
        ("/admin/assets/panel.js", "text/javascript"),
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            header(&r, "content-type").unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(
            header(&r, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    // An admin API answer that carries a client secret is never stored by a cache.
    let created = p
        .req(Method::POST, "/admin/api/v1/credentials")
        .json(&json!({"label": "Payroll", "scopes": ["groups:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        header(&created, "cache-control").as_deref(),
        Some("no-store")
    );
    let id = created.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{id}/rotate"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    assert_eq!(
        header(&rotated, "cache-control").as_deref(),
        Some("no-store")
    );
}
