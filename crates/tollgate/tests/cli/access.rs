//! `credential create|update --expires-at / --allow-ip / --allow-any-ip`: stored, shown, audited,
//! and bad values refused with the reason (nothing changed).

use serde_json::{Value, json};

use super::{fails, ok_json};

#[test]
fn expiry_and_allowlist_are_set_shown_audited_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let company = ok_json(&db, &["company", "create", "--name", "Acme"]);
    let cid = company["id"].as_str().unwrap().to_owned();
    let created = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "Contractor",
            "--scopes",
            "groups:read",
            "--expires-at",
            "2099-01-31T18:00:00+01:00",
            "--allow-ip",
            "203.0.113.0/24,2001:db8::/32",
            "--allow-ip",
            "198.51.100.7",
        ],
    );
    assert_eq!(created["expires_at"], "2099-01-31T17:00:00Z", "{created}");
    assert_eq!(
        created["allowed_ips"],
        json!(["198.51.100.7/32", "203.0.113.0/24", "2001:db8::/32"])
    );
    let id = created["client_id"].as_str().unwrap().to_owned();

    let update = |args: &[&str]| ok_json(&db, &[&["credential", "update", &id][..], args].concat());
    let shown = update(&["--expires-at", "never", "--allow-any-ip"]);
    assert_eq!(
        (&shown["expires_at"], &shown["allowed_ips"]),
        (&Value::Null, &json!([]))
    );
    let shown = update(&["--allow-ip", "10.0.0.0/8"]);
    assert_eq!(shown["allowed_ips"], json!(["10.0.0.0/8"]));
    assert_eq!(shown["expires_at"], Value::Null, "untouched");

    let cmd = ["credential", "update", &id];
    fails(
        &db,
        &[&cmd[..], &["--expires-at", "tomorrow"]].concat(),
        "is not an RFC 3339 time",
    );
    fails(
        &db,
        &[&cmd[..], &["--expires-at", "2001-01-01T00:00:00Z"]].concat(),
        "expires_at must lie in the future",
    );
    fails(
        &db,
        &[&cmd[..], &["--allow-ip", "10.0.0.1/8"]].concat(),
        "did you mean 10.0.0.0/8",
    );
    fails(
        &db,
        &[&cmd[..], &["--allow-ip", "10.0.0.0/8", "--allow-any-ip"]].concat(),
        "cannot be used with",
    );
    let shown = ok_json(&db, &["credential", "show", &id]);
    assert_eq!(
        shown["allowed_ips"],
        json!(["10.0.0.0/8"]),
        "refusals changed nothing"
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
            .filter(|a| **a == "credential.expiry_set")
            .count(),
        2,
        "{audit}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "credential.allowlist_set")
            .count(),
        3,
        "{audit}"
    );
}

/// `company create|update --resource / --no-resources` and `credential create|update --resource /
/// --all-resources` (RFC 8707): stored, shown, audited, and a resource the company does not list or
/// that is not an absolute URI refused with the reason.
#[test]
fn resources_are_set_on_companies_and_credentials_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let billing = "https://billing.example";
    let reports = "urn:example:reports";
    let company = ok_json(
        &db,
        &["company", "create", "--name", "Acme", "--resource", billing],
    );
    assert_eq!(company["resources"], json!([billing]), "{company}");
    let cid = company["id"].as_str().unwrap().to_owned();
    let company = ok_json(
        &db,
        &[
            "company",
            "update",
            &cid,
            "--resource",
            &format!("{billing},{reports}"),
        ],
    );
    assert_eq!(company["resources"], json!([billing, reports]));

    let created = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &cid,
            "--label",
            "Billing",
            "--scopes",
            "groups:read",
            "--resource",
            billing,
        ],
    );
    assert_eq!(created["resources"], json!([billing]), "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let shown = ok_json(&db, &["credential", "update", &id, "--all-resources"]);
    assert_eq!(shown["resources"], Value::Null, "all of the company's");
    let shown = ok_json(&db, &["credential", "update", &id, "--resource", reports]);
    assert_eq!(shown["resources"], json!([reports]));

    fails(
        &db,
        &[
            "credential",
            "update",
            &id,
            "--resource",
            "https://other.example",
        ],
        "https://other.example is not one of the company's resources",
    );
    fails(
        &db,
        &["company", "update", &cid, "--resource", "billing.example"],
        "is not an absolute URI",
    );
    fails(
        &db,
        &[
            "credential",
            "update",
            &id,
            "--resource",
            reports,
            "--all-resources",
        ],
        "cannot be used with",
    );
    assert_eq!(
        ok_json(&db, &["credential", "show", &id])["resources"],
        json!([reports]),
        "refusals changed nothing"
    );
    let company = ok_json(&db, &["company", "update", &cid, "--no-resources"]);
    assert_eq!(company["resources"], json!([]));

    let audit = ok_json(&db, &["audit", "list", "--company", &cid]);
    let set = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "credential.resources_set")
        .count();
    assert_eq!(set, 3, "create, --all-resources, --resource: {audit}");
}
