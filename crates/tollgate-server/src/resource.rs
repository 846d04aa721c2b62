//! The resource side, reusable by any axum API put behind tollgate: an extractor that only exists
//! when the request carries a live bearer token, a supported version header, and the scope the
//! handler names.
//!
//! The check itself is [`ResourceGuard::check`], for a scope known at run time (read from a
//! configuration file, say):
//!
//! ```no_run
//! # async fn demo(guard: &tollgate_server::resource::ResourceGuard, parts: &axum::http::request::Parts)
//! # -> Result<(), tollgate_server::ApiError> {
//! let scope = tollgate_proto::Scope::parse("reports:read").map_err(|_| tollgate_server::ApiError::Internal)?;
//! let access = guard.check(parts, &scope).await?;
//! # let _ = access; Ok(()) }
//! ```
//!
//! [`Authorized<S>`] is the typed sugar over it for a scope known at compile time:
//!
//! ```no_run
//! use tollgate_server::resource::{Authorized, RequiredScope};
//!
//! struct ReportsRead;
//! impl RequiredScope for ReportsRead {
//!     const SCOPE: &'static str = "reports:read";
//! }
//!
//! async fn list_reports(auth: Authorized<ReportsRead>) -> String {
//!     format!("reports of company {}", auth.access.company_id())
//! }
//! ```
//! The router's state must provide an `Arc<ResourceGuard>` through `FromRef`.
//!
//! Both compare the scope by its text with the token's, the credential's and the company's scopes:
//! nothing is parsed or allocated per request (a 403 copies the scope's name into its answer).

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method};
use tollgate_core::authority::{Access, Authority};
use tollgate_core::store::Store;
use tollgate_proto::Scope;

use crate::error::ApiError;
use crate::metrics::{ApiOutcome, Metrics};
use crate::ratelimit::RateLimiter;

/// Names the scope a handler needs, at compile time (for [`Authorized`]).
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope, e.g. `groups:read`. A text that is not a valid scope is held by no token: every
    /// request is refused (403).
    const SCOPE: &'static str;
}

/// What the checks need: the authority, the version header and the supported versions.
#[derive(Debug)]
pub struct ResourceGuard {
    authority: Arc<Authority>,
    metrics: Arc<Metrics>,
    version_header: HeaderName,
    versions: Vec<String>,
    versions_text: String,
    /// The companies' API budgets, counted for every request with a live token.
    budgets: Option<Arc<RateLimiter>>,
    /// The store to catch up with when a genuine token names a credential unknown here.
    store: Option<Arc<dyn Store>>,
}

impl ResourceGuard {
    /// A guard accepting `versions` in `version_header`.
    pub fn new(
        authority: Arc<Authority>,
        metrics: Arc<Metrics>,
        version_header: HeaderName,
        versions: Vec<String>,
    ) -> Self {
        let versions_text = versions.join(", ");
        Self {
            authority,
            metrics,
            version_header,
            versions,
            versions_text,
            budgets: None,
            store: None,
        }
    }

    /// When a genuine token names a credential, secret or company this node does not hold yet
    /// (issued on another node a moment ago), catches up with `store`'s change feed before
    /// refusing it ([`Authority::authorize_or_catch_up`]).
    pub fn with_catch_up(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Counts every request with a live token against its company's read (GET, HEAD) or write
    /// budget of `limits` (429 over it). In the guard, not in a layer: no route that checks a token
    /// can miss its budget, and the token is checked once.
    pub fn with_budgets(mut self, limits: Arc<RateLimiter>) -> Self {
        self.budgets = Some(limits);
        self
    }

    /// Runs the checks in order: token (401), the company's API budget (429), version header (400),
    /// `scope` (403).
    pub async fn check(&self, parts: &Parts, scope: &Scope) -> Result<Access, ApiError> {
        self.check_named(parts, scope.as_str(), || {
            Cow::Owned(scope.as_str().to_owned())
        })
        .await
    }

    /// The checks for a request made elsewhere (the gateway's routes, `/auth/verify`): the token
    /// of `headers`, meant for `audience` (`None`: the default one) (401), the company's budget
    /// for `method` (429), the version header if `version` (400), and every scope of `scopes`
    /// (403, naming the first one missing).
    pub async fn check_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
        scopes: &[Scope],
        audience: Option<&str>,
        version: bool,
    ) -> Result<Access, ApiError> {
        self.checked(method, headers, audience, version, |access| {
            match scopes.iter().find(|s| !access.allows(s.as_str())) {
                Some(missing) => Err(ApiError::InsufficientScope(Cow::Owned(
                    missing.as_str().to_owned(),
                ))),
                None => Ok(()),
            }
        })
        .await
    }

    /// [`ResourceGuard::check`] for a scope named at compile time.
    async fn check_static(&self, parts: &Parts, scope: &'static str) -> Result<Access, ApiError> {
        self.check_named(parts, scope, || Cow::Borrowed(scope))
            .await
    }

    /// The checks for the scope named `scope`; `owned` names it in a 403.
    async fn check_named(
        &self,
        parts: &Parts,
        scope: &str,
        owned: impl FnOnce() -> Cow<'static, str>,
    ) -> Result<Access, ApiError> {
        self.checked(&parts.method, &parts.headers, None, true, |access| {
            if access.allows(scope) {
                Ok(())
            } else {
                Err(ApiError::InsufficientScope(owned()))
            }
        })
        .await
    }

    /// Runs the checks in order, `scopes` last, and counts the outcome.
    async fn checked(
        &self,
        method: &Method,
        headers: &HeaderMap,
        audience: Option<&str>,
        version: bool,
        scopes: impl FnOnce(&Access) -> Result<(), ApiError>,
    ) -> Result<Access, ApiError> {
        let result = self
            .check_inner(method, headers, audience, version, scopes)
            .await;
        self.metrics.api(match &result {
            Ok(_) => ApiOutcome::Allowed,
            Err(ApiError::TooManyRequests(_)) => ApiOutcome::RateLimited,
            Err(ApiError::InsufficientScope(_)) => ApiOutcome::InsufficientScope,
            Err(ApiError::MissingApiVersion { .. } | ApiError::UnsupportedApiVersion { .. }) => {
                ApiOutcome::BadVersion
            }
            Err(_) => ApiOutcome::InvalidToken,
        });
        result
    }

    async fn check_inner(
        &self,
        method: &Method,
        headers: &HeaderMap,
        audience: Option<&str>,
        version: bool,
        scopes: impl FnOnce(&Access) -> Result<(), ApiError>,
    ) -> Result<Access, ApiError> {
        let access = self.authorize(headers, audience).await?;
        if let Some(limits) = &self.budgets
            && let Err(refused) = limits.api_budget(method, &access.company_id()).await
        {
            self.authority.usage().rate_limited(access.client_id());
            return Err(ApiError::TooManyRequests(refused));
        }
        if version {
            self.check_version(headers)?;
        }
        scopes(&access)?;
        self.authority.usage().api_call(access.client_id());
        Ok(access)
    }

    /// The bearer token of `headers`, authorized and meant for `audience` (`None`: the default
    /// one); 401 otherwise.
    async fn authorize(
        &self,
        headers: &HeaderMap,
        audience: Option<&str>,
    ) -> Result<Access, ApiError> {
        use tollgate_core::authority::TokenRejection;
        let token = bearer_token(headers)?;
        match &self.store {
            Some(store) => self.authority.authorize_or_catch_up(&**store, token).await,
            None => self.authority.authorize(token),
        }
        .and_then(|access| {
            if access.serves(audience) {
                Ok(access)
            } else {
                Err(TokenRejection::WrongAudience)
            }
        })
        .map_err(|e| ApiError::InvalidToken {
            description: match e {
                TokenRejection::Malformed => "the access token is malformed",
                TokenRejection::Expired => "the access token has expired",
                TokenRejection::Revoked => "the access token has been revoked",
                TokenRejection::WrongAudience => "the access token is not meant for this resource",
                _ => "the access token is invalid",
            },
            token_sent: true,
        })
    }

    fn check_version(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let mut values = headers.get_all(&self.version_header).iter();
        let Some(v) = values.next() else {
            return Err(ApiError::MissingApiVersion {
                header: self.version_header.to_string(),
                supported: self.versions_text.clone(),
            });
        };
        let ok = values.next().is_none()
            && v.to_str()
                .is_ok_and(|v| self.versions.iter().any(|s| s == v.trim()));
        if ok {
            Ok(())
        } else {
            Err(ApiError::UnsupportedApiVersion {
                header: self.version_header.to_string(),
                supported: self.versions_text.clone(),
            })
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Err(ApiError::InvalidToken {
            description: "an access token is required (Authorization: Bearer …)",
            token_sent: false,
        });
    };
    let bad = |description| ApiError::InvalidToken {
        description,
        token_sent: true,
    };
    if values.next().is_some() {
        return Err(bad("more than one Authorization header"));
    }
    let v = v
        .to_str()
        .map_err(|_| bad("the access token is malformed"))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken {
            description: "the Authorization header must use the Bearer scheme",
            token_sent: false,
        });
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(bad("the Bearer token is empty"));
    }
    Ok(token)
}

/// Proof that the request passed the checks for scope `S`.
#[derive(Debug)]
pub struct Authorized<S: RequiredScope> {
    /// Who is calling, for which company.
    pub access: Access,
    _scope: PhantomData<S>,
}

impl<S, St> FromRequestParts<St> for Authorized<S>
where
    S: RequiredScope,
    Arc<ResourceGuard>: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let guard = Arc::<ResourceGuard>::from_ref(state);
        let access = guard.check_static(parts, S::SCOPE).await?;
        Ok(Self {
            access,
            _scope: PhantomData,
        })
    }
}
