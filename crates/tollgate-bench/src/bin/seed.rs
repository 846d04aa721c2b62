//! Fills a SQLite store for the benchmark: companies of 10 credentials (the reference's limit), each
//! company with a root group and two child groups, every credential with `groups:read groups:write`
//! (or the `--scopes` given) and one secret. Rows are written in one transaction with plain SQL (the
//! `Store` API writes one credential per transaction, which takes minutes for a million), after
//! `tollgate_store::open` has migrated the file and made its server key, so secrets hash exactly as
//! the server expects.
//!
//! Prints nothing secret to the log; writes `client_id secret` lines of a sample of the credentials
//! (spread over the whole store) to `--out`, for the load generator.
//!
//! Usage: `seed --database-url sqlite://bench.db --credentials 10000 --sample 1000 --out creds.txt`

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use sqlx::Connection as _;
use tollgate_core::clock::{Clock as _, SystemClock};
use tollgate_core::ids::{ClientId, CompanyId, ObjectId, SecretId};
use tollgate_core::secret::SecretHasher;

#[derive(Parser)]
struct Args {
    /// The SQLite database (created if missing).
    #[arg(long)]
    database_url: String,
    /// How many credentials to create.
    #[arg(long)]
    credentials: usize,
    /// How many of them to write to `--out` (evenly spread).
    #[arg(long, default_value_t = 1000)]
    sample: usize,
    /// Where the sampled `client_id secret` lines go.
    #[arg(long)]
    out: PathBuf,
    /// The scopes of every company (its ceiling) and of every credential, space-separated; scopes
    /// outside the built-in catalog need `extra_scopes` in the server's configuration.
    #[arg(long, default_value = "groups:read groups:write")]
    scopes: String,
}

const PER_COMPANY: usize = 10;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.database_url.starts_with("sqlite:"),
        "seed writes SQLite stores only"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(seed(args))
}

async fn seed(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = tollgate_store::open(&args.database_url).await?;
    let hasher = SecretHasher::new(&store.server_key().await?);
    drop(store);
    let mut conn = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", args.database_url))
        .await
        .context("opening the database")?;
    let now = SystemClock.now();
    let every = (args.credentials / args.sample.max(1)).max(1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    let mut tx = conn.begin().await?;
    let mut company = CompanyId::generate(now)?;
    for i in 0..args.credentials {
        if i % PER_COMPANY == 0 {
            company = CompanyId::generate(now)?;
            insert_company(&mut tx, &company, i / PER_COMPANY, &args.scopes, now).await?;
        }
        let client_id = ClientId::generate()?;
        let secret = tollgate_core::secret::generate()?;
        sqlx::query(
            "INSERT INTO credentials(client_id, company_id, label, scopes, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(client_id.as_str())
        .bind(company.to_string())
        .bind(format!("bench {i}"))
        .bind(&args.scopes)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO credential_secrets(id, client_id, hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(SecretId::generate()?.as_str())
        .bind(client_id.as_str())
        .bind(hasher.hash(secret.expose_secret()).0.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if i % every == 0 {
            writeln!(out, "{} {}", client_id.as_str(), secret.expose_secret())?;
        }
    }
    tx.commit().await?;
    out.flush()?;
    eprintln!(
        "seeded {} credentials in {} companies in {:.1} s",
        args.credentials,
        args.credentials.div_ceil(PER_COMPANY),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn insert_company(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: &CompanyId,
    n: usize,
    scopes: &str,
    now: i64,
) -> anyhow::Result<()> {
    let company = id.to_string();
    sqlx::query(
        "INSERT INTO companies(id, name, scopes, max_credentials, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&company)
    .bind(format!("Bench company {n:07}"))
    .bind(scopes)
    .bind(PER_COMPANY as i64)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let root = ObjectId::generate(now)?.to_string();
    for (name, parent) in [
        ("Bench company", None),
        ("Engineering Team", Some(&root)),
        ("Marketing Team", Some(&root)),
    ] {
        let id = if parent.is_none() {
            root.clone()
        } else {
            ObjectId::generate(now)?.to_string()
        };
        sqlx::query(
            "INSERT INTO groups(id, company_id, name, public, parent_id) VALUES (?, ?, ?, 0, ?)",
        )
        .bind(id)
        .bind(&company)
        .bind(name)
        .bind(parent)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
