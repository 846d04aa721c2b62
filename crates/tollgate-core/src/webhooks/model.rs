//! The plain data of webhooks: endpoints, the events they take, their signing secrets, and the
//! deliveries queued for them. Nothing here reads the store.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

use crate::accounts::AuditAction;
use crate::clock::UnixTime;
use crate::ids::{CompanyId, WebhookId};
use crate::random::{self, RandomError};

macro_rules! event_types {
    ($($(#[$m:meta])* $name:ident => $text:literal,)*) => {
        /// What a webhook delivery reports, by its Standard Webhooks `type`.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub enum EventType {
            $($(#[$m])* $name,)*
        }

        impl EventType {
            /// Every event type, in the order of their bits in an [`EventSet`].
            pub const ALL: &[EventType] = &[$(Self::$name,)*];

            /// The `type` field of the payload, as receivers match on it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventType;
            fn from_str(s: &str) -> Result<Self, UnknownEventType> {
                match s {
                    $($text => Ok(Self::$name),)*
                    other => Err(UnknownEventType(other.chars().take(40).collect())),
                }
            }
        }
    };
}

event_types! {
    /// A credential was created.
    CredentialCreated => "credential.created",
    /// A credential's label, scopes, expiry or IP allowlist changed.
    CredentialUpdated => "credential.updated",
    /// A credential's secret was rotated (the old one may live on for a grace period).
    CredentialRotated => "credential.rotated",
    /// One of a credential's secrets was ended at once (an old one, or a leaked one).
    CredentialSecretRevoked => "credential.secret_revoked",
    /// A credential expires in 30, 7 or 1 days.
    CredentialExpiring => "credential.expiring",
    /// A credential's expiry passed.
    CredentialExpired => "credential.expired",
    /// A credential was deleted.
    CredentialDeleted => "credential.deleted",
    /// A credential failed to authenticate more often than the threshold within the window.
    CredentialAuthFailures => "credential.auth_failures",
    /// Sent by "send test event"; never subscribed to.
    Test => "webhook.test",
}

/// A string names no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event `{0}`")]
pub struct UnknownEventType(String);

impl EventType {
    /// The event an audit entry of `action` sends, if any.
    pub fn of(action: AuditAction) -> Option<Self> {
        Some(match action {
            AuditAction::CredentialCreated => Self::CredentialCreated,
            AuditAction::CredentialUpdated
            | AuditAction::CredentialExpirySet
            | AuditAction::CredentialAllowlistSet
            | AuditAction::CredentialResourcesSet => Self::CredentialUpdated,
            AuditAction::CredentialRotated => Self::CredentialRotated,
            AuditAction::CredentialSecretRevoked | AuditAction::CredentialSecretLeaked => {
                Self::CredentialSecretRevoked
            }
            AuditAction::CredentialExpiring => Self::CredentialExpiring,
            AuditAction::CredentialExpired => Self::CredentialExpired,
            AuditAction::CredentialDeleted => Self::CredentialDeleted,
            AuditAction::CredentialAuthFailures => Self::CredentialAuthFailures,
            _ => return None,
        })
    }

    /// The events an endpoint may subscribe to (every one but [`EventType::Test`]).
    pub fn subscribable() -> impl Iterator<Item = EventType> {
        Self::ALL.iter().copied().filter(|e| *e != Self::Test)
    }

    /// What the event means, for the panel.
    pub fn description(self) -> &'static str {
        match self {
            Self::CredentialCreated => "A credential was created",
            Self::CredentialUpdated => {
                "A credential's label, scopes, expiry or IP allowlist changed"
            }
            Self::CredentialRotated => "A credential's secret was rotated",
            Self::CredentialSecretRevoked => "A secret was ended at once (an old or a leaked one)",
            Self::CredentialExpiring => "A credential expires in 30, 7 or 1 days",
            Self::CredentialExpired => "A credential's expiry passed",
            Self::CredentialDeleted => "A credential was deleted",
            Self::CredentialAuthFailures => "Repeated failed authentications of a credential",
            Self::Test => "A test event",
        }
    }

    fn bit(self) -> u16 {
        let i = Self::ALL.iter().position(|e| *e == self).unwrap_or(0);
        1 << i
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The events an endpoint takes: never empty, never [`EventType::Test`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EventSet(u16);

/// A list of events is not a valid subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvents {
    /// No event.
    #[error("choose at least one event")]
    Empty,
    /// A name that is no event (or `webhook.test`).
    #[error("{0}; the events are {list}", list = EventSet::names_list())]
    Unknown(UnknownEventType),
}

impl EventSet {
    /// Every subscribable event.
    pub fn all() -> Self {
        Self(EventType::subscribable().fold(0, |b, e| b | e.bit()))
    }

    /// The set of `names` (duplicates allowed; unknown names and `webhook.test` refused).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidEvents> {
        let mut bits = 0;
        for n in names {
            let e: EventType = n.trim().parse().map_err(InvalidEvents::Unknown)?;
            if e == EventType::Test {
                return Err(InvalidEvents::Unknown(UnknownEventType(n.to_owned())));
            }
            bits |= e.bit();
        }
        if bits == 0 {
            Err(InvalidEvents::Empty)
        } else {
            Ok(Self(bits))
        }
    }

    /// Parses the stored form (names separated by spaces).
    pub fn parse_stored(s: &str) -> Result<Self, InvalidEvents> {
        Self::parse(s.split_ascii_whitespace())
    }

    /// Whether the set holds `e`.
    pub fn contains(self, e: EventType) -> bool {
        self.0 & e.bit() != 0
    }

    /// The events, in catalog order.
    pub fn iter(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .iter()
            .copied()
            .filter(move |e| self.contains(*e))
    }

    fn names_list() -> String {
        EventType::subscribable()
            .map(EventType::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EventSet {
    /// Names separated by spaces (the stored form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(e.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for EventSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// An endpoint URL: `https://…`, or `http://` to a loopback host (a receiver on the same machine).
/// No user name or password, no fragment. Whether the address it resolves to may be reached is
/// decided when delivering (private networks are refused unless the operator allows them).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WebhookUrl(url::Url);

/// A string is not an acceptable endpoint URL; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUrl(&'static str);

impl WebhookUrl {
    /// Parses and checks `s`.
    pub fn parse(s: &str) -> Result<Self, InvalidUrl> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidUrl("enter the URL that should receive the events"));
        }
        if s.len() > MAX_URL_LEN {
            return Err(InvalidUrl("the URL is longer than 2048 characters"));
        }
        let u = url::Url::parse(s)
            .map_err(|_| InvalidUrl("not a valid URL (e.g. https://example.com/hooks/tollgate)"))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(InvalidUrl(
                "the URL may not carry a user name or password (receivers verify the signature instead)",
            ));
        }
        if u.fragment().is_some() {
            return Err(InvalidUrl("the URL may not have a fragment (#…)"));
        }
        let host = u.host().ok_or(InvalidUrl("the URL has no host"))?;
        match u.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(InvalidUrl(
                    "use https:// (plain http:// is accepted only for a loopback host such as 127.0.0.1)",
                ));
            }
            _ => return Err(InvalidUrl("the URL must start with https://")),
        }
        Ok(Self(u))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The host, for logs (the path and query may hold a receiver's own secret).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }
}

fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => a.is_loopback(),
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl Serialize for WebhookUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Bytes of a signing secret.
pub const SECRET_LEN: usize = 32;

/// An endpoint's signing secret (HMAC-SHA-256 key), shown once as `whsec_<base64>` as the
/// Standard Webhooks specification writes it. Its `Debug` is redacted; it is zeroized on drop.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl WebhookSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(Zeroizing::new(
            random::bytes::<SECRET_LEN>()?.to_vec(),
        )))
    }

    /// A secret from its stored bytes.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The key bytes (to store, sealed, and to sign with).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_<base64>`, what the receiver configures.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("whsec_{}", STANDARD.encode(&*self.0)))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A webhook endpoint as stored (its secrets apart).
#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    /// Id.
    pub id: WebhookId,
    /// Its company: it hears only that company's events.
    pub company_id: CompanyId,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// What it takes.
    pub events: EventSet,
    /// Disabled endpoints get no new deliveries.
    pub enabled: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
    /// After a rotation, until when deliveries are also signed with the previous secret.
    pub previous_secret_until: Option<UnixTime>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet accepted by the receiver; tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: the retry window passed without a 2xx.
    Failed,
}

impl DeliveryStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, UnknownEventType> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(UnknownEventType(other.chars().take(40).collect())),
        }
    }
}

/// A message to send: what is queued once per endpoint that takes its event.
#[derive(Clone, Debug)]
pub struct OutgoingEvent {
    /// The Standard Webhooks `webhook-id` (`msg_…`): the same on every attempt, so receivers can
    /// drop duplicates.
    pub msg_id: String,
    /// Its type.
    pub event_type: EventType,
    /// When it happened.
    pub at: UnixTime,
    /// The JSON body (`{"type", "timestamp", "data"}`), fixed when queued.
    pub payload: String,
}

/// A queued delivery, as the panel and the admin API list it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Its place in the queue.
    pub seq: i64,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// `webhook-id`.
    pub msg_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The body sent.
    #[serde(skip)]
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did (no secret, no URL).
    pub last_error: Option<String>,
    /// Queued at.
    pub created_at: UnixTime,
    /// The last attempt's time.
    pub last_attempt_at: Option<UnixTime>,
    /// The next attempt's time, while pending.
    pub next_attempt_at: Option<UnixTime>,
}

/// A delivery claimed by one node's sender, with what it needs to send it.
#[derive(Debug)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Where to.
    pub url: WebhookUrl,
    /// The secrets to sign with: the current one first, then the previous one while its rotation
    /// window lasts.
    pub secrets: Vec<WebhookSecret>,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// When it was made.
    pub at: UnixTime,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// What happens next.
    pub next: NextStep,
}

/// After an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Accepted: done.
    Delivered,
    /// Try again then.
    RetryAt(UnixTime),
    /// The retry window is over: failed for good.
    GiveUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_sets_round_trip_and_refuse_what_is_not_an_event() {
        let s = EventSet::parse([
            "credential.rotated",
            "credential.created",
            "credential.rotated",
        ])
        .unwrap();
        assert_eq!(s.to_string(), "credential.created credential.rotated");
        assert_eq!(EventSet::parse_stored(&s.to_string()).unwrap(), s);
        assert!(s.contains(EventType::CredentialRotated));
        assert!(!s.contains(EventType::CredentialDeleted));
        assert_eq!(EventSet::parse([]), Err(InvalidEvents::Empty));
        assert!(EventSet::parse(["credential.nope"]).is_err());
        assert!(EventSet::parse(["webhook.test"]).is_err());
        let all = EventSet::all();
        assert_eq!(all.iter().count(), EventType::ALL.len() - 1);
        assert!(!all.contains(EventType::Test));
    }

    #[test]
    fn every_credential_audit_action_sends_an_event_and_others_do_not() {
        for &a in AuditAction::ALL {
            let sends = EventType::of(a).is_some();
            assert_eq!(sends, a.as_str().starts_with("credential."), "{a}");
        }
    }

    #[test]
    fn urls_are_https_or_loopback_http_without_credentials() {
        for ok in [
            "https://example.com/hooks",
            "https://example.com:8443/a?b=c",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/",
        ] {
            assert!(WebhookUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "http://example.com/hook",
            "http://10.0.0.1/hook",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#x",
            "javascript:alert(1)",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn secrets_are_redacted_and_written_as_whsec() {
        let s = WebhookSecret::generate().unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
        let text = s.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&text[6..]).unwrap(), s.bytes());
    }
}
