//! Groups: create, read, update, move, delete within a company, the root group, paging.

use std::collections::HashSet;

use tollgate_core::clock::Clock as _;
use tollgate_core::ids::CompanyId;
use tollgate_groups::{Group, GroupError, GroupId, GroupPatch, NewGroup, PAGE_SIZE};

use crate::helpers::{Backend, Env, T0, env, new_group};

async fn groups_create_get_update_within_a_company(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let mut extra = serde_json::Map::new();
    extra.insert("description".into(), serde_json::json!("people"));
    extra.insert("url".into(), serde_json::Value::Null);
    let g = e
        .groups
        .create(
            &c.id,
            NewGroup {
                name: "Sales".into(),
                public: true,
                custom: Some("c".into()),
                parent_id: root.id,
                extra,
            },
        )
        .await
        .unwrap();
    assert_eq!(g.parent_id, Some(root.id));
    assert_eq!(g.company_id, c.id);
    assert!(!g.extra.contains_key("url"), "null extras are dropped");
    assert_eq!(e.groups.get(&c.id, &g.id).await.unwrap(), g);

    let mut patch = GroupPatch {
        name: Some("Sales EU".into()),
        public: Some(false),
        custom: Some(None),
        ..GroupPatch::default()
    };
    patch
        .extra
        .insert("url".into(), serde_json::json!("https://x.test"));
    patch
        .extra
        .insert("description".into(), serde_json::Value::Null);
    let updated = e.groups.update(&c.id, &g.id, patch).await.unwrap();
    assert_eq!(updated.name, "Sales EU");
    assert!(!updated.public);
    assert_eq!(updated.custom, None);
    assert_eq!(
        updated.extra.get("url"),
        Some(&serde_json::json!("https://x.test"))
    );
    assert!(!updated.extra.contains_key("description"));
    assert_eq!(e.groups.get(&c.id, &g.id).await.unwrap(), updated);

    // Making it public while it carries a private-only field is refused.
    let r = e
        .groups
        .update(
            &c.id,
            &g.id,
            GroupPatch {
                public: Some(true),
                ..GroupPatch::default()
            },
        )
        .await;
    assert!(
        matches!(r, Err(GroupError::NotOnPublicGroup { field: "url", .. })),
        "{r:?}"
    );

    // Unknown parent.
    let r = e
        .groups
        .create(&c.id, new_group("x", GroupId::generate(T0).unwrap()))
        .await;
    assert!(matches!(r, Err(GroupError::ParentGroupNotFound)), "{r:?}");
    let r = e.groups.get(&c.id, &GroupId::generate(T0).unwrap()).await;
    assert!(matches!(r, Err(GroupError::GroupNotFound)), "{r:?}");
}

async fn another_companys_groups_read_as_missing(b: Backend) {
    let e = env(b).await;
    let a = e.company("groups:read", None).await;
    let b = e.company("groups:read", None).await;
    let a_root = e.root(&a.id).await;
    let b_root = e.root(&b.id).await;
    let ga = e.group(&a.id, &a_root.id, "A's").await;
    let gb = e.group(&b.id, &b_root.id, "B's").await;

    assert!(matches!(
        e.groups.get(&b.id, &ga.id).await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups.get(&b.id, &a_root.id).await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups
            .update(
                &b.id,
                &ga.id,
                GroupPatch {
                    name: Some("hijacked".into()),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups.delete(&b.id, &ga.id).await,
        Err(GroupError::GroupNotFound)
    ));
    // Nor can another company's group be a parent, on create or on move.
    assert!(matches!(
        e.groups.create(&b.id, new_group("x", ga.id)).await,
        Err(GroupError::ParentGroupNotFound)
    ));
    assert!(matches!(
        e.groups
            .update(
                &b.id,
                &gb.id,
                GroupPatch {
                    parent_id: Some(ga.id),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::ParentGroupNotFound)
    ));
    // The store itself also scopes by company.
    assert!(e.group_store.delete_group(&b.id, &ga.id).await.is_err());
    assert_eq!(e.groups.get(&a.id, &ga.id).await.unwrap(), ga);
    let b_page = e.groups.list(&b.id, None).await.unwrap();
    let b_ids: HashSet<GroupId> = b_page.groups.iter().map(|g| g.id).collect();
    assert_eq!(b_ids, HashSet::from([b_root.id, gb.id]));
}

async fn root_group_rules(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let child = e.group(&c.id, &root.id, "child").await;
    assert!(matches!(
        e.groups.delete(&c.id, &root.id).await,
        Err(GroupError::GroupIsRoot)
    ));
    assert!(matches!(
        e.groups
            .update(
                &c.id,
                &root.id,
                GroupPatch {
                    parent_id: Some(child.id),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::GroupIsRoot)
    ));
    assert!(matches!(
        e.groups
            .update(
                &c.id,
                &root.id,
                GroupPatch {
                    public: Some(true),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::RootGroupNotPublic)
    ));
    // The root can be renamed.
    let renamed = e
        .groups
        .update(
            &c.id,
            &root.id,
            GroupPatch {
                name: Some("Top".into()),
                ..GroupPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.parent_id, None);
    assert_eq!(e.root(&c.id).await.name, "Top");
}

async fn a_group_cannot_move_under_itself_or_a_descendant(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let a = e.group(&c.id, &root.id, "a").await;
    let b = e.group(&c.id, &a.id, "b").await;
    let d = e.group(&c.id, &b.id, "d").await;
    let sibling = e.group(&c.id, &root.id, "sibling").await;
    let move_to = |parent: GroupId| GroupPatch {
        parent_id: Some(parent),
        ..GroupPatch::default()
    };
    for parent in [a.id, b.id, d.id] {
        let r = e.groups.update(&c.id, &a.id, move_to(parent)).await;
        assert!(
            matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
            "{parent}: {r:?}"
        );
    }
    let r = e.groups.update(&c.id, &b.id, move_to(d.id)).await;
    assert!(
        matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
        "{r:?}"
    );
    let r = e
        .groups
        .update(&c.id, &a.id, move_to(GroupId::generate(T0).unwrap()))
        .await;
    assert!(matches!(r, Err(GroupError::ParentGroupNotFound)), "{r:?}");
    assert_eq!(
        e.groups.get(&c.id, &a.id).await.unwrap().parent_id,
        Some(root.id)
    );

    // Legal moves work: a leaf up to the root, a subtree under a sibling.
    let moved = e
        .groups
        .update(&c.id, &d.id, move_to(root.id))
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(root.id));
    let moved = e
        .groups
        .update(&c.id, &a.id, move_to(sibling.id))
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(sibling.id));
    // And now `sibling` may not go under `b`, its new descendant.
    let r = e.groups.update(&c.id, &sibling.id, move_to(b.id)).await;
    assert!(
        matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
        "{r:?}"
    );
}

async fn deleting_a_group_deletes_its_descendants(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let other = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let a = e.group(&c.id, &root.id, "a").await;
    let b = e.group(&c.id, &a.id, "b").await;
    let b2 = e.group(&c.id, &a.id, "b2").await;
    let d = e.group(&c.id, &b.id, "d").await;
    let keep = e.group(&c.id, &root.id, "keep").await;
    let keep_child = e.group(&c.id, &keep.id, "keep child").await;
    let other_root = e.root(&other.id).await;
    let other_g = e.group(&other.id, &other_root.id, "other").await;

    e.groups.delete(&c.id, &a.id).await.unwrap();
    for gone in [a.id, b.id, b2.id, d.id] {
        assert!(
            matches!(
                e.groups.get(&c.id, &gone).await,
                Err(GroupError::GroupNotFound)
            ),
            "{gone} should be gone"
        );
    }
    let left: HashSet<GroupId> = e
        .groups
        .list(&c.id, None)
        .await
        .unwrap()
        .groups
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(left, HashSet::from([root.id, keep.id, keep_child.id]));
    assert_eq!(e.groups.get(&other.id, &other_g.id).await.unwrap(), other_g);
    assert!(matches!(
        e.groups.delete(&c.id, &a.id).await,
        Err(GroupError::GroupNotFound)
    ));
}

async fn insert_groups(e: &Env, company: &CompanyId, parent: GroupId, n: usize) {
    for i in 0..n {
        let g = Group {
            id: GroupId::generate(e.clock.now()).unwrap(),
            company_id: *company,
            name: format!("group {i}"),
            public: i % 2 == 0,
            custom: None,
            parent_id: Some(parent),
            extra: serde_json::Map::new(),
        };
        e.group_store.insert_group(&g).await.unwrap();
    }
    // Written around the service: the change feed tells the group cache, as on another node.
    e.directory.sync(&*e.store, e.clock.now()).await.unwrap();
}

async fn groups_are_paged_by_id_without_gaps_or_duplicates(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let other = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    insert_groups(&e, &c.id, root.id, 1200).await;
    let other_root = e.root(&other.id).await;
    insert_groups(&e, &other.id, other_root.id, 3).await;

    let mut seen = Vec::new();
    let mut after: Option<GroupId> = None;
    let mut sizes = Vec::new();
    loop {
        let page = e.groups.list(&c.id, after.as_ref()).await.unwrap();
        sizes.push(page.groups.len());
        assert!(page.groups.len() <= PAGE_SIZE as usize);
        assert!(page.groups.iter().all(|g| g.company_id == c.id));
        seen.extend(page.groups.iter().map(|g| g.id));
        match page.next_after {
            Some(next) => {
                assert_eq!(Some(next), page.groups.last().map(|g| g.id));
                after = Some(next);
            }
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, vec![500, 500, 201]);
    assert_eq!(seen.len(), 1201);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        1201,
        "no duplicates"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert!(seen.contains(&root.id));
}

async fn a_full_last_page_has_no_next_page(b: Backend) {
    let e = env(b).await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    insert_groups(&e, &c.id, root.id, PAGE_SIZE as usize - 1).await;
    let page = e.groups.list(&c.id, None).await.unwrap();
    assert_eq!(page.groups.len(), PAGE_SIZE as usize);
    assert!(page.next_after.is_none(), "exactly one page of groups");
    // Continuing after the last id gives an empty page.
    let last = page.groups.last().unwrap().id;
    let page = e.groups.list(&c.id, Some(&last)).await.unwrap();
    assert!(page.groups.is_empty() && page.next_after.is_none());
}

on_both_backends! {
    groups_create_get_update_within_a_company,
    another_companys_groups_read_as_missing,
    root_group_rules,
    a_group_cannot_move_under_itself_or_a_descendant,
    deleting_a_group_deletes_its_descendants,
    groups_are_paged_by_id_without_gaps_or_duplicates,
    a_full_last_page_has_no_next_page,
}
