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

#[test]
fn roles_in_any_case_suggestions_for_typos_and_no_event_for_an_update_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let c = ok_json(
        &db,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read,groups:write",
        ],
    );
    let company = c["id"].as_str().unwrap().to_owned();
    let u = ok_json(
        &db,
        &[
            "user",
            "create",
            "--company",
            &company,
            "--email",
            "a@example.com",
            "--role",
            "Admin",
        ],
    );
    assert_eq!(u["role"], "admin");
    let o = run(
        &db,
        &[
            "user",
            "create",
            "--company",
            &company,
            "--email",
            "b@example.com",
            "--role",
            "admn",
        ],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("a similar value exists: 'admin'"),
        "{}",
        o.stderr
    );
    let o = run(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &company,
            "--label",
            "x",
            "--scopes",
            "groups:reed",
        ],
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("did you mean groups:read?"),
        "{}",
        o.stderr
    );
    let o = run(&db, &["credentail", "list"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("'credential'") && o.stderr.contains("similar"),
        "{}",
        o.stderr
    );

    let cred = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--company",
            &company,
            "--label",
            "x",
            "--scopes",
            "groups:read",
        ],
    );
    let id = cred["client_id"].as_str().unwrap().to_owned();
    let events = |db: &std::path::Path| {
        ok_json(db, &["audit", "list", "--company", &company])
            .as_array()
            .unwrap()
            .len()
    };
    let before = events(&db);
    ok_json(&db, &["credential", "update", &id, "--label", "x"]);
    ok_json(&db, &["company", "update", &company, "--name", "Acme"]);
    assert_eq!(events(&db), before, "nothing changed, nothing audited");
    ok_json(&db, &["credential", "update", &id, "--label", "y"]);
    assert_eq!(events(&db), before + 1);

    // The audit log of a company that does not exist is an error, not an empty list.
    let o = run(
        &db,
        &["audit", "list", "--company", "0123456789abcdef01234567"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("company not found"), "{}", o.stderr);
}

#[test]
fn completions_and_the_man_page_come_from_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let bash = run(&db, &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("complete -F _tollgate") && bash.stdout.contains("credential"));
    // bash itself parses the script.
    let script = dir.path().join("tollgate.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let checked = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for (shell, needle) in [
        ("zsh", "#compdef tollgate"),
        ("fish", "complete -c tollgate"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = run(&db, &["completions", shell]);
        assert_eq!(o.code, 0, "{shell}: {}", o.stderr);
        assert!(o.stdout.contains(needle), "{shell}");
    }
    let o = run(&db, &["completions", "tcsh"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let man = run(&db, &["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH tollgate"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    for sub in ["serve", "credential", "scopes", "completions"] {
        assert!(man.stdout.contains(sub), "{sub} in the man page");
    }
    assert!(!db.exists(), "no database touched");
}
