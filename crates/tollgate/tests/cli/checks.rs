//! Issue 17: `tollgate config check` (the values in force, each with its origin, secrets hidden,
//! exit 1 when invalid) and `tollgate doctor` (one line per check, exit 1 on a failure).

use std::path::Path;
use std::process::Command;

use super::{BIN, Out, ok_json};

/// `tollgate ARGS` with no `TOLLGATE_*` variable but `env`.
fn tg(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TOLLGATE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.args(args).envs(env.iter().copied()).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The line of `key` in `config check`'s output.
fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no line for {key} in\n{out}"))
}

#[test]
fn config_check_shows_each_value_with_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tollgate.toml");
    std::fs::write(
        &config,
        "token_ttl = 600\nredis_url = \"redis://:hunter2@127.0.0.1:6379/0\"\n\
         [rate_limits]\ntoken_per_client_per_minute = 5\n",
    )
    .unwrap();
    let o = tg(
        &[
            "config",
            "check",
            "--config",
            config.to_str().unwrap(),
            "--database-url",
            "postgres://tg:pw-of-the-db@db.internal/tollgate",
        ],
        &[("TOLLGATE_LISTEN", "9999")],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let out = &o.stdout;
    assert!(
        out.starts_with("# tollgate configuration: valid\n"),
        "{out}"
    );
    assert!(line(out, "token_ttl").ends_with("# file"), "{out}");
    assert!(
        line(out, "rate_limits.token_per_client_per_minute").ends_with("# file"),
        "{out}"
    );
    let listen = line(out, "listen");
    assert!(
        listen.starts_with("listen = \"127.0.0.1:9999\"")
            && listen.ends_with("# env TOLLGATE_LISTEN"),
        "{listen}"
    );
    let db = line(out, "database_url");
    assert!(
        db.contains("postgres://tg:***@db.internal/tollgate")
            && db.ends_with("# flag --database-url"),
        "{db}"
    );
    assert!(line(out, "max_body_bytes").ends_with("# default"), "{out}");
    assert!(
        line(out, "rate_limits.enabled").ends_with("# default"),
        "{out}"
    );
    assert!(out.contains("# issuer (unset)"), "{out}");
    assert!(
        !out.contains("hunter2") && !out.contains("pw-of-the-db"),
        "no password is printed: {out}"
    );
    // What it prints is itself a configuration file giving the same settings.
    let back = tollgate_server::Settings::from_toml_str(out).unwrap();
    assert_eq!(back.token_ttl, 600);
    assert_eq!(back.listen.port(), 9999);
    assert_eq!(back.rate_limits.token_per_client_per_minute, 5);

    // The flag beats the environment, and says so.
    let o = tg(
        &["config", "check", "--listen", "7777"],
        &[("TOLLGATE_LISTEN", "9999")],
    );
    assert!(
        line(&o.stdout, "listen").ends_with("# flag --listen"),
        "{}",
        o.stdout
    );
}

#[test]
fn config_check_refuses_what_serve_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "token_ttl = 0\n").unwrap();
    let o = tg(
        &["config", "check", "--config", config.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.starts_with("# tollgate configuration: INVALID: "),
        "{}",
        o.stdout
    );
    assert!(
        o.stderr.contains("token_ttl must be between 1 and 86400"),
        "{}",
        o.stderr
    );
    // The documented example names TLS files this machine does not have: refused, naming them.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tollgate.example.toml");
    let o = tg(
        &["config", "check", "--config", example.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stderr.contains("/etc/tollgate/"), "{}", o.stderr);
    // An unknown key: the file and the key are named.
    std::fs::write(&config, "token_tll = 600\n").unwrap();
    let o = tg(
        &["config", "check", "--config", config.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("bad.toml") && o.stderr.contains("token_tll"),
        "{}",
        o.stderr
    );
}

/// The status of `what` in doctor's output.
fn status<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.get(6..).is_some_and(|r| r.starts_with(what)))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {what} line in\n{out}"))
}

#[test]
fn doctor_reports_each_check_and_fails_on_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let url = format!("sqlite://{}", db.display());
    let doctor = |extra: &[&str]| {
        let mut args = vec!["doctor", "--database-url", &url, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        tg(&args, &[])
    };
    // Nothing yet: a warning, and doctor creates nothing.
    let o = doctor(&[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(status(&o.stdout, "config"), "ok");
    assert_eq!(status(&o.stdout, "database"), "warn");
    assert!(o.stdout.contains("does not exist yet"), "{}", o.stdout);
    assert_eq!(status(&o.stdout, "listen"), "ok");
    assert_eq!(status(&o.stdout, "clock"), "ok");
    assert!(!db.exists());

    ok_json(&db, &["migrate"]);
    let o = doctor(&[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(status(&o.stdout, "database"), "ok");
    assert!(o.stdout.contains("migrations applied"), "{}", o.stdout);
    assert_eq!(status(&o.stdout, "keys at rest"), "warn");
    assert_eq!(status(&o.stdout, "signing keys"), "warn");
    let key = ok_json(&db, &["key", "rotate"]);
    let o = doctor(&[]);
    assert_eq!(status(&o.stdout, "signing keys"), "ok");
    assert!(
        o.stdout.contains(key["kid"].as_str().unwrap()),
        "{}",
        o.stdout
    );

    // Redis: the local one answers; a closed port fails the run.
    let o = doctor(&["--redis-url", "redis://127.0.0.1:6379/0"]);
    assert_eq!(status(&o.stdout, "redis"), "ok", "{}", o.stdout);
    let o = doctor(&["--redis-url", "redis://127.0.0.1:1/0"]);
    assert_eq!(o.code, 1);
    assert_eq!(status(&o.stdout, "redis"), "FAIL");
    assert!(o.stderr.contains("doctor found a problem"), "{}", o.stderr);

    // A database migrated by a newer tollgate.
    let python = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) VALUES (99991231000001, 'future', 1, x'00', 0)\"); c.commit()",
            db.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(python.success());
    let o = doctor(&[]);
    assert_eq!(o.code, 1);
    assert_eq!(status(&o.stdout, "database"), "FAIL");
    assert!(o.stdout.contains("newer tollgate"), "{}", o.stdout);

    // A database that cannot be reached is named, without its password.
    let o = tg(
        &[
            "doctor",
            "--database-url",
            "postgres://tg:pw-of-the-db@127.0.0.1:1/tollgate",
        ],
        &[],
    );
    assert_eq!(o.code, 1);
    assert_eq!(status(&o.stdout, "database"), "FAIL");
    assert!(
        o.stdout.contains("postgres://tg:***@127.0.0.1:1/tollgate") && !o.stdout.contains("pw-of"),
        "{}",
        o.stdout
    );
}

#[test]
fn doctor_compares_the_clock_with_postgresql() {
    let o = tg(
        &[
            "doctor",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/postgres",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(status(&o.stdout, "clock"), "ok", "{}", o.stdout);
    assert!(
        o.stdout.contains("of the database server's"),
        "{}",
        o.stdout
    );
}

#[test]
fn token_and_call_do_not_list_the_database_flags_they_ignore() {
    for sub in ["token", "call"] {
        let help = tg(&[sub, "--help"], &[]);
        assert_eq!(help.code, 0, "{}", help.stderr);
        for flag in ["--database-url", "--config", "--secrets-key-file"] {
            assert!(!help.stdout.contains(flag), "{sub} --help lists {flag}");
        }
        assert!(help.stdout.contains("--client-id"), "{}", help.stdout);
    }
    let company = tg(&["company", "--help"], &[]);
    assert!(
        company.stdout.contains("--database-url"),
        "{}",
        company.stdout
    );
    // Still accepted where a script puts them, before or after the subcommand: the request is
    // tried (and fails: nothing listens there), not refused as a usage error.
    for args in [
        &["--database-url", "sqlite://x.db", "token"][..],
        &["token", "--database-url", "sqlite://x.db"][..],
    ] {
        let mut all = args.to_vec();
        all.extend([
            "--url",
            "http://127.0.0.1:1",
            "--client-id",
            "x",
            "--client-secret",
            "y",
            "--timeout",
            "1",
        ]);
        let o = tg(&all, &[]);
        assert_eq!(o.code, 1, "{all:?}: {}", o.stderr);
        assert!(o.stderr.contains("network error"), "{}", o.stderr);
    }
}
