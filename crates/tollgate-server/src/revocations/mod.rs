//! `GET /api/v2/oauth2/revocations`: the revocation feed, as Server-Sent Events, for services that
//! verify tokens themselves (`tollgate-middleware`) and must still refuse revoked ones at once.
//!
//! - **Who may read it**: a bearer token whose credential holds the reserved scope
//!   `tollgate:revocations` (401 with the RFC 6750 challenge without a valid token, 403 without the
//!   scope). The request passes the same [`ResourceGuard`] as the API, so it needs the version
//!   header (`360-api-version: v2.0` by default) and counts once against the company's API budget.
//! - **What it sends** ([`tollgate_proto::FeedEvent`], JSON in `data:`): a `snapshot` on connect
//!   (every company's ceiling, every credential with its scopes and live secret ids, the revoked
//!   token ids not yet expired), then one event per change of this node's `Directory` — which the
//!   store's change feed keeps in step with every writer — carrying the current state of what
//!   changed: `credential`, `credential_deleted`, `company`, `company_deleted`, `revoked`.
//! - **Cursor**: every message has an `id:` (`<boot>-<position>`, this server's boot and its
//!   directory journal's position). A reconnect sending it back (`Last-Event-ID`, or `?cursor=`)
//!   gets only what followed; a cursor of another boot or node, or one too old, gets a fresh
//!   snapshot.
//! - **Keep-alive**: a comment every [`KEEP_ALIVE`]; a subscriber that hears nothing for a few of
//!   them may take the connection for dead.
//! - **Limits**: at most [`hub::MAX_SUBSCRIBERS`] open feeds per server (503 beyond); the journal keeps a
//!   bounded number of entries; the streams end when the server shuts down, and when the
//!   subscriber's token stops being valid (expired, revoked, its credential deleted or the scope
//!   withdrawn: checked every [`RECHECK`]).

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tollgate_core::authority::Authority;
use tollgate_core::directory::{CompanyEntry, CredentialEntry, Directory};
use tollgate_core::journal::Touched;
use tollgate_proto::{
    CompanyState, CredentialState, FeedEvent, FeedSnapshot, REVOCATIONS_SCOPE, RevokedToken, Scope,
    SecretState,
};

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) mod hub;

use hub::KEEP_ALIVE;

/// How often an open feed checks that its subscriber's token is still valid (a deleted or expired
/// feed credential's stream ends; its reconnection is refused).
pub const RECHECK: Duration = Duration::from_secs(1);

/// `GET /api/v2/oauth2/revocations` (Server-Sent Events).
#[utoipa::path(
    get,
    path = "/api/v2/oauth2/revocations",
    tag = "oauth",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last message received: resume after it"),
        ("cursor" = Option<String>, Query, description = "The same, for clients that cannot set headers"),
    ),
    responses(
        (status = 200, description = "An endless event stream: `snapshot`, then `credential`, `credential_deleted`, `company`, `company_deleted`, `revoked` (JSON in `data:`, a cursor in `id:`)", content_type = "text/event-stream", body = String),
        (status = 400, description = "Missing or unsupported version header", body = crate::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token", body = crate::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope: the token lacks tollgate:revocations", body = crate::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's API budget (the connection counts once)", body = crate::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
        (status = 503, description = "Too many open feeds", body = crate::schemas::ApiErrorDoc, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = ["tollgate:revocations"])),
)]
pub(crate) async fn revocations(State(state): State<AppState>, parts: Parts) -> Response {
    let Ok(scope) = Scope::parse(REVOCATIONS_SCOPE) else {
        return ApiError::Internal.into_response();
    };
    if let Err(e) = state.guard.check(&parts, &scope).await {
        return e.into_response();
    }
    let feed = &state.revocation_feed;
    let Ok(permit) = feed.subscriber_slot() else {
        return ApiError::Unavailable("too many open revocation feeds; retry later")
            .into_response();
    };
    // The guard accepted it: `Bearer <token>`.
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim().to_owned())
        .unwrap_or_default();
    let cursor = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "cursor")
                .map(|(_, v)| v.into_owned())
        });
    let directory = state.authority.shared_directory();
    let resume = cursor
        .as_deref()
        .and_then(|c| feed.position_of(c))
        .filter(|p| directory.journal().since(*p).is_some());
    let sub = Subscriber {
        changes: directory.journal().subscribe(),
        closing: feed.closing(),
        authority: Arc::clone(&state.authority),
        directory,
        token,
        checked: Instant::now(),
        boot: feed.boot(),
        position: resume.unwrap_or(0),
        snapshot_due: resume.is_none(),
        pending: VecDeque::new(),
        _permit: permit,
    };
    let stream = futures_util::stream::unfold(sub, Subscriber::next);
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// One open feed.
struct Subscriber {
    authority: Arc<Authority>,
    directory: Arc<Directory>,
    /// The subscriber's bearer token, checked again every [`RECHECK`].
    token: String,
    checked: Instant,
    boot: u64,
    /// The journal position this subscriber has been told about.
    position: u64,
    snapshot_due: bool,
    pending: VecDeque<Event>,
    changes: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Subscriber {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if *self.closing.borrow() {
                return None;
            }
            if self.checked.elapsed() >= RECHECK {
                let allowed = self
                    .authority
                    .authorize(&self.token)
                    .is_ok_and(|a| a.allows(REVOCATIONS_SCOPE));
                if !allowed {
                    return None;
                }
                self.checked = Instant::now();
            }
            if let Some(e) = self.pending.pop_front() {
                return Some((Ok(e), self));
            }
            // Seen before reading: a change noted after this is waited for below.
            self.changes.borrow_and_update();
            if self.snapshot_due {
                self.snapshot_due = false;
                // The position first: what changes while the snapshot is read is sent again.
                self.position = self.directory.journal().position();
                let snapshot = FeedEvent::Snapshot(self.snapshot());
                if let Some(e) = self.message(&snapshot, self.position) {
                    return Some((Ok(e), self));
                }
                continue;
            }
            let Some(list) = self.directory.journal().since(self.position) else {
                self.snapshot_due = true;
                continue;
            };
            if list.is_empty() {
                tokio::select! {
                    changed = self.changes.changed() => if changed.is_err() { return None },
                    _ = self.closing.changed() => return None,
                    () = tokio::time::sleep(RECHECK) => {}
                }
                continue;
            }
            if list.contains(&Touched::Reloaded) {
                self.snapshot_due = true;
                continue;
            }
            // Events carry current state: the last mention of each key says it all.
            let start = self.position;
            let mut seen = HashSet::new();
            let mut batch: Vec<(u64, &Touched)> = list
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, t)| seen.insert(*t))
                .map(|(i, t)| (start + i as u64 + 1, t))
                .collect();
            batch.reverse();
            for (pos, t) in batch {
                if let Some(e) = self.event(t).and_then(|ev| self.message(&ev, pos)) {
                    self.pending.push_back(e);
                }
            }
            self.position = start + list.len() as u64;
        }
    }

    fn message(&self, event: &FeedEvent, position: u64) -> Option<Event> {
        let data = serde_json::to_string(event)
            .inspect_err(|e| tracing::error!(error = %e, "revocation feed event not encoded"))
            .ok()?;
        Some(
            Event::default()
                .event(event.name())
                .id(format!("{:016x}-{position}", self.boot))
                .data(data),
        )
    }

    fn event(&self, t: &Touched) -> Option<FeedEvent> {
        let d = &self.directory;
        Some(match t {
            Touched::Company(id) => match d.company(id) {
                Some(c) => FeedEvent::Company(company_state(&c)),
                None => FeedEvent::CompanyDeleted {
                    company_id: id.to_string(),
                },
            },
            Touched::Credential(id) => match d.credential(id.as_str()) {
                Some(c) => FeedEvent::Credential(self.credential_state(&c)),
                None => FeedEvent::CredentialDeleted {
                    client_id: id.as_str().to_owned(),
                },
            },
            Touched::Revoked(jti) => FeedEvent::Revoked(RevokedToken {
                jti: jti.to_string(),
                exp: d.revoked_until(jti)?,
            }),
            Touched::Reloaded => FeedEvent::Snapshot(self.snapshot()),
        })
    }

    fn snapshot(&self) -> FeedSnapshot {
        let d = &self.directory;
        let now = self.authority.now();
        FeedSnapshot {
            companies: d.companies().iter().map(|c| company_state(c)).collect(),
            credentials: d
                .credentials()
                .iter()
                .map(|c| self.credential_state(c))
                .collect(),
            revoked: d
                .revoked_tokens(now)
                .into_iter()
                .map(|(jti, exp)| RevokedToken {
                    jti: jti.into(),
                    exp,
                })
                .collect(),
        }
    }

    fn credential_state(&self, c: &CredentialEntry) -> CredentialState {
        let now = self.authority.now();
        CredentialState {
            client_id: c.client_id.as_str().to_owned(),
            company_id: c.company_id.to_string(),
            scopes: c.scopes.clone(),
            secrets: c
                .secrets
                .iter()
                .filter(|s| s.is_live(now))
                .map(|s| SecretState {
                    id: s.id.as_str().to_owned(),
                    expires_at: s.expires_at,
                })
                .collect(),
        }
    }
}

fn company_state(c: &CompanyEntry) -> CompanyState {
    CompanyState {
        company_id: c.id.to_string(),
        scopes: c.scopes.clone(),
    }
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(revocations))]
pub(crate) struct Doc;
