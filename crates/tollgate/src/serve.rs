//! `tollgate serve`.

use std::sync::Arc;

use clap::Args;
use serde_json::json;
use tollgate_core::accounts::Role;
use tollgate_core::clock::SystemClock;
use tollgate_groups::{Groups, NewGroup};
use tollgate_server::{App, Settings};

use crate::output::print_json;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on: `PORT` (on 127.0.0.1), `:PORT` (every interface), `HOST:PORT`
    /// (`localhost:8080`, `0.0.0.0:8080`) or `[IPv6]:PORT`; port 0 picks a free one.
    #[arg(long, env = "TOLLGATE_LISTEN", value_parser = parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
    /// Issuer URL (`iss` of tokens); default http:// (https:// with TLS) + the listen address.
    #[arg(long, env = "TOLLGATE_ISSUER")]
    pub issuer: Option<String>,
    /// Token lifetime in seconds (default 3600).
    #[arg(long, env = "TOLLGATE_TOKEN_TTL")]
    pub token_ttl: Option<u32>,
    /// On an empty database, create a demo company, credential and groups, and print the
    /// credential once. Also lets webhooks reach receivers on this machine and private networks
    /// (`webhooks.private_targets`), for trying them out.
    #[arg(long, env = "TOLLGATE_DEMO")]
    pub demo: bool,
    /// Log JSON lines.
    #[arg(long, env = "TOLLGATE_LOG_JSON")]
    pub log_json: bool,
    /// Rate limits on or off (off: for benchmarks and test suites).
    #[arg(long, env = "TOLLGATE_RATE_LIMITS", value_parser = ["on", "off"])]
    pub rate_limits: Option<String>,
    /// Redis for rate limits shared by every node (redis://HOST:PORT/DB); unset: counted per node.
    #[arg(long, env = "TOLLGATE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Reloaded on SIGHUP and when
    /// the file changes.
    #[arg(
        long,
        env = "TOLLGATE_TLS_CERT",
        requires = "tls_key",
        value_name = "PEM"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long,
        env = "TOLLGATE_TLS_KEY",
        requires = "tls_cert",
        value_name = "PEM"
    )]
    pub tls_key: Option<std::path::PathBuf>,
}

/// `--listen`'s forms, as an address.
fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs as _};
    let bad = || {
        format!(
            "`{s}` is not an address to listen on: use PORT (8080), :PORT (:8080, every interface), HOST:PORT (localhost:8080, 0.0.0.0:8080) or [IPv6]:PORT ([::1]:8080)"
        )
    };
    let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
    if let Ok(p) = s.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, p)));
    }
    if let Some(p) = s.strip_prefix(':') {
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port(p)?)));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, p) = s.rsplit_once(':').ok_or_else(bad)?;
    let p = port(p)?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, p)));
    }
    (host, p)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(bad)
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn serve(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    apply(&mut settings, &args);
    let _log_writer = init_logging(settings.log_json);
    // Install the handlers before anything else, so a SIGTERM during start-up is a graceful stop too.
    let shutdown = shutdown_signal()?;
    let mut app = App::build(settings, Arc::new(SystemClock)).await?;
    // The example API, mounted as a platform's own API would be.
    let groups = tollgate_groups::mount(&mut app).await?;
    first_run(&app, &groups, args.demo).await?;
    app.run_until_stopped(shutdown).await
}

/// The flags (and their environment variables) over the settings, as `serve` and `config check`
/// see them.
pub fn apply(settings: &mut Settings, args: &ServeArgs) {
    if let Some(l) = args.listen {
        settings.listen = l;
    }
    if let Some(i) = &args.issuer {
        settings.issuer = Some(i.clone());
    }
    if let Some(t) = args.token_ttl {
        settings.token_ttl = t;
    }
    settings.log_json |= args.log_json;
    if let Some(r) = &args.rate_limits {
        settings.rate_limits.enabled = r == "on";
    }
    if let Some(u) = &args.redis_url {
        settings.redis_url = Some(u.clone());
    }
    if args.demo {
        settings.webhooks.private_targets = true;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let (cert, key) = (cert.clone(), key.clone());
        // The flags name the files; an HSTS age from the file's `[tls]` stays.
        settings.tls = Some(match settings.tls.take() {
            Some(t) => tollgate_server::TlsSettings { cert, key, ..t },
            None => tollgate_server::TlsSettings::new(cert, key),
        });
    }
}

/// Logs go to stderr through a writer thread: request threads format a line and hand it over; the
/// thread writes whatever has queued up in one buffered write (not one system call per request
/// line). Nothing is dropped: when the queue is full, request threads wait. The returned guard
/// flushes what is left when `serve` returns.
fn init_logging(json: bool) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // 8,192 lines in flight (the default, 128 Ki lines, preallocates 4 MB).
        .buffered_lines_limit(8_192)
        .thread_name("tollgate-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    // Colours only for a person at a terminal, never escape codes in a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

/// The demo company's platform admin (its password is generated and printed once).
const DEMO_ADMIN: &str = "admin@demo.example";

/// On an empty database: with `--demo`, create demo data and print its credential once; without,
/// say how to create the first company.
async fn first_run(app: &App, groups: &Groups, demo: bool) -> anyhow::Result<()> {
    let admin = app.admin();
    // The directory was just loaded from the store: no need to list every company again.
    if app.authority().directory().company_count() > 0 {
        if demo {
            eprintln!(
                "tollgate: --demo ignored: the database already holds data (the demo secret was printed on first run; \
                 use `tollgate credential rotate CLIENT_ID` for a new one)"
            );
        }
        return Ok(());
    }
    if !demo {
        eprintln!(
            "tollgate: the database is empty. Create a company and a credential:\n  \
             tollgate company create --name \"Acme\"\n  \
             tollgate credential create --company COMPANY_ID --label \"HR Integration\" --scopes groups:read,groups:write\n\
             or restart with --demo for demo data."
        );
        return Ok(());
    }
    let all = admin.catalog().all_unreserved();
    let company = admin
        .create_company("Demo Company", Some(all.clone()), None)
        .await?;
    let created = admin
        .create_credential(&company.id, "Demo integration", all)
        .await?;
    // A platform admin of the demo company, to log in to the panel with.
    let password = tollgate_core::accounts::generate_password()?;
    app.accounts()
        .create_user(&company.id, DEMO_ADMIN, Role::Admin, &password, None)
        .await?;
    let first = groups.list(&company.id, None).await?;
    let root = &first.groups;
    if let Some(root) = root.first() {
        for name in ["Engineering Team", "Marketing Team", "Sales Team"] {
            groups
                .create(
                    &company.id,
                    NewGroup {
                        name: name.into(),
                        public: false,
                        custom: None,
                        parent_id: root.id,
                        extra: serde_json::Map::new(),
                    },
                )
                .await?;
        }
    }
    eprintln!(
        "tollgate: demo data created. The client secret and the admin password below are shown once; keep them.\n\
         Get a token:\n  curl -s -X POST {base}/api/v2/oauth2/token -H 'content-type: application/json' \\\n    \
         -d '{{\"grant_type\":\"client_credentials\",\"client_id\":\"{id}\",\"client_secret\":\"{secret}\"}}'\n\
         Admin panel: {base}/admin/login  email {DEMO_ADMIN}  password {pw}",
        base = app.base_url(),
        id = created.credential.client_id,
        secret = created.secret.expose_secret(),
        pw = &*password,
    );
    print_json(&json!({
        "admin_panel": format!("{}/admin/login", app.base_url()),
        "admin_email": DEMO_ADMIN,
        "admin_password": &*password,
        "company_id": company.id.to_string(),
        "client_id": created.credential.client_id.as_str(),
        "client_secret": created.secret.expose_secret(),
        "scopes": created.credential.scopes,
        "token_url": format!("{}/api/v2/oauth2/token", app.base_url()),
    }))
}

fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}

#[cfg(test)]
mod tests {
    use super::parse_listen;

    #[test]
    fn listen_takes_a_port_a_host_and_port_or_an_address() {
        for (given, want) in [
            ("8080", "127.0.0.1:8080"),
            ("0", "127.0.0.1:0"),
            (":8080", "0.0.0.0:8080"),
            ("localhost:8080", "127.0.0.1:8080"),
            ("LOCALHOST:9", "127.0.0.1:9"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("0.0.0.0:80", "0.0.0.0:80"),
            ("[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(parse_listen(given).unwrap().to_string(), want, "{given}");
        }
        for bad in [
            "",
            "http://x:1",
            "8080x",
            ":99999",
            "localhost",
            "[::1]",
            "no such host:1",
        ] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("PORT"), "{bad}: {e}");
        }
    }
}
