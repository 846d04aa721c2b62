//! The gateway in the real binary: `tollgate serve` as a child process with a configuration file,
//! an upstream (axum) in this process. What only a process of its own can show: its memory while
//! 100 MB stream each way, routes reloaded on SIGHUP and on a file change while a download goes
//! on, and Debian's nginx with `auth_request` in front (the config of `examples/gateway/nginx.conf`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const MB: usize = 1024 * 1024;

/// An upstream: `/…/download?bytes=N&pace_ms=M` streams N bytes in 64 KiB chunks (M ms apart),
/// `/…/upload` counts the body, anything else echoes the identity headers.
async fn upstream() -> SocketAddr {
    let app = axum::Router::new().fallback(|req: Request<Body>| async move { answer(req).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn answer(req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let param = |name: &str| -> u64 {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    if path.ends_with("/download") {
        let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        let (n, pace) = (param("bytes") as usize / chunk.len(), param("pace_ms"));
        let stream = futures_util::stream::iter(0..n).then(move |_| {
            let chunk = chunk.clone();
            async move {
                if pace > 0 {
                    tokio::time::sleep(Duration::from_millis(pace)).await;
                }
                Ok::<_, std::io::Error>(chunk)
            }
        });
        return Body::from_stream(stream).into_response();
    }
    if path.ends_with("/upload") {
        let mut n = 0usize;
        let mut body = req.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            n += chunk.unwrap().len();
        }
        return n.to_string().into_response();
    }
    let h = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    axum::Json(json!({
        "path": path,
        "client": h("x-tollgate-client-id"),
        "company": h("x-tollgate-company-id"),
        "scopes": h("x-tollgate-scopes"),
        "authorization": h("authorization"),
    }))
    .into_response()
}

/// `tollgate serve` on a configuration file; its log lines are kept.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    config: PathBuf,
    db: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(routes: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("tollgate.db").display());
        let config = dir.path().join("tollgate.toml");
        write_config(&config, &db, routes);
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["serve", "--log-json", "--rate-limits", "off"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "tollgate listening"
                {
                    let _ = tx.send(v["fields"]["addr"].as_str().unwrap_or_default().to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("listening");
        Self {
            child,
            base: format!("http://{addr}"),
            log,
            config,
            db,
            _dir: dir,
        }
    }

    /// A company and credential holding `scopes`, by the CLI; returns a token.
    async fn token(&self, scopes: &str) -> (String, Value) {
        let cli = |args: &[&str]| -> Value {
            let out = Command::new(BIN)
                .arg("--config")
                .arg(&self.config)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let company = cli(&[
            "company",
            "create",
            "--name",
            "Acme",
            "--scopes",
            "files:read,files:write",
        ]);
        let cred = cli(&[
            "credential",
            "create",
            "--company",
            company["id"].as_str().unwrap(),
            "--label",
            "gateway",
            "--scopes",
            scopes,
        ]);
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let r = http
                .post(format!("{}/api/v2/oauth2/token", self.base))
                .json(&json!({
                    "grant_type": "client_credentials",
                    "client_id": cred["client_id"],
                    "client_secret": cred["client_secret"],
                }))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                let v: Value = r.json().await.unwrap();
                return (v["access_token"].as_str().unwrap().to_owned(), cred);
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no token");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory of the server process, in bytes.
    fn rss(&self) -> usize {
        rss_of(self.child.id()).unwrap()
    }

    fn hangup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of process `pid`, in bytes (`None` once it is gone).
fn rss_of(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn write_config(path: &Path, db: &str, routes: &str) {
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{db}\"\nextra_scopes = [\"files:read\", \"files:write\"]\n{routes}"
    );
    // Written whole, then renamed: the watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn route(prefix: &str, up: SocketAddr) -> String {
    format!(
        "[[gateway.routes]]\nprefix = \"{prefix}\"\nupstream = \"http://{up}\"\nscopes = {{ GET = [\"files:read\"], \"*\" = [\"files:write\"] }}\n"
    )
}

fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
) -> reqwest::RequestBuilder {
    http.request(method, url)
        .header("360-api-version", "v2.0")
        .bearer_auth(token)
}

/// Polls `check` every 50 ms for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: still not so after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_and_download_keep_the_servers_memory_within_20_mb() {
    let up = upstream().await;
    let server = Server::start(&route("/files", up));
    let (token, _) = server.token("files:read,files:write").await;
    let http = reqwest::Client::new();
    // Warm up: the route's pool, the token cache, the allocator's arenas.
    for _ in 0..3 {
        let r = api(
            &http,
            reqwest::Method::GET,
            format!("{}/files/download?bytes={}", server.base, MB),
            &token,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.bytes().await.unwrap().len(), MB);
    }
    let baseline = server.rss();
    let peak = Arc::new(Mutex::new(baseline));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (Arc::clone(&peak), Arc::clone(&sampling), server.child.id());
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(rss) = rss_of(pid) {
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(rss);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let mut r = api(
        &http,
        reqwest::Method::GET,
        format!("{}/files/download?bytes={}", server.base, 100 * MB),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = 0;
    while let Some(chunk) = r.chunk().await.unwrap() {
        got += chunk.len();
    }
    assert_eq!(got, 100 * MB);

    let r = api(
        &http,
        reqwest::Method::POST,
        format!("{}/files/upload", server.base),
        &token,
    )
    .body(vec![b'u'; 100 * MB])
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), (100 * MB).to_string());

    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    let grew = peak.lock().unwrap().saturating_sub(baseline);
    assert!(
        grew < 20 * MB,
        "the server's RSS grew by {} KiB",
        grew / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_reload_on_sighup_and_on_a_file_change_while_a_download_goes_on() {
    let up = upstream().await;
    let server = Server::start(&route("/files", up));
    let (token, _) = server.token("files:read").await;
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, url, token) = (
            http.clone(),
            format!("{}{path}", server.base),
            token.clone(),
        );
        async move {
            api(&http, reqwest::Method::GET, url, &token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/files/a").await, 200);
    assert_eq!(status("/other/a").await, 404);

    // A download of ~3 s (64 KiB every 20 ms).
    let mut download = api(
        &http,
        reqwest::Method::GET,
        format!(
            "{}/files/download?bytes={}&pace_ms=20",
            server.base,
            150 * 64 * 1024
        ),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(download.status(), 200);
    let reading = tokio::spawn(async move {
        let mut got = 0;
        while let Some(chunk) = download.chunk().await.unwrap() {
            got += chunk.len();
        }
        got
    });

    // SIGHUP: /files goes, /other comes.
    write_config(&server.config, &server.db, &route("/other", up));
    server.hangup();
    eventually("the new route serves", || async {
        status("/other/a").await == 200
    })
    .await;
    assert_eq!(status("/files/a").await, 404);
    assert!(
        !reading.is_finished(),
        "the reload came while the download was still going"
    );

    // A file that does not parse: refused, logged, the routes stay.
    std::fs::write(&server.config, "this is [not toml").unwrap();
    server.hangup();
    eventually("the refusal is logged", || async {
        server.logged("gateway configuration refused")
    })
    .await;
    assert_eq!(status("/other/a").await, 200);
    // One that parses but does not validate: the same.
    write_config(
        &server.config,
        &server.db,
        "[[gateway.routes]]\nprefix = \"/admin/x\"\nscopes = { \"*\" = [] }\n",
    );
    server.hangup();
    eventually("the second refusal is logged", || async {
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("gateway configuration refused"))
            .count()
            >= 2
    })
    .await;
    assert_eq!(status("/other/a").await, 200);

    // No signal: the file's change alone is noticed.
    write_config(
        &server.config,
        &server.db,
        &format!("{}{}", route("/other", up), route("/third", up)),
    );
    eventually("the file change is noticed", || async {
        status("/third/a").await == 200
    })
    .await;

    assert_eq!(
        reading.await.unwrap(),
        150 * 64 * 1024,
        "the download finished whole"
    );
}

/// nginx from Debian (`nginx-light`, which `.ci/run` installs): the test fails, not skips, without it.
fn nginx() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/nginx");
    assert!(
        path.exists(),
        "nginx is not installed (apt-get install nginx-light)"
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_in_front_of_an_api_with_the_documented_config() {
    let up = upstream().await;
    let server = Server::start(
        "[[gateway.routes]]\nprefix = \"/api/v2/users\"\nscopes = { GET = [\"files:read\"], \"*\" = [\"files:write\"] }\n",
    );
    let (token, cred) = server.token("files:read").await;
    let tollgate = server.base.trim_start_matches("http://").to_owned();

    let dir = tempfile::tempdir().unwrap();
    let documented = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/gateway/nginx.conf"
    ))
    .unwrap();
    let port = free_port();
    let site = documented
        .replace("127.0.0.1:8080", &tollgate)
        .replace("127.0.0.1:9000", &up.to_string())
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{port}"));
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut nginx = Command::new(nginx())
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _nginx = Kill(&mut nginx);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("nginx listens", || async {
        http.get(format!("{base}/")).send().await.is_ok()
    })
    .await;

    // Allowed: the API sees who called, not the token, and not what the client forged.
    let r = api(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v2/users/7"),
        &token,
    )
    .header("x-tollgate-client-id", "forged")
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        200,
        "{:?}",
        std::fs::read_to_string(dir.path().join("error.log"))
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], "/api/v2/users/7");
    assert_eq!(v["client"], cred["client_id"]);
    assert_eq!(v["scopes"], "files:read");
    assert!(v["company"].as_str().is_some_and(|c| c.len() == 24), "{v}");
    assert_eq!(v["authorization"], Value::Null);

    // No token: 401 with the challenge; under-scoped: 403 naming the scope.
    let r = http
        .get(format!("{base}/api/v2/users/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tollgate\"");
    let r = api(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v2/users"),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"files:write\"")
    );
    let r = api(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v2/users/7"),
        "forged.token.here",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
}
