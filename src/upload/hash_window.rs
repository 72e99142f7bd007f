//! Chunks that arrived ahead of their turn, kept in memory until the chunk
//! before them is linked, so that they join the file's running hash then
//! without being read back from the store.
//!
//! A chunk whose predecessor is still arriving at this instance waits for
//! it (`in_flight`); one whose predecessor is not arriving here (sent to
//! another instance, or not sent yet) is held here (a few per session, and
//! at most the window's bytes across the instance) from its acceptance
//! until the linking takes it. Beyond that bound a chunk is not
//! held, and is read back instead. A held chunk nothing took within
//! [`HELD_FOR`] (its session aborted, or linked by another instance) is
//! let go.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ids::{ObjectKey, UploadId};

/// Most chunks held for one session.
const PER_SESSION: usize = 4;

/// Longest a chunk is held waiting for its turn.
const HELD_FOR: Duration = Duration::from_secs(60);

/// The window of every session of this instance.
#[derive(Clone, Debug)]
pub(super) struct HashWindow {
    sessions: Arc<Mutex<Sessions>>,
    bytes: Arc<Semaphore>,
    total: u32,
}

#[derive(Debug, Default)]
struct Sessions {
    held: HashMap<UploadId, BTreeMap<u64, Held>>,
    last_sweep: Option<Instant>,
}

/// One chunk's bytes, held under the window's bound.
#[derive(Debug)]
struct Held {
    key: ObjectKey,
    pieces: Vec<Bytes>,
    since: Instant,
    _room: OwnedSemaphorePermit,
}

impl HashWindow {
    /// A window of at most `total` bytes (at most 4 GiB); 0 holds nothing.
    pub(super) fn new(total: u64) -> Self {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        HashWindow {
            sessions: Arc::default(),
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Bytes held now.
    pub(super) fn held_bytes(&self) -> u64 {
        u64::from(self.total) - self.bytes.available_permits() as u64
    }

    /// Holds chunk `index` of session `id`, stored at `key`, in `pieces`,
    /// if the session and the instance have room; answers whether it is
    /// held.
    pub(super) fn hold(
        &self,
        id: &UploadId,
        index: u64,
        key: &ObjectKey,
        pieces: Vec<Bytes>,
    ) -> bool {
        let Ok(len) = u32::try_from(pieces.iter().map(Bytes::len).sum::<usize>()) else {
            return false;
        };
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        sessions.let_go_of_stale(now);
        let held = sessions.held.entry(id.clone()).or_default();
        held.remove(&index);
        if held.len() >= PER_SESSION {
            return false;
        }
        let Ok(room) = self.bytes.clone().try_acquire_many_owned(len) else {
            if held.is_empty() {
                sessions.held.remove(id);
            }
            return false;
        };
        held.insert(
            index,
            Held {
                key: key.clone(),
                pieces,
                since: now,
                _room: room,
            },
        );
        true
    }

    /// Takes the bytes of chunk `index` of session `id` when they are held
    /// for the copy at `key`, letting go of every chunk before it.
    pub(super) fn take(&self, id: &UploadId, index: u64, key: &ObjectKey) -> Option<Vec<Bytes>> {
        let mut sessions = self.sessions.lock();
        let held = sessions.held.get_mut(id)?;
        let mut from = held.split_off(&index);
        let taken = from.remove(&index);
        *held = from;
        if held.is_empty() {
            sessions.held.remove(id);
        }
        taken
            .filter(|taken| &taken.key == key)
            .map(|taken| taken.pieces)
    }
}

impl Sessions {
    /// Lets go of chunks held past [`HELD_FOR`], looking at most once a
    /// second.
    fn let_go_of_stale(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        self.held.retain(|_, held| {
            held.retain(|_, chunk| now.duration_since(chunk.since) < HELD_FOR);
            !held.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::BlobStore;
    use crate::ids::WriteToken;

    fn key(id: &UploadId, index: u64) -> ObjectKey {
        BlobStore::chunk_key(id, index, &WriteToken::generate())
    }

    #[test]
    fn a_held_chunk_is_taken_once_for_its_own_copy() {
        let window = HashWindow::new(1 << 20);
        let id = UploadId::generate();
        let (one, two) = (key(&id, 1), key(&id, 2));
        assert!(window.hold(&id, 1, &one, vec![Bytes::from_static(b"one")]));
        assert!(window.hold(&id, 2, &two, vec![Bytes::from_static(b"two")]));
        assert_eq!(window.held_bytes(), 6);
        assert_eq!(window.take(&id, 2, &one), None, "another copy's bytes");
        assert_eq!(window.held_bytes(), 0, "chunk 1 was passed over");
        assert!(window.hold(&id, 2, &two, vec![Bytes::from_static(b"two")]));
        assert_eq!(
            window.take(&id, 2, &two),
            Some(vec![Bytes::from_static(b"two")])
        );
        assert_eq!(window.take(&id, 2, &two), None);
    }

    #[test]
    fn chunks_beyond_the_bound_or_the_session_share_are_not_held() {
        let window = HashWindow::new(10);
        let id = UploadId::generate();
        assert!(window.hold(&id, 0, &key(&id, 0), vec![Bytes::from(vec![0; 8])]));
        assert!(!window.hold(&id, 1, &key(&id, 1), vec![Bytes::from(vec![0; 8])]));
        let window = HashWindow::new(1 << 20);
        for index in 0..PER_SESSION as u64 {
            assert!(window.hold(&id, index, &key(&id, index), vec![Bytes::from_static(b"x")]));
        }
        assert!(!window.hold(&id, 9, &key(&id, 9), vec![Bytes::from_static(b"x")]));
        let other = UploadId::generate();
        assert!(window.hold(&other, 0, &key(&other, 0), vec![Bytes::from_static(b"x")]));
    }
}
