//! Webhook endpoints and their delivery queue.

use super::StoreError;
use crate::clock::UnixTime;
use crate::ids::{CompanyId, WebhookId};
use crate::webhooks::{
    AttemptOutcome, Delivery, DueDelivery, OutgoingEvent, Webhook, WebhookSecret,
};
use async_trait::async_trait;

/// Webhook endpoints and their delivery queue. Deliveries of audit events are queued by
/// [`AccountStore::append_audit`](super::AccountStore::append_audit) (and every other write of an
/// audit entry) in the entry's transaction.
#[async_trait]
pub trait WebhookStore: Send + Sync + std::fmt::Debug {
    /// Adds an endpoint with its secret; [`StoreError::WebhookLimit`] (and nothing written) if its
    /// company already has `max` (counted atomically with the insert).
    async fn insert_webhook(
        &self,
        webhook: &Webhook,
        secret: &WebhookSecret,
        max: u32,
    ) -> Result<(), StoreError>;
    /// One endpoint.
    async fn get_webhook(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError>;
    /// A company's endpoints, oldest first.
    async fn list_webhooks(&self, company: &CompanyId) -> Result<Vec<Webhook>, StoreError>;
    /// Writes an endpoint's URL, events, state and `updated_at`.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;
    /// Removes an endpoint and its deliveries.
    async fn delete_webhook(&self, id: &WebhookId) -> Result<(), StoreError>;
    /// Makes `secret` the endpoint's signing secret; the one it replaces keeps signing until
    /// `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// Queues `event` for one endpoint (a test event), due at once.
    async fn enqueue_delivery(
        &self,
        webhook: &WebhookId,
        event: &OutgoingEvent,
        now: UnixTime,
    ) -> Result<Delivery, StoreError>;
    /// An endpoint's latest deliveries, newest first.
    async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Claims up to `limit` due pending deliveries for `lease` seconds: no other caller (node)
    /// claims them until the lease ends or [`WebhookStore::finish_delivery`] is called.
    async fn claim_deliveries(
        &self,
        now: UnixTime,
        lease: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records an attempt of delivery `seq` and what follows it, ending its lease.
    async fn finish_delivery(&self, seq: i64, outcome: &AttemptOutcome) -> Result<(), StoreError>;
}
