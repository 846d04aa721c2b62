//! Issue 13, audit log: filters (action, credential, actor, days), pages by `seq`, CSV and NDJSON
//! exports, readable names in the panel; bad filters are 400 `invalidInput` and read nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::admin_setup;

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports() {
    let (_app, _company, p) = admin_setup().await;
    let mut ids = Vec::new();
    for label in ["Payroll", "Warehouse", "=cmd|' /C calc'!A0"] {
        let c: Value = p
            .json(
                Method::POST,
                "/admin/api/v1/credentials",
                Some(json!({"label": label, "scopes": ["groups:read"]})),
            )
            .await
            .1;
        ids.push(c["client_id"].as_str().unwrap().to_owned());
    }
    let r = p
        .req(
            Method::POST,
            &format!("/admin/api/v1/credentials/{}/rotate", ids[0]),
        )
        .json(&json!({"grace_seconds": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let get = |q: String| {
        let r = p.req(Method::GET, &format!("/admin/api/v1/audit{q}"));
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    // By action; by credential (its rotation's target has details after the ID).
    let (s, created) = get("?action=credential.created".into()).await;
    assert_eq!(s, 200);
    assert_eq!(created.as_array().unwrap().len(), 3);
    assert!(
        created
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action_label"] == "Credential created")
    );
    let (_, first) = get(format!("?credential={}", ids[0])).await;
    let actions: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["credential.rotated", "credential.created"]);
    let (_, by_ada) = get("?actor=user:ada@example.com&action=credential.rotated".into()).await;
    assert_eq!(by_ada.as_array().unwrap().len(), 1);
    let (_, none) = get("?actor=operator&action=credential.rotated".into()).await;
    assert_eq!(none, json!([]));
    let (_, future) = get("?since=2099-01-01".into()).await;
    assert_eq!(future, json!([]));

    // Pages: newest first, continued from the last entry's seq, no entry twice.
    let (_, all) = get(String::new()).await;
    let total = all.as_array().unwrap().len();
    assert!(total >= 5, "{all}");
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let q = match before {
            Some(b) => format!("?limit=2&before={b}"),
            None => "?limit=2".into(),
        };
        let (_, page) = get(q).await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        before = page.last().unwrap()["seq"].as_i64();
        seen.extend(page.into_iter().map(|e| e["seq"].as_i64().unwrap()));
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");

    // Bad filters: 400 in the envelope.
    for q in [
        "?action=credential.exploded",
        "?since=yesterday",
        "?limit=0",
        "?before=abc",
        "?colour=red",
    ] {
        let (s, body) = get(q.into()).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (400, Some("invalidInput")),
            "{q}: {body}"
        );
    }

    // The panel: words, labels, the CLI operator named; exports with the same filters.
    let html = p.text(&format!("/admin/audit?credential={}", ids[0])).await;
    assert!(
        html.contains(r#"<td data-label="What" title="credential.rotated">Secret rotated</td>"#),
        "{html}"
    );
    assert!(
        html.contains(&format!("{} (grace 60s) · Payroll", ids[0])),
        "{html}"
    );
    assert!(!html.contains("Warehouse</td>"), "filtered out");
    let csv = p
        .req(
            Method::GET,
            "/admin/audit/export?format=csv&action=credential.created",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("tollgate-audit.csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "seq,at,actor,action,target,remote_addr");
    assert_eq!(lines.len(), 4, "{text}");
    let nd = p.text("/admin/audit/export?format=ndjson").await;
    let parsed: Vec<Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), total);
    let r = p
        .req(Method::GET, "/admin/audit/export?format=xlsx")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_cli_operator_and_tollgate_itself_are_named_for_people() {
    let (app, company, p) = admin_setup().await;
    let accounts = tollgate_core::accounts::Accounts::new(app.store.clone(), app.clock.clone());
    accounts
        .record(
            tollgate_core::accounts::AdminActor::operator(company).event(
                tollgate_core::accounts::AuditAction::CompanyUpdated,
                "Acme",
                tollgate_core::clock::Clock::now(&*app.clock),
            ),
        )
        .await
        .unwrap();
    let html = p.text("/admin/audit?action=company.updated").await;
    assert!(html.contains("platform operator (CLI)"), "{html}");
}
