//! Lists every group, page after page, with tokens fetched and renewed by the SDK.
//!
//! ```sh
//! tollgate serve --demo     # prints a client ID and secret
//! TOLLGATE_CLIENT_ID=… TOLLGATE_CLIENT_SECRET=… cargo run -p tollgate-client --example list_groups
//! ```
//!
//! `TOLLGATE_URL` changes the server (default `http://127.0.0.1:8080`). With `--watch SECONDS` it
//! lists again every few seconds, forever: tokens are renewed before they expire, without a 401.

#![allow(clippy::print_stdout)]

use std::time::Duration;

use tollgate_client::{ApiClient, TokenSource, TryStreamExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TOLLGATE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let id = std::env::var("TOLLGATE_CLIENT_ID").map_err(|_| "set TOLLGATE_CLIENT_ID")?;
    let secret =
        std::env::var("TOLLGATE_CLIENT_SECRET").map_err(|_| "set TOLLGATE_CLIENT_SECRET")?;
    let mut args = std::env::args().skip(1);
    let watch = match (args.next().as_deref(), args.next()) {
        (Some("--watch"), Some(s)) => Some(Duration::from_secs(s.parse()?)),
        (None, _) => None,
        _ => return Err("usage: list_groups [--watch SECONDS]".into()),
    };

    let api = ApiClient::new(TokenSource::builder(url, id, secret).build()?);
    loop {
        let mut groups = api.paginate::<serde_json::Value>("/api/v2/groups");
        let mut n = 0;
        while let Some(g) = groups.try_next().await? {
            println!(
                "{}\t{}",
                g["_id"].as_str().unwrap_or("?"),
                g["name"].as_str().unwrap_or("?")
            );
            n += 1;
        }
        println!("{n} groups");
        match watch {
            Some(every) => tokio::time::sleep(every).await,
            None => return Ok(()),
        }
    }
}
