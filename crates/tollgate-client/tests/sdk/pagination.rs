//! `Link: rel="next"` pagination as a stream of items.

use std::collections::HashSet;

use serde_json::Value;
use tollgate_client::{Error, TryStreamExt};
use tollgate_groups::{Group, GroupId};

use crate::helpers;

#[tokio::test]
async fn pagination_over_more_than_500_groups_returns_every_item_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let api = helpers::api(&server, &cred);

    let first: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    let root = GroupId::parse(first[0]["_id"].as_str().unwrap()).unwrap();
    for i in 0..1099 {
        server
            .groups
            .insert_group(&Group {
                id: GroupId::generate(1_700_000_000 + i).unwrap(),
                company_id: cred.company,
                name: format!("g{i}"),
                public: false,
                custom: None,
                parent_id: Some(root),
                extra: Default::default(),
            })
            .await
            .unwrap();
    }

    let items: Vec<Value> = api.paginate("/api/v2/groups").try_collect().await.unwrap();
    assert_eq!(items.len(), 1100, "three pages: 500 + 500 + 100");
    let ids: HashSet<&str> = items.iter().map(|g| g["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1100, "no item twice");
    let names: HashSet<&str> = items.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!((0..1099).all(|i| names.contains(format!("g{i}").as_str())));
    assert_eq!(server.tokens_issued(), 1);

    // Items arrive one by one; dropping the stream early is fine.
    let mut stream = api.paginate::<Value>("/api/v2/groups");
    let mut n = 0;
    while let Some(_g) = stream.try_next().await.unwrap() {
        n += 1;
        if n == 600 {
            break;
        }
    }
    assert_eq!(n, 600);
}

#[tokio::test]
async fn pagination_errors_end_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let api = helpers::api(&server, &cred);
    let mut stream = api.paginate::<Value>("/api/v2/no-such-list");
    match stream.try_next().await {
        Err(Error::Api(e)) => assert_eq!((e.status, e.code.as_deref()), (404, Some("notFound"))),
        other => panic!("{other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none());
    // A page that is not a JSON array is a parse error.
    let mut stream = api.paginate::<Value>("/healthz");
    assert!(matches!(stream.try_next().await, Err(Error::Parse { .. })));
}
