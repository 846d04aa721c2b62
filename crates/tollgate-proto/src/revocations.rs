//! The revocation feed's wire types (`GET /api/v2/oauth2/revocations`, Server-Sent Events).
//!
//! Each SSE message carries one [`FeedEvent`] as its `data:` (JSON, internally tagged by `type`),
//! the same name as its `event:` field, and an `id:` cursor. The feed is *state-based*: a
//! [`FeedEvent::Snapshot`] replaces everything a subscriber holds, and every later event carries the
//! current state of one company, credential or revoked token, so replaying an event is harmless.
//!
//! A subscriber accepts a token only if its `jti` is not revoked, its credential is present (with
//! the token's company), the secret named by its `tg_sid` is live, and its company is present; the
//! scopes in force are the token's, intersected with the credential's and the company's ceiling.
//!
//! ```
//! use tollgate_proto::FeedEvent;
//!
//! let e: FeedEvent = serde_json::from_str(r#"{"type":"revoked","jti":"ab12","exp":1700000000}"#).unwrap();
//! assert_eq!(e.name(), "revoked");
//! ```

use serde::{Deserialize, Serialize};

use crate::ScopeSet;

/// Path of the revocation feed.
pub const REVOCATIONS_PATH: &str = "/api/v2/oauth2/revocations";

/// The reserved scope a credential needs to read the revocation feed.
pub const REVOCATIONS_SCOPE: &str = "tollgate:revocations";

/// One message of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedEvent {
    /// Everything in force now; replaces what the subscriber held.
    Snapshot(FeedSnapshot),
    /// A credential's current state (created or changed).
    Credential(CredentialState),
    /// A credential was deleted: its tokens are refused.
    CredentialDeleted {
        /// Its client ID.
        client_id: String,
    },
    /// A company's current scope ceiling (created or changed).
    Company(CompanyState),
    /// A company was deleted: its tokens are refused.
    CompanyDeleted {
        /// Its id.
        company_id: String,
    },
    /// A token was revoked (RFC 7009).
    Revoked(RevokedToken),
}

impl FeedEvent {
    /// The SSE `event:` name (the same as the `type` of the JSON).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Snapshot(_) => "snapshot",
            Self::Credential(_) => "credential",
            Self::CredentialDeleted { .. } => "credential_deleted",
            Self::Company(_) => "company",
            Self::CompanyDeleted { .. } => "company_deleted",
            Self::Revoked(_) => "revoked",
        }
    }
}

/// Everything a subscriber needs, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSnapshot {
    /// Every company.
    pub companies: Vec<CompanyState>,
    /// Every credential (a token of a credential not listed is refused).
    pub credentials: Vec<CredentialState>,
    /// Revoked tokens that have not expired yet.
    pub revoked: Vec<RevokedToken>,
}

/// A company's scope ceiling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyState {
    /// Company id (the tokens' `company_id`).
    pub company_id: String,
    /// The ceiling: no token of the company holds a scope outside it.
    pub scopes: ScopeSet,
}

/// A credential: its company, scopes and the secrets whose tokens stay valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialState {
    /// Client ID (the tokens' `client_id` and `sub`).
    pub client_id: String,
    /// Owning company.
    pub company_id: String,
    /// Scopes granted (before the company's ceiling).
    pub scopes: ScopeSet,
    /// The secrets not rotated away; a token whose `tg_sid` is not among them is refused.
    pub secrets: Vec<SecretState>,
}

/// One secret of a credential, by id (never the secret or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    /// Secret id (the tokens' `tg_sid`).
    pub id: String,
    /// When a rotated-away secret stops being live (Unix seconds); `None`: no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl SecretState {
    /// Whether the secret is live at `now` (Unix seconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

/// A revoked token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    /// Its `jti`.
    pub jti: String,
    /// Its `exp` (the revocation matters until then).
    pub exp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_their_name_as_type() {
        let events = [
            FeedEvent::Snapshot(FeedSnapshot {
                companies: vec![CompanyState {
                    company_id: "c1".into(),
                    scopes: "groups:read".parse().unwrap(),
                }],
                credentials: vec![CredentialState {
                    client_id: "id1".into(),
                    company_id: "c1".into(),
                    scopes: "groups:read".parse().unwrap(),
                    secrets: vec![SecretState {
                        id: "s1".into(),
                        expires_at: Some(5),
                    }],
                }],
                revoked: vec![RevokedToken {
                    jti: "j".into(),
                    exp: 9,
                }],
            }),
            FeedEvent::CredentialDeleted {
                client_id: "id1".into(),
            },
            FeedEvent::CompanyDeleted {
                company_id: "c1".into(),
            },
        ];
        for e in events {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["type"], e.name());
            assert_eq!(serde_json::from_value::<FeedEvent>(v).unwrap(), e);
        }
    }

    #[test]
    fn a_secret_is_live_until_it_expires() {
        let s = SecretState {
            id: "s".into(),
            expires_at: Some(10),
        };
        assert!(s.is_live(9));
        assert!(!s.is_live(10));
        assert!(
            SecretState {
                id: "s".into(),
                expires_at: None
            }
            .is_live(i64::MAX)
        );
    }
}
