//! `tollgate config check` (the effective configuration, each value with where it came from) and
//! `tollgate doctor` (whether this installation is fit to serve, one line per check).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::ArgMatches;
use clap::parser::ValueSource;
use tollgate_server::Settings;

/// Settings a flag of `config check` (or that flag's environment variable) may set: TOML key and
/// the clap argument's id. The flag's name and its variable are read from the parser itself.
const OVERRIDES: &[(&str, &str)] = &[
    ("database_url", "database_url"),
    ("secrets_key_file", "secrets_key_file"),
    ("listen", "listen"),
    ("issuer", "issuer"),
    ("token_ttl", "token_ttl"),
    ("log_json", "log_json"),
    ("rate_limits.enabled", "rate_limits"),
    ("redis_url", "redis_url"),
    ("tls.cert", "tls_cert"),
    ("tls.key", "tls_key"),
    ("webhooks.private_targets", "demo"),
];

/// Where a value came from: the flag or environment variable that set it (as `check` parsed
/// them into `matches`), the file (`file`: its table), or the default.
fn origin(
    key: &str,
    check: &clap::Command,
    matches: &ArgMatches,
    file: Option<&toml::Table>,
) -> String {
    let set_by = OVERRIDES
        .iter()
        .filter(|(k, _)| *k == key)
        .filter(|(_, id)| matches.try_get_raw(id).ok().flatten().is_some())
        .find_map(|(_, id)| {
            let arg = check.get_arguments().find(|a| a.get_id() == id)?;
            match matches.value_source(id)? {
                ValueSource::CommandLine => Some(format!("flag --{}", arg.get_long()?)),
                ValueSource::EnvVariable => {
                    Some(format!("env {}", arg.get_env()?.to_string_lossy()))
                }
                _ => None,
            }
        });
    if let Some(from) = set_by {
        return from;
    }
    if file.is_some_and(|table| in_table(table, key)) {
        return "file".to_owned();
    }
    "default".to_owned()
}

/// Whether the dotted `key` is written in `table`.
fn in_table(table: &toml::Table, key: &str) -> bool {
    let mut parts = key.split('.');
    let mut here = table;
    while let Some(part) = parts.next() {
        match here.get(part) {
            None => return false,
            Some(toml::Value::Table(t)) => here = t,
            Some(_) => return parts.next().is_none(),
        }
    }
    true
}

/// The effective configuration as TOML (it reads back as the same settings, but for the passwords
/// in URLs), each line with where its value came from, after a header saying whether it is valid.
fn explain(
    settings: &Settings,
    check: &clap::Command,
    matches: &ArgMatches,
    verdict: &Result<(), String>,
) -> anyhow::Result<String> {
    let file = match &settings.config_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .parse::<toml::Table>()
                .with_context(|| format!("invalid configuration in {}", p.display()))?,
        ),
        None => None,
    };
    let mut shown = settings.clone();
    shown.database_url = tollgate_server::database_name(&settings.database_url);
    shown.redis_url = settings
        .redis_url
        .as_deref()
        .map(tollgate_server::url_without_password);
    let flat: Vec<(String, Option<toml::Value>)> = shown
        .leaves()
        .into_iter()
        .map(|(k, v)| {
            let v = (!v.is_null())
                .then(|| toml::Value::try_from(v).ok())
                .flatten();
            (k, v)
        })
        .collect();

    let mut out = String::new();
    match verdict {
        Ok(()) => writeln!(out, "# tollgate configuration: valid")?,
        Err(e) => writeln!(out, "# tollgate configuration: INVALID: {e}")?,
    }
    match &settings.config_file {
        Some(p) => writeln!(out, "# file: {}", std::path::absolute(p)?.display())?,
        None => writeln!(
            out,
            "# file: none (--config or TOLLGATE_CONFIG names one); defaults, environment and flags"
        )?,
    }
    let keys = match settings.key_wrap() {
        Ok(w) if w.is_enabled() => format!(
            "{} from {}",
            w.ids().len(),
            if settings.secrets_key.is_enabled() {
                "TOLLGATE_SECRETS_KEY".to_owned()
            } else {
                "secrets_key_file".to_owned()
            }
        ),
        Ok(_) => "none: signing keys and the server key are stored in the clear".to_owned(),
        Err(e) => format!("unusable: {e}"),
    };
    writeln!(out, "# key-encryption keys: {keys}")?;
    let width = flat
        .iter()
        .map(|(k, v)| {
            k.len()
                + v.as_ref()
                    .map_or("(unset)".len() + 2, |v| v.to_string().len())
        })
        .max()
        .unwrap_or(0)
        .min(60);
    for (key, value) in &flat {
        let from = origin(key, check, matches, file.as_ref());
        let line = match value {
            Some(v) => format!("{key} = {v}"),
            None => format!("# {key} (unset)"),
        };
        writeln!(out, "{line:<w$}  # {from}", w = width + 3)?;
    }
    Ok(out)
}

/// `tollgate config check`: prints the effective configuration; an error (exit 1) if it is not
/// valid. `check` is the parser of `config check` (its global arguments propagated into it) and
/// `matches` what it parsed: they say which values came from a flag or an environment variable.
pub fn config_check(
    settings: &Settings,
    check: &clap::Command,
    matches: &ArgMatches,
) -> anyhow::Result<()> {
    let verdict = settings.check().map_err(|e| e.to_string());
    let text = explain(settings, check, matches, &verdict)?;
    crate::output::print_text(&text)?;
    verdict.map_err(|e| anyhow::anyhow!("the configuration is invalid: {e}"))
}

/// How a check of `doctor` came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// The report of `doctor`.
#[derive(Default)]
struct Report {
    text: String,
    failed: bool,
}

impl Report {
    fn line(&mut self, status: Status, what: &str, detail: impl std::fmt::Display) {
        let tag = match status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => {
                self.failed = true;
                "FAIL"
            }
        };
        let _ = writeln!(self.text, "{tag:<5} {what:<14} {detail}");
    }
}

/// `tollgate doctor`: the configuration, the database and its migrations, the keys, Redis, the
/// clock and the listen address, one line each (`ok`, `warn` or `FAIL`); exit 1 on a failure.
pub async fn doctor(settings: &Settings) -> anyhow::Result<()> {
    let mut r = Report::default();
    match settings.check() {
        Ok(()) => r.line(
            Status::Ok,
            "config",
            match &settings.config_file {
                Some(p) => format!("valid ({})", p.display()),
                None => "valid (defaults: no --config file)".to_owned(),
            },
        ),
        Err(e) => r.line(Status::Fail, "config", e),
    }
    let db = tollgate_server::database_name(&settings.database_url);
    let migrated = database(&mut r, settings, &db).await;
    if migrated {
        keys(&mut r, settings).await;
    } else {
        r.line(
            Status::Warn,
            "keys",
            "not checked: the database is not ready",
        );
    }
    redis(&mut r, settings).await;
    clock(&mut r, settings).await;
    match std::net::TcpListener::bind(settings.listen) {
        Ok(_) => r.line(Status::Ok, "listen", format!("{} is free", settings.listen)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => r.line(
            Status::Warn,
            "listen",
            format!(
                "{} is in use (a server already running there?)",
                settings.listen
            ),
        ),
        Err(e) => r.line(
            Status::Fail,
            "listen",
            format!("cannot listen on {}: {e}", settings.listen),
        ),
    }
    crate::output::print_text(&r.text)?;
    if r.failed {
        anyhow::bail!("doctor found a problem (the FAIL lines above)");
    }
    Ok(())
}

/// The database line; whether it is reachable and fully migrated.
async fn database(r: &mut Report, settings: &Settings, db: &str) -> bool {
    if let Some(path) = tollgate_server::sqlite_path(&settings.database_url)
        && !path.exists()
    {
        r.line(
            Status::Warn,
            "database",
            format!("{db} does not exist yet (`tollgate serve` or `tollgate migrate` creates it)"),
        );
        return false;
    }
    match tollgate_store::migration_status(&settings.database_url).await {
        Err(e) => {
            r.line(Status::Fail, "database", format!("{db}: {e}"));
            false
        }
        Ok(m) if m.unknown > 0 => {
            r.line(
                Status::Fail,
                "database",
                format!(
                    "{db}: migrated by a newer tollgate ({} migrations this binary does not know): upgrade it",
                    m.unknown
                ),
            );
            false
        }
        Ok(m) if !m.pending.is_empty() => {
            r.line(
                Status::Warn,
                "database",
                format!(
                    "{db}: {} of {} migrations applied; `tollgate migrate` (or the next start) applies {}",
                    m.applied,
                    m.known,
                    match m.pending.as_slice() {
                        [one] => one.clone(),
                        [first, .., last] => format!("{} ({first} … {last})", m.pending.len()),
                        [] => String::new(),
                    }
                ),
            );
            false
        }
        Ok(m) => {
            r.line(
                Status::Ok,
                "database",
                format!("{db}: reachable, all {} migrations applied", m.known),
            );
            true
        }
    }
}

/// The key-encryption keys and the signing keys.
async fn keys(r: &mut Report, settings: &Settings) {
    let Ok(wrap) = settings.key_wrap() else {
        r.line(
            Status::Fail,
            "keys",
            "the key-encryption keys are unusable (see config)",
        );
        return;
    };
    let store = match tollgate_store::open_with(&settings.database_url, wrap).await {
        Ok(s) => s,
        Err(e) => return r.line(Status::Fail, "keys", e),
    };
    match tollgate_core::store::check_keys_at_rest(&*store).await {
        Err(e) => r.line(Status::Fail, "keys at rest", e),
        Ok(c) if c.configured.is_empty() => r.line(
            Status::Warn,
            "keys at rest",
            "no key-encryption key: signing keys and the server key are stored in the clear (docs/keys-at-rest.md)",
        ),
        Ok(c) if c.not_under_primary() > 0 => r.line(
            Status::Warn,
            "keys at rest",
            format!(
                "{} stored keys not sealed under the first key-encryption key: run `tollgate secrets rewrap`",
                c.not_under_primary()
            ),
        ),
        Ok(_) => r.line(
            Status::Ok,
            "keys at rest",
            "sealed under the first key-encryption key",
        ),
    }
    match store.signing_keys().await {
        Err(e) => r.line(Status::Fail, "signing keys", e),
        Ok(keys) => match keys.iter().rev().find(|k| k.retired_at.is_none()) {
            None => r.line(
                Status::Warn,
                "signing keys",
                "none yet: the server makes one at its first start",
            ),
            Some(k) => r.line(
                Status::Ok,
                "signing keys",
                format!(
                    "current {} ({}), {} in the database",
                    k.kid,
                    k.alg.as_str(),
                    keys.len()
                ),
            ),
        },
    }
}

/// Redis, when one is configured.
async fn redis(r: &mut Report, settings: &Settings) {
    let Some(url) = &settings.redis_url else {
        return r.line(
            Status::Ok,
            "redis",
            "not configured: rate limits are counted per node",
        );
    };
    let shown = tollgate_server::url_without_password(url);
    let ping = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(3), ping).await {
        Ok(Ok(_)) => r.line(Status::Ok, "redis", format!("{shown}: answers PING")),
        Ok(Err(e)) => r.line(Status::Fail, "redis", format!("{shown}: {e}")),
        Err(_) => r.line(
            Status::Fail,
            "redis",
            format!("{shown}: no answer within 3 s"),
        ),
    }
}

/// The system clock: plausible, and (on PostgreSQL, where nodes compare times) close to the
/// database server's.
// The system clock itself is what is checked, not an injected one.
#[allow(clippy::disallowed_methods)]
async fn clock(r: &mut Report, settings: &Settings) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    // 2026-01-01T00:00:00Z: this build is newer, so a clock before it is wrong.
    if now < 1_767_225_600.0 {
        return r.line(
            Status::Fail,
            "clock",
            "the system clock is before 2026: tokens would carry wrong times",
        );
    }
    match tollgate_store::database_clock_skew(&settings.database_url).await {
        Ok(Some(skew)) if skew.abs() > 2.0 => r.line(
            Status::Warn,
            "clock",
            format!(
                "{:.1} s apart from the database server's: nodes disagree on token times (run NTP)",
                skew.abs()
            ),
        ),
        Ok(Some(skew)) => r.line(
            Status::Ok,
            "clock",
            format!(
                "within {:.0} ms of the database server's",
                (skew.abs() * 1000.0).ceil()
            ),
        ),
        _ => r.line(Status::Ok, "clock", "plausible"),
    }
}
