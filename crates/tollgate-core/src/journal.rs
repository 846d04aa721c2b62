//! What changed in the [`Directory`](crate::directory::Directory), in order: the server's revocation
//! feed follows it to tell subscribers, at once, about every credential, company and revoked token
//! the directory re-read, whoever made the change (this node, another node, the CLI).
//!
//! Entries name *what* changed, not how: a reader looks the current state up. The journal keeps the
//! last [`JOURNAL_CAPACITY`] entries; a reader whose position fell out of it starts over from a
//! snapshot of the directory.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::ids::{ClientId, CompanyId};

/// Entries kept (older positions are answered with `None` by [`Journal::since`]).
pub const JOURNAL_CAPACITY: usize = 16_384;

/// One change of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Touched {
    /// A company was re-read (created, changed or deleted).
    Company(CompanyId),
    /// A credential was re-read (created, changed, deleted, its secrets rotated).
    Credential(ClientId),
    /// A token was revoked.
    Revoked(Box<str>),
    /// Everything was reloaded: readers start over from a snapshot.
    Reloaded,
}

#[derive(Debug, Default)]
struct Entries {
    /// Position of `list[0]`.
    first: u64,
    list: VecDeque<Touched>,
}

/// The directory's change journal.
#[derive(Debug)]
pub struct Journal {
    entries: Mutex<Entries>,
    /// The position after the last entry, for readers to wait on.
    position: watch::Sender<u64>,
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            position: watch::Sender::new(0),
        }
    }
}

impl Journal {
    /// Appends `t`.
    pub fn note(&self, t: Touched) {
        let end = {
            let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            e.list.push_back(t);
            if e.list.len() > JOURNAL_CAPACITY {
                e.list.pop_front();
                e.first += 1;
            }
            e.first + e.list.len() as u64
        };
        self.position.send_replace(end);
    }

    /// The position after the last entry: [`Journal::since`] of it is empty until something changes.
    pub fn position(&self) -> u64 {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.first + e.list.len() as u64
    }

    /// The entries from `position` on, or `None` if they are no longer kept (or `position` lies
    /// ahead: it is not one of ours).
    pub fn since(&self, position: u64) -> Option<Vec<Touched>> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let end = e.first + e.list.len() as u64;
        if position < e.first || position > end {
            return None;
        }
        let skip = usize::try_from(position - e.first).ok()?;
        Some(e.list.iter().skip(skip).cloned().collect())
    }

    /// Changes whenever an entry is appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.position.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_returns_what_followed_a_position_and_none_once_pruned() {
        let j = Journal::default();
        assert_eq!(j.position(), 0);
        j.note(Touched::Revoked("a".into()));
        j.note(Touched::Reloaded);
        assert_eq!(j.position(), 2);
        assert_eq!(j.since(1), Some(vec![Touched::Reloaded]));
        assert_eq!(j.since(2), Some(vec![]));
        assert_eq!(j.since(3), None, "a position ahead is not ours");
        for _ in 0..JOURNAL_CAPACITY {
            j.note(Touched::Reloaded);
        }
        assert_eq!(j.since(0), None, "pruned");
        assert_eq!(j.since(j.position()), Some(vec![]));
    }
}
