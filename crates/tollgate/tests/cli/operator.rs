//! Issue 17, the CLI explaining itself: the scope catalog with descriptions, a notice when a
//! command creates a new database file, errors that name the database and the address, `--listen`
//! forms, and a closed pipe ending quietly.

use std::process::{Command, Stdio};

use super::{BIN, ok_json, run};

#[test]
fn scopes_list_shows_the_catalog_with_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tollgate.toml");
    std::fs::write(
        &config,
        "extra_scopes = [\"invoices:read\"]\n[scope_descriptions]\ninvoices = \"Invoices and credit notes\"\n",
    )
    .unwrap();
    let db = dir.path().join("never-created.db");
    let list = ok_json(
        &db,
        &["--config", config.to_str().unwrap(), "scopes", "list"],
    );
    let find = |s: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["scope"] == s)
            .unwrap_or_else(|| panic!("{s} in {list}"))
            .clone()
    };
    let g = find("groups:read");
    assert_eq!(
        (&g["resource"], &g["action"], &g["reserved"]),
        (&"groups".into(), &"read".into(), &false.into())
    );
    assert!(
        g["description"]
            .as_str()
            .unwrap()
            .starts_with("Groups of users")
    );
    assert_eq!(find("credentials:manage")["reserved"], true);
    assert_eq!(
        find("invoices:read")["description"],
        "Invoices and credit notes"
    );
    assert!(!db.exists(), "scopes list needs no database");
}

#[test]
fn a_new_database_is_announced_and_errors_name_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let first = run(&db, &["company", "list"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!(
            "creating a new database sqlite://{}",
            db.display()
        )),
        "{}",
        first.stderr
    );
    let again = run(&db, &["company", "list"]);
    assert!(!again.stderr.contains("creating"), "{}", again.stderr);
    // "company not found" says which database it looked in, once.
    let o = run(
        &db,
        &[
            "credential",
            "list",
            "--company",
            "0123456789abcdef01234567",
        ],
    );
    assert_ne!(o.code, 0);
    let name = format!("database sqlite://{}", db.display());
    assert_eq!(o.stderr.matches(&name).count(), 1, "{}", o.stderr);
    assert!(o.stderr.contains("company not found"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "one line: {}", o.stderr);
}

#[test]
fn listen_forms_and_a_taken_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let o = run(&db, &["serve", "--listen", "8080x"]);
    assert_eq!(o.code, 2, "a usage error: {}", o.stderr);
    assert!(o.stderr.contains("PORT (8080), :PORT"), "{}", o.stderr);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let o = run(&db, &["serve", "--listen", &port.to_string()]);
    assert_ne!(o.code, 0);
    let want = format!("cannot listen on 127.0.0.1:{port}");
    assert_eq!(o.stderr.matches(&want).count(), 1, "{}", o.stderr);
    assert!(o.stderr.contains("--listen"), "{}", o.stderr);
    drop(taken);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["scopes", "list"])
        .env_remove("TOLLGATE_DATABASE_URL")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the command writes (as `| head -0` would).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
