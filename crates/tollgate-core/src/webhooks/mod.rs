//! Webhooks: a company's admins register endpoints that hear of their credentials' events
//! (created, rotated, expiring, …), delivered as the Standard Webhooks specification describes
//! (<https://www.standardwebhooks.com/>): a JSON body, `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA-256 of "id.timestamp.body">`.
//!
//! Events come from the audit log: the store queues a delivery for each endpoint that takes an
//! entry's event in the same transaction as the entry (an outbox), so an event is queued once,
//! whichever node wrote it, and survives a restart. Each node's sender claims due deliveries with
//! a lease (one node sends each) and retries failures on [`RetryPolicy`]'s schedule. The sending
//! itself (HTTP) is the server's.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::accounts::{AdminActor, AuditAction, AuditEvent};
use crate::clock::{Clock, UnixTime, rfc3339};
use crate::ids::{ObjectId, WebhookId};
use crate::random::RandomError;
use crate::store::{Store, StoreError};

mod model;

pub use model::{
    AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, EventSet, EventType, InvalidEvents,
    InvalidUrl, NextStep, OutgoingEvent, UnknownEventType, Webhook, WebhookSecret, WebhookUrl,
};

/// Most endpoints a company may register.
pub const MAX_WEBHOOKS_PER_COMPANY: u32 = 20;
/// How long a rotated-away signing secret still signs (both signatures are sent meanwhile).
pub const SECRET_ROTATION_WINDOW: i64 = 24 * 3600;

/// The `webhook-signature` value for one message: `v1,<sig>` per secret, separated by spaces.
pub fn signature(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &str) -> String {
    let mut out = String::new();
    for s in secrets {
        let key = hmac::Key::new(hmac::HMAC_SHA256, s.bytes());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(msg_id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body.as_bytes());
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("v1,");
        out.push_str(&STANDARD.encode(ctx.sign().as_ref()));
    }
    out
}

/// A new `webhook-id`.
pub fn new_msg_id(now: UnixTime) -> Result<String, RandomError> {
    Ok(format!("msg_{}", ObjectId::generate(now)?))
}

/// The event an audit entry sends, if its action sends one: `seq` is the entry's place in the
/// log, `label` the credential's label when it still exists. The body names the company, the
/// credential, who did it and the entry's details; never a secret.
pub fn audit_event_payload(
    seq: i64,
    event: &AuditEvent,
    label: Option<&str>,
) -> Option<(EventType, String)> {
    let kind = EventType::of(event.action)?;
    let (client_id, detail) = split_target(&event.target);
    let body = serde_json::json!({
        "type": kind.as_str(),
        "timestamp": rfc3339(event.at),
        "data": {
            "company_id": event.company_id,
            "client_id": client_id,
            "label": label,
            "action": event.action.as_str(),
            "detail": detail,
            "actor": event.actor,
            "audit_seq": seq,
        }
    });
    Some((kind, body.to_string()))
}

/// `CLIENT_ID (grace 60s)` → (`CLIENT_ID`, `Some("grace 60s")`).
fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once(' ') {
        Some((id, rest)) => (
            id,
            Some(
                rest.trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .unwrap_or(rest.trim()),
            ),
        ),
        None => (target, None),
    }
}

/// When a failed delivery is tried again: after each failure the next delay of `delays` (the
/// last one repeats), until `give_up_after` seconds from when it was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Seconds to wait after the 1st, 2nd, … failure.
    pub delays: Vec<i64>,
    /// Seconds after queuing after which a delivery is failed for good.
    pub give_up_after: i64,
}

impl Default for RetryPolicy {
    /// The Standard Webhooks reference schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, within
    /// 24 hours.
    fn default() -> Self {
        Self {
            delays: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            give_up_after: 24 * 3600,
        }
    }
}

impl RetryPolicy {
    /// What follows the `attempts`-th failed attempt of a delivery queued at `queued`, made at `now`.
    pub fn after_failure(&self, queued: UnixTime, attempts: u32, now: UnixTime) -> NextStep {
        let i = (attempts.max(1) as usize - 1).min(self.delays.len().saturating_sub(1));
        let delay = self.delays.get(i).copied().unwrap_or(60);
        let at = now.saturating_add(delay);
        if at > queued.saturating_add(self.give_up_after) {
            NextStep::GiveUp
        } else {
            NextStep::RetryAt(at)
        }
    }
}

/// Why a webhook operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No such endpoint in the caller's company.
    #[error("webhook not found")]
    NotFound,
    /// An input is invalid: `field` says which (`url`, `events`), the message why.
    #[error("{message}")]
    Invalid {
        /// The input at fault.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The company already has its maximum of endpoints.
    #[error("the company already has its maximum of {max} webhooks; remove one first")]
    Limit {
        /// The limit.
        max: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::WebhookLimit { max } => Self::Limit { max },
            e => Self::Store(e),
        }
    }
}

/// What a change to an endpoint sets (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    /// A new URL.
    pub url: Option<String>,
    /// New events.
    pub events: Option<Vec<String>>,
    /// Enabled or disabled.
    pub enabled: Option<bool>,
}

/// A registered endpoint with its secret, shown once.
#[derive(Debug)]
pub struct CreatedWebhook {
    /// The endpoint.
    pub webhook: Webhook,
    /// Its signing secret.
    pub secret: WebhookSecret,
}

/// The webhook operations an admin of a company may do.
#[derive(Clone, Debug)]
pub struct Webhooks {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn url(s: &str) -> Result<WebhookUrl, WebhookError> {
    WebhookUrl::parse(s).map_err(|e| WebhookError::Invalid {
        field: "url",
        message: e.to_string(),
    })
}

fn events<S: AsRef<str>>(names: &[S]) -> Result<EventSet, WebhookError> {
    EventSet::parse(names.iter().map(AsRef::as_ref)).map_err(|e| WebhookError::Invalid {
        field: "events",
        message: e.to_string(),
    })
}

impl Webhooks {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The company's endpoints, oldest first.
    pub async fn list(&self, by: &AdminActor) -> Result<Vec<Webhook>, WebhookError> {
        Ok(self.store.list_webhooks(&by.company_id()).await?)
    }

    /// One endpoint of the caller's company (another company's reads as not found).
    pub async fn get(&self, by: &AdminActor, id: &str) -> Result<Webhook, WebhookError> {
        let id = WebhookId::parse(id).map_err(|_| WebhookError::NotFound)?;
        match self.store.get_webhook(&id).await? {
            Some(w) if w.company_id == by.company_id() => Ok(w),
            _ => Err(WebhookError::NotFound),
        }
    }

    /// Registers an endpoint; its secret is returned once.
    pub async fn create<S: AsRef<str>>(
        &self,
        by: &AdminActor,
        url_text: &str,
        event_names: &[S],
    ) -> Result<CreatedWebhook, WebhookError> {
        let now = self.clock.now();
        let webhook = Webhook {
            id: WebhookId::generate(now)?,
            company_id: by.company_id(),
            url: url(url_text)?,
            events: events(event_names)?,
            enabled: true,
            created_at: now,
            updated_at: now,
            previous_secret_until: None,
        };
        let secret = WebhookSecret::generate()?;
        self.store
            .insert_webhook(&webhook, &secret, MAX_WEBHOOKS_PER_COMPANY)
            .await?;
        self.audit(by, AuditAction::WebhookCreated, &webhook, now)
            .await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Changes an endpoint's URL, events or state.
    pub async fn update(
        &self,
        by: &AdminActor,
        id: &str,
        changes: WebhookChanges,
    ) -> Result<Webhook, WebhookError> {
        let mut w = self.get(by, id).await?;
        let before = (w.url.clone(), w.events, w.enabled);
        if let Some(u) = &changes.url {
            w.url = url(u)?;
        }
        if let Some(e) = &changes.events {
            w.events = events(e)?;
        }
        if let Some(on) = changes.enabled {
            w.enabled = on;
        }
        if (w.url.clone(), w.events, w.enabled) == before {
            return Ok(w);
        }
        let now = self.clock.now();
        w.updated_at = now;
        self.store.update_webhook(&w).await?;
        self.audit(by, AuditAction::WebhookUpdated, &w, now).await?;
        Ok(w)
    }

    /// Removes an endpoint and its queued deliveries.
    pub async fn delete(&self, by: &AdminActor, id: &str) -> Result<(), WebhookError> {
        let w = self.get(by, id).await?;
        self.store.delete_webhook(&w.id).await?;
        self.audit(by, AuditAction::WebhookDeleted, &w, self.clock.now())
            .await
    }

    /// Gives an endpoint a new signing secret (returned once); for
    /// [`SECRET_ROTATION_WINDOW`] deliveries carry both signatures, so the receiver can switch.
    pub async fn rotate_secret(
        &self,
        by: &AdminActor,
        id: &str,
    ) -> Result<CreatedWebhook, WebhookError> {
        let mut w = self.get(by, id).await?;
        let now = self.clock.now();
        let secret = WebhookSecret::generate()?;
        let until = now + SECRET_ROTATION_WINDOW;
        self.store
            .rotate_webhook_secret(&w.id, &secret, until, now)
            .await?;
        w.previous_secret_until = Some(until);
        w.updated_at = now;
        self.audit(by, AuditAction::WebhookSecretRotated, &w, now)
            .await?;
        Ok(CreatedWebhook { webhook: w, secret })
    }

    /// Queues a `webhook.test` event for one endpoint (enabled or not).
    pub async fn send_test(&self, by: &AdminActor, id: &str) -> Result<Delivery, WebhookError> {
        let w = self.get(by, id).await?;
        let now = self.clock.now();
        let body = serde_json::json!({
            "type": EventType::Test.as_str(),
            "timestamp": rfc3339(now),
            "data": {
                "company_id": w.company_id,
                "webhook_id": w.id,
                "message": "A test event from tollgate: this endpoint receives and verifies deliveries.",
            }
        });
        let event = OutgoingEvent {
            msg_id: new_msg_id(now)?,
            event_type: EventType::Test,
            at: now,
            payload: body.to_string(),
        };
        Ok(self.store.enqueue_delivery(&w.id, &event, now).await?)
    }

    /// An endpoint's latest deliveries, newest first.
    pub async fn deliveries(
        &self,
        by: &AdminActor,
        id: &str,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhookError> {
        let w = self.get(by, id).await?;
        Ok(self.store.list_deliveries(&w.id, limit.min(500)).await?)
    }

    async fn audit(
        &self,
        by: &AdminActor,
        action: AuditAction,
        w: &Webhook,
        at: UnixTime,
    ) -> Result<(), WebhookError> {
        // The host only: a receiver's path or query may hold its own secret.
        let event = by.event(action, format!("{} ({})", w.id, w.url.host()), at);
        Ok(self.store.append_audit(&event).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The specification's example: secret, id, timestamp and body, and the signature it gives.
        let secret = WebhookSecret::from_bytes(zeroize::Zeroizing::new(
            STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        ));
        let sig = signature(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        let both = signature(&[a.clone(), b.clone()], "msg_1", 1, "{}");
        let (first, second) = both.split_once(' ').unwrap();
        assert_eq!(first, signature(&[a], "msg_1", 1, "{}"));
        assert_eq!(second, signature(&[b], "msg_1", 1, "{}"));
    }

    #[test]
    fn retries_follow_the_schedule_and_stop_after_the_window() {
        let p = RetryPolicy::default();
        assert_eq!(p.after_failure(0, 1, 0), NextStep::RetryAt(5));
        assert_eq!(p.after_failure(0, 2, 5), NextStep::RetryAt(305));
        assert_eq!(p.after_failure(0, 9, 50_000), NextStep::RetryAt(86_000));
        assert_eq!(p.after_failure(0, 9, 60_000), NextStep::GiveUp);
    }

    #[test]
    fn audit_entries_become_events_with_their_details() {
        let e = AuditEvent {
            at: 1_800_000_000,
            company_id: crate::ids::CompanyId::parse("0123456789abcdef01234567").unwrap(),
            actor: "user:ada@example.com".into(),
            action: AuditAction::CredentialRotated,
            target: "abc123 (grace 60s)".into(),
            remote_addr: Some("10.0.0.1".into()),
        };
        let (kind, body) = audit_event_payload(7, &e, Some("Payroll sync")).unwrap();
        assert_eq!(kind, EventType::CredentialRotated);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "credential.rotated");
        assert_eq!(v["timestamp"], "2027-01-15T08:00:00Z");
        assert_eq!(v["data"]["client_id"], "abc123");
        assert_eq!(v["data"]["detail"], "grace 60s");
        assert_eq!(v["data"]["label"], "Payroll sync");
        assert_eq!(v["data"]["audit_seq"], 7);
        assert!(v["data"].get("remote_addr").is_none());
        let login = AuditEvent {
            action: AuditAction::LoginSucceeded,
            ..e
        };
        assert!(audit_event_payload(8, &login, None).is_none());
    }
}
