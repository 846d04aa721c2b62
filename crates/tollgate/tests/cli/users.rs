//! `tollgate user list | reset-password | delete` (issue 13): never a password hash on stdout, a
//! reset ends the user's sessions and the old password, the last admin stays, every change audited.

use std::sync::Arc;

use serde_json::Value;
use tollgate_core::accounts::Accounts;
use tollgate_core::clock::SystemClock;

use super::{fails, ok_json, run_with_stdin};

async fn accounts(db: &std::path::Path) -> Accounts {
    let store = tollgate_store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    Accounts::new(store, Arc::new(SystemClock))
}

#[tokio::test]
async fn users_are_listed_reset_and_deleted_and_the_last_admin_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let cid = ok_json(&db, &["company", "create", "--name", "Acme"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = |email: &str, role: &str| {
        ok_json(
            &db,
            &[
                "user",
                "create",
                "--company",
                &cid,
                "--email",
                email,
                "--role",
                role,
            ],
        )
    };
    let admin = create("ada@example.com", "admin");
    let member = create("bob@example.com", "member");
    let member_id = member["id"].as_str().unwrap().to_owned();
    let old_password = member["password"].as_str().unwrap().to_owned();

    let list = ok_json(&db, &["user", "list", "--company", &cid]);
    let mut emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    // Users made in one second come in id order.
    emails.sort_unstable();
    assert_eq!(emails, ["ada@example.com", "bob@example.com"]);
    assert!(!list.to_string().contains("argon2"), "no hash: {list}");
    fails(
        &db,
        &["user", "list", "--company", "000000000000000000000000"],
        "company not found",
    );

    // A session of the member's, then a reset: the session and the old password are dead.
    let session = accounts(&db)
        .await
        .login("bob@example.com", &old_password, None)
        .await
        .unwrap();
    let reset = run_with_stdin(
        &db,
        &[
            "user",
            "reset-password",
            "--company",
            &cid,
            &member_id,
            "--password-stdin",
        ],
        "a brand new passphrase\n",
    );
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let shown: Value = serde_json::from_str(&reset.stdout).unwrap();
    assert_eq!(shown["email"], "bob@example.com");
    assert!(
        shown.get("password").is_none(),
        "a password from stdin is not echoed"
    );
    let a = accounts(&db).await;
    assert!(
        a.session(&session.token).await.is_err(),
        "the session ended"
    );
    assert!(
        a.login("bob@example.com", &old_password, None)
            .await
            .is_err()
    );
    a.login("bob@example.com", "a brand new passphrase", None)
        .await
        .unwrap();
    // Without stdin a password is generated and printed once.
    let generated = ok_json(
        &db,
        &["user", "reset-password", "--company", &cid, &member_id],
    );
    let p = generated["password"].as_str().unwrap();
    a.login("bob@example.com", p, None).await.unwrap();
    fails(
        &db,
        &["user", "reset-password", "--company", &cid, "nonsense"],
        "user not found",
    );

    // The last admin stays; the member goes.
    let admin_id = admin["id"].as_str().unwrap();
    fails(
        &db,
        &["user", "delete", "--company", &cid, admin_id],
        "a company must keep at least one owner or admin",
    );
    assert_eq!(
        ok_json(&db, &["user", "delete", "--company", &cid, &member_id])["deleted"],
        member_id.as_str()
    );
    assert_eq!(
        ok_json(&db, &["user", "list", "--company", &cid])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let audit = ok_json(&db, &["audit", "list", "--company", &cid]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "user.password_reset")
            .count(),
        2
    );
    assert!(actions.contains(&"user.removed"));
    assert!(!audit.to_string().contains("brand new"));
}
