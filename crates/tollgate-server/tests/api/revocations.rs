//! The revocation feed (`GET /api/v2/oauth2/revocations`): who may read it, the snapshot on
//! connect, events as the directory changes, resuming from a cursor, a fresh snapshot for a
//! cursor that is not this server's.

use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::{self, TestApp, VERSION_HEADER, error_of};

const FEED: &str = "/api/v2/oauth2/revocations";

/// Reads SSE messages (`(event, id, data)`) from `resp` until `done` says so, or fails after 5 s.
async fn read_until(
    resp: &mut Response,
    mut done: impl FnMut(&[(String, String, Value)]) -> bool,
) -> Vec<(String, String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    let mut messages = Vec::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("feed message in time")
            .expect("read")
            .expect("stream open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                    event = v.into();
                } else if let Some(v) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                    id = v.into();
                } else if let Some(v) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                    data.push_str(v);
                }
            }
            if !data.is_empty() {
                messages.push((event, id, serde_json::from_str(&data).unwrap()));
            }
        }
        if done(&messages) {
            return messages;
        }
    }
}

async fn subscriber_token(app: &TestApp) -> String {
    let company = app.company("tollgate:revocations").await;
    let cred = app.credential_in(company, "tollgate:revocations").await;
    app.token(&cred).await
}

async fn open(app: &TestApp, token: &str, cursor: Option<&str>) -> Response {
    let mut req = app
        .client
        .get(format!("{}{FEED}", app.base))
        .header(VERSION_HEADER, "v2.0")
        .bearer_auth(token);
    if let Some(c) = cursor {
        req = req.header("last-event-id", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_feed_needs_a_token_with_the_reserved_scope() {
    let app = helpers::spawn().await;
    let r = app
        .client
        .get(format!("{}{FEED}", app.base))
        .header(VERSION_HEADER, "v2.0")
        .send()
        .await
        .unwrap();
    let (status, body, www) = error_of(r).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(www.as_deref(), Some("Bearer realm=\"tollgate\""));

    let r = open(&app, "not-a-jwt", None).await;
    let (status, _, www) = error_of(r).await;
    assert_eq!(status, 401);
    assert!(www.unwrap().contains("error=\"invalid_token\""));

    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;
    let (status, body, www) = error_of(open(&app, &token, None).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "invalid_scope");
    assert!(www.unwrap().contains("scope=\"tollgate:revocations\""));

    // Like the API, the feed needs the version header.
    let feed_token = subscriber_token(&app).await;
    let r = app
        .client
        .get(format!("{}{FEED}", app.base))
        .bearer_auth(&feed_token)
        .send()
        .await
        .unwrap();
    let (status, body, _) = error_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "missingApiVersion");

    // The demo default leaves the reserved scope out: only the operator grants it.
    let demo = app.admin.create_company("Demo", None, None).await.unwrap();
    assert!(!demo.scopes.contains_str("tollgate:revocations"));
}

#[tokio::test]
async fn a_snapshot_then_events_and_a_cursor_resumes_after_what_it_saw() {
    let app = helpers::spawn().await;
    let feed_token = subscriber_token(&app).await;
    let cred = app.credential("groups:read").await;
    let token = app.token(&cred).await;

    let mut resp = open(&app, &feed_token, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let first = read_until(&mut resp, |m| !m.is_empty()).await;
    let (event, snapshot_id, snap) = &first[0];
    assert_eq!(event, "snapshot");
    assert_eq!(snap["type"], "snapshot");
    let listed = snap["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == cred.client_id.as_str())
        .expect("the credential is in the snapshot");
    assert_eq!(listed["scopes"], json!(["groups:read"]));
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
    assert!(
        snap["companies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["company_id"] == cred.company.to_string().as_str())
    );

    // A revocation through RFC 7009 arrives as an event.
    let r = app
        .client
        .post(format!("{}/api/v2/oauth2/revoke", app.base))
        .form(&[
            ("token", token.as_str()),
            ("client_id", &cred.client_id),
            ("client_secret", &cred.secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = read_until(&mut resp, |m| m.iter().any(|(e, _, _)| e == "revoked")).await;
    let (_, revoked_id, revoked) = got.iter().find(|(e, _, _)| e == "revoked").unwrap();
    assert!(revoked["jti"].as_str().is_some_and(|j| !j.is_empty()));
    drop(resp);

    // While disconnected: the credential is deleted. Resuming from the snapshot's cursor replays
    // the revocation and the deletion, without a snapshot.
    app.admin
        .delete_credential(&tollgate_core::ids::ClientId::parse(&cred.client_id).unwrap())
        .await
        .unwrap();
    let mut resp = open(&app, &feed_token, Some(snapshot_id)).await;
    let got = read_until(&mut resp, |m| {
        m.iter().any(|(e, _, _)| e == "credential_deleted")
    })
    .await;
    assert!(got.iter().all(|(e, _, _)| e != "snapshot"), "{got:?}");
    assert!(got.iter().any(|(e, _, v)| e == "revoked" && v == revoked));
    assert!(
        got.iter()
            .any(|(e, _, v)| e == "credential_deleted" && v["client_id"] == cred.client_id.as_str())
    );
    drop(resp);

    // From the revocation's cursor: only what followed it.
    let mut resp = open(&app, &feed_token, Some(revoked_id)).await;
    let got = read_until(&mut resp, |m| {
        m.iter().any(|(e, _, _)| e == "credential_deleted")
    })
    .await;
    assert!(
        got.iter()
            .all(|(e, _, _)| e != "snapshot" && e != "revoked"),
        "{got:?}"
    );
    drop(resp);

    // A cursor of another boot (or node) gets a fresh snapshot.
    let mut resp = open(&app, &feed_token, Some("0000000000000000-1")).await;
    let got = read_until(&mut resp, |m| !m.is_empty()).await;
    assert_eq!(got[0].0, "snapshot");
    assert!(
        got[0].2["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["jti"] == revoked["jti"] && r["exp"] == revoked["exp"])
    );
}

#[tokio::test]
async fn an_open_feed_does_not_hold_up_shutdown() {
    let app = helpers::spawn().await;
    let feed_token = subscriber_token(&app).await;
    let mut resp = open(&app, &feed_token, None).await;
    read_until(&mut resp, |m| !m.is_empty()).await;
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("the server stops with a feed open");
}

#[tokio::test]
async fn a_feed_ends_when_its_subscriber_credential_is_deleted() {
    let app = helpers::spawn().await;
    let company = app.company("tollgate:revocations").await;
    let cred = app.credential_in(company, "tollgate:revocations").await;
    let feed_token = app.token(&cred).await;
    let mut resp = open(&app, &feed_token, None).await;
    read_until(&mut resp, |m| !m.is_empty()).await;
    app.admin
        .delete_credential(&tollgate_core::ids::ClientId::parse(&cred.client_id).unwrap())
        .await
        .unwrap();
    // The stream ends (the events of the deletion itself may come first).
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while resp.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended");
    let (status, _, _) = error_of(open(&app, &feed_token, None).await).await;
    assert_eq!(status, 401, "and the token no longer opens one");
}

#[tokio::test]
async fn at_most_64_feeds_are_open_at_once() {
    let app = helpers::spawn().await;
    let feed_token = subscriber_token(&app).await;
    let mut open_feeds = Vec::new();
    for _ in 0..64 {
        let r = open(&app, &feed_token, None).await;
        assert_eq!(r.status(), 200);
        open_feeds.push(r);
    }
    let r = open(&app, &feed_token, None).await;
    assert_eq!(r.headers()["retry-after"], "5");
    let (status, body, _) = error_of(r).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "serviceUnavailable");
    // A closed feed gives its slot back.
    drop(open_feeds.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = open(&app, &feed_token, None).await;
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
