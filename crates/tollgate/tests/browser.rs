//! The admin panel in a real browser: `e2e/panel.test.mjs` (node's test runner, playwright-core
//! driving Debian's headless Chromium at `/usr/bin/chromium`) against the real binary.
//!
//! This test does what an operator does on an empty database — `tollgate company create`, `tollgate
//! user create` for an admin (generated password) and a member (`--password-stdin`), `tollgate
//! serve --listen 127.0.0.1:0` — then runs `node --test e2e/panel.test.mjs` with the server's URL,
//! the company id and both users' emails and passwords in its environment, and fails unless node
//! exits 0. The browser tests cover login, a credential's one-time secret (also when the browser
//! reloads the page that shows it), its tokens, editing its scopes, rotation with and without grace,
//! deletion, a member's refusal, forged cross-site POSTs (a credential, a login), HTML in labels,
//! the scope matrix's tools, every page's accessibility (axe-core, no horizontal overflow at 390 px,
//! skip link, 24 px targets, `<time>` tooltips) at 1280 and 390 px, and the credential limit; they
//! take screenshots of the main pages.
//!
//! Chromium and playwright-core are installed by `e2e/setup` (run by `.ci/run`); without them this
//! test fails and names that command. Screenshots go to a temporary folder; to refresh the ones in
//! the docs: `TOLLGATE_E2E_SCREENSHOTS=docs/screenshots cargo test -p tollgate --test browser`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const CHROMIUM: &str = "/usr/bin/chromium";
const SETUP: &str = "run `e2e/setup` from the repository root (it installs Debian's chromium when \
    /usr/bin/chromium is missing and playwright-core into e2e/node_modules with npm ci; .ci/run does \
    this before the tests)";
/// The whole browser suite takes about half a minute; this bounds a hung browser.
const NODE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `tollgate serve` may take to log that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The screenshots the suite takes, as `<name>.png`.
const SCREENSHOTS: &[&str] = &[
    "login",
    "credentials",
    "edit",
    "users",
    "audit",
    "member",
    "limit",
    "webhooks",
    "credentials-390",
    "edit-390",
    "webhooks-390",
];
const MEMBER_PASSWORD: &str = "member-password-for-e2e";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
}

/// `cmd` without any `TOLLGATE_*` variable inherited from the caller's environment.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TOLLGATE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
}

/// Fails the test, naming `e2e/setup`, when Chromium, node or the npm dependencies are missing.
fn check_prerequisites() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} not found: the browser tests need Debian's chromium; {SETUP}"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node not found on PATH (Node.js 20.19+ runs the browser tests): {:?}; then {SETUP}",
        node.err()
    );
    let e2e = repo_root().join("e2e");
    assert!(
        e2e.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in e2e/node_modules; {SETUP}"
    );
    let lock = std::fs::read(e2e.join("package-lock.json")).unwrap();
    let stamp = std::fs::read(e2e.join("node_modules/.stamp")).unwrap_or_default();
    assert!(
        lock == stamp,
        "e2e/node_modules was not installed from the current e2e/package-lock.json; {SETUP}"
    );
}

/// Removes terminal colour sequences (`ESC [ … m`) from a log line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a `tollgate` CLI command against `db` (with `stdin` if given) and parses its JSON output.
fn cli(db: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = clean_env(&mut Command::new(BIN))
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tollgate");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tollgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tollgate {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Keeps reading `from` to its end on a thread (so the child never writes to a closed pipe),
/// appending each line to `into` and handing it to `each`.
fn drain(
    from: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
    mut each: impl FnMut(&str) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            let line = strip_ansi(&line);
            each(&line);
            let mut log = into.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    })
}

/// `tollgate serve` on a free loopback port; killed on drop.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut child = clean_env(&mut Command::new(BIN))
            .arg("--database-url")
            .arg(format!("sqlite://{}", db.display()))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tollgate serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        drain(child.stderr.take().unwrap(), log.clone(), move |line| {
            // "… tollgate listening addr=127.0.0.1:PORT issuer=…"
            if line.contains("tollgate listening")
                && let Some(rest) = line.split("addr=").nth(1)
            {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(addr.to_owned());
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            log,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => server.base = format!("http://{addr}"),
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "tollgate serve did not log `tollgate listening addr=…` within {START_TIMEOUT:?} \
                     (exit status: {status:?}); its log:\n{}",
                    server.log()
                );
            }
        }
        server
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the suite writes its screenshots: `$TOLLGATE_E2E_SCREENSHOTS` (relative to the repository
/// root) to refresh the committed ones, else a folder of `tmp`.
fn screenshot_dir(tmp: &Path) -> PathBuf {
    match std::env::var_os("TOLLGATE_E2E_SCREENSHOTS") {
        Some(dir) if !dir.is_empty() => repo_root().join(dir),
        _ => tmp.join("screenshots"),
    }
}

struct NodeRun {
    success: bool,
    status: String,
    output: String,
    elapsed: Duration,
}

/// Runs `node --test panel.test.mjs` in `e2e/` with `envs`, killing it after [`NODE_TIMEOUT`].
fn run_node_suite(envs: &[(&str, String)]) -> NodeRun {
    let started = Instant::now();
    let mut cmd = Command::new("node");
    clean_env(&mut cmd)
        .args(["--test", "panel.test.mjs"])
        .current_dir(repo_root().join("e2e"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start node");
    let output = Arc::new(Mutex::new(String::new()));
    let readers = [
        drain(child.stdout.take().unwrap(), output.clone(), |_| {}),
        drain(child.stderr.take().unwrap(), output.clone(), |_| {}),
    ];
    let (success, status) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.success(), status.to_string());
        }
        if started.elapsed() > NODE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break (false, format!("killed after {NODE_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for r in readers {
        let _ = r.join();
    }
    NodeRun {
        success,
        status,
        output: output.lock().unwrap().clone(),
        elapsed: started.elapsed(),
    }
}

#[test]
fn admin_panel_in_a_real_browser() {
    check_prerequisites();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("browser.db");

    // From an empty database to a company with an admin and a member, as the README tells operators.
    let company = cli(
        &db,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "groups:read,groups:write,users:read",
            "--max-credentials",
            "10",
        ],
        None,
    );
    let company_id = company["id"].as_str().unwrap().to_owned();
    let admin_email = "admin@acme.test";
    let admin = cli(
        &db,
        &[
            "user",
            "create",
            "--company",
            &company_id,
            "--email",
            admin_email,
            "--role",
            "admin",
        ],
        None,
    );
    let admin_password = admin["password"]
        .as_str()
        .unwrap_or_else(|| panic!("user create printed no generated password: {admin}"))
        .to_owned();
    let member_email = "member@acme.test";
    let member = cli(
        &db,
        &[
            "user",
            "create",
            "--company",
            &company_id,
            "--email",
            member_email,
            "--role",
            "member",
            "--password-stdin",
        ],
        Some(&format!("{MEMBER_PASSWORD}\n")),
    );
    assert_eq!(member["role"], "member");
    assert!(
        member.get("password").is_none(),
        "a password given on stdin is printed back: {member}"
    );

    let server = Server::start(&db);
    let shots = screenshot_dir(dir.path());
    let run = run_node_suite(&[
        ("TOLLGATE_URL", server.base.clone()),
        ("TOLLGATE_COMPANY_ID", company_id),
        ("TOLLGATE_ADMIN_EMAIL", admin_email.to_owned()),
        ("TOLLGATE_ADMIN_PASSWORD", admin_password),
        ("TOLLGATE_MEMBER_EMAIL", member_email.to_owned()),
        ("TOLLGATE_MEMBER_PASSWORD", MEMBER_PASSWORD.to_owned()),
        ("E2E_SCREENSHOTS", shots.display().to_string()),
    ]);
    if !run.success {
        panic!(
            "the browser suite failed ({}) after {:.1?}\n--- node --test e2e/panel.test.mjs\n{}\n\
             --- tollgate serve's log\n{}",
            run.status,
            run.elapsed,
            run.output,
            server.log()
        );
    }
    for name in SCREENSHOTS {
        let png = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "no screenshot at {}",
            png.display()
        );
    }
    // How long changes took to reach the API (the tests' diagnostics) and node's closing lines
    // (tests / pass / fail / duration), for the record.
    let summary: Vec<&str> = run
        .output
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("# ") && !l.starts_with("# Subtest"))
        .collect();
    eprintln!(
        "browser suite passed in {:.1?} (whole test {:.1?}):\n{}",
        run.elapsed,
        started.elapsed(),
        summary.join("\n")
    );
}
