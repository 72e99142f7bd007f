//! Chunks this instance is receiving now. A chunk that arrives while the
//! chunk before it is still arriving here waits for that chunk's last byte
//! to be hashed (not for it to be stored) before reading its own body,
//! and is then hashed into the file's running SHA-256 as it streams in,
//! from the state the chunk before it handed over, instead of being held
//! in the hash window or read back. Should the chunk before it be refused
//! after all, the two links do not meet and a merge reads the later chunk
//! back. While it waits, its body stays in the kernel's socket buffer (see
//! `http::body_gate`), so waiting costs no memory, and a client's chunks in
//! flight still travel side by side up to what that buffer holds.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::ids::UploadId;
use crate::running_hash::RunningSha256;

/// Longest a chunk waits for the chunk before it.
pub(super) const PREDECESSOR_WAIT: Duration = Duration::from_secs(60);

/// The chunks being received, by session and index.
#[derive(Clone, Default)]
pub(super) struct InFlight {
    chunks: Arc<Mutex<HashMap<(UploadId, u64), Receiving>>>,
}

/// Requests receiving one chunk, and where the chunk stands for those
/// waiting for it.
struct Receiving {
    requests: usize,
    stands: watch::Sender<Stands>,
}

/// Where a chunk being received stands.
#[derive(Debug, Clone)]
enum Stands {
    /// Its bytes are still arriving.
    Arriving,
    /// Its last byte was hashed: the file's running hash after it.
    Hashed(RunningSha256),
    /// No request receives it any more.
    Ended,
}

/// What a wait for the chunk before a chunk found.
#[derive(Debug)]
pub(super) enum Waited {
    /// It was not arriving here.
    NotArriving,
    /// Its bytes were hashed: the running hash after it.
    Hashed(RunningSha256),
    /// It ended without handing over its hash: ask the database.
    Ended,
    /// It was still arriving when the wait's bound passed.
    TimedOut,
}

/// One request receiving a chunk; the chunk's waiters are woken when it
/// hands over its hash, or when the last request receiving it is dropped
/// without having done so.
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
                stands: watch::Sender::new(Stands::Arriving),
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

    /// Waits up to `bound` for chunk `index` of session `id` to be hashed
    /// or to stop arriving.
    pub(super) async fn wait_for(&self, id: &UploadId, index: u64, bound: Duration) -> Waited {
        let mut stands = match self.chunks.lock().get(&(id.clone(), index)) {
            Some(receiving) => receiving.stands.subscribe(),
            None => return Waited::NotArriving,
        };
        let moved = stands.wait_for(|stands| !matches!(stands, Stands::Arriving));
        match tokio::time::timeout(bound, moved).await {
            Ok(Ok(stands)) => match &*stands {
                Stands::Hashed(after) => Waited::Hashed(after.clone()),
                Stands::Arriving | Stands::Ended => Waited::Ended,
            },
            Ok(Err(_)) => Waited::Ended,
            Err(_) => Waited::TimedOut,
        }
    }
}

impl Arrival {
    /// The chunk's last byte was hashed: the running hash after it, for
    /// the chunk after it.
    pub(super) fn hashed(&self, after: &RunningSha256) {
        if let Some(receiving) = self.in_flight.chunks.lock().get(&self.key) {
            receiving.stands.send_replace(Stands::Hashed(after.clone()));
        }
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
            receiving.stands.send_if_modified(|stands| {
                let arriving = matches!(stands, Stands::Arriving);
                if arriving {
                    *stands = Stands::Ended;
                }
                arriving
            });
            chunks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task waiting for chunk `index` of `id`, already waiting.
    async fn waiting_for(
        in_flight: &InFlight,
        id: &UploadId,
        index: u64,
    ) -> tokio::task::JoinHandle<Waited> {
        let waiting = tokio::spawn({
            let (in_flight, id) = (in_flight.clone(), id.clone());
            async move {
                in_flight
                    .wait_for(&id, index, Duration::from_secs(60))
                    .await
            }
        });
        tokio::task::yield_now().await;
        waiting
    }

    #[tokio::test]
    async fn a_chunk_not_arriving_is_not_waited_for() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        assert!(matches!(
            in_flight.wait_for(&id, 0, Duration::from_secs(60)).await,
            Waited::NotArriving
        ));
    }

    #[tokio::test]
    async fn a_waiter_is_handed_the_hash_of_the_chunk_before_it() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        let arrival = in_flight.arrive(&id, 3);
        let waiting = waiting_for(&in_flight, &id, 3).await;
        let mut after = RunningSha256::new();
        after.update(b"chunk 3");
        arrival.hashed(&after);
        match waiting.await.unwrap() {
            Waited::Hashed(handed) => assert_eq!(handed.to_bytes(), after.to_bytes()),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_chunk_before_it_ends() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        let arrival = in_flight.arrive(&id, 3);
        let waiting = waiting_for(&in_flight, &id, 3).await;
        drop(arrival);
        assert!(matches!(waiting.await.unwrap(), Waited::Ended));
        assert!(matches!(
            in_flight.wait_for(&id, 3, Duration::from_secs(60)).await,
            Waited::NotArriving
        ));
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_its_bound() {
        let in_flight = InFlight::default();
        let id = UploadId::generate();
        let _arrival = in_flight.arrive(&id, 0);
        assert!(matches!(
            in_flight.wait_for(&id, 0, Duration::from_millis(50)).await,
            Waited::TimedOut
        ));
    }
}
