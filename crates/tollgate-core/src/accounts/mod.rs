//! People: users of a company with a role, their passwords (Argon2id), panel sessions, and the audit
//! log. Authorization is a type: only an [`AdminActor`] can be handed to the operations that manage
//! credentials and users, and only [`Accounts::admin_actor`] makes one.

use std::fmt;
use std::sync::Arc;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::clock::{Clock, UnixTime};
use crate::ids::{ClientId, CompanyId, ObjectId};
use crate::random::{self, RandomError};
use crate::store::{Store, StoreError};

pub mod model;

pub use model::{
    AuditAction, AuditEntry, AuditEvent, AuditQuery, Email, InvalidEmail, InvalidRole, Role,
    SessionRecord, UnknownAuditAction, User, UserId,
};

/// Longest accepted password (bytes); Argon2 work grows with it.
pub const MAX_PASSWORD_LEN: usize = 256;
/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;
/// How long a panel session lives.
pub const SESSION_TTL: i64 = 8 * 3600;

/// Who did something, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A panel user.
    User(String),
    /// An integration holding `credentials:manage`.
    Client(ClientId),
    /// The operator, through the CLI.
    Operator,
    /// Nobody authenticated (e.g. a failed login).
    Anonymous,
    /// tollgate itself (an expiry that passed).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(email) => write!(f, "user:{email}"),
            Self::Client(id) => write!(f, "client:{id}"),
            Self::Operator => f.write_str("operator"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::System => f.write_str("system"),
        }
    }
}

/// Proof that the caller administers `company_id`: only [`Accounts::admin_actor`],
/// [`AdminActor::for_client`] (a token holding `credentials:manage`) and [`AdminActor::operator`]
/// make one.
#[derive(Clone, Debug)]
pub struct AdminActor {
    company_id: CompanyId,
    actor: Actor,
    remote_addr: Option<String>,
}

impl AdminActor {
    /// Refuses, for a machine credential, a change that touches an owner or admin (`admin_role`):
    /// a credential holding `credentials:manage` manages credentials and member accounts, never a
    /// human login with admin rights (which would outlive the credential).
    fn may_touch_admins(&self, admin_role: bool) -> Result<(), AccountError> {
        if admin_role && matches!(self.actor, Actor::Client(_)) {
            Err(AccountError::NeedsHumanSession)
        } else {
            Ok(())
        }
    }

    /// An integration authorized by the `credentials:manage` scope of its token.
    pub fn for_client(
        company_id: CompanyId,
        client: ClientId,
        remote_addr: Option<String>,
    ) -> Self {
        Self {
            company_id,
            actor: Actor::Client(client),
            remote_addr,
        }
    }

    /// The operator at the CLI: direct access to the database administers every company.
    pub fn operator(company_id: CompanyId) -> Self {
        Self {
            company_id,
            actor: Actor::Operator,
            remote_addr: None,
        }
    }

    /// The company administered.
    pub fn company_id(&self) -> CompanyId {
        self.company_id
    }

    /// Who.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// An audit event by this actor.
    pub fn event(
        &self,
        action: AuditAction,
        target: impl Into<String>,
        at: UnixTime,
    ) -> AuditEvent {
        AuditEvent {
            at,
            company_id: self.company_id,
            actor: self.actor.to_string(),
            action,
            target: target.into(),
            remote_addr: self.remote_addr.clone(),
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// Input invalid.
    #[error("{0}")]
    Invalid(String),
    /// Email already used.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// No such user in the company.
    #[error("user not found")]
    UserNotFound,
    /// No such company.
    #[error("company not found")]
    CompanyNotFound,
    /// The company would be left without an owner or admin.
    #[error("a company must keep at least one owner or admin")]
    LastAdmin,
    /// A machine credential tried to create, promote, demote or remove an owner or admin: human
    /// logins with admin rights are managed in a human session only.
    #[error("owners and admins are managed by a logged-in person, not by an API credential")]
    NeedsHumanSession,
    /// Wrong email or password (one message for both).
    #[error("wrong email or password")]
    BadLogin,
    /// Session missing or expired.
    #[error("the session has expired; log in again")]
    NoSession,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// Hashing failed.
    #[error("password hashing failed")]
    Hash,
}

impl From<InvalidEmail> for AccountError {
    fn from(e: InvalidEmail) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<InvalidRole> for AccountError {
    fn from(e: InvalidRole) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::EmailTaken,
            StoreError::NotFound => Self::UserNotFound,
            StoreError::LastAdmin => Self::LastAdmin,
            other => Self::Store(other),
        }
    }
}

/// A logged-in session: the cookie value (shown once) and its CSRF token.
#[derive(Clone)]
pub struct NewSession {
    /// The session token for the cookie.
    pub token: Zeroizing<String>,
    /// The CSRF token for forms and the `X-CSRF-Token` header.
    pub csrf: String,
    /// The user.
    pub user: User,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("user", &self.user.email)
            .finish_non_exhaustive()
    }
}

/// A session found by its token.
#[derive(Clone, Debug)]
pub struct ActiveSession {
    /// The user.
    pub user: User,
    /// Its CSRF token.
    pub csrf: String,
}

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password is not the user's.
    #[error("the current password is wrong")]
    WrongCurrent,
    /// The new password is refused (too short, the same), or the store failed.
    #[error(transparent)]
    New(AccountError),
}

/// Users, sessions and the audit log.
#[derive(Clone, Debug)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// 32 random bytes, base64url: session tokens, CSRF tokens, one-use form tokens.
pub fn random_token() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random::bytes::<32>()?))
}

/// Hashes a password with Argon2id (default parameters, random 16-byte salt).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt: [u8; 16] = random::bytes()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hash)
}

fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A generated password (shown once by the CLI when none is given).
pub fn generate_password() -> Result<Zeroizing<String>, RandomError> {
    Ok(Zeroizing::new(
        URL_SAFE_NO_PAD.encode(random::bytes::<18>()?),
    ))
}

fn check_password(p: &str) -> Result<(), AccountError> {
    if p.len() < MIN_PASSWORD_LEN || p.len() > MAX_PASSWORD_LEN {
        return Err(AccountError::Invalid(format!(
            "a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

impl Accounts {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Now.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Appends to the audit log.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AccountError> {
        Ok(self.store.append_audit(&event).await?)
    }

    /// A company's audit log, newest first.
    pub async fn audit(
        &self,
        company: &CompanyId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AccountError> {
        Ok(self.store.list_audit(company, limit).await?)
    }

    /// The company's audit entries that `query` selects, newest first.
    pub async fn query_audit(
        &self,
        company: &CompanyId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        Ok(self.store.query_audit(company, query).await?)
    }

    /// Creates a user. Used by the operator (CLI) and by admins (`by`).
    pub async fn create_user(
        &self,
        company: &CompanyId,
        email: &str,
        role: Role,
        password: &str,
        by: Option<&AdminActor>,
    ) -> Result<User, AccountError> {
        if let Some(a) = by
            && a.company_id != *company
        {
            return Err(AccountError::CompanyNotFound);
        }
        if let Some(a) = by {
            a.may_touch_admins(role.is_admin())?;
        }
        let email = Email::parse(email)?;
        check_password(password)?;
        self.store
            .get_company(company)
            .await?
            .ok_or(AccountError::CompanyNotFound)?;
        let now = self.clock.now();
        let user = User {
            id: UserId(ObjectId::generate(now)?),
            company_id: *company,
            email,
            role,
            password_hash: hash_password(password)?,
            created_at: now,
        };
        self.store.insert_user(&user).await?;
        let by = by
            .cloned()
            .unwrap_or_else(|| AdminActor::operator(*company));
        let target = format!("{} ({})", user.email.as_str(), role.as_str());
        self.record(by.event(AuditAction::UserCreated, target, now))
            .await?;
        Ok(user)
    }

    /// The company's users.
    pub async fn users(&self, by: &AdminActor) -> Result<Vec<User>, AccountError> {
        Ok(self.store.list_users(&by.company_id).await?)
    }

    async fn user_in(&self, by: &AdminActor, id: &UserId) -> Result<User, AccountError> {
        self.store
            .get_user(id)
            .await?
            .filter(|u| u.company_id == by.company_id)
            .ok_or(AccountError::UserNotFound)
    }

    /// Changes a user's role; the last owner/admin cannot be demoted.
    pub async fn set_role(
        &self,
        by: &AdminActor,
        id: &UserId,
        role: Role,
    ) -> Result<User, AccountError> {
        let mut user = self.user_in(by, id).await?;
        by.may_touch_admins(user.role.is_admin() || role.is_admin())?;
        // Nobody raises themself: an admin becomes an owner by another owner's hand.
        if role == Role::Owner
            && user.role != Role::Owner
            && matches!(&by.actor, Actor::User(email) if email == user.email.as_str())
        {
            return Err(AccountError::Invalid(
                "you cannot make yourself an owner: ask an owner of the company".into(),
            ));
        }
        // The store refuses to demote the last owner/admin, atomically with the write.
        self.store.set_user_role(id, role).await?;
        user.role = role;
        self.record(by.event(
            AuditAction::UserRoleChanged,
            format!("{} → {}", user.email.as_str(), role.as_str()),
            self.now(),
        ))
        .await?;
        Ok(user)
    }

    /// Sets a new password for a user of `by`'s company and ends their sessions (a stolen session
    /// dies with the old password).
    pub async fn reset_password(
        &self,
        by: &AdminActor,
        id: &UserId,
        password: &str,
    ) -> Result<User, AccountError> {
        let user = self.user_in(by, id).await?;
        by.may_touch_admins(user.role.is_admin())?;
        check_password(password)?;
        match self
            .store
            .set_user_password(id, &hash_password(password)?)
            .await
        {
            Ok(()) => {}
            Err(crate::store::StoreError::NotFound) => return Err(AccountError::UserNotFound),
            Err(e) => return Err(e.into()),
        }
        self.record(by.event(
            AuditAction::UserPasswordReset,
            user.email.as_str(),
            self.now(),
        ))
        .await?;
        Ok(user)
    }

    /// The logged-in user changes their own password: the current one must match, the new one
    /// must differ. Every session of theirs ends (this one too: they log in again).
    pub async fn change_own_password(
        &self,
        session: &ActiveSession,
        current: &str,
        new: &str,
        remote_addr: Option<String>,
    ) -> Result<(), PasswordChangeError> {
        let user = &session.user;
        if !verify_password(current, &user.password_hash) {
            return Err(PasswordChangeError::WrongCurrent);
        }
        if current == new {
            return Err(PasswordChangeError::New(AccountError::Invalid(
                "the new password must differ from the current one".into(),
            )));
        }
        check_password(new).map_err(PasswordChangeError::New)?;
        let hash = hash_password(new).map_err(PasswordChangeError::New)?;
        self.store
            .set_user_password(&user.id, &hash)
            .await
            .map_err(|e| PasswordChangeError::New(e.into()))?;
        self.record(AuditEvent {
            at: self.now(),
            company_id: user.company_id,
            actor: Actor::User(user.email.as_str().to_owned()).to_string(),
            action: AuditAction::UserPasswordChanged,
            target: user.email.as_str().to_owned(),
            remote_addr,
        })
        .await
        .map_err(PasswordChangeError::New)
    }

    /// Removes a user (and their sessions); the last owner/admin cannot be removed.
    pub async fn remove_user(&self, by: &AdminActor, id: &UserId) -> Result<(), AccountError> {
        let user = self.user_in(by, id).await?;
        by.may_touch_admins(user.role.is_admin())?;
        // The store refuses to remove the last owner/admin, atomically with the delete.
        self.store.delete_user(id).await?;
        self.record(by.event(AuditAction::UserRemoved, user.email.as_str(), self.now()))
            .await?;
        Ok(())
    }

    /// Checks email and password; on success opens a session. Both outcomes are audited.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        remote_addr: Option<String>,
    ) -> Result<NewSession, AccountError> {
        let now = self.clock.now();
        let user = match Email::parse(email) {
            Ok(e) => self.store.get_user_by_email(&e).await?,
            Err(_) => None,
        };
        let ok = match &user {
            // Bound the work: an overlong password is simply wrong.
            Some(u) if password.len() <= MAX_PASSWORD_LEN => {
                verify_password(password, &u.password_hash)
            }
            _ => {
                // Spend comparable time when the user does not exist.
                let _ = hash_password(
                    password
                        .get(..MAX_PASSWORD_LEN.min(password.len()))
                        .unwrap_or(""),
                );
                false
            }
        };
        let user = match user {
            Some(u) if ok => u,
            other => {
                if let Some(u) = other {
                    self.record(AuditEvent {
                        at: now,
                        company_id: u.company_id,
                        actor: Actor::Anonymous.to_string(),
                        action: AuditAction::LoginFailed,
                        target: u.email.as_str().to_owned(),
                        remote_addr,
                    })
                    .await?;
                }
                return Err(AccountError::BadLogin);
            }
        };
        let token = Zeroizing::new(random_token()?);
        let csrf = random_token()?;
        self.store
            .insert_session(&SessionRecord {
                id_hash: hash_token(&token),
                user_id: user.id,
                csrf: csrf.clone(),
                expires_at: now + SESSION_TTL,
            })
            .await?;
        self.record(AuditEvent {
            at: now,
            company_id: user.company_id,
            actor: Actor::User(user.email.as_str().to_owned()).to_string(),
            action: AuditAction::LoginSucceeded,
            target: user.email.as_str().to_owned(),
            remote_addr,
        })
        .await?;
        Ok(NewSession { token, csrf, user })
    }

    /// The session behind a cookie value, if live.
    pub async fn session(&self, token: &str) -> Result<ActiveSession, AccountError> {
        let rec = self
            .store
            .get_session(&hash_token(token))
            .await?
            .filter(|s| s.expires_at > self.clock.now())
            .ok_or(AccountError::NoSession)?;
        let user = self
            .store
            .get_user(&rec.user_id)
            .await?
            .ok_or(AccountError::NoSession)?;
        Ok(ActiveSession {
            user,
            csrf: rec.csrf,
        })
    }

    /// Ends `session` (whose cookie value is `token`), in the audit log as `logout`.
    pub async fn logout(
        &self,
        token: &str,
        session: &ActiveSession,
        remote_addr: Option<String>,
    ) -> Result<(), AccountError> {
        self.store.delete_session(&hash_token(token)).await?;
        let user = &session.user;
        self.record(AuditEvent {
            at: self.clock.now(),
            company_id: user.company_id,
            actor: Actor::User(user.email.as_str().to_owned()).to_string(),
            action: AuditAction::Logout,
            target: user.email.as_str().to_owned(),
            remote_addr,
        })
        .await
    }

    /// The admin capability of a session's user, if they are an owner or admin.
    pub fn admin_actor(session: &ActiveSession, remote_addr: Option<String>) -> Option<AdminActor> {
        session.user.role.is_admin().then(|| AdminActor {
            company_id: session.user.company_id,
            actor: Actor::User(session.user.email.as_str().to_owned()),
            remote_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
    }
}
