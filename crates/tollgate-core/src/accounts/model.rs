//! The plain data of accounts: users, their roles and emails, panel sessions, audit events. Nothing
//! here reads the store or knows the `Accounts` service, so the store's traits can
//! use these types without importing the service.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::clock::UnixTime;
use crate::ids::{CompanyId, InvalidId, ObjectId};

/// A user id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct UserId(pub ObjectId);

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl UserId {
    /// Parses 24 hex digits.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        ObjectId::parse(s).map(Self)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A user's role in their company.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control, like admin; the reference's "owner".
    Owner,
    /// Manages credentials and users.
    Admin,
    /// Can log in; cannot see or manage credentials.
    Member,
}

/// A string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role must be owner, admin or member")]
pub struct InvalidRole;

impl Role {
    /// Whether the role manages credentials and users.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// The role as text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }
}

impl FromStr for Role {
    type Err = InvalidRole;
    fn from_str(s: &str) -> Result<Self, InvalidRole> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(InvalidRole),
        }
    }
}

/// An email address, trimmed and lowercased.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Email(String);

/// A string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct InvalidEmail;

impl Email {
    /// Light validation: one `@`, something on each side, a dot in the domain, ≤ 254 characters.
    pub fn parse(s: &str) -> Result<Self, InvalidEmail> {
        let s = s.trim().to_lowercase();
        let ok = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.contains('@')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if ok { Ok(Self(s)) } else { Err(InvalidEmail) }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user as stored.
#[derive(Clone, Debug)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Company.
    pub company_id: CompanyId,
    /// Email (login name, unique).
    pub email: Email,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created_at: UnixTime,
}

/// A panel session as stored (the token itself is never stored, only its SHA-256).
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// SHA-256 of the session token, base64url.
    pub id_hash: String,
    /// Who.
    pub user_id: UserId,
    /// The CSRF token every state-changing request must carry.
    pub csrf: String,
    /// Expiry.
    pub expires_at: UnixTime,
}

macro_rules! audit_actions {
    ($($(#[$m:meta])* $name:ident => $text:literal,)*) => {
        /// What an audit event records. Stored (and shown) as its dotted name, e.g.
        /// `credential.created`.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub enum AuditAction {
            $($(#[$m])* $name,)*
        }

        impl AuditAction {
            /// Every action.
            pub const ALL: &[AuditAction] = &[$(Self::$name,)*];

            /// The name stored in the audit log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }
        }

        impl FromStr for AuditAction {
            type Err = UnknownAuditAction;
            fn from_str(s: &str) -> Result<Self, UnknownAuditAction> {
                match s {
                    $($text => Ok(Self::$name),)*
                    other => Err(UnknownAuditAction(other.chars().take(40).collect())),
                }
            }
        }
    };
}

audit_actions! {
    /// The operator created a company.
    CompanyCreated => "company.created",
    /// The operator changed a company.
    CompanyUpdated => "company.updated",
    /// A credential was created.
    CredentialCreated => "credential.created",
    /// A credential's label or scopes changed.
    CredentialUpdated => "credential.updated",
    /// A credential's secret was rotated.
    CredentialRotated => "credential.rotated",
    /// A credential's secret was revoked from its leaked text (a new one issued, the old one dead).
    CredentialSecretLeaked => "credential.secret_leaked",
    /// A credential was deleted.
    CredentialDeleted => "credential.deleted",
    /// One of a credential's secrets was ended at once (an old one in its grace period).
    CredentialSecretRevoked => "credential.secret_revoked",
    /// A credential's expiry was set, changed or removed.
    CredentialExpirySet => "credential.expiry_set",
    /// A credential's IP allowlist was set, changed or removed.
    CredentialAllowlistSet => "credential.allowlist_set",
    /// The resources (RFC 8707 audiences) a credential may ask tokens for were changed.
    CredentialResourcesSet => "credential.resources_set",
    /// A credential's expiry passed (written once, by tollgate itself).
    CredentialExpired => "credential.expired",
    /// A credential's expiry is near: 30, 7 or 1 days away (each written once, by tollgate itself).
    CredentialExpiring => "credential.expiring",
    /// A credential failed to authenticate more often than the configured threshold in a window.
    CredentialAuthFailures => "credential.auth_failures",
    /// A webhook endpoint was registered.
    WebhookCreated => "webhook.created",
    /// A webhook endpoint's URL, events or state changed.
    WebhookUpdated => "webhook.updated",
    /// A webhook endpoint's signing secret was rotated.
    WebhookSecretRotated => "webhook.secret_rotated",
    /// A webhook endpoint was removed.
    WebhookDeleted => "webhook.deleted",
    /// A user was created.
    UserCreated => "user.created",
    /// A user's role changed.
    UserRoleChanged => "user.role_changed",
    /// A user was removed.
    UserRemoved => "user.removed",
    /// A user's password was reset (their sessions ended).
    UserPasswordReset => "user.password_reset",
    /// A user changed their own password (their sessions ended).
    UserPasswordChanged => "user.password_changed",
    /// A panel login failed (for an existing account).
    LoginFailed => "login.failed",
    /// A panel login succeeded.
    LoginSucceeded => "login.succeeded",
    /// A panel session ended.
    Logout => "logout",
}

/// A string names no audit action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action `{0}`")]
pub struct UnknownAuditAction(String);

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One audit event.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    /// When.
    pub at: UnixTime,
    /// Company concerned.
    pub company_id: CompanyId,
    /// Who (`user:…`, `client:…`, `operator`, `anonymous`).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// On what (a client ID, a user email…); never a secret.
    pub target: String,
    /// From where.
    pub remote_addr: Option<String>,
}

/// Which audit entries to read, newest first: every field `None` (and `before` too) reads from
/// the newest on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this actor (`user:…`, `client:…`, `operator`, `system`).
    pub actor: Option<String>,
    /// Only entries about this target: the target itself, or the target followed by a space and
    /// details (`CLIENT_ID (grace 60s)`), so a client ID finds every entry of its credential.
    pub target: Option<String>,
    /// At or after this time.
    pub since: Option<UnixTime>,
    /// Before this time.
    pub until: Option<UnixTime>,
    /// Older than this entry (its `seq`): the next page.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// An audit entry with its place in the log (pages continue from the last one's `seq`).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Its place in the log: later entries have larger ones.
    pub seq: i64,
    /// The entry.
    pub event: AuditEvent,
}

impl AuditAction {
    /// The action as people read it ("Credential created").
    pub fn label(self) -> &'static str {
        match self {
            Self::CompanyCreated => "Company created",
            Self::CompanyUpdated => "Company changed",
            Self::CredentialCreated => "Credential created",
            Self::CredentialUpdated => "Credential changed",
            Self::CredentialRotated => "Secret rotated",
            Self::CredentialSecretLeaked => "Leaked secret revoked",
            Self::CredentialDeleted => "Credential deleted",
            Self::CredentialSecretRevoked => "Old secret revoked",
            Self::CredentialExpirySet => "Expiry set",
            Self::CredentialAllowlistSet => "IP allowlist set",
            Self::CredentialResourcesSet => "Resources set",
            Self::CredentialExpired => "Credential expired",
            Self::CredentialExpiring => "Credential expiring soon",
            Self::CredentialAuthFailures => "Repeated failed authentications",
            Self::WebhookCreated => "Webhook added",
            Self::WebhookUpdated => "Webhook changed",
            Self::WebhookSecretRotated => "Webhook secret rotated",
            Self::WebhookDeleted => "Webhook removed",
            Self::UserCreated => "User added",
            Self::UserRoleChanged => "Role changed",
            Self::UserRemoved => "User removed",
            Self::UserPasswordReset => "Password reset",
            Self::UserPasswordChanged => "Password changed",
            Self::LoginFailed => "Login failed",
            Self::LoginSucceeded => "Logged in",
            Self::Logout => "Logged out",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "ada@x",
            "a b@x.com",
            "ada@x.com.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles() {
        assert!(Role::Owner.is_admin() && Role::Admin.is_admin() && !Role::Member.is_admin());
        for r in [Role::Owner, Role::Admin, Role::Member] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn audit_actions_round_trip_as_the_stored_names() {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        // The stored strings: changing one would change what the database holds.
        assert_eq!(
            names,
            [
                "company.created",
                "company.updated",
                "credential.created",
                "credential.updated",
                "credential.rotated",
                "credential.secret_leaked",
                "credential.deleted",
                "credential.secret_revoked",
                "credential.expiry_set",
                "credential.allowlist_set",
                "credential.resources_set",
                "credential.expired",
                "credential.expiring",
                "credential.auth_failures",
                "webhook.created",
                "webhook.updated",
                "webhook.secret_rotated",
                "webhook.deleted",
                "user.created",
                "user.role_changed",
                "user.removed",
                "user.password_reset",
                "user.password_changed",
                "login.failed",
                "login.succeeded",
                "logout",
            ]
        );
        for &a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
            assert_eq!(a.to_string(), a.as_str());
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
    }

    #[test]
    fn unknown_audit_actions_are_refused() {
        for bad in [
            "",
            "credential",
            "credential.Created",
            "login",
            "logout ",
            "x.y",
        ] {
            assert!(bad.parse::<AuditAction>().is_err(), "{bad}");
        }
    }
}
