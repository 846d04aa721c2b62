//! sqlx errors as the domain sees them.

use tollgate_core::store::StoreError;

/// A broken uniqueness rule is a [`StoreError::Conflict`]; anything else a [`StoreError::Backend`]
/// (a 500, never a client error).
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict(db.message().to_owned());
    }
    StoreError::Backend(Box::new(e))
}
