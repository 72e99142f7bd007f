//! Chunks this instance is receiving now. A chunk that arrives while the
//! chunk before it is still arriving here waits for that chunk before
//! reading its own body: the chunk before it is then linked, and this one
//! is hashed into the file's running SHA-256 as it streams in, instead of
//! being held in the hash window or read back. While it waits, its body
//! stays in the kernel's socket buffer (see `http::body_gate`), so waiting
//! costs no memory, and a client's chunks in flight still travel side by
//! side up to what that buffer holds.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::ids::UploadId;

/// Longest a chunk waits for the chunk before it.
pub(super) const PREDECESSOR_WAIT: Duration = Duration::from_secs(60);

/// The chunks being received, by session and index.
#[derive(Clone, Default)]
pub(super) struct InFlight {
    chunks: Arc<Mutex<HashMap<(UploadId, u64), Receiving>>>,
}

/// Requests receiving one chunk, and the waiters for their end.
struct Receiving {
    requests: usize,
    ended: watch::Sender<bool>,
}

/// One request receiving a chunk; the chunk's waiters are woken when the
/// last request receiving it is dropped, once the chunk was recorded and
/// linked, or refused.
pub(super) struct Arrival {
    in_flight: InFlight,
    key: (UploadId, u64),
}

impl fmt::Debug for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Arrival").field(&self.key).finish()
    }
}

impl InFlight {
    /// Notes that chunk `index` of session `id` is arriving.
    pub(super) fn arrive(&self, id: &UploadId, index: u64) -> Arrival {
        let key = (id.clone(), index);
        self.chunks
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Receiving {
                requests: 0,
                ended: watch::Sender::new(false),
            })
            .requests += 1;
        Arrival {
            in_flight: self.clone(),
            key,
        }
    }

    /// Requests receiving a chunk now.
    pub(super) fn arriving(&self) -> usize {
        self.chunks
            .lock()
            .values()
            .map(|receiving| receiving.requests)
            .sum()
    }

    /// Whether chunk `index` of session `id` is arriving here now.
    pub(super) fn is_arriving(&self, id: &UploadId, index: u64) -> bool {
        self.chunks.lock().contains_key(&(id.clone(), index))
    }

    /// Waits up to `bound` for chunk `index` of session `id` to stop
    /// arriving; answers `false` at once when it is not arriving here.
    pub(super) async fn wait_for(&self, id: &UploadId, index: u64, bound: Duration) -> bool {
        let mut ended = match self.chunks.lock().get(&(id.clone(), index)) {
            Some(receiving) => receiving.ended.subscribe(),
            None => return false,
        };
        tokio::time::timeout(bound, ended.wait_for(|ended| *ended))
            .await
            .is_ok()
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        let mut chunks = self.in_flight.chunks.lock();
        let Some(receiving) = chunks.get_mut(&self.key) else {
            return;
        };
        receiving.requests -= 1;
        if receiving.requests == 0 {
            receiving.ended.send_replace(true);
            chunks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chunk_not_arriving_is_not_waited_for() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        assert!(!in_flight.wait_for(&id, 0, Duration::from_secs(60)).await);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_chunk_before_it_ends() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        let arrival = in_flight.arrive(&id, 3);
        let waiting = tokio::spawn({
            let (in_flight, id) = (in_flight.clone(), id.clone());
            async move { in_flight.wait_for(&id, 3, Duration::from_secs(60)).await }
        });
        tokio::task::yield_now().await;
        drop(arrival);
        assert!(waiting.await.unwrap());
        assert!(!in_flight.wait_for(&id, 3, Duration::from_secs(60)).await);
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_its_bound() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        let _arrival = in_flight.arrive(&id, 0);
        assert!(!in_flight.wait_for(&id, 0, Duration::from_millis(50)).await);
    }
}
