//! The panel's protection against replayed forms and password guessing, kept apart from the handlers
//! so the shared state can hold them without importing the routes.

/// One-use tokens of the forms that show a secret (create, rotate): a second POST of the same form —
/// the browser's Reload on the page showing the secret — creates or rotates nothing. Kept in memory
/// for an hour on the node that served the form.
#[derive(Debug, Default)]
pub struct FormNonces(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl FormNonces {
    /// Whether `nonce` is seen for the first time (and remembers it).
    pub(crate) fn first_use(&self, nonce: &str, now: i64) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return false;
        };
        if seen.len() > 10_000 {
            seen.retain(|_, t| *t > now - 3600);
        }
        seen.insert(nonce.to_owned(), now).is_none()
    }
}

/// Login attempts per minute, per client address and per account (brute-force protection).
#[derive(Debug)]
pub struct LoginLimiter {
    by_ip: governor::DefaultKeyedRateLimiter<String>,
    by_account: governor::DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    /// `per_ip` attempts a minute from one address, `per_account` for one email.
    pub fn new(per_ip: u32, per_account: u32) -> Self {
        let q = |n: u32| {
            governor::Quota::per_minute(
                std::num::NonZeroU32::new(n.max(1)).unwrap_or(std::num::NonZeroU32::MIN),
            )
        };
        Self {
            by_ip: governor::RateLimiter::keyed(q(per_ip)),
            by_account: governor::RateLimiter::keyed(q(per_account)),
        }
    }

    /// Whether one more attempt is allowed (counts it).
    pub fn allow(&self, ip: &str, account: &str) -> bool {
        self.by_ip.check_key(&ip.to_owned()).is_ok()
            && self.by_account.check_key(&account.to_owned()).is_ok()
    }
}
