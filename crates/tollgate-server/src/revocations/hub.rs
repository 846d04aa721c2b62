//! The feed's shared part: this boot's id (cursors of another boot are not ours), the subscriber
//! slots, and the shutdown signal. Imports nothing of the crate (`state` holds it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};

/// Open feeds per server at most.
pub const MAX_SUBSCRIBERS: usize = 64;

/// How often an idle feed sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The feed's shared part: this boot's id, the subscriber slots, and the shutdown signal.
#[derive(Debug)]
pub struct RevocationFeed {
    boot: u64,
    slots: Arc<Semaphore>,
    closing: watch::Sender<bool>,
}

impl RevocationFeed {
    /// A feed with a fresh boot id.
    pub(crate) fn new() -> Result<Self, tollgate_core::random::RandomError> {
        let b = tollgate_core::random::bytes::<8>()?;
        Ok(Self {
            boot: u64::from_be_bytes(b),
            slots: Arc::new(Semaphore::new(MAX_SUBSCRIBERS)),
            closing: watch::Sender::new(false),
        })
    }

    /// Ends every open feed (at shutdown: a graceful shutdown waits for open responses).
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when the server shuts down.
    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// One of [`MAX_SUBSCRIBERS`] slots, held as long as the feed is open.
    pub(super) fn subscriber_slot(&self) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        Arc::clone(&self.slots).try_acquire_owned()
    }

    /// This boot's id.
    pub(super) fn boot(&self) -> u64 {
        self.boot
    }

    /// The journal position a cursor names, if it is one of this boot's.
    pub(super) fn position_of(&self, cursor: &str) -> Option<u64> {
        let (boot, pos) = cursor.trim().split_once('-')?;
        if u64::from_str_radix(boot, 16).ok()? != self.boot {
            return None;
        }
        pos.parse().ok()
    }
}
