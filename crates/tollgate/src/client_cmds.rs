//! `tollgate token` and `tollgate call`: the client SDK from the command line. They talk to a server
//! over HTTP and never open the database.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use tollgate_client::{
    ApiClient, ClientAuth, ClientSecret, Method, RequestFormat, TokenSource, TryStreamExt,
};
use tollgate_proto::{DEFAULT_API_VERSION, ScopeSet, TOKEN_PATH};

use crate::output::print_json;

/// Where the secret comes from when no flag gives it.
const SECRET_ENV: &str = "TOLLGATE_CLIENT_SECRET";

/// The server and the client's credentials.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Client ID.
    #[arg(long, env = "TOLLGATE_CLIENT_ID")]
    pub client_id: String,
    /// Client secret. Other local users can see command lines: prefer the TOLLGATE_CLIENT_SECRET
    /// environment variable or --client-secret-file.
    #[arg(long, conflicts_with = "client_secret_file")]
    pub client_secret: Option<ClientSecret>,
    /// Read the client secret from this file (surrounding whitespace trimmed).
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,
    /// Path of the token endpoint under --url.
    #[arg(long, default_value = TOKEN_PATH)]
    pub token_path: String,
    /// Scopes to ask for, comma- or space-separated (default: all the credential holds).
    #[arg(long)]
    pub scope: Option<String>,
    /// Send the token request as a form (application/x-www-form-urlencoded) instead of JSON.
    #[arg(long)]
    pub form: bool,
    /// Authenticate with an HTTP Basic header (client_secret_basic) instead of the request body.
    #[arg(long)]
    pub basic: bool,
    /// Give up after this many seconds, retries of network errors, 5xx and 429 included.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `tollgate token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `tollgate call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Value of the 360-api-version header.
    #[arg(long, default_value = DEFAULT_API_VERSION)]
    pub api_version: String,
    /// Follow `Link: rel="next"` and print one JSON array holding every item of every page (GET).
    #[arg(long)]
    pub paginate: bool,
    /// JSON request body.
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
    /// HTTP method: GET, POST, PATCH, PUT, DELETE…
    pub method: String,
    /// Path under --url, e.g. /api/v2/groups (a query string is allowed).
    pub path: String,
}

impl ClientArgs {
    fn secret(&self) -> anyhow::Result<ClientSecret> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => ClientSecret::from_file(path)
                .with_context(|| format!("cannot read --client-secret-file {}", path.display()))?,
            (None, None) => match std::env::var(SECRET_ENV) {
                Ok(s) => ClientSecret::from(s),
                Err(_) => anyhow::bail!(
                    "no client secret: set {SECRET_ENV}, or pass --client-secret-file PATH (or --client-secret)"
                ),
            },
        };
        if secret.is_empty() {
            anyhow::bail!("the client secret is empty");
        }
        Ok(secret)
    }

    fn tokens(&self) -> anyhow::Result<TokenSource> {
        let mut b = TokenSource::builder(&self.url, &self.client_id, self.secret()?)
            .token_path(&self.token_path)
            .timeout(Duration::from_secs(self.timeout));
        if let Some(s) = &self.scope {
            let set =
                ScopeSet::parse_list(s).map_err(|e| anyhow::anyhow!("invalid --scope: {e}"))?;
            b = b.scope(set.to_string());
        }
        if self.form {
            b = b.request_format(RequestFormat::Form);
        }
        if self.basic {
            b = b.client_auth(ClientAuth::SecretBasic);
        }
        Ok(b.build()?)
    }
}

/// Prints a new token response: `{"token_type","access_token","expires_in","scope"}`.
pub async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let t = args.client.tokens()?.fetch().await?;
    let mut out = json!({
        "token_type": t.token_type(),
        "access_token": t.access_token().expose_secret(),
        "expires_in": t.expires_in().as_secs(),
    });
    if let (Some(scope), Some(m)) = (t.scope(), out.as_object_mut()) {
        m.insert("scope".into(), Value::String(scope.to_owned()));
    }
    print_json(&out)
}

/// Performs an authenticated call and prints the answer (JSON pretty-printed, anything else as is).
pub async fn call(args: CallArgs) -> anyhow::Result<()> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| anyhow::anyhow!("`{}` is not an HTTP method", args.method))?;
    let body: Option<Value> = args
        .data
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .context("--data is not valid JSON")?;
    let api = ApiClient::builder(args.client.tokens()?)
        .api_version(&args.api_version)
        .build()?;
    let target = format!("{method} {}", args.path);
    if args.paginate {
        if method != Method::GET || body.is_some() {
            anyhow::bail!("--paginate works with GET and no --data");
        }
        let items: Vec<Value> = api
            .paginate(&args.path)
            .try_collect()
            .await
            .with_context(|| target.clone())?;
        return print_json(&items);
    }
    let resp = api
        .send(method, &args.path, body.as_ref())
        .await
        .with_context(|| target.clone())?;
    let bytes = resp
        .bytes()
        .await
        .map_err(tollgate_client::Error::Transport)
        .with_context(|| target.clone())?;
    if bytes.is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => print_json(&v),
        Err(_) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            if !bytes.ends_with(b"\n") {
                writeln!(out)?;
            }
            Ok(())
        }
    }
}
