//! Webhook endpoints and their delivery queue ([`WebhookStore`]), and the outbox step of every
//! audit write ([`enqueue_for_audit`]).

use async_trait::async_trait;
use sqlx::query;
use tollgate_core::accounts::AuditEvent;
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::{CompanyId, WebhookId};
use tollgate_core::kek::Row;
use tollgate_core::store::{StoreError, WebhookStore};
use tollgate_core::webhooks::{
    self, AttemptOutcome, Delivery, DeliveryStatus, DueDelivery, EventSet, EventType, NextStep,
    OutgoingEvent, Webhook, WebhookSecret, WebhookUrl,
};
use zeroize::Zeroizing;

use super::{SqlStore, backend, changed};
use crate::dialect::{ArgExt as _, Columns, Conn as _, Dialect};

const WEBHOOK_COLUMNS: &str = "id, company_id, url, events, enabled, created_at, updated_at, \
     previous_until";
const DELIVERY_COLUMNS: &str = "seq, webhook_id, msg_id, event_type, payload, status, attempts, \
     last_status, last_error, created_at, last_attempt_at, next_attempt_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} is not valid").into())
}

fn webhook_row(r: &impl Columns) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: WebhookId::parse(&r.text("id")?).map_err(|_| corrupt("webhook id"))?,
        company_id: crate::rows::company_id(&r.text("company_id")?)?,
        url: WebhookUrl::parse(&r.text("url")?).map_err(|_| corrupt("webhook URL"))?,
        events: EventSet::parse_stored(&r.text("events")?)
            .map_err(|_| corrupt("webhook events"))?,
        enabled: r.int("enabled")? != 0,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        previous_secret_until: r.opt_int("previous_until")?,
    })
}

fn delivery_row(r: &impl Columns) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        seq: r.int("seq")?,
        webhook_id: WebhookId::parse(&r.text("webhook_id")?).map_err(|_| corrupt("webhook id"))?,
        msg_id: r.text("msg_id")?,
        event_type: r
            .text("event_type")?
            .parse::<EventType>()
            .map_err(|_| corrupt("event type"))?,
        payload: r.text("payload")?,
        status: r
            .text("status")?
            .parse::<DeliveryStatus>()
            .map_err(|_| corrupt("delivery status"))?,
        attempts: u32::try_from(r.int("attempts")?).map_err(|_| corrupt("attempt count"))?,
        last_status: r
            .opt_int("last_status")?
            .map(u16::try_from)
            .transpose()
            .map_err(|_| corrupt("HTTP status"))?,
        last_error: r.opt_text("last_error")?,
        created_at: r.int("created_at")?,
        last_attempt_at: r.opt_int("last_attempt_at")?,
        next_attempt_at: r.opt_int("next_attempt_at")?,
    })
}

/// Queues `event` for endpoint `webhook` on `conn`.
async fn insert_delivery<D: Dialect>(
    conn: &mut D::Connection,
    webhook: &str,
    event: &OutgoingEvent,
    now: UnixTime,
) -> Result<i64, StoreError> {
    let r = query::<D>(
        "INSERT INTO webhook_deliveries(webhook_id, msg_id, event_type, payload, created_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING seq",
    )
    .arg(webhook)
    .arg(&event.msg_id)
    .arg(event.event_type.as_str())
    .arg(&event.payload)
    .arg(now)
    .fetch_one(conn.ex())
    .await
    .map_err(backend)?;
    r.int("seq")
}

/// The outbox step of an audit write: on `conn` (the audit entry's transaction), queues the
/// entry's event, if it sends one, for each enabled endpoint of its company that takes it.
pub(crate) async fn enqueue_for_audit<D: Dialect>(
    conn: &mut D::Connection,
    seq: i64,
    e: &AuditEvent,
) -> Result<(), StoreError> {
    let Some(kind) = EventType::of(e.action) else {
        return Ok(());
    };
    let rows = query::<D>("SELECT id, events FROM webhooks WHERE company_id = $1 AND enabled = 1")
        .arg(&e.company_id.to_string())
        .fetch_all(conn.ex())
        .await
        .map_err(backend)?;
    let mut targets = Vec::new();
    for r in &rows {
        let events =
            EventSet::parse_stored(&r.text("events")?).map_err(|_| corrupt("webhook events"))?;
        if events.contains(kind) {
            targets.push(r.text("id")?);
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let client_id = e.target.split(' ').next().unwrap_or_default();
    let label = query::<D>("SELECT label FROM credentials WHERE client_id = $1")
        .arg(client_id)
        .fetch_optional(conn.ex())
        .await
        .map_err(backend)?
        .map(|r| r.text("label"))
        .transpose()?;
    let Some((event_type, payload)) = webhooks::audit_event_payload(seq, e, label.as_deref())
    else {
        return Ok(());
    };
    for id in targets {
        let event = OutgoingEvent {
            msg_id: webhooks::new_msg_id(e.at).map_err(|e| StoreError::Backend(Box::new(e)))?,
            event_type,
            at: e.at,
            payload: payload.clone(),
        };
        insert_delivery::<D>(conn, &id, &event, e.at).await?;
    }
    Ok(())
}

impl<D: Dialect> SqlStore<D> {
    fn seal_secret(&self, id: &WebhookId, s: &WebhookSecret) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .wrap
            .seal(Row::WebhookSecret(&id.to_string()), s.bytes())?)
    }

    fn open_secret(&self, id: &str, stored: &[u8]) -> Result<WebhookSecret, StoreError> {
        let plain: Zeroizing<Vec<u8>> = self.wrap.open(Row::WebhookSecret(id), stored)?;
        Ok(WebhookSecret::from_bytes(plain))
    }
}

#[async_trait]
impl<D: Dialect> WebhookStore for SqlStore<D> {
    async fn insert_webhook(
        &self,
        w: &Webhook,
        secret: &WebhookSecret,
        max: u32,
    ) -> Result<(), StoreError> {
        let sealed = Zeroizing::new(self.seal_secret(&w.id, secret)?);
        let mut tx = self.begin_write().await?;
        if let Some(lock) = D::LOCK_COMPANY {
            query::<D>(lock)
                .arg(&w.company_id.to_string())
                .execute(tx.ex())
                .await
                .map_err(backend)?;
        }
        let n = query::<D>("SELECT COUNT(*) AS n FROM webhooks WHERE company_id = $1")
            .arg(&w.company_id.to_string())
            .fetch_one(tx.ex())
            .await
            .map_err(backend)?
            .int("n")?;
        if n >= i64::from(max) {
            return Err(StoreError::WebhookLimit { max });
        }
        query::<D>(
            "INSERT INTO webhooks(id, company_id, url, events, enabled, secret, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .arg(&w.id.to_string())
        .arg(&w.company_id.to_string())
        .arg(w.url.as_str())
        .arg(&w.events.to_string())
        .arg(i64::from(w.enabled))
        .arg(sealed.as_slice())
        .arg(w.created_at)
        .arg(w.updated_at)
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn get_webhook(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        let mut c = self.conn().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = query::<D>(sqlx::AssertSqlSafe(sql))
            .arg(&id.to_string())
            .fetch_optional(c.ex())
            .await
            .map_err(backend)?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn list_webhooks(&self, company: &CompanyId) -> Result<Vec<Webhook>, StoreError> {
        let mut c = self.conn().await?;
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE company_id = $1 ORDER BY created_at, id"
        );
        let rows = query::<D>(sqlx::AssertSqlSafe(sql))
            .arg(&company.to_string())
            .fetch_all(c.ex())
            .await
            .map_err(backend)?;
        rows.iter().map(webhook_row).collect()
    }

    async fn update_webhook(&self, w: &Webhook) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let r = query::<D>(
            "UPDATE webhooks SET url = $1, events = $2, enabled = $3, updated_at = $4 WHERE id = $5",
        )
        .arg(w.url.as_str())
        .arg(&w.events.to_string())
        .arg(i64::from(w.enabled))
        .arg(w.updated_at)
        .arg(&w.id.to_string())
        .execute(c.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }

    async fn delete_webhook(&self, id: &WebhookId) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // Deliveries would go with it (ON DELETE CASCADE); deleting them first says so here.
        query::<D>("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .arg(&id.to_string())
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        let r = query::<D>("DELETE FROM webhooks WHERE id = $1")
            .arg(&id.to_string())
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        changed(r)?;
        tx.commit().await.map_err(backend)
    }

    async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let sealed = Zeroizing::new(self.seal_secret(id, secret)?);
        let mut c = self.conn().await?;
        let r = query::<D>(
            "UPDATE webhooks SET previous_secret = secret, previous_until = $1, secret = $2, \
             updated_at = $3 WHERE id = $4",
        )
        .arg(previous_until)
        .arg(sealed.as_slice())
        .arg(now)
        .arg(&id.to_string())
        .execute(c.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }

    async fn enqueue_delivery(
        &self,
        webhook: &WebhookId,
        event: &OutgoingEvent,
        now: UnixTime,
    ) -> Result<Delivery, StoreError> {
        let mut c = self.conn().await?;
        let seq = insert_delivery::<D>(&mut c, &webhook.to_string(), event, now).await?;
        Ok(Delivery {
            seq,
            webhook_id: *webhook,
            msg_id: event.msg_id.clone(),
            event_type: event.event_type,
            payload: event.payload.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            created_at: now,
            last_attempt_at: None,
            next_attempt_at: Some(now),
        })
    }

    async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut c = self.conn().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
             ORDER BY seq DESC LIMIT $2"
        );
        let rows = query::<D>(sqlx::AssertSqlSafe(sql))
            .arg(&webhook.to_string())
            .arg(i64::from(limit))
            .fetch_all(c.ex())
            .await
            .map_err(backend)?;
        rows.iter().map(delivery_row).collect()
    }

    async fn claim_deliveries(
        &self,
        now: UnixTime,
        lease: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        // The lease ends any earlier claim whose node died mid-send; `SKIP_LOCKED` keeps two
        // PostgreSQL nodes claiming at once from taking the same rows (SQLite: the write lock).
        let sql = format!(
            "UPDATE webhook_deliveries SET locked_until = $1 \
             WHERE seq IN (SELECT seq FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= $2 \
                   AND (locked_until IS NULL OR locked_until <= $2) \
                 ORDER BY next_attempt_at, seq LIMIT $3{}) \
             RETURNING {DELIVERY_COLUMNS}",
            D::SKIP_LOCKED
        );
        let rows = query::<D>(sqlx::AssertSqlSafe(sql))
            .arg(now + lease)
            .arg(now)
            .arg(i64::from(limit))
            .fetch_all(tx.ex())
            .await
            .map_err(backend)?;
        let mut due = Vec::with_capacity(rows.len());
        // Each endpoint's row is read (and its secrets opened) once per claim, however many of
        // its deliveries are due.
        let mut endpoints: std::collections::HashMap<String, (WebhookUrl, Vec<WebhookSecret>)> =
            std::collections::HashMap::new();
        for r in &rows {
            let delivery = delivery_row(r)?;
            let id = delivery.webhook_id.to_string();
            if let Some((url, secrets)) = endpoints.get(&id) {
                due.push(DueDelivery {
                    delivery,
                    url: url.clone(),
                    secrets: secrets.clone(),
                });
                continue;
            }
            let w = query::<D>(
                "SELECT url, secret, previous_secret, previous_until FROM webhooks WHERE id = $1",
            )
            .arg(&id)
            .fetch_one(tx.ex())
            .await
            .map_err(backend)?;
            let url = WebhookUrl::parse(&w.text("url")?).map_err(|_| corrupt("webhook URL"))?;
            let mut secrets = vec![self.open_secret(&id, &w.bytes("secret")?)?];
            if w.opt_int("previous_until")?.is_some_and(|t| t > now)
                && let Some(prev) = w.opt_bytes("previous_secret")?
            {
                secrets.push(self.open_secret(&id, &prev)?);
            }
            endpoints.insert(id, (url.clone(), secrets.clone()));
            due.push(DueDelivery {
                delivery,
                url,
                secrets,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(due)
    }

    async fn finish_delivery(&self, seq: i64, o: &AttemptOutcome) -> Result<(), StoreError> {
        let (status, next) = match o.next {
            NextStep::Delivered => (DeliveryStatus::Delivered, None),
            NextStep::RetryAt(t) => (DeliveryStatus::Pending, Some(t)),
            NextStep::GiveUp => (DeliveryStatus::Failed, None),
        };
        let mut c = self.conn().await?;
        query::<D>(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             last_status = $2, last_error = $3, last_attempt_at = $4, next_attempt_at = $5, \
             locked_until = NULL WHERE seq = $6",
        )
        .arg(status.as_str())
        .arg(o.status.map(i64::from))
        .arg(o.error.as_deref())
        .arg(o.at)
        .arg(next)
        .arg(seq)
        .execute(c.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }
}
