//! [`Verifier`]: discovery, the offline checks, and the revocation feed's verdict.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tollgate_proto::{REVOCATIONS_PATH, ScopeSet, SigningAlg};

use crate::claims::Claims;
use crate::error::{DiscoverError, Rejection};
use crate::feed::{self, FeedState, TokenFacts, Verdict};
use crate::jwks::JwksCache;
use crate::metrics::{Counters, Metrics, bump};
use crate::options::{Clock, Options};

/// Verifies tollgate's access tokens. Cheap to clone (one `Arc`); its background tasks (the key
/// set's periodic refresh, the revocation feed) stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    validations: HashMap<Algorithm, Validation>,
    exp_leeway: i64,
    max_clock_skew: i64,
    clock: Arc<dyn Clock>,
    jwks: Arc<JwksCache>,
    feed: Option<Arc<FeedState>>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The RFC 8414 metadata fields the verifier reads.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
}

/// The claims of a tollgate access token (RFC 9068 plus `client_id`, `company_id`, `tg_sid`).
/// `iss` and `aud` are checked by `jsonwebtoken`.
#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    iat: i64,
    #[serde(default)]
    nbf: Option<i64>,
    exp: i64,
    jti: String,
    client_id: String,
    scope: String,
    company_id: String,
    tg_sid: String,
}

fn jwt_alg(a: SigningAlg) -> Algorithm {
    match a {
        SigningAlg::EdDSA => Algorithm::EdDSA,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::RS256 => Algorithm::RS256,
    }
}

impl Verifier {
    /// Reads `{issuer}/.well-known/oauth-authorization-server`, fetches the key set it names, and
    /// (with [`Options::feed`]) starts the revocation feed's subscriber. Tokens must carry `iss` =
    /// `issuer` and `aud` = `audience` (tollgate's audience is its issuer unless configured).
    ///
    /// Must be called within a Tokio runtime.
    pub async fn discover(
        issuer: &str,
        audience: &str,
        options: Options,
    ) -> Result<Self, DiscoverError> {
        if options.algorithms.is_empty() {
            return Err(DiscoverError::Options("no algorithm accepted".into()));
        }
        let issuer = issuer.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(options.http_timeout)
            .build()
            .map_err(|source| DiscoverError::Http {
                what: "HTTP client",
                source,
            })?;
        let meta: Metadata = crate::jwks::get_json(
            &http,
            &format!("{issuer}/.well-known/oauth-authorization-server"),
            options.http_timeout,
            "authorization server metadata",
        )
        .await?;
        if meta.issuer.trim_end_matches('/') != issuer {
            return Err(DiscoverError::Metadata(format!(
                "the metadata names the issuer {}, not {issuer}",
                meta.issuer
            )));
        }
        let algorithms: Vec<Algorithm> = options.algorithms.iter().map(|a| jwt_alg(*a)).collect();
        let counters = Arc::new(Counters::default());
        let jwks = Arc::new(JwksCache::new(
            meta.jwks_uri,
            http.clone(),
            algorithms.clone(),
            options.min_refetch_interval,
            options.http_timeout,
            Arc::clone(&counters),
        ));
        jwks.refresh().await?;
        let validations = algorithms
            .iter()
            .map(|alg| {
                let mut v = Validation::new(*alg);
                v.set_issuer(&[&issuer]);
                v.set_audience(&[audience]);
                // exp, nbf and iat are checked against the injected clock (see `verify`).
                v.validate_exp = false;
                v.validate_nbf = false;
                v.leeway = 0;
                v.required_spec_claims = ["exp", "iss", "aud", "sub"]
                    .into_iter()
                    .map(String::from)
                    .collect();
                (*alg, v)
            })
            .collect();
        let mut tasks = Vec::new();
        let refresher = Arc::clone(&jwks);
        let every = options.refresh_interval;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = refresher.refresh().await {
                    tracing::warn!(error = %e, "key set refresh failed");
                }
            }
        }));
        let feed = options.feed.map(|opts| {
            let state = Arc::new(FeedState::new(&opts, Arc::clone(&counters)));
            tasks.push(tokio::spawn(feed::run(
                Arc::clone(&state),
                feed::Subscription {
                    http,
                    feed_url: format!("{issuer}{REVOCATIONS_PATH}"),
                    token_url: meta.token_endpoint,
                    opts,
                    clock: Arc::clone(&options.clock),
                    timeout: options.http_timeout,
                },
            )));
            state
        });
        Ok(Self {
            inner: Arc::new(Inner {
                issuer,
                audience: audience.to_owned(),
                validations,
                exp_leeway: secs(options.exp_leeway),
                max_clock_skew: secs(options.max_clock_skew),
                clock: options.clock,
                jwks,
                feed,
                counters,
                tasks,
            }),
        })
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Waits until the revocation feed has delivered its first snapshot (at once without a feed).
    /// Until then a verifier that fails closed refuses every token; wrap this in a timeout.
    pub async fn ready(&self) {
        if let Some(f) = &self.inner.feed {
            f.wait_ready().await;
        }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        let stale = self.inner.feed.as_ref().is_some_and(|f| f.is_stale());
        self.inner
            .counters
            .snapshot(self.inner.feed.is_some(), stale)
    }

    /// Verifies the bearer token of `headers` (`Authorization: Bearer …`).
    pub async fn authorize(&self, headers: &HeaderMap) -> Result<Claims, Rejection> {
        let token = bearer_token(headers)?;
        self.verify(token).await
    }

    /// Verifies `token`: header (`typ: at+jwt`, an accepted `alg`, a `kid` of the key set whose
    /// own algorithm is `alg`), signature, `iss`, `aud`, `exp` (with leeway), `iat`/`nbf` (not too
    /// far ahead), then — with a feed — revocation, and the scopes in force.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        let result = self.verify_inner(token).await;
        bump(match result {
            Ok(_) => &self.inner.counters.accepted,
            Err(_) => &self.inner.counters.rejected,
        });
        result
    }

    async fn verify_inner(&self, token: &str) -> Result<Claims, Rejection> {
        let inner = &self.inner;
        if token.len() > 8 * 1024 {
            return Err(Rejection::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(Rejection::Invalid);
        }
        let validation = inner
            .validations
            .get(&header.alg)
            .ok_or(Rejection::Invalid)?;
        let kid = header.kid.as_deref().ok_or(Rejection::Invalid)?;
        let key = inner
            .jwks
            .get_or_refetch(kid)
            .await
            .ok_or(Rejection::Invalid)?;
        // The key decides the algorithm: a header naming another one is refused.
        if key.alg != header.alg {
            return Err(Rejection::Invalid);
        }
        let data = jsonwebtoken::decode::<RawClaims>(token, &key.key, validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => Rejection::Malformed,
                _ => Rejection::Invalid,
            }
        })?;
        let c = data.claims;
        let now = inner.clock.now();
        if now >= c.exp.saturating_add(inner.exp_leeway) {
            return Err(Rejection::Expired);
        }
        if c.iat.max(c.nbf.unwrap_or(c.iat)) > now.saturating_add(inner.max_clock_skew) {
            return Err(Rejection::Invalid);
        }
        if c.sub != c.client_id {
            return Err(Rejection::Invalid);
        }
        let token_scopes = ScopeSet::parse_list(&c.scope).map_err(|_| Rejection::Invalid)?;
        let scopes = match &inner.feed {
            None => token_scopes.clone(),
            Some(feed) => {
                let facts = TokenFacts {
                    jti: &c.jti,
                    client_id: &c.client_id,
                    company_id: &c.company_id,
                    secret_id: &c.tg_sid,
                    scopes: &token_scopes,
                };
                match feed.check(&facts, now) {
                    Verdict::Valid(s) => s,
                    Verdict::FailedOpen => token_scopes.clone(),
                    Verdict::Revoked => return Err(Rejection::Revoked),
                    Verdict::Unavailable => return Err(Rejection::Unavailable),
                }
            }
        };
        Ok(Claims {
            client_id: c.client_id,
            company_id: c.company_id,
            jti: c.jti,
            secret_id: c.tg_sid,
            scopes,
            token_scopes,
            iat: c.iat,
            exp: c.exp,
        })
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The token of `Authorization: Bearer <token>` (one header, the Bearer scheme, not empty).
fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let v = values.next().ok_or(Rejection::Missing)?;
    if values.next().is_some() {
        return Err(Rejection::Malformed);
    }
    let v = v.to_str().map_err(|_| Rejection::Malformed)?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::NotBearer);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(token)
}
