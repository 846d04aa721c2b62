//! Arguments (parsed by clap, then validated into domain types) and the admin commands.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tollgate_core::accounts::{Accounts, AdminActor, AuditAction};
use tollgate_core::admin::{Admin, CompanyChanges, CredentialChanges};
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::SystemClock;
use tollgate_core::ids::{ClientId, CompanyId};
use tollgate_core::secret::SecretHasher;
use tollgate_proto::{Scope, ScopeSet};
use tollgate_server::Settings;

use crate::output::{self, print_json};
use crate::serve::{self, ServeArgs};

/// tollgate: an OAuth 2.0 client-credentials authorization server and API gateway.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about)]
pub struct Cli {
    /// Database URL (default sqlite://tollgate.db, created if missing).
    #[arg(long, global = true, env = "TOLLGATE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Configuration file (TOML); flags and environment override it.
    #[arg(long, global = true, env = "TOLLGATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// File holding the key-encryption keys that seal signing keys and the server key in the
    /// database (base64url; several separated by commas, spaces or newlines, the first seals). The
    /// keys themselves may be given in TOLLGATE_SECRETS_KEY instead. Neither: keys stored in the clear.
    #[arg(long, global = true, env = "TOLLGATE_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The parser: [`Cli`]'s, with the global flags that `token` and `call` ignore (they talk to a
/// server, not to the database) kept out of those two commands' help. clap propagates a global
/// flag to a subcommand unless it has one of that id already: each gets a hidden copy.
pub fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let hidden: Vec<clap::Arg> = ["database_url", "config", "secrets_key_file"]
        .into_iter()
        .filter_map(|id| cmd.get_arguments().find(|a| a.get_id() == id))
        .map(|a| a.clone().hide(true))
        .collect();
    for sub in ["token", "call"] {
        cmd = cmd.mut_subcommand(sub, |s| s.args(hidden.iter().cloned()));
    }
    cmd
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage companies (tenants).
    #[command(subcommand)]
    Company(CompanyCmd),
    /// Manage API credentials.
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// Manage token signing keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Manage admin panel users.
    #[command(subcommand)]
    User(UserCmd),
    /// Read a company's audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Secrets as text, without the database.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Keys at rest: key-encryption keys, and moving stored keys to the newest.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Get an access token from a server with client credentials; prints the token response.
    Token(crate::client_cmds::TokenArgs),
    /// Call a server's API with automatic token handling; prints the answer.
    Call(crate::client_cmds::CallArgs),
    /// The scope catalog: every scope credentials may hold, with what its resource is.
    #[command(subcommand)]
    Scopes(ScopesCmd),
    /// Print a shell completion script (e.g. `tollgate completions bash > /etc/bash_completion.d/tollgate`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `tollgate man > /usr/local/share/man/man1/tollgate.1`).
    Man,
    /// The configuration: check it and show where each value comes from.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Check that this installation can serve: configuration, database and migrations, keys,
    /// Redis, clock, listen address (one line each; exit 1 on a failure).
    Doctor(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the configuration (file, environment, flags; TLS files, gateway routes, key files
    /// included) and print the values in force as TOML, each with where it came from (default,
    /// file, env, flag); passwords in URLs shown as ***. Exit 1 if it is invalid. Takes `serve`'s
    /// flags, to show what `serve` would run with.
    Check(ServeArgs),
}

/// A user's role on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Full control, like admin.
    Owner,
    /// Manages credentials and users.
    Admin,
    /// Can log in; sees no credentials.
    Member,
}

impl From<RoleArg> for tollgate_core::accounts::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Owner => Self::Owner,
            RoleArg::Admin => Self::Admin,
            RoleArg::Member => Self::Member,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ScopesCmd {
    /// Every scope of the catalog (the reference's, the reserved ones and `extra_scopes`), with its
    /// resource's description (`scope_descriptions` in the configuration adds or overrides them).
    List,
}

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Whether TEXT is a tollgate secret, by its checksum (offline: no database, no server key).
    /// Prints {"format": "checked" | "legacy" | "not_a_secret"}.
    Check {
        /// The text; `-` or nothing: read one line from stdin (keeps it out of the shell history).
        text: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Print a new key-encryption key (32 random bytes, base64url, one line) for
    /// TOLLGATE_SECRETS_KEY or a --secrets-key-file; its id goes to stderr.
    GenerateKey,
    /// Seal the server key and every signing key under the first key-encryption key (plaintext rows
    /// and rows under older keys change; idempotent). Prints how many rows changed.
    Rewrap,
    /// How the stored keys are kept (reads no secret): rows in the clear, rows per
    /// key-encryption key id, and the ids configured.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a panel user; without --password-stdin a password is generated and printed once.
    Create {
        /// Company id.
        #[arg(long)]
        company: String,
        /// Email (the login name).
        #[arg(long)]
        email: String,
        /// owner, admin or member (any case).
        #[arg(long, value_enum, ignore_case = true)]
        role: RoleArg,
        /// Read the password from stdin (one line; the newline is trimmed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List a company's panel users (never a password).
    List {
        /// Company id.
        #[arg(long)]
        company: String,
    },
    /// Set a new password (generated and printed once without --password-stdin); the user's
    /// sessions end.
    ResetPassword {
        /// Company id.
        #[arg(long)]
        company: String,
        /// User id (from `user list`).
        id: String,
        /// Read the password from stdin (one line; the newline is trimmed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a panel user (the company's last owner or admin stays).
    Delete {
        /// Company id.
        #[arg(long)]
        company: String,
        /// User id (from `user list`).
        id: String,
    },
}

/// A password from stdin, or a generated one (`true`: print it, it was never seen).
fn password_from(stdin: bool) -> anyhow::Result<(zeroize::Zeroizing<String>, bool)> {
    if stdin {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().read_line(&mut line)?;
        Ok((
            zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()),
            false,
        ))
    } else {
        Ok((tollgate_core::accounts::generate_password()?, true))
    }
}

fn user_id(s: &str) -> anyhow::Result<tollgate_core::accounts::UserId> {
    tollgate_core::accounts::UserId::parse(s).map_err(|_| anyhow::anyhow!("user not found"))
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The newest events first.
    List {
        /// Company id.
        #[arg(long)]
        company: String,
        /// How many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Make a new signing key current. The previous key stays published (and its tokens valid) for
    /// --overlap seconds; running servers switch within a second.
    Rotate {
        /// Seconds the previous key stays published; at least the token lifetime.
        #[arg(long, default_value_t = 3600)]
        overlap: i64,
        /// Algorithm of the new key: ES256, EdDSA or RS256 (default: the configured `signing_alg`, else
        /// the current key's).
        #[arg(long)]
        alg: Option<tollgate_core::keys::SigningAlg>,
        /// Publish the new key this many seconds before it starts signing, so resource servers that
        /// cache the JWKS learn it first (90 covers the usual 60 s cache plus a 30 s refetch limit).
        #[arg(long, default_value_t = 0)]
        activate_after: i64,
    },
    /// List signing keys (never the private parts).
    List,
}

#[derive(Debug, Subcommand)]
pub enum CompanyCmd {
    /// Create a company; prints it.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Scope ceiling, comma- or space-separated (default: every scope of the catalog but
        /// credentials:manage).
        #[arg(long)]
        scopes: Option<String>,
        /// How many credentials the company may hold (default 10).
        #[arg(long)]
        max_credentials: Option<u32>,
        /// Resources (RFC 8707 audience URIs) beyond the server's audience that its credentials
        /// may ask tokens for; repeat, or separate with commas.
        #[arg(long = "resource", value_name = "URI", value_delimiter = ',')]
        resources: Vec<String>,
    },
    /// List companies.
    List,
    /// Show one company.
    Show {
        /// Company id.
        id: String,
    },
    /// Change a company.
    Update {
        /// Company id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New scope ceiling (narrowing it narrows every credential at once).
        #[arg(long)]
        scopes: Option<String>,
        /// New credential limit.
        #[arg(long)]
        max_credentials: Option<u32>,
        /// New tokens per credential per hour for this company (0: no quota), or `default` for
        /// the server's `[rate_limits] tokens_per_credential_per_hour`.
        #[arg(long, value_name = "N|default", value_parser = quota_override)]
        token_quota_per_hour: Option<QuotaOverride>,
        /// New resources (RFC 8707 audience URIs; repeat, or separate with commas): replace the
        /// old ones. Tokens for a resource no longer listed are refused at once.
        #[arg(
            long = "resource",
            value_name = "URI",
            value_delimiter = ',',
            conflicts_with = "no_resources"
        )]
        resources: Vec<String>,
        /// Remove every resource: tokens are for the server's audience only.
        #[arg(long)]
        no_resources: bool,
    },
}

fn resources(entries: &[String]) -> anyhow::Result<tollgate_core::audience::Resources> {
    tollgate_core::audience::Resources::parse(entries)
        .map_err(|e| anyhow::anyhow!("--resource: {e}"))
}

/// A company's token quota override as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct QuotaOverride(Option<u32>);

fn quota_override(s: &str) -> Result<QuotaOverride, String> {
    if s == "default" {
        return Ok(QuotaOverride(None));
    }
    s.parse()
        .map(|n| QuotaOverride(Some(n)))
        .map_err(|_| "a number of tokens per hour (0: no quota), or `default`".to_owned())
}

fn expiry(s: &str) -> Result<i64, String> {
    tollgate_core::clock::parse_rfc3339(s)
}

/// A credential's new expiry as given on the command line: a time, or none (`never`).
#[derive(Debug, Clone, Copy)]
pub struct ExpiryChange(Option<i64>);

fn expiry_or_never(s: &str) -> Result<ExpiryChange, String> {
    if s == "never" {
        return Ok(ExpiryChange(None));
    }
    expiry(s).map(|t| ExpiryChange(Some(t)))
}

fn allowlist(entries: &[String]) -> anyhow::Result<tollgate_core::allowlist::IpAllowlist> {
    tollgate_core::allowlist::IpAllowlist::parse(entries)
        .map_err(|e| anyhow::anyhow!("--allow-ip: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum CredentialCmd {
    /// Create a credential; prints its client_id and client_secret (shown this once).
    Create {
        /// Company id.
        #[arg(long)]
        company: String,
        /// Label, e.g. "HR Integration - Payroll System".
        #[arg(long)]
        label: String,
        /// Scopes, comma- or space-separated.
        #[arg(long)]
        scopes: String,
        /// When the credential and its tokens stop working (RFC 3339, e.g. 2027-01-31T18:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = expiry)]
        expires_at: Option<i64>,
        /// Token requests only from these addresses or networks (CIDR); repeat, or separate with
        /// commas. Default: any address.
        #[arg(long = "allow-ip", value_name = "CIDR", value_delimiter = ',')]
        allow_ip: Vec<String>,
        /// Limit its tokens to these of the company's resources (RFC 8707); repeat, or separate
        /// with commas. Default: all of the company's.
        #[arg(long = "resource", value_name = "URI", value_delimiter = ',')]
        resources: Vec<String>,
    },
    /// List a company's credentials (never their secrets).
    List {
        /// Company id.
        #[arg(long)]
        company: String,
    },
    /// Show one credential.
    Show {
        /// Client ID.
        client_id: String,
    },
    /// Change label and/or scopes.
    Update {
        /// Client ID.
        client_id: String,
        /// New label.
        #[arg(long)]
        label: Option<String>,
        /// New scopes.
        #[arg(long)]
        scopes: Option<String>,
        /// New expiry (RFC 3339), or `never` to remove it.
        #[arg(long, value_name = "TIME|never", value_parser = expiry_or_never)]
        expires_at: Option<ExpiryChange>,
        /// New IP allowlist (addresses or CIDRs; repeat, or separate with commas): replaces the
        /// old one.
        #[arg(
            long = "allow-ip",
            value_name = "CIDR",
            value_delimiter = ',',
            conflicts_with = "allow_any_ip"
        )]
        allow_ip: Vec<String>,
        /// Remove the IP allowlist: any address may request tokens.
        #[arg(long)]
        allow_any_ip: bool,
        /// Limit its tokens to these of the company's resources (replaces the old list).
        #[arg(
            long = "resource",
            value_name = "URI",
            value_delimiter = ',',
            conflicts_with = "all_resources"
        )]
        resources: Vec<String>,
        /// Let it ask for any of the company's resources again.
        #[arg(long)]
        all_resources: bool,
    },
    /// Issue a new secret (printed once); the old one keeps working for --grace seconds.
    Rotate {
        /// Client ID.
        client_id: String,
        /// Seconds the old secret and its tokens stay valid (default 0: stop at once).
        #[arg(long, default_value_t = 0)]
        grace: i64,
    },
    /// Delete a credential; its tokens are refused at once.
    Delete {
        /// Client ID.
        client_id: String,
    },
    /// Revoke a leaked secret from its text alone, read from stdin: its tokens are refused at
    /// once, and its credential gets a new secret (printed once). Audited.
    RevokeLeaked,
}

/// Settings from defaults, then the config file, then the global flags.
pub fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let mut s = match &cli.config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    if let Some(url) = &cli.database_url {
        s.database_url = url.clone();
    }
    if let Some(path) = &cli.secrets_key_file {
        s.secrets_key_file = Some(path.clone());
    }
    if let Some(text) = std::env::var_os(SECRETS_KEY_ENV) {
        let text = zeroize::Zeroizing::new(
            text.into_string()
                .map_err(|_| anyhow::anyhow!("{SECRETS_KEY_ENV} is not UTF-8"))?,
        );
        s.secrets_key = tollgate_core::kek::KeyWrap::parse(&text).context(SECRETS_KEY_ENV)?;
    }
    Ok(s)
}

/// The key-encryption keys themselves (the file's name is `--secrets-key-file`).
const SECRETS_KEY_ENV: &str = "TOLLGATE_SECRETS_KEY";

/// The store, its keys sealed under the configured key-encryption keys; an error if a stored key
/// needs one that is not configured. Says on stderr when it creates a new SQLite file (a command
/// run from another directory than the server's would otherwise work on an empty database
/// silently), and names the database in any error.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn tollgate_core::store::Store>> {
    announce_new_database(settings);
    let store = tollgate_store::open_with(&settings.database_url, settings.key_wrap()?).await?;
    tollgate_core::store::check_keys_at_rest(&*store).await?;
    Ok(store)
}

/// Says on stderr that the command is about to create a new SQLite file.
fn announce_new_database(settings: &Settings) {
    if let Some(path) = tollgate_server::sqlite_path(&settings.database_url)
        && !path.exists()
    {
        eprintln!(
            "tollgate: creating a new database {}",
            tollgate_server::database_name(&settings.database_url)
        );
    }
}

/// One line of stdin (a secret: zeroized when dropped).
fn read_stdin_line() -> anyhow::Result<zeroize::Zeroizing<String>> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line)?;
    Ok(line)
}

fn scopes(s: &str) -> anyhow::Result<ScopeSet> {
    ScopeSet::parse_list(s).map_err(|e| anyhow::anyhow!("invalid --scopes: {e}"))
}

fn company_id(s: &str) -> anyhow::Result<CompanyId> {
    CompanyId::parse(s).map_err(|_| anyhow::anyhow!("`{s}` is not a company id (24 hex digits)"))
}

fn client_id(s: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(s).map_err(|e| anyhow::anyhow!("invalid client ID: {e}"))
}

/// The operator's tools: the operations, and the audit log their changes go to (actor `operator`).
struct Operator {
    admin: Admin,
    accounts: Accounts,
}

impl Operator {
    async fn audit(
        &self,
        company: CompanyId,
        action: AuditAction,
        target: &str,
    ) -> anyhow::Result<()> {
        let event = AdminActor::operator(company).event(action, target, self.accounts.now());
        self.accounts.record(event).await?;
        Ok(())
    }
}

/// The catalog the configuration describes.
fn catalog(settings: &Settings) -> anyhow::Result<ScopeCatalog> {
    Ok(ScopeCatalog::new(
        settings
            .extra_scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .context("extra_scopes in the configuration")?,
    )
    .with_descriptions(settings.scope_descriptions.clone()))
}

async fn operator(settings: &Settings) -> anyhow::Result<Operator> {
    let store = open_store(settings).await?;
    let hasher = SecretHasher::new(&store.server_key().await?);
    let catalog = catalog(settings)?;
    let clock: Arc<dyn tollgate_core::clock::Clock> = Arc::new(SystemClock);
    Ok(Operator {
        admin: Admin::new(store.clone(), Arc::new(catalog), hasher, Arc::clone(&clock)),
        accounts: Accounts::new(store, clock),
    })
}

/// Runs a command; an error of a command that works on the database names the database.
/// `matches` are the parsed arguments `cli` was made from (`config check` says which values came
/// from flags and which from the environment).
pub async fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let settings = settings(&cli)?;
    let on_database = matches!(
        cli.command,
        Command::Migrate
            | Command::Company(_)
            | Command::Credential(_)
            | Command::Key(_)
            | Command::User(_)
            | Command::Audit(_)
    );
    let db = tollgate_server::database_name(&settings.database_url);
    let result = run_command(cli.command, settings, matches).await;
    if on_database {
        result.with_context(|| format!("database {db}"))
    } else {
        result
    }
}

async fn run_command(
    command: Command,
    settings: Settings,
    matches: &clap::ArgMatches,
) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve::serve(settings, args).await,
        Command::Migrate => {
            announce_new_database(&settings);
            tollgate_store::open_with(&settings.database_url, settings.key_wrap()?).await?;
            print_json(&serde_json::json!({"migrated": true}))
        }
        Command::Completions { shell } => {
            let mut cmd = self::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "tollgate", &mut out);
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Command::Man => {
            let cmd = self::command();
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            Ok(())
        }
        Command::Scopes(ScopesCmd::List) => {
            let catalog = catalog(&settings)?;
            let list: Vec<_> = catalog
                .all()
                .iter()
                .map(|s| {
                    let (resource, action) = s.as_str().split_once(':').unwrap_or((s.as_str(), ""));
                    serde_json::json!({
                        "scope": s.as_str(),
                        "resource": resource,
                        "action": action,
                        "description": catalog.description(resource),
                        "reserved": tollgate_core::catalog::RESERVED_SCOPES.contains(&s.as_str()),
                    })
                })
                .collect();
            print_json(&list)
        }
        Command::Company(cmd) => company(&operator(&settings).await?, cmd).await,
        Command::Credential(cmd) => credential(&operator(&settings).await?, cmd).await,
        Command::Key(cmd) => key(&settings, cmd).await,
        Command::User(cmd) => user(&settings, cmd).await,
        Command::Audit(cmd) => audit(&settings, cmd).await,
        Command::Secret(SecretCmd::Check { text }) => {
            let text = match text.filter(|t| t != "-") {
                Some(t) => zeroize::Zeroizing::new(t),
                None => read_stdin_line()?,
            };
            let format = match tollgate_core::secret::check_format(text.trim()) {
                tollgate_core::secret::SecretFormat::Checked => "checked",
                tollgate_core::secret::SecretFormat::Legacy => "legacy",
                _ => "not_a_secret",
            };
            print_json(&serde_json::json!({ "format": format }))
        }
        Command::Secrets(cmd) => secrets(&settings, cmd).await,
        Command::Config(ConfigCmd::Check(args)) => {
            let mut settings = settings;
            serve::apply(&mut settings, &args);
            let sub = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("check"))
                .unwrap_or(matches);
            // `config check`'s own arguments, the global ones propagated into them.
            let mut parser = self::command();
            parser.build();
            let check = parser
                .find_subcommand("config")
                .and_then(|c| c.find_subcommand("check"))
                .context("the parser has no `config check`")?;
            crate::checks::config_check(&settings, check, sub)
        }
        Command::Doctor(args) => {
            let mut settings = settings;
            serve::apply(&mut settings, &args);
            crate::checks::doctor(&settings).await
        }
        Command::Token(args) => crate::client_cmds::token(args).await,
        Command::Call(args) => crate::client_cmds::call(args).await,
    }
}

async fn company(op: &Operator, cmd: CompanyCmd) -> anyhow::Result<()> {
    let admin = &op.admin;
    match cmd {
        CompanyCmd::Create {
            name,
            scopes: s,
            max_credentials,
            resources: r,
        } => {
            let s = s.as_deref().map(scopes).transpose()?;
            let r = resources(&r)?;
            let mut c = admin.create_company(&name, s, max_credentials).await?;
            if !r.is_empty() {
                let changes = CompanyChanges {
                    resources: Some(r),
                    ..CompanyChanges::default()
                };
                c = admin.update_company(&c.id, changes).await?;
            }
            op.audit(c.id, AuditAction::CompanyCreated, &c.name).await?;
            print_json(&output::company(&c))
        }
        CompanyCmd::List => {
            let list: Vec<_> = admin
                .companies()
                .await?
                .iter()
                .map(output::company)
                .collect();
            print_json(&list)
        }
        CompanyCmd::Show { id } => {
            print_json(&output::company(&admin.company(&company_id(&id)?).await?))
        }
        CompanyCmd::Update {
            id,
            name,
            scopes: s,
            max_credentials,
            token_quota_per_hour,
            resources: r,
            no_resources,
        } => {
            let changes = CompanyChanges {
                name,
                scopes: s.as_deref().map(scopes).transpose()?,
                max_credentials,
                token_quota_per_hour: token_quota_per_hour.map(|q| q.0),
                resources: if no_resources {
                    Some(tollgate_core::audience::Resources::default())
                } else if r.is_empty() {
                    None
                } else {
                    Some(resources(&r)?)
                },
            };
            let id = company_id(&id)?;
            let before = admin.company(&id).await?;
            let c = admin.update_company(&id, changes).await?;
            let same = (
                &c.name,
                &c.scopes,
                c.max_credentials,
                c.token_quota_per_hour,
                &c.resources,
            ) == (
                &before.name,
                &before.scopes,
                before.max_credentials,
                before.token_quota_per_hour,
                &before.resources,
            );
            if !same {
                op.audit(c.id, AuditAction::CompanyUpdated, &c.name).await?;
            }
            print_json(&output::company(&c))
        }
    }
}

async fn credential(op: &Operator, cmd: CredentialCmd) -> anyhow::Result<()> {
    let admin = &op.admin;
    match cmd {
        CredentialCmd::Create {
            company,
            label,
            scopes: s,
            expires_at,
            allow_ip,
            resources: r,
        } => {
            let access = tollgate_core::model::CredentialAccess {
                expires_at,
                allowed_ips: allowlist(&allow_ip)?,
                resources: if r.is_empty() {
                    None
                } else {
                    Some(resources(&r)?)
                },
            };
            // The credential and its audit entry in one transaction.
            let at = op.accounts.now();
            let created = admin
                .create_credential_audited(
                    &company_id(&company)?,
                    &label,
                    scopes(&s)?,
                    access,
                    |c: &tollgate_core::model::Credential| {
                        AdminActor::operator(c.company_id).event(
                            AuditAction::CredentialCreated,
                            c.client_id.as_str(),
                            at,
                        )
                    },
                )
                .await?;
            let c = &created.credential;
            for (action, target) in tollgate_core::admin::access_audit(
                &c.client_id,
                &tollgate_core::model::CredentialAccess::default(),
                &c.access,
            ) {
                op.audit(c.company_id, action, &target).await?;
            }
            let ceiling = admin.company(&created.credential.company_id).await?.scopes;
            print_json(&output::credential(
                &created.credential,
                &ceiling,
                Some(&created.secret),
            ))
        }
        CredentialCmd::List { company } => {
            let id = company_id(&company)?;
            let ceiling = admin.company(&id).await?.scopes;
            let list: Vec<_> = admin
                .credentials(&id)
                .await?
                .iter()
                .map(|c| output::credential(c, &ceiling, None))
                .collect();
            print_json(&list)
        }
        CredentialCmd::Show { client_id: id } => {
            let c = admin.credential(&client_id(&id)?).await?;
            let ceiling = admin.company(&c.company_id).await?.scopes;
            print_json(&output::credential(&c, &ceiling, None))
        }
        CredentialCmd::Update {
            client_id: id,
            label,
            scopes: s,
            expires_at,
            allow_ip,
            allow_any_ip,
            resources: r,
            all_resources,
        } => {
            let allowed_ips = if allow_any_ip {
                Some(tollgate_core::allowlist::IpAllowlist::default())
            } else if allow_ip.is_empty() {
                None
            } else {
                Some(allowlist(&allow_ip)?)
            };
            let changes = CredentialChanges {
                label,
                scopes: s.as_deref().map(scopes).transpose()?,
                expires_at: expires_at.map(|e| e.0),
                allowed_ips,
                resources: if all_resources {
                    Some(None)
                } else if r.is_empty() {
                    None
                } else {
                    Some(Some(resources(&r)?))
                },
            };
            let id = client_id(&id)?;
            let before = admin.credential(&id).await?;
            let c = admin.update_credential(&id, changes).await?;
            // An update that changes nothing is not an event.
            if (&c.label, &c.scopes) != (&before.label, &before.scopes) {
                op.audit(
                    c.company_id,
                    AuditAction::CredentialUpdated,
                    c.client_id.as_str(),
                )
                .await?;
            }
            for (action, target) in
                tollgate_core::admin::access_audit(&c.client_id, &before.access, &c.access)
            {
                op.audit(c.company_id, action, &target).await?;
            }
            let ceiling = admin.company(&c.company_id).await?.scopes;
            print_json(&output::credential(&c, &ceiling, None))
        }
        CredentialCmd::Rotate {
            client_id: id,
            grace,
        } => {
            let r = admin.rotate_secret(&client_id(&id)?, grace).await?;
            let c = &r.credential;
            op.audit(
                c.company_id,
                AuditAction::CredentialRotated,
                &format!("{} (grace {grace}s)", c.client_id),
            )
            .await?;
            let ceiling = admin.company(&r.credential.company_id).await?.scopes;
            print_json(&output::credential(
                &r.credential,
                &ceiling,
                Some(&r.secret),
            ))
        }
        CredentialCmd::RevokeLeaked => {
            let text = read_stdin_line()?;
            let leaked = tollgate_core::secret::ClientSecret::new(text.trim());
            let r = admin.revoke_leaked_secret(&leaked, None).await?;
            let c = &r.credential;
            op.audit(
                c.company_id,
                AuditAction::CredentialSecretLeaked,
                c.client_id.as_str(),
            )
            .await?;
            let ceiling = admin.company(&c.company_id).await?.scopes;
            print_json(&output::credential(
                &r.credential,
                &ceiling,
                Some(&r.secret),
            ))
        }
        CredentialCmd::Delete { client_id: id } => {
            let id = client_id(&id)?;
            let company = admin.credential(&id).await?.company_id;
            admin.delete_credential(&id).await?;
            op.audit(company, AuditAction::CredentialDeleted, id.as_str())
                .await?;
            print_json(&serde_json::json!({"deleted": id.as_str()}))
        }
    }
}

async fn key(settings: &Settings, cmd: KeyCmd) -> anyhow::Result<()> {
    use tollgate_core::clock::Clock as _;
    let store = open_store(settings).await?;
    match cmd {
        KeyCmd::Rotate {
            overlap,
            alg,
            activate_after,
        } => {
            if !(0..=30 * 24 * 3600).contains(&overlap) {
                anyhow::bail!("--overlap must be between 0 and 2592000 seconds");
            }
            if !(0..=24 * 3600).contains(&activate_after) {
                anyhow::bail!("--activate-after must be between 0 and 86400 seconds");
            }
            // The flag, else the configured algorithm, else the current key's (else the default).
            let alg = match alg.or(settings.signing_alg) {
                Some(a) => a,
                None => store
                    .signing_keys()
                    .await?
                    .iter()
                    .filter(|k| k.retired_at.is_none())
                    .max_by_key(|k| k.created_at)
                    .map_or(tollgate_proto::SigningAlg::DEFAULT, |k| k.alg),
            };
            let new = tollgate_core::keys::rotate_scheduled(
                &*store,
                alg,
                overlap,
                activate_after,
                SystemClock.now(),
            )
            .await?;
            print_json(&serde_json::json!({
                "kid": new.kid,
                "alg": new.alg,
                "overlap": overlap,
                "signs_from": tollgate_core::clock::rfc3339(new.created_at),
            }))
        }
        KeyCmd::List => {
            let keys = store.signing_keys().await?;
            let current = keys
                .iter()
                .filter(|k| k.retired_at.is_none())
                .max_by_key(|k| (k.created_at, k.kid.clone()))
                .map(|k| k.kid.clone());
            let list: Vec<_> = keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "kid": k.kid,
                        "alg": k.alg,
                        "current": Some(&k.kid) == current.as_ref(),
                        "created_at": tollgate_core::clock::rfc3339(k.created_at),
                        "retired_at": k.retired_at.map(tollgate_core::clock::rfc3339),
                        "publish_until": k.publish_until.map(tollgate_core::clock::rfc3339),
                    })
                })
                .collect();
            print_json(&list)
        }
    }
}

async fn secrets(settings: &Settings, cmd: SecretsCmd) -> anyhow::Result<()> {
    match cmd {
        SecretsCmd::GenerateKey => {
            let text = tollgate_core::kek::generate_text()?;
            let id = tollgate_core::kek::Kek::parse(&text)?.id();
            eprintln!(
                "tollgate: key-encryption key {id}; put it first in {SECRETS_KEY_ENV} or the \
                 --secrets-key-file, then run `tollgate secrets rewrap`"
            );
            output::print_line(&text)
        }
        SecretsCmd::Rewrap => {
            let wrap = settings.key_wrap()?;
            let Some(primary) = wrap.primary() else {
                anyhow::bail!(
                    "no key-encryption key configured: set {SECRETS_KEY_ENV} or --secrets-key-file \
                     (make one with `tollgate secrets generate-key`)"
                );
            };
            let store = tollgate_store::open_with(&settings.database_url, wrap).await?;
            let done = store.rewrap_keys().await?;
            print_json(&serde_json::json!({
                "kek": primary.to_string(),
                "rewrapped": done.changed,
                "unchanged": done.unchanged,
            }))
        }
        SecretsCmd::Status => {
            let store =
                tollgate_store::open_with(&settings.database_url, settings.key_wrap()?).await?;
            let census = store.keys_at_rest().await?;
            let sealed: serde_json::Map<String, serde_json::Value> = census
                .sealed
                .iter()
                .map(|(id, n)| (id.to_string(), (*n).into()))
                .collect();
            print_json(&serde_json::json!({
                "configured": census.configured.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "plaintext": census.plain,
                "sealed": sealed,
                "malformed": census.malformed,
                "to_rewrap": census.not_under_primary(),
                "readable": census.check().is_ok(),
            }))
        }
    }
}

async fn accounts(settings: &Settings) -> anyhow::Result<tollgate_core::accounts::Accounts> {
    let store = open_store(settings).await?;
    Ok(tollgate_core::accounts::Accounts::new(
        store,
        Arc::new(SystemClock),
    ))
}

async fn user(settings: &Settings, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            company,
            email,
            role,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let u = accounts(settings)
                .await?
                .create_user(&company_id(&company)?, &email, role.into(), &password, None)
                .await?;
            let mut v = serde_json::json!({
                "id": u.id,
                "company_id": u.company_id.to_string(),
                "email": u.email.as_str(),
                "role": u.role,
            });
            if generated && let Some(m) = v.as_object_mut() {
                m.insert(
                    "password".into(),
                    serde_json::Value::String(password.to_string()),
                );
            }
            print_json(&v)
        }
        UserCmd::List { company } => {
            let by = AdminActor::operator(company_id(&company)?);
            let accounts = accounts(settings).await?;
            // An unknown company is an error, not an empty list.
            open_store(settings)
                .await?
                .get_company(&by.company_id())
                .await?
                .ok_or_else(|| anyhow::anyhow!("company not found"))?;
            let list: Vec<_> = accounts
                .users(&by)
                .await?
                .iter()
                .map(tollgate_server::views::user_view)
                .collect();
            print_json(&list)
        }
        UserCmd::ResetPassword {
            company,
            id,
            password_stdin,
        } => {
            let by = AdminActor::operator(company_id(&company)?);
            let (password, generated) = password_from(password_stdin)?;
            let u = accounts(settings)
                .await?
                .reset_password(&by, &user_id(&id)?, &password)
                .await?;
            let mut v = tollgate_server::views::user_view(&u);
            if generated && let Some(m) = v.as_object_mut() {
                m.insert(
                    "password".into(),
                    serde_json::Value::String(password.to_string()),
                );
            }
            print_json(&v)
        }
        UserCmd::Delete { company, id } => {
            let by = AdminActor::operator(company_id(&company)?);
            accounts(settings)
                .await?
                .remove_user(&by, &user_id(&id)?)
                .await?;
            print_json(&serde_json::json!({ "deleted": id }))
        }
    }
}

async fn audit(settings: &Settings, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::List { company, limit } => {
            let company = company_id(&company)?;
            // An unknown company is an error, as for `credential list`, not an empty log.
            operator(settings).await?.admin.company(&company).await?;
            let events = accounts(settings).await?.audit(&company, limit).await?;
            let list: Vec<_> = events
                .iter()
                .map(tollgate_server::views::audit_view)
                .collect();
            print_json(&list)
        }
    }
}
