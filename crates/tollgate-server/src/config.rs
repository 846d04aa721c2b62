//! Configuration: defaults, then an optional TOML file (unknown keys are an error), then environment
//! and flags (applied by the binary).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Server settings.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// `iss` of tokens; default `http://` (`https://` when serving TLS) + the bound address.
    pub issuer: Option<String>,
    /// `aud` of tokens; default: the issuer.
    pub audience: Option<String>,
    /// Token lifetime in seconds.
    pub token_ttl: u32,
    /// Signing algorithm: `ES256`, `EdDSA` or `RS256`. Unset: a new database's first key is
    /// `ES256`, and an existing database keeps its key's algorithm.
    pub signing_alg: Option<tollgate_proto::SigningAlg>,
    /// Answer a repeated token request (same client, secret and scopes) with the token issued
    /// before while more than half of its lifetime remains (default `true`).
    pub token_reuse: bool,
    /// Format of new tokens: `jwt` (signed, readable and verifiable by anyone with the JWKS; the
    /// default) or `opaque` (encrypted; only tollgate reads them). Both are accepted whichever is set.
    pub token_format: tollgate_core::authority::TokenFormat,
    /// Database URL (`sqlite://PATH`).
    pub database_url: String,
    /// A file holding the key-encryption keys that seal signing keys and the server key at rest
    /// (base64url, separated by commas, spaces or newlines; the first seals, all open). See
    /// `docs/keys-at-rest.md`. The binary's `--secrets-key-file` overrides it.
    pub secrets_key_file: Option<PathBuf>,
    /// Key-encryption keys given directly (the binary reads `TOLLGATE_SECRETS_KEY` into it; an
    /// embedder or a test sets it). Not read from TOML: a key does not belong in a config file.
    #[serde(skip)]
    pub secrets_key: tollgate_core::kek::KeyWrap,
    /// API versions the resource side accepts.
    pub api_versions: Vec<String>,
    /// Name of the version header (checked, and lowercased, when the configuration is read).
    #[serde(deserialize_with = "header_name", serialize_with = "header_name_out")]
    pub version_header: axum::http::HeaderName,
    /// Scopes added to the catalog.
    pub extra_scopes: Vec<String>,
    /// One-line descriptions of resources (the part of a scope before `:`) for the panel's scope
    /// matrix: those of `extra_scopes`, or to override the reference's.
    pub scope_descriptions: std::collections::BTreeMap<String, String>,
    /// How often the change feed is polled, in milliseconds.
    pub sync_interval_ms: u64,
    /// How often batched last-used times are written, in milliseconds.
    pub last_used_flush_ms: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Log as JSON lines (default: human-readable).
    pub log_json: bool,
    /// Panel login attempts allowed per minute from one address.
    pub login_attempts_per_ip: u32,
    /// Panel login attempts allowed per minute for one account.
    pub login_attempts_per_account: u32,
    /// Rate limits of the OAuth endpoints and the API (`[rate_limits]`).
    pub rate_limits: crate::ratelimit::RateLimitSettings,
    /// Proxies in front of tollgate whose `X-Forwarded-For` names the client (addresses or CIDRs);
    /// empty (the default): the socket's peer is the client, and the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Redis for rate limits shared by every node (`redis://HOST:PORT/DB`); unset: counted per node.
    pub redis_url: Option<String>,
    /// Limits on client connections (`[connections]`): caps, header and body timeouts.
    pub connections: crate::serve::ConnectionSettings,
    /// Serve HTTPS (`[tls]`: certificate and key files, HSTS age); unset: plain HTTP.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Routes to upstream APIs (`[[gateway.routes]]`), reloaded on SIGHUP and when the file changes.
    pub gateway: crate::route_table::GatewaySettings,
    /// How this node sends webhook deliveries (`[webhooks]`).
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The file these settings were read from (set by [`Settings::from_file`]): the gateway
    /// reloads its routes from it.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            audience: None,
            token_ttl: 3600,
            signing_alg: None,
            token_reuse: true,
            token_format: tollgate_core::authority::TokenFormat::Jwt,
            database_url: "sqlite://tollgate.db".into(),
            secrets_key_file: None,
            secrets_key: tollgate_core::kek::KeyWrap::none(),
            api_versions: vec![tollgate_proto::DEFAULT_API_VERSION.into()],
            version_header: axum::http::HeaderName::from_static(
                tollgate_proto::DEFAULT_VERSION_HEADER,
            ),
            extra_scopes: Vec::new(),
            scope_descriptions: std::collections::BTreeMap::new(),
            sync_interval_ms: 200,
            last_used_flush_ms: 5_000,
            max_body_bytes: 16 * 1024,
            log_json: false,
            login_attempts_per_ip: 30,
            login_attempts_per_account: 10,
            rate_limits: crate::ratelimit::RateLimitSettings::default(),
            trusted_proxies: Vec::new(),
            redis_url: None,
            connections: crate::serve::ConnectionSettings::default(),
            tls: None,
            gateway: crate::route_table::GatewaySettings::default(),
            webhooks: crate::webhooks::WebhookSettings::default(),
            config_file: None,
        }
    }
}

/// A header name from the configuration.
fn header_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<axum::http::HeaderName, D::Error> {
    let s = String::deserialize(d)?;
    axum::http::HeaderName::from_bytes(s.as_bytes()).map_err(|_| {
        serde::de::Error::custom(format!("version_header `{s}` is not a valid header name"))
    })
}

/// `value`'s leaves as [`Settings::leaves`] lists them: `(dotted TOML key, value)`, tables walked,
/// arrays and empty tables as values, keys that are not bare TOML keys quoted.
fn leaves_of(value: serde_json::Value) -> Vec<(String, serde_json::Value)> {
    fn walk(prefix: &str, value: serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let bare = k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    let k = if bare { k } else { format!("{k:?}") };
                    let key = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => out.push((prefix.to_owned(), other)),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// A header name as the configuration writes it.
fn header_name_out<S: serde::Serializer>(
    h: &axum::http::HeaderName,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.as_str())
}

/// The configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("invalid configuration in {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// The key-encryption keys are unusable.
    #[error("{origin}: {source}")]
    SecretsKey {
        /// Where they came from.
        origin: String,
        /// What is wrong (never the key's text).
        source: tollgate_core::kek::KekError,
    },
}

impl Settings {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut settings = Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        settings.config_file = Some(path.to_owned());
        Ok(settings)
    }

    /// Reads TOML text over the defaults: [`Settings::from_file`] without the file (no
    /// `config_file`; a parse error names the text, not a file). The config fuzz target calls it.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "the configuration text".into(),
            message: e.message().to_owned(),
        })
    }

    /// The key-encryption keys in force: [`Settings::secrets_key`], or those read from
    /// [`Settings::secrets_key_file`] (both set: an error, since which one seals would be a guess);
    /// neither: none, and keys are stored in the clear.
    pub fn key_wrap(&self) -> Result<tollgate_core::kek::KeyWrap, ConfigError> {
        let Some(path) = &self.secrets_key_file else {
            return Ok(self.secrets_key.clone());
        };
        if self.secrets_key.is_enabled() {
            return Err(ConfigError::Invalid(
                "both TOLLGATE_SECRETS_KEY and a secrets key file are set: give the keys one way"
                    .into(),
            ));
        }
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            ConfigError::Read {
                path: path.display().to_string(),
                source,
            }
        })?);
        tollgate_core::kek::KeyWrap::parse(&text).map_err(|source| ConfigError::SecretsKey {
            origin: path.display().to_string(),
            source,
        })
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> Result<tollgate_core::allowlist::IpAllowlist, ConfigError> {
        tollgate_core::allowlist::IpAllowlist::parse(&self.trusted_proxies)
            .map_err(|e| ConfigError::Invalid(format!("trusted_proxies: {e}")))
    }

    /// Everything the server checks before it opens the database, the files included: ranges and
    /// formats ([`Settings::validate`]), the key-encryption keys, the TLS certificate and key, the
    /// gateway's routes and the Redis URL. `tollgate config check` runs it.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.validate()?;
        self.key_wrap()?;
        if let Some(tls) = &self.tls {
            crate::tls::LiveTls::new(tls).map_err(|e| ConfigError::Invalid(format!("tls: {e}")))?;
        }
        crate::route_table::LiveRoutes::new(&self.gateway)
            .map_err(|e| ConfigError::Invalid(format!("gateway: {e}")))?;
        if let Some(url) = &self.redis_url {
            redis::Client::open(url.as_str())
                .map_err(|_| ConfigError::Invalid("redis_url is not a redis:// URL".into()))?;
        }
        Ok(())
    }

    /// The settings as `(dotted TOML key, value)` pairs in key order (`rate_limits.enabled`), a
    /// `null` for an option not set: tables are walked, arrays and empty tables are values, and a
    /// key that is not a bare TOML key is quoted. `tollgate config check` prints them.
    pub fn leaves(&self) -> Vec<(String, serde_json::Value)> {
        // Every field serializes (a header name as its text, an address as `HOST:PORT`).
        leaves_of(serde_json::to_value(self).unwrap_or_default())
    }

    /// Checks ranges and formats.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=86_400).contains(&self.token_ttl) {
            return Err(ConfigError::Invalid(
                "token_ttl must be between 1 and 86400 seconds".into(),
            ));
        }
        if self.api_versions.is_empty() {
            return Err(ConfigError::Invalid(
                "api_versions must not be empty".into(),
            ));
        }
        for s in &self.extra_scopes {
            tollgate_proto::Scope::parse(s)
                .map_err(|e| ConfigError::Invalid(format!("extra_scopes: {e}")))?;
        }
        if !(10..=60_000).contains(&self.sync_interval_ms) {
            return Err(ConfigError::Invalid(
                "sync_interval_ms must be between 10 and 60000".into(),
            ));
        }
        if !(1024..=1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be between 1024 and 1048576".into(),
            ));
        }
        self.connections.validate().map_err(ConfigError::Invalid)?;
        self.webhooks.validate().map_err(ConfigError::Invalid)?;
        self.trusted_proxies()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_alg_and_version_header_are_parsed_on_load() {
        let s: Settings =
            toml::from_str("signing_alg = \"ES256\"\nversion_header = \"X-Api-Version\"").unwrap();
        assert_eq!(s.signing_alg, Some(tollgate_proto::SigningAlg::ES256));
        assert_eq!(s.version_header.as_str(), "x-api-version");
        let d = Settings::default();
        assert_eq!(
            d.signing_alg, None,
            "the database's key decides, ES256 for a new one"
        );
        assert_eq!(
            d.version_header.as_str(),
            tollgate_proto::DEFAULT_VERSION_HEADER
        );
        let e = toml::from_str::<Settings>("signing_alg = \"HS256\"").unwrap_err();
        assert!(e.message().contains("unsupported signing algorithm"), "{e}");
        let e = toml::from_str::<Settings>("version_header = \"bad header\"").unwrap_err();
        assert!(e.message().contains("not a valid header name"), "{e}");
    }

    #[test]
    fn the_secrets_key_file_is_read_when_the_keys_are_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let (a, b) = (
            tollgate_core::kek::generate_text().unwrap(),
            tollgate_core::kek::generate_text().unwrap(),
        );
        std::fs::write(&path, format!("{}\n{}\n", &*a, &*b)).unwrap();
        let s: Settings = toml::from_str(&format!(
            "secrets_key_file = {:?}",
            path.display().to_string()
        ))
        .unwrap();
        let wrap = s.key_wrap().unwrap();
        assert_eq!(wrap.ids().len(), 2);
        assert!(!Settings::default().key_wrap().unwrap().is_enabled());
        // Keys are not a TOML key.
        assert!(toml::from_str::<Settings>("secrets_key = \"x\"").is_err());
        // Both ways at once: refused.
        let both = Settings {
            secrets_key: tollgate_core::kek::KeyWrap::parse(&a).unwrap(),
            ..s.clone()
        };
        assert!(both.key_wrap().unwrap_err().to_string().contains("one way"));
        // A bad key is named by its file and place, never shown.
        std::fs::write(&path, format!("{},{}", &*a, &b[..30])).unwrap();
        let e = s.key_wrap().unwrap_err().to_string();
        assert!(
            e.contains("kek") && e.contains("key-encryption key 2"),
            "{e}"
        );
        assert!(!e.contains(&b[..30]), "{e}");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(s.key_wrap(), Err(ConfigError::Read { .. })));
    }
}

/// The file of a `sqlite://` URL (its query string dropped), made absolute; `None` for another
/// database or an in-memory one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    if file.is_empty() || file == ":memory:" {
        return None;
    }
    let path = PathBuf::from(file);
    Some(std::path::absolute(&path).unwrap_or(path))
}

/// The database as messages and logs name it: a SQLite file's absolute path, or the URL with its
/// password replaced by `***`.
pub fn database_name(url: &str) -> String {
    if let Some(path) = sqlite_path(url) {
        return format!("sqlite://{}", path.display());
    }
    url_without_password(url)
}

/// A URL with its password (if any) replaced by `***`; one that does not parse is not shown.
pub fn url_without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

#[cfg(test)]
mod documented_keys {
    //! Every key the configuration accepts is in `docs/tollgate.example.toml` and in README's
    //! table, and neither names a key that is not accepted.

    use std::collections::BTreeSet;

    use super::Settings;

    const EXAMPLE: &str = include_str!("../../../docs/tollgate.example.toml");
    const README: &str = include_str!("../../../README.md");

    /// The keys of `leaves`, with maps whose keys are data (`scope_descriptions.<resource>`, a
    /// route's `scopes.<method>`) as one key, and a route's fields under `gateway.routes`.
    fn keys(leaves: Vec<(String, serde_json::Value)>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (k, v) in leaves {
            if k.starts_with("scope_descriptions") {
                out.insert("scope_descriptions".to_owned());
            } else if k == "gateway.routes" {
                out.insert(k.clone());
                for route in v.as_array().into_iter().flatten() {
                    for field in route.as_object().into_iter().flat_map(|o| o.keys()) {
                        out.insert(format!("gateway.routes.{field}"));
                    }
                }
            } else {
                out.insert(k);
            }
        }
        out
    }

    /// The keys written in a TOML text, by the same rules.
    fn written(text: &str) -> BTreeSet<String> {
        let table: toml::Table = text.parse().unwrap();
        keys(super::leaves_of(serde_json::to_value(table).unwrap()))
    }

    #[test]
    fn the_example_lists_every_accepted_key_and_no_other() {
        // Unknown keys are refused, so every key of the example is accepted.
        let parsed = Settings::from_toml_str(EXAMPLE).unwrap();
        let accepted = keys(parsed.leaves());
        let documented = written(EXAMPLE);
        let missing: Vec<_> = accepted.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "accepted but not in the example: {missing:?}"
        );
        assert_eq!(accepted, documented);
        // Every option is set there, so none was left out as `null`.
        assert!(parsed.leaves().iter().all(|(_, v)| !v.is_null()));
    }

    #[test]
    fn the_readme_table_names_only_accepted_keys_and_the_login_limits() {
        let accepted = keys(Settings::from_toml_str(EXAMPLE).unwrap().leaves());
        let section = README
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|s| s.split("\n#").next())
            .unwrap();
        let mut named = BTreeSet::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let first = row.split(" | ").next().unwrap();
            let mut table = String::new();
            for span in first.split('`').skip(1).step_by(2) {
                let key = if let Some(inner) = span.strip_prefix("[[") {
                    table = inner.trim_end_matches("]]").to_owned();
                    None
                } else if let Some(inner) = span.strip_prefix('[') {
                    let (t, k) = inner.split_once(']').unwrap();
                    table = t.to_owned();
                    Some(k.trim().to_owned()).filter(|k| !k.is_empty() && k != "…")
                } else {
                    Some(span.to_owned())
                };
                let full = match (key, table.is_empty()) {
                    (Some(k), true) => k,
                    (Some(k), false) => format!("{table}.{k}"),
                    (None, _) => table.clone(),
                };
                named.insert(full);
            }
        }
        for key in &named {
            assert!(
                accepted.contains(key)
                    || accepted.iter().any(|a| a.starts_with(&format!("{key}."))),
                "README's configuration table names `{key}`, which is not a key"
            );
        }
        for key in [
            "login_attempts_per_ip",
            "login_attempts_per_account",
            "listen",
            "rate_limits.enabled",
        ] {
            assert!(named.contains(key), "README's table lacks `{key}`");
        }
    }
}

#[cfg(test)]
mod database_name_tests {
    use super::database_name;

    #[test]
    fn databases_are_named_without_passwords_and_files_absolutely() {
        assert_eq!(
            database_name("postgres://tg:s3cret@db.internal:5432/tollgate"),
            "postgres://tg:***@db.internal:5432/tollgate"
        );
        assert_eq!(
            database_name("postgres://db.internal/tollgate"),
            "postgres://db.internal/tollgate"
        );
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            database_name("sqlite://tollgate.db?mode=rwc"),
            format!("sqlite://{}", here.join("tollgate.db").display())
        );
        assert_eq!(
            database_name("sqlite:///var/lib/t.db"),
            "sqlite:///var/lib/t.db"
        );
    }
}
