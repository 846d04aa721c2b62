//! A small service protected by tollgate-middleware.
//!
//! ```sh
//! # a credential for the feed: its company's ceiling and its scopes hold tollgate:revocations
//! TOLLGATE_ISSUER=http://127.0.0.1:8080 \
//! FEED_CLIENT_ID=… FEED_CLIENT_SECRET=… \
//! cargo run -p tollgate-middleware --example service
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/reports
//! ```

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tollgate_middleware::{Claims, FeedOptions, Options, Rejection, Verifier, VerifyLayer};
use tollgate_proto::ClientSecret;

/// Needs `users:read` in force (the token's, within the credential's and the company's scopes).
async fn reports(claims: Claims) -> Result<String, Rejection> {
    claims.require("users:read")?;
    Ok(format!(
        "reports of company {} for {}\n",
        claims.company_id, claims.client_id
    ))
}

/// Any valid token.
async fn whoami(claims: Claims) -> String {
    format!("{} ({})\n", claims.client_id, claims.scopes)
}

fn env(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = env("TOLLGATE_ISSUER")?;
    let audience = std::env::var("TOLLGATE_AUDIENCE").unwrap_or_else(|_| issuer.clone());
    let feed = FeedOptions::new(
        env("FEED_CLIENT_ID")?,
        ClientSecret::new(env("FEED_CLIENT_SECRET")?),
    );
    let verifier = Verifier::discover(&issuer, &audience, Options::default().feed(feed)).await?;
    // Until the first snapshot arrives every token is refused (fail closed): wait for it.
    tokio::time::timeout(Duration::from_secs(10), verifier.ready()).await?;
    let app = Router::new()
        .route("/reports", get(reports))
        .route("/whoami", get(whoami))
        .layer(VerifyLayer::new(verifier));
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    axum::serve(listener, app).await?;
    Ok(())
}
