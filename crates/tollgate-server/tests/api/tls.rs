//! Built-in TLS: tokens over HTTPS with HTTP/2 (ALPN) and HTTP/1.1, HSTS, `Secure` cookies, real
//! clients (reqwest, curl, Python's ssl), certificate reload on a file change and on SIGHUP that
//! leaves open connections alone, and refusals (bad files, mismatched key, no handshake).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_server::{Settings, TlsSettings};

use crate::helpers::{TestApp, spawn_with, until};

/// A CA and a server certificate it signed, for `127.0.0.1` and `localhost`.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(name: &str) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the certificate and key where the server reads them (each replaced in one rename).
    fn install(&self, files: &Files) {
        replace(&files.cert, self.cert_pem.as_bytes());
        replace(&files.key, self.key_pem.as_bytes());
    }

    fn ca_file(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }

    /// A reqwest client that trusts this CA only.
    fn client(&self, http1_only: bool) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap()])
            .https_only(true)
            .timeout(Duration::from_secs(5));
        if http1_only {
            b = b.http1_only();
        }
        b.build().unwrap()
    }

    /// A rustls client configuration that trusts this CA only, offering HTTP/1.1.
    fn connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The server's certificate and key files.
struct Files {
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            dir,
        }
    }

    fn settings(&self) -> TlsSettings {
        TlsSettings::new(self.cert.clone(), self.key.clone())
    }
}

async fn spawn_tls(files: &Files, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let tls = files.settings();
    spawn_with(move |s| {
        s.tls = Some(tls);
        tweak(s);
    })
    .await
}

/// `https://127.0.0.1:PORT` of an app served over TLS.
fn https(app: &TestApp) -> String {
    app.base.replacen("http://", "https://", 1)
}

async fn token_over(client: &reqwest::Client, base: &str, app: &TestApp) -> reqwest::Response {
    let cred = app.credential("groups:read").await;
    client
        .post(format!("{base}/api/v2/oauth2/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.secret,
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tokens_are_served_over_https_with_http2_and_http1_and_hsts() {
    let pki = Pki::new("one");
    let files = Files::new();
    pki.install(&files);
    let app = spawn_tls(&files, |_| {}).await;
    let base = https(&app);

    let h2 = token_over(&pki.client(false), &base, &app).await;
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.version(), reqwest::Version::HTTP_2, "ALPN chose h2");
    assert_eq!(
        h2.headers()["strict-transport-security"].to_str().unwrap(),
        "max-age=31536000"
    );
    let token = h2.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let h1 = token_over(&pki.client(true), &base, &app).await;
    assert_eq!(h1.status(), 200);
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);

    // The token works on the API over TLS; the issuer is https by default.
    let groups = pki
        .client(false)
        .get(format!("{base}/api/v2/groups"))
        .header("360-api-version", "v2.0")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.status(), 200);
    let meta: Value = pki
        .client(false)
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], base.as_str());
    assert_eq!(
        meta["token_endpoint"],
        format!("{base}/api/v2/oauth2/token").as_str()
    );

    // The panel's session cookie is Secure.
    let company = app.company("groups:read").await;
    crate::admin::user(
        &app,
        company,
        "ada@example.com",
        tollgate_core::accounts::Role::Admin,
    )
    .await;
    let login = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/admin/login"))
        .form(&[
            ("email", "ada@example.com"),
            ("password", crate::admin::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP on the TLS port gets no answer, and is not held.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/healthz", app.base))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // A client that does not trust the CA is refused.
    let other = Pki::new("other");
    assert!(
        other
            .client(false)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn curl_and_python_obtain_a_token_over_https() {
    let pki = Pki::new("peers");
    let files = Files::new();
    pki.install(&files);
    let app = spawn_tls(&files, |_| {}).await;
    let base = https(&app);
    let ca = pki.ca_file(files.dir.path(), "ca.pem");
    let cred = app.credential("groups:read").await;
    let body = json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    })
    .to_string();

    // curl, over HTTP/2: the reference's own command, with the CA.
    let mut curl = std::process::Command::new("curl");
    curl.args(["-sS", "--http2", "--cacert"])
        .arg(&ca)
        .args(["-H", "Content-Type: application/json", "-d", &body])
        .args(["-w", "\n%{http_version} %{http_code}"])
        .arg(format!("{base}/api/v2/oauth2/token"));
    let out = run(curl).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (json_line, status_line) = text.rsplit_once('\n').unwrap();
    assert_eq!(status_line, "2 200", "{text}");
    let v: Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(v["token_type"], "Bearer");

    // Python's ssl and urllib (HTTP/1.1), the form variant with Basic authentication.
    let script = r#"
import base64, json, ssl, sys, urllib.request
base, ca, cid, secret = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
req = urllib.request.Request(base + "/api/v2/oauth2/token",
    data=b"grant_type=client_credentials",
    headers={"Authorization": "Basic " + basic,
             "Content-Type": "application/x-www-form-urlencoded"})
with urllib.request.urlopen(req, context=ctx) as r:
    body = json.load(r)
    print(r.status, body["token_type"], r.headers["Strict-Transport-Security"])
"#;
    let mut python = std::process::Command::new("python3");
    python
        .arg("-c")
        .arg(script)
        .arg(&base)
        .arg(&ca)
        .arg(&cred.client_id)
        .arg(&cred.secret);
    let out = run(python).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200 Bearer max-age=31536000"
    );
    app.stop().await;
}

/// Runs a client program to its end, off the runtime that serves the app.
async fn run(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        cmd.output()
            .unwrap_or_else(|e| panic!("{cmd:?} could not start (is it installed?): {e}"))
    })
    .await
    .unwrap()
}

/// A TLS connection to `app` (HTTP/1.1), kept open across requests.
async fn open_connection(app: &TestApp, pki: &Pki) -> tokio_rustls::client::TlsStream<TcpStream> {
    let addr = app.base.trim_start_matches("http://");
    let tcp = TcpStream::connect(addr).await.unwrap();
    pki.connector()
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

/// Sends `GET /healthz` on `conn` and reads the answer's status line.
async fn health_on(conn: &mut tokio_rustls::client::TlsStream<TcpStream>) -> String {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("an answer on the open connection")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

async fn trusted(pki: &Pki, base: &str) -> bool {
    pki.client(false)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test]
async fn a_new_certificate_is_taken_on_a_file_change_and_open_connections_stay() {
    let (a, b) = (Pki::new("a"), Pki::new("b"));
    let files = Files::new();
    a.install(&files);
    let app = spawn_tls(&files, |_| {}).await;
    let base = https(&app);
    let mut open = open_connection(&app, &a).await;
    assert_eq!(health_on(&mut open).await, "HTTP/1.1 200 OK");

    b.install(&files);
    until(|| trusted(&b, &base)).await;
    assert!(!trusted(&a, &base).await, "new connections get the new one");
    // The connection opened under the old certificate still serves requests.
    assert_eq!(health_on(&mut open).await, "HTTP/1.1 200 OK");

    // Files that do not load are refused; the certificate in force stays.
    replace(&files.cert, b"-----BEGIN CERTIFICATE-----\nnot base64!\n");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(trusted(&b, &base).await);
    // A certificate with another's key: refused too.
    replace(&files.cert, a.cert_pem.as_bytes());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(trusted(&b, &base).await);
    assert!(!trusted(&a, &base).await);
    app.stop().await;
}

#[tokio::test]
async fn sighup_reloads_the_certificate() {
    // This process handles SIGHUP from here on (it would otherwise end the test binary).
    let mut hangups =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let (a, b) = (Pki::new("a"), Pki::new("b"));
    let files = Files::new();
    a.install(&files);
    let app = spawn_tls(&files, |_| {}).await;
    let base = https(&app);
    assert!(trusted(&a, &base).await);
    b.install(&files);
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    hangups.recv().await;
    until(|| trusted(&b, &base)).await;
    app.stop().await;
}

#[tokio::test]
async fn unusable_certificate_files_stop_the_start_up_with_the_file_named() {
    let (a, b) = (Pki::new("a"), Pki::new("b"));
    let files = Files::new();
    let build = |tls: TlsSettings| async move {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}", dir.path().join("t.db").display()),
            tls: Some(tls),
            ..Settings::default()
        };
        let clock = Arc::new(tollgate_core::clock::SystemClock);
        tollgate_server::App::build(settings, clock)
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // Missing files.
    let e = build(files.settings()).await;
    assert!(e.contains("cert.pem"), "{e}");
    // A key that is not the certificate's.
    std::fs::write(&files.cert, &a.cert_pem).unwrap();
    std::fs::write(&files.key, &b.key_pem).unwrap();
    let e = build(files.settings()).await;
    assert!(e.contains("cannot be used together"), "{e}");
    // A key file holding a certificate; the message does not quote the file.
    std::fs::write(&files.key, &a.cert_pem).unwrap();
    let e = build(files.settings()).await;
    assert!(
        e.contains("key.pem") && e.contains("not a PEM private key"),
        "{e}"
    );
    assert!(!e.contains("BEGIN"), "{e}");
}

#[tokio::test]
async fn a_connection_that_never_starts_the_handshake_is_closed() {
    let pki = Pki::new("slow");
    let files = Files::new();
    pki.install(&files);
    let app = spawn_tls(&files, |s| s.connections.header_read_timeout_ms = 300).await;
    let mut idle = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("closed after the header read timeout");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // Meanwhile a normal client is served.
    assert!(trusted(&pki, &https(&app)).await);
    app.stop().await;
}

#[tokio::test]
async fn the_gateway_tells_its_upstream_the_request_came_over_https() {
    let pki = Pki::new("gw");
    let files = Files::new();
    pki.install(&files);
    let up = crate::gateway::upstream().await;
    let routes = crate::gateway::routes(
        r#"
[[routes]]
prefix = "/api/v2/users"
upstream = "http://UP"
[routes.scopes]
GET = ["users:read"]
"#,
        up.addr,
    );
    let app = spawn_tls(&files, |s| {
        s.extra_scopes = vec!["users:read".into()];
        s.gateway = routes;
    })
    .await;
    let company = app.company("users:read").await;
    let cred = app.credential_in(company, "users:read").await;
    let base = https(&app);
    let client = pki.client(false);
    let token: Value = client
        .post(format!("{base}/api/v2/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cred.client_id.as_str()),
            ("client_secret", cred.secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = client
        .get(format!("{base}/api/v2/users/7"))
        .header("360-api-version", "v2.0")
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["headers"]["x-forwarded-proto"], "https", "{v}");
    // Over HTTP/2 the client sends no Host; the authority it asked for is forwarded.
    assert_eq!(
        v["headers"]["x-forwarded-host"],
        base.trim_start_matches("https://")
    );
    app.stop().await;
}
