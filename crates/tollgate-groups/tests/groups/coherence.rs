//! What the groups need of tollgate and get only through its public surface: the root group made
//! on first use (companies are created without one), and the cached first page kept coherent
//! across nodes by the change feed (`Directory::follow`).

use std::sync::Arc;

use tollgate_core::directory::Directory;
use tollgate_core::ids::CompanyId;
use tollgate_groups::GroupError;

use crate::helpers::{Backend, T0, env, groups_over, new_group, root_of};

async fn a_company_gets_one_root_group_on_first_use_even_when_nodes_race(b: Backend) {
    let e = env(b).await;
    let c = e
        .admin
        .create_company("Acme Corp", None, None)
        .await
        .unwrap();
    // Two more nodes, each with its own pool, ask at the same time as this one.
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let directory = Arc::new(Directory::new());
        directory.sync(&*e.store, T0).await.unwrap();
        nodes.push(groups_over(&e.url, &e.clock, &directory).await.1);
    }
    let (r0, r1, r2) = tokio::join!(
        root_of(&e.groups, &c.id),
        root_of(&nodes[0], &c.id),
        root_of(&nodes[1], &c.id),
    );
    assert_eq!(r0, r1);
    assert_eq!(r0, r2);
    assert_eq!(r0.parent_id, None);
    assert_eq!(r0.company_id, c.id);
    assert_eq!(r0.name, "Acme Corp", "named after the company");
    assert!(!r0.public);
    // A company that does not exist has no groups, and none is made for it.
    let ghost = CompanyId::generate(T0).unwrap();
    assert!(matches!(
        e.groups.list(&ghost, None).await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(
        e.group_store
            .list_groups(&ghost, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_write_on_another_node_reaches_the_cached_first_page_through_the_feed(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let other_dir = Arc::new(Directory::new());
    other_dir.sync(&*e.store, T0).await.unwrap();
    let (_, other) = groups_over(&e.url, &e.clock, &other_dir).await;

    // This node has the first page cached; the other node adds a group.
    let before = e.groups.list(&c.id, None).await.unwrap();
    let added = other
        .create(&c.id, new_group("Sales", root.id))
        .await
        .unwrap();
    let cached = e.groups.list(&c.id, None).await.unwrap();
    assert!(
        Arc::ptr_eq(&before, &cached),
        "served from the cache until the feed says otherwise"
    );
    // The feed's `groups` entry for the company makes the page stale.
    e.directory.sync(&*e.store, T0).await.unwrap();
    let fresh = e.groups.list(&c.id, None).await.unwrap();
    assert!(fresh.groups.iter().any(|g| g.id == added.id), "{fresh:?}");

    // This node's own writes show at once, without a sync; the other node, whose first page is
    // cached, hears of them through its feed.
    let other_before = other.list(&c.id, None).await.unwrap();
    let mine = e.group(&c.id, &root.id, "Marketing").await;
    let page = e.groups.list(&c.id, None).await.unwrap();
    assert!(page.groups.iter().any(|g| g.id == mine.id));
    assert!(Arc::ptr_eq(
        &other_before,
        &other.list(&c.id, None).await.unwrap()
    ));
    other_dir.sync(&*e.store, T0).await.unwrap();
    let seen = other.list(&c.id, None).await.unwrap();
    assert!(seen.groups.iter().any(|g| g.id == mine.id), "{seen:?}");
}

on_both_backends! {
    a_company_gets_one_root_group_on_first_use_even_when_nodes_race,
    a_write_on_another_node_reaches_the_cached_first_page_through_the_feed,
}
