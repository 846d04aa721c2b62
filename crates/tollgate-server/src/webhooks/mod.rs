//! Sending webhooks: each node's sender claims due deliveries from the store's queue (filled by
//! the audit log's outbox, see `tollgate_core::webhooks`), POSTs them signed per the Standard
//! Webhooks specification, and records each attempt and what follows it. Also here: the
//! detector that turns a burst of failed authentications of a credential into an audit entry
//! (and so a `credential.auth_failures` event).

mod failures;
mod resolve;
mod sender;

pub(crate) use failures::FailureWatch;
pub(crate) use sender::Sender;

use serde::Deserialize;

/// `[webhooks]`: how this node sends deliveries.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Whether this node sends deliveries (events are queued whatever it says; a node that does
    /// not send leaves them to the others).
    pub send: bool,
    /// Allow deliveries to private, loopback and link-local addresses (default `false`: a
    /// company admin must not reach the operator's internal network). `serve --demo` allows them.
    pub private_targets: bool,
    /// Seconds to wait after the 1st, 2nd, … failed attempt (the last one repeats).
    pub retry_delays_secs: Vec<i64>,
    /// Seconds after which a delivery that was never accepted is failed for good.
    pub retry_window_secs: i64,
    /// How often the queue is polled for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a receiver has to answer, in milliseconds.
    pub timeout_ms: u64,
    /// Failed authentications of one credential, within `auth_failure_window_secs`, that make a
    /// `credential.auth_failures` event (0: never).
    pub auth_failure_threshold: u32,
    /// The window of `auth_failure_threshold`, in seconds.
    pub auth_failure_window_secs: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let policy = tollgate_core::webhooks::RetryPolicy::default();
        Self {
            send: true,
            private_targets: false,
            retry_delays_secs: policy.delays,
            retry_window_secs: policy.give_up_after,
            poll_interval_ms: 1_000,
            timeout_ms: 10_000,
            auth_failure_threshold: 20,
            auth_failure_window_secs: 300,
        }
    }
}

impl WebhookSettings {
    /// Checks the values that have no meaning out of range.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.retry_delays_secs.is_empty() || self.retry_delays_secs.iter().any(|d| *d < 1) {
            return Err(
                "webhooks.retry_delays_secs must list at least one delay of 1 second or more"
                    .into(),
            );
        }
        if self.retry_window_secs < 1 {
            return Err("webhooks.retry_window_secs must be at least 1".into());
        }
        if self.poll_interval_ms < 10 || self.timeout_ms < 100 {
            return Err("webhooks.poll_interval_ms must be at least 10 and webhooks.timeout_ms at least 100".into());
        }
        if self.auth_failure_threshold > 0 && self.auth_failure_window_secs == 0 {
            return Err("webhooks.auth_failure_window_secs must be at least 1".into());
        }
        Ok(())
    }

    fn policy(&self) -> tollgate_core::webhooks::RetryPolicy {
        tollgate_core::webhooks::RetryPolicy {
            delays: self.retry_delays_secs.clone(),
            give_up_after: self.retry_window_secs,
        }
    }
}

/// Counts a failed authentication of `client_id` (ignored when no such credential exists here:
/// unknown client IDs belong to no company); at the burst threshold, writes the
/// `credential.auth_failures` audit entry off the request's path.
pub(crate) fn note_auth_failure(
    state: &crate::AppState,
    client_id: &str,
    why: tollgate_core::authority::ClientAuthFailure,
    ip: Option<std::net::IpAddr>,
) {
    if why == tollgate_core::authority::ClientAuthFailure::UnknownClient {
        return;
    }
    let Some(entry) = state.authority.directory().credential(client_id) else {
        return;
    };
    state.authority.usage().failed_auth(&entry.client_id);
    let now = state.authority.now();
    let Some(count) = state.auth_failures.failed(&entry.client_id, now) else {
        return;
    };
    let event = tollgate_core::accounts::AuditEvent {
        at: now,
        company_id: entry.company_id,
        actor: tollgate_core::accounts::Actor::System.to_string(),
        action: tollgate_core::accounts::AuditAction::CredentialAuthFailures,
        target: format!(
            "{} ({count} failed authentications within {} s)",
            entry.client_id,
            state.auth_failures.window_secs()
        ),
        remote_addr: ip.map(|ip| ip.to_string()),
    };
    let accounts = state.accounts.clone();
    tokio::spawn(async move {
        if let Err(e) = accounts.record(event).await {
            tracing::warn!(error = %e, "could not record a burst of failed authentications");
        }
    });
}
