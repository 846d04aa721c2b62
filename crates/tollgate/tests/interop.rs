//! Interoperability: the real `tollgate` binary (`serve --demo` on a fresh SQLite file per test)
//! driven by off-the-shelf clients, one test case per client:
//!
//! - curl running the reference documentation's two commands as written (`interop/curl/`);
//! - Python Authlib, client_secret_basic and client_secret_post (`interop/python/authlib_client.py`);
//! - Node openid-client 6 with discovery, and jose (`interop/node/openid_client.mjs`);
//! - the Rust `oauth2` crate, in process, over our own reqwest;
//! - PyJWT validating tokens offline against the JWKS across key rotations made with the CLI
//!   (`interop/python/pyjwt_verify.py`).
//!
//! The Python and Node clients are installed by `interop/setup` (run by `.ci/run`); without them
//! these tests fail and name that command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const SETUP: &str = "run `interop/setup` from the repository root (it installs Authlib and PyJWT into \
    interop/python/.deps and openid-client and jose into interop/node/node_modules; .ci/run does this \
    before the tests)";
/// How long one external client may run before the test gives up on it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
}

fn interop_dir() -> PathBuf {
    repo_root().join("interop")
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// A `tollgate serve --demo` child process with its own database; killed on drop.
struct Server {
    child: Child,
    base: String,
    client_id: String,
    client_secret: String,
    company_id: String,
    db: PathBuf,
    http: reqwest::Client,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// `cmd` without any `TOLLGATE_*` variable inherited from the caller's environment.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TOLLGATE_") {
            cmd.env_remove(k);
        }
    }
    // Loopback traffic must never go through a proxy configured on the machine.
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
}

/// Reads the pretty-printed JSON object the demo prints on stdout.
fn read_demo_json(stdout: &mut impl BufRead) -> Result<Value, String> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("demo output ended early: {text:?}"));
        }
        text.push_str(&line);
        if line.trim_end() == "}" {
            break;
        }
    }
    serde_json::from_str(&text).map_err(|e| format!("demo output not JSON ({e}): {text}"))
}

/// Keeps reading `from` to its end on a thread, so the child never writes to a closed pipe.
fn drain(from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            let mut log = into.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    })
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("interop.db");
        let log = Arc::new(Mutex::new(String::new()));
        let (db2, log2) = (db.clone(), log.clone());
        let (child, demo) = tokio::task::spawn_blocking(move || {
            let mut child = clean_env(&mut Command::new(BIN))
                .arg("--database-url")
                .arg(format!("sqlite://{}", db2.display()))
                .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tollgate");
            drain(child.stderr.take().unwrap(), log2.clone());
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            let demo = read_demo_json(&mut stdout).unwrap_or_else(|e| {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "tollgate serve --demo: {e}\n--- its log\n{}",
                    log2.lock().unwrap()
                )
            });
            drain(stdout, log2);
            (child, demo)
        })
        .await
        .unwrap();
        let token_url = demo["token_url"].as_str().unwrap();
        let server = Server {
            child,
            base: token_url
                .strip_suffix("/api/v2/oauth2/token")
                .unwrap()
                .to_owned(),
            client_id: demo["client_id"].as_str().unwrap().to_owned(),
            client_secret: demo["client_secret"].as_str().unwrap().to_owned(),
            company_id: demo["company_id"].as_str().unwrap().to_owned(),
            db,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            log,
            _dir: dir,
        };
        // Ready when the demo credential gets a token.
        let start = Instant::now();
        loop {
            if let Ok(r) = server.token_request().await
                && r.status() == 200
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tollgate never issued a token to the demo client; log:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        server
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token_request(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url("/api/v2/oauth2/token"))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "groups:read",
            }))
            .send()
            .await
    }

    async fn token(&self) -> String {
        let r = self.token_request().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    async fn jwks_kids(&self) -> Vec<String> {
        let v: Value = self
            .http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs a `tollgate` CLI command against this server's database and parses its JSON output.
    async fn cli(&self, args: &[&str]) -> Value {
        let db = self.db.clone();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let out = tokio::task::spawn_blocking(move || {
            clean_env(&mut Command::new(BIN))
                .arg("--database-url")
                .arg(format!("sqlite://{}", db.display()))
                .args(&args)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "tollgate CLI failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Environment handed to every external client.
    fn client_env(&self) -> [(&'static str, &str); 3] {
        [
            ("TOLLGATE_URL", self.base.as_str()),
            ("TOLLGATE_CLIENT_ID", self.client_id.as_str()),
            ("TOLLGATE_CLIENT_SECRET", self.client_secret.as_str()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    header_of(token)["kid"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// External clients

/// `python3` set up to import the pinned packages from `interop/python/.deps`.
fn python(script: &str) -> Command {
    let dir = interop_dir().join("python");
    let deps = dir.join(".deps");
    let installed = std::fs::read(deps.join(".stamp")).ok();
    let wanted = std::fs::read(dir.join("requirements.txt")).unwrap();
    assert!(
        installed.as_ref() == Some(&wanted),
        "the Python interop clients are {} ({}): {SETUP}",
        if installed.is_some() {
            "installed from an older interop/python/requirements.txt"
        } else {
            "not installed"
        },
        deps.display()
    );
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join(script))
        .env("PYTHONPATH", &deps)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// `node` for a script of `interop/node`, whose packages come from its `node_modules`.
fn node(script: &str) -> Command {
    let dir = interop_dir().join("node");
    let modules = dir.join("node_modules");
    let installed = std::fs::read(modules.join(".stamp")).ok();
    let wanted = std::fs::read(dir.join("package-lock.json")).unwrap();
    assert!(
        installed.as_ref() == Some(&wanted),
        "the Node interop clients are {} ({}): {SETUP}",
        if installed.is_some() {
            "installed from an older interop/node/package-lock.json"
        } else {
            "not installed"
        },
        modules.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).current_dir(dir);
    cmd
}

struct Ran {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The client's JSON output, once it has exited 0.
    fn json(&self, server: &Server) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "{} failed\n--- stdout\n{}\n--- stderr\n{}\n--- tollgate log\n{}",
            self.what,
            self.stdout,
            self.stderr,
            server.log()
        );
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: output is not JSON ({e})\n{}\n--- stderr\n{}",
                self.what, self.stdout, self.stderr
            )
        })
    }
}

/// Runs an external client to its end (killed after [`CLIENT_TIMEOUT`]).
async fn run(mut cmd: Command, server: &Server, extra_env: &[(&str, &str)]) -> Ran {
    clean_env(&mut cmd);
    cmd.envs(server.client_env())
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}; {SETUP}"));
        let (out, err) = (
            Arc::new(Mutex::new(String::new())),
            Arc::new(Mutex::new(String::new())),
        );
        let readers = [
            drain(child.stdout.take().unwrap(), out.clone()),
            drain(child.stderr.take().unwrap(), err.clone()),
        ];
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() > CLIENT_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in readers {
            r.join().unwrap();
        }
        let stdout = out.lock().unwrap().clone();
        let stderr = err.lock().unwrap().clone();
        Ran {
            what: if status.is_none() {
                format!("{what} (killed after {CLIENT_TIMEOUT:?})")
            } else {
                what
            },
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
        }
    })
    .await
    .unwrap()
}

fn assert_demo_groups(groups: &Value) {
    let groups = groups
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {groups}"));
    assert!(groups.len() >= 4, "root and demo groups: {groups:?}");
    for g in groups {
        assert!(g["_id"].is_string() && g["name"].is_string() && g["public"].is_boolean());
    }
    assert!(groups.iter().any(|g| g["name"] == "Demo Company"));
}

// ---------------------------------------------------------------------------------------------
// curl

/// A command of `interop/curl/`, with the reference's host and placeholders replaced.
fn reference_command(file: &str, replace: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(interop_dir().join("curl").join(file)).unwrap();
    let mut text = text.replace("https://app.360learning.com", "{BASE}");
    for (from, to) in replace {
        assert_eq!(
            text.matches(from).count(),
            1,
            "{file} must hold {from} once, as the reference writes it"
        );
        text = text.replace(from, to);
    }
    text
}

#[tokio::test]
async fn curl_runs_the_reference_commands_as_written() {
    let srv = Server::start().await;
    let step1 = reference_command(
        "1-create-access-token.sh",
        &[
            ("{BASE}", &srv.base),
            ("your_client_ID", &srv.client_id),
            ("your_client_secret", &srv.client_secret),
        ],
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &step1]);
    let token = run(bash, &srv, &[]).await.json(&srv);
    assert_eq!(token["token_type"], "Bearer", "{token}");
    // A full hour, or less when an earlier request of the same credential and scopes is answered
    // again by token reuse (expires_in: the time left).
    assert!(
        (3590..=3600).contains(&token["expires_in"].as_i64().unwrap()),
        "{}",
        token["expires_in"]
    );
    let scope = token["scope"].as_str().unwrap();
    assert!(scope.split(' ').any(|s| s == "groups:read"), "{scope}");
    let access_token = token["access_token"].as_str().unwrap();
    assert_eq!(header_of(access_token)["typ"], "at+jwt");

    let step2 = reference_command(
        "2-authenticated-request.sh",
        &[("{BASE}", &srv.base), ("your_access_token", access_token)],
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &step2]);
    assert_demo_groups(&run(bash, &srv, &[]).await.json(&srv));
}

// ---------------------------------------------------------------------------------------------
// Python: Authlib

async fn authlib(method: &str) {
    let srv = Server::start().await;
    let out = run(
        python("authlib_client.py"),
        &srv,
        &[("TOLLGATE_AUTH_METHOD", method)],
    )
    .await
    .json(&srv);
    assert_eq!(out["auth_method"], method);
    let token = &out["token"];
    assert_eq!(token["token_type"], "Bearer", "{token}");
    // A full hour, or less when an earlier request of the same credential and scopes is answered
    // again by token reuse (expires_in: the time left).
    assert!(
        (3590..=3600).contains(&token["expires_in"].as_i64().unwrap()),
        "{}",
        token["expires_in"]
    );
    assert_eq!(token["scope"], "groups:read");
    assert_demo_groups(&out["groups"]);

    let access_token = out["access_token"].as_str().unwrap();
    let i = &out["introspection"];
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], srv.client_id.as_str());
    assert_eq!(i["sub"], srv.client_id.as_str());
    assert_eq!(i["scope"], "groups:read");
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["iss"], srv.base.as_str());
    assert_eq!(i["company_id"], srv.company_id.as_str());
    assert_eq!(
        i["exp"].as_i64().unwrap() - i["iat"].as_i64().unwrap(),
        3600
    );
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        i["jti"], claims["jti"],
        "introspected the token it was given"
    );

    assert_eq!(out["revoke_status"], 200);
    assert_eq!(
        out["introspection_after_revocation"],
        json!({"active": false})
    );
    assert_eq!(out["api_status_after_revocation"], 401);
    assert_eq!(out["wrong_secret_error"], "invalid_client");
}

#[tokio::test]
async fn authlib_client_secret_basic_token_api_call_introspection() {
    authlib("client_secret_basic").await;
}

#[tokio::test]
async fn authlib_client_secret_post_token_api_call_introspection() {
    authlib("client_secret_post").await;
}

// ---------------------------------------------------------------------------------------------
// Node: openid-client 6 (+ jose)

#[tokio::test]
async fn openid_client_discovers_the_issuer_then_grants_and_calls() {
    let srv = Server::start().await;
    let out = run(node("openid_client.mjs"), &srv, &[]).await.json(&srv);
    let meta = &out["server_metadata"];
    assert_eq!(meta["issuer"], srv.base.as_str());
    assert_eq!(
        meta["token_endpoint"],
        srv.url("/api/v2/oauth2/token").as_str()
    );
    assert_eq!(out["rfc8414_issuer"], srv.base.as_str());

    // openid-client normalises token_type to lower case.
    assert_eq!(out["token"]["token_type"], "bearer", "{}", out["token"]);
    assert_eq!(out["token"]["scope"], "groups:read");
    let expires_in = out["token"]["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(out["groups_status"], 200);
    assert_demo_groups(&out["groups"]);

    // client_secret_basic without a scope: every scope of the credential.
    let scope = out["basic_token"]["scope"].as_str().unwrap();
    assert!(scope.split(' ').count() > 10 && scope.contains("groups:write"));
    // A full hour, or less when an earlier request of the same credential and scopes is answered
    // again by token reuse (expires_in: the time left).
    assert!(
        (3590..=3600).contains(&out["basic_token"]["expires_in"].as_i64().unwrap()),
        "{}",
        out["basic_token"]["expires_in"]
    );

    let i = &out["introspection"];
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], srv.client_id.as_str());
    assert_eq!(i["scope"], "groups:read");

    let jose = &out["jose"];
    assert_eq!(jose["header"]["alg"], "ES256");
    assert_eq!(jose["header"]["typ"], "at+jwt");
    assert_eq!(
        vec![jose["header"]["kid"].as_str().unwrap().to_owned()],
        srv.jwks_kids().await
    );
    assert_eq!(jose["claims"]["client_id"], srv.client_id.as_str());
    assert_eq!(jose["claims"]["company_id"], srv.company_id.as_str());

    assert_eq!(out["wrong_secret_error"]["error"], "invalid_client");
    assert_eq!(out["wrong_secret_error"]["status"], 401);
}

// ---------------------------------------------------------------------------------------------
// Rust: the oauth2 crate, in process

/// What the oauth2 crate sent, as the HTTP closure saw it.
#[derive(Debug, Clone)]
struct Sent {
    content_type: String,
    basic: bool,
    body: String,
}

/// An oauth2 `AsyncHttpClient` over our reqwest 0.13 that records what it sends.
fn oauth2_http(
    http: reqwest::Client,
    sent: Arc<Mutex<Vec<Sent>>>,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<
    Box<dyn Future<Output = Result<oauth2::HttpResponse, std::io::Error>> + Send>,
> {
    move |request: oauth2::HttpRequest| {
        let http = http.clone();
        let sent = sent.clone();
        Box::pin(async move {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            sent.lock().unwrap().push(Sent {
                content_type: header("content-type"),
                basic: header("authorization").starts_with("Basic "),
                body: String::from_utf8_lossy(request.body()).into_owned(),
            });
            let request = reqwest::Request::try_from(request).map_err(std::io::Error::other)?;
            let response = http.execute(request).await.map_err(std::io::Error::other)?;
            let mut builder = oauth2::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(std::io::Error::other)?;
            builder.body(body.to_vec()).map_err(std::io::Error::other)
        })
    }
}

#[tokio::test]
async fn rust_oauth2_crate_client_credentials_over_form_and_basic() {
    use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
    use oauth2::{
        AuthType, ClientId, ClientSecret, IntrospectionUrl, RequestTokenError, Scope,
        TokenIntrospectionResponse, TokenResponse, TokenUrl,
    };

    let srv = Server::start().await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let client_http = oauth2_http(http.clone(), sent.clone());
    let client = BasicClient::new(ClientId::new(srv.client_id.clone()))
        .set_client_secret(ClientSecret::new(srv.client_secret.clone()))
        .set_token_uri(TokenUrl::new(srv.url("/api/v2/oauth2/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(srv.url("/api/v2/oauth2/introspect")).unwrap())
        .set_auth_type(AuthType::BasicAuth);

    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("groups:read".into()))
        .request_async(&client_http)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", srv.log()));
    let request = sent.lock().unwrap()[0].clone();
    assert_eq!(request.content_type, "application/x-www-form-urlencoded");
    assert!(request.basic, "client_secret_basic: {request:?}");
    assert!(!request.body.contains("client_secret"), "{request:?}");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(
        token.scopes().unwrap(),
        &vec![Scope::new("groups:read".into())]
    );

    let r = http
        .get(srv.url("/api/v2/groups"))
        .header("360-api-version", "v2.0")
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_demo_groups(&r.json().await.unwrap());

    let info = client
        .introspect(token.access_token())
        .request_async(&client_http)
        .await
        .unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().unwrap().as_str(), srv.client_id);
    assert_eq!(
        info.scopes().unwrap(),
        &vec![Scope::new("groups:read".into())]
    );

    // client_secret_post works the same.
    let post = client.clone().set_auth_type(AuthType::RequestBody);
    let token = post
        .exchange_client_credentials()
        .request_async(&client_http)
        .await
        .unwrap();
    assert!(!token.access_token().secret().is_empty());
    let request = sent.lock().unwrap().last().unwrap().clone();
    assert!(!request.basic && request.body.contains("client_secret="));

    // A wrong secret comes back as the server's RFC 6749 §5.2 error, parsed by the crate.
    let wrong = client.set_client_secret(ClientSecret::new("tgsec_wrong".into()));
    match wrong
        .exchange_client_credentials()
        .request_async(&client_http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient)
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// PyJWT: offline validation against the JWKS, across key rotations

/// `pyjwt_verify.py` kept running: one token in, one JSON verdict out.
struct Verifier {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Verifier {
    fn start(srv: &Server) -> Verifier {
        let mut cmd = python("pyjwt_verify.py");
        clean_env(&mut cmd);
        let mut child = cmd
            .envs(srv.client_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3: {e}; {SETUP}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().unwrap(), stderr.clone());
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Verifier {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    fn verify(&mut self, token: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{token}").unwrap();
        stdin.flush().unwrap();
        match self.lines.recv_timeout(CLIENT_TIMEOUT) {
            Ok(line) => serde_json::from_str(&line).unwrap(),
            Err(RecvTimeoutError::Timeout) => panic!("PyJWT verifier gave no answer"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("PyJWT verifier exited: {}", self.stderr.lock().unwrap())
            }
        }
    }

    fn verified(&mut self, token: &str) -> Value {
        let v = self.verify(token);
        assert_eq!(v["ok"], true, "PyJWT refused a tollgate token: {v}");
        v
    }

    /// Closes its stdin and checks it ends cleanly.
    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "{status:?}: {}",
            self.stderr.lock().unwrap()
        );
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls the token endpoint (up to 2 s) until the server signs with `kid`.
async fn token_signed_by(srv: &Server, kid: &str) -> String {
    let start = Instant::now();
    loop {
        let token = srv.token().await;
        if kid_of(&token) == kid {
            return token;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the server still signs with {} 2 s after `key rotate` made {kid} current",
            kid_of(&token)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pyjwt_validates_tokens_offline_across_key_rotations() {
    let srv = Server::start().await;
    let mut verifier = Verifier::start(&srv);

    let first = srv.token().await;
    let v = verifier.verified(&first);
    assert_eq!(
        vec![v["kid"].as_str().unwrap().to_owned()],
        srv.jwks_kids().await
    );
    assert_eq!(
        (v["alg"].as_str(), v["typ"].as_str()),
        (Some("ES256"), Some("at+jwt"))
    );
    let claims = &v["claims"];
    assert_eq!(claims["iss"], srv.base.as_str());
    assert_eq!(claims["aud"], srv.base.as_str());
    assert_eq!(claims["client_id"], srv.client_id.as_str());
    assert_eq!(claims["company_id"], srv.company_id.as_str());
    assert_eq!(claims["scope"], "groups:read");

    // It really verifies: the same signature over other claims is refused.
    let parts: Vec<&str> = first.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["scope"] = json!("groups:read groups:write");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    let v = verifier.verify(&forged);
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Signature"), "{v}");

    // Rotations by the CLI, against the running server's database: first as the issue says (the
    // current key's algorithm, ES256), then to the other two algorithms tollgate signs with.
    let mut tokens = vec![first];
    for alg in [None, Some("EdDSA"), Some("RS256")] {
        let mut args = vec!["key", "rotate", "--overlap", "3600"];
        args.extend(alg.iter().flat_map(|a| ["--alg", *a]));
        let rotated = srv.cli(&args).await;
        let kid = rotated["kid"].as_str().unwrap().to_owned();
        assert_eq!(rotated["alg"], alg.unwrap_or("ES256"));

        let token = token_signed_by(&srv, &kid).await;
        let kids = srv.jwks_kids().await;
        assert!(kids.contains(&kid), "{kid} published: {kids:?}");
        assert_eq!(kids.len(), tokens.len() + 1, "previous keys stay published");

        let v = verifier.verified(&token);
        assert_eq!(v["kid"], kid.as_str());
        assert_eq!(v["alg"], alg.unwrap_or("ES256"));
        assert_eq!(v["claims"]["client_id"], srv.client_id.as_str());
        // Tokens signed with the previous keys stay valid during the overlap.
        for old in &tokens {
            verifier.verified(old);
        }
        tokens.push(token);
    }
    verifier.finish();
}

// ---------------------------------------------------------------------------------------------
// The README shows what these tests run

#[test]
fn readme_shows_the_snippets_the_tests_run() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for (file, comment) in [
        ("python/authlib_client.py", "#"),
        ("python/pyjwt_verify.py", "#"),
        ("node/openid_client.mjs", "//"),
    ] {
        let text = std::fs::read_to_string(interop_dir().join(file)).unwrap();
        let begin = format!("{comment} readme:begin\n");
        let end = format!("{comment} readme:end\n");
        let start = text
            .find(&begin)
            .unwrap_or_else(|| panic!("{file}: no {begin:?}"))
            + begin.len();
        let len = text[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("{file}: no {end:?}"));
        let snippet = &text[start..start + len];
        assert!(
            readme.contains(snippet),
            "README.md must show the snippet of interop/{file} verbatim:\n{snippet}"
        );
    }
}
