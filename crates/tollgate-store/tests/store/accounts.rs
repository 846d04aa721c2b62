//! People: the rule that a company keeps an owner or admin holds under concurrent changes, on both
//! backends (the check and the write are one atomic step in the store).

use std::sync::Arc;

use tollgate_core::accounts::{AccountError, Accounts, AdminActor, Email, Role, User, UserId};
use tollgate_core::ids::{CompanyId, ObjectId};

use crate::helpers::{Backend, Env, T0, env};

/// A user stored directly (the password hash is never checked here: no Argon2 work).
async fn user(e: &Env, company: &CompanyId, n: usize, role: Role) -> UserId {
    let id = UserId(ObjectId::generate(T0).unwrap());
    e.store
        .insert_user(&User {
            id,
            company_id: *company,
            email: Email::parse(&format!("user{n}-{id}@example.com")).unwrap(),
            role,
            password_hash: "not-a-hash".into(),
            created_at: T0,
        })
        .await
        .unwrap();
    id
}

async fn admins(e: &Env, company: &CompanyId) -> usize {
    e.store
        .list_users(company)
        .await
        .unwrap()
        .iter()
        .filter(|u| u.role.is_admin())
        .count()
}

async fn the_last_admin_survives_concurrent_demotions_and_removals(b: Backend) {
    let e = env(b).await;
    let accounts = Arc::new(Accounts::new(e.store.clone(), e.clock.clone()));
    for round in 0..12 {
        let company = e.company("groups:read", None).await;
        let a = user(&e, &company.id, 0, Role::Admin).await;
        let o = user(&e, &company.id, 1, Role::Owner).await;
        user(&e, &company.id, 2, Role::Member).await;
        let by = AdminActor::operator(company.id);
        // Both admins at once: demote both (even rounds) or demote one and remove the other.
        let (x, y) = if round % 2 == 0 {
            let (x, y) = tokio::join!(
                accounts.set_role(&by, &a, Role::Member),
                accounts.set_role(&by, &o, Role::Member)
            );
            (x.map(drop), y.map(drop))
        } else {
            let (x, y) = tokio::join!(
                accounts.set_role(&by, &a, Role::Member),
                accounts.remove_user(&by, &o)
            );
            (x.map(drop), y)
        };
        let refused = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(AccountError::LastAdmin)))
            .count();
        assert_eq!(
            refused, 1,
            "round {round}: exactly one change must be refused: {x:?} {y:?}"
        );
        assert!(x.is_ok() || y.is_ok(), "round {round}: {x:?} {y:?}");
        assert_eq!(admins(&e, &company.id).await, 1, "round {round}");
    }
}

async fn the_last_admin_cannot_be_demoted_or_removed_and_nothing_changes(b: Backend) {
    let e = env(b).await;
    let accounts = Accounts::new(e.store.clone(), e.clock.clone());
    let company = e.company("groups:read", None).await;
    let admin = user(&e, &company.id, 0, Role::Admin).await;
    let member = user(&e, &company.id, 1, Role::Member).await;
    let by = AdminActor::operator(company.id);
    assert!(matches!(
        accounts.set_role(&by, &admin, Role::Member).await,
        Err(AccountError::LastAdmin)
    ));
    assert!(matches!(
        accounts.remove_user(&by, &admin).await,
        Err(AccountError::LastAdmin)
    ));
    assert_eq!(admins(&e, &company.id).await, 1);
    // An admin may change to another admin role, and members come and go freely.
    accounts.set_role(&by, &admin, Role::Owner).await.unwrap();
    accounts.set_role(&by, &member, Role::Admin).await.unwrap();
    accounts.set_role(&by, &admin, Role::Member).await.unwrap();
    accounts.remove_user(&by, &admin).await.unwrap();
    assert_eq!(admins(&e, &company.id).await, 1);
    // Unknown users are not found, not "last admin".
    let ghost = UserId(ObjectId::generate(T0).unwrap());
    assert!(matches!(
        e.store.set_user_role(&ghost, Role::Member).await,
        Err(tollgate_core::store::StoreError::NotFound)
    ));
    assert!(matches!(
        e.store.delete_user(&ghost).await,
        Err(tollgate_core::store::StoreError::NotFound)
    ));
}

on_both_backends! {
    the_last_admin_survives_concurrent_demotions_and_removals multi_thread,
    the_last_admin_cannot_be_demoted_or_removed_and_nothing_changes,
}
