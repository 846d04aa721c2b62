//! One node's webhook sender.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tollgate_core::clock::Clock;
use tollgate_core::store::WebhookStore;
use tollgate_core::webhooks::{AttemptOutcome, DueDelivery, NextStep, RetryPolicy, signature};

use super::WebhookSettings;
use super::resolve::{PublicOnly, allowed};
use crate::metrics::Metrics;

/// Deliveries claimed per round.
const BATCH: u32 = 32;
/// How long a claim keeps other nodes off a delivery; longer than any attempt can take.
const LEASE_MARGIN_SECS: i64 = 30;
/// Longest `last_error` kept.
const MAX_ERROR_LEN: usize = 300;

/// Claims due deliveries and sends them.
#[derive(Debug)]
pub(crate) struct Sender {
    store: Arc<dyn WebhookStore>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    policy: RetryPolicy,
    private_targets: bool,
    poll: Duration,
    lease: i64,
    metrics: Arc<Metrics>,
}

impl Sender {
    pub(crate) fn new(
        settings: &WebhookSettings,
        store: Arc<dyn WebhookStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly {
                private_targets: settings.private_targets,
            }))
            // A redirect could point anywhere, a private address included: not followed (a 3xx
            // is a failed attempt).
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("tollgate-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            clock,
            client,
            policy: settings.policy(),
            private_targets: settings.private_targets,
            poll: Duration::from_millis(settings.poll_interval_ms),
            lease: i64::try_from(settings.timeout_ms / 1000).unwrap_or(3600) + LEASE_MARGIN_SECS,
            metrics,
        })
    }

    /// Sends due deliveries until `stop` changes: a full batch is followed by the next at once,
    /// otherwise the queue is polled every `poll_interval_ms`.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failing = false;
        loop {
            let sent = match self.send_due().await {
                Ok(n) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("webhook queue readable again");
                    }
                    n
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, "cannot read the webhook queue; retrying");
                    }
                    0
                }
            };
            if sent < BATCH as usize {
                tokio::select! {
                    () = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// Claims the due deliveries (at most one batch) and sends them at once; how many.
    pub(crate) async fn send_due(&self) -> Result<usize, tollgate_core::store::StoreError> {
        let due = self
            .store
            .claim_deliveries(self.clock.now(), self.lease, BATCH)
            .await?;
        futures_util::future::join_all(due.iter().map(|d| self.send_one(d))).await;
        Ok(due.len())
    }

    async fn send_one(&self, d: &DueDelivery) {
        let outcome = self.attempt(d).await;
        self.metrics.webhook_attempt(match outcome.next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retry",
            NextStep::GiveUp => "failed",
        });
        match &outcome.next {
            NextStep::Delivered => {
                tracing::debug!(webhook = %d.delivery.webhook_id, msg_id = %d.delivery.msg_id, "webhook delivered")
            }
            next => tracing::info!(
                webhook = %d.delivery.webhook_id,
                host = d.url.host(),
                msg_id = %d.delivery.msg_id,
                status = outcome.status,
                error = outcome.error.as_deref().unwrap_or(""),
                gave_up = matches!(next, NextStep::GiveUp),
                "webhook delivery failed"
            ),
        }
        if let Err(e) = self.store.finish_delivery(d.delivery.seq, &outcome).await {
            // The lease ends and another round sends it again: receivers drop the duplicate by
            // its webhook-id.
            tracing::warn!(error = %e, msg_id = %d.delivery.msg_id, "could not record a webhook attempt");
        }
    }

    async fn attempt(&self, d: &DueDelivery) -> AttemptOutcome {
        let now = self.clock.now();
        let (status, error) = match self.post(d, now).await {
            Ok(s) if (200..300).contains(&s) => (Some(s), None),
            Ok(s) => (Some(s), Some(format!("the receiver answered HTTP {s}"))),
            Err(e) => (None, Some(e)),
        };
        let next = if error.is_none() {
            NextStep::Delivered
        } else {
            self.policy
                .after_failure(d.delivery.created_at, d.delivery.attempts + 1, now)
        };
        AttemptOutcome {
            at: now,
            status,
            error,
            next,
        }
    }

    /// POSTs the delivery; the receiver's status, or why there is none (never the URL, whose path
    /// may hold the receiver's own secret).
    async fn post(&self, d: &DueDelivery, now: i64) -> Result<u16, String> {
        let ip = match d.url.url().host() {
            Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
            _ => None,
        };
        if let Some(ip) = ip
            && !allowed(ip, self.private_targets)
        {
            return Err(format!(
                "{ip} is a private or reserved address, which webhooks may not reach (webhooks.private_targets = false)"
            ));
        }
        let m = &d.delivery;
        let sig = signature(&d.secrets, &m.msg_id, now, &m.payload);
        let r = self
            .client
            .post(d.url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &m.msg_id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", sig)
            .body(m.payload.clone())
            .send()
            .await
            .map_err(describe)?;
        Ok(r.status().as_u16())
    }
}

/// An error and its causes, without the URL, cut at [`MAX_ERROR_LEN`].
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else {
        let mut t = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let s_text = s.to_string();
            if !t.contains(&s_text) {
                t.push_str(": ");
                t.push_str(&s_text);
            }
            source = s.source();
        }
        t
    };
    if text.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
