//! The file's running hash, carried from chunk to chunk as chunks arrive.
//!
//! A chunk whose predecessor is linked when it arrives (the first chunk,
//! and each chunk of a client that sends them in order, one at a time) is
//! hashed into the running hash as it streams in. After a chunk is
//! accepted, this instance takes up, in index order, every stored chunk
//! whose predecessor's link is known, and records the file's SHA-256 state
//! before and after it. Chunks arriving ahead of their turn are taken up
//! once the gap before them fills: from memory while the hash window holds
//! them, else read back from the store. When every chunk is linked,
//! `complete` knows the file's hash without reading it; a merge reads back
//! only the chunks whose links are missing or do not meet.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::Uploads;
use super::error::{UploadError, UploadResult};
use crate::ids::UploadId;
use crate::meta::{Chunk, HashLink};
use crate::running_hash::RunningSha256;

/// Sessions this instance links at once: one per core, so that sessions
/// are linked side by side while each session's chunks go in order; more
/// wait their turn.
fn concurrent_linking() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The sessions whose chunks this instance is linking, each with whether
/// a chunk arrived since its task last looked.
#[derive(Clone)]
pub(super) struct Linking {
    running: Arc<Mutex<HashMap<UploadId, bool>>>,
    permits: Arc<Semaphore>,
}

impl Default for Linking {
    fn default() -> Self {
        Linking {
            running: Arc::default(),
            permits: Arc::new(Semaphore::new(concurrent_linking())),
        }
    }
}

impl Linking {
    /// Whether the caller should start a task for `id`: `false` when one
    /// runs already, which is told to look again.
    fn start(&self, id: &UploadId) -> bool {
        let mut running = self.running.lock();
        match running.get_mut(id) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                running.insert(id.clone(), false);
                true
            }
        }
    }

    /// Whether the task for `id` should look again; if not, it is removed.
    fn look_again(&self, id: &UploadId) -> bool {
        let mut running = self.running.lock();
        if running.get(id).copied().unwrap_or(false) {
            running.insert(id.clone(), false);
            return true;
        }
        running.remove(id);
        false
    }
}

/// Which chunks a linking pass takes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Those the window holds, in the request that accepted a chunk.
    Held,
    /// Any, reading back what the window does not hold.
    Any,
}

/// What a linking pass left for another.
enum Left {
    /// Nothing it could link now.
    Nothing,
    /// A chunk to read back from the store.
    Stored,
}

/// A session's turn at linking, taken by a request; if the request is
/// dropped during its pass, the turn is given up, so that the next chunk
/// accepted takes it.
struct Turn<'a> {
    linking: &'a Linking,
    id: &'a UploadId,
    kept: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.kept {
            self.linking.running.lock().remove(self.id);
        }
    }
}

/// Why a chunk's bytes could not be hashed.
pub(super) enum Unhashable {
    /// Its stored copy is gone or not its recorded length.
    Lost,
    /// The store or the database failed.
    Failed(UploadError),
}

impl Uploads {
    /// Extends the session's running hash over the chunks that can join it
    /// now, after a chunk was accepted: here over the chunks the window
    /// holds, in the background once a chunk must be read back. Unless the
    /// session is being linked already, which then looks again.
    pub(super) async fn link_after_accepting(&self, id: &UploadId) {
        if self.merges.is_stopping() || !self.linking.start(id) {
            return;
        }
        let mut turn = Turn {
            linking: &self.linking,
            id,
            kept: true,
        };
        loop {
            match self.link_chunks(id, Pass::Held).await {
                Ok(Left::Nothing) => {}
                Ok(Left::Stored) => {
                    turn.kept = false;
                    self.link_in_background(id.clone());
                    return;
                }
                Err(error) => {
                    tracing::debug!(upload_id = %id, %error, "linking chunks stopped; the merge hashes what is left");
                }
            }
            if !self.linking.look_again(id) {
                turn.kept = false;
                return;
            }
        }
    }

    /// Goes on linking the session `id`, whose turn the caller holds, in
    /// the background, reading chunks back from the store.
    fn link_in_background(&self, id: UploadId) {
        let uploads = self.clone();
        let linking = async move {
            let _permit = uploads.linking.permits.clone().acquire_owned().await;
            loop {
                if let Err(error) = uploads.link_chunks(&id, Pass::Any).await {
                    tracing::debug!(upload_id = %id, %error, "linking chunks stopped; the merge hashes what is left");
                }
                if !uploads.linking.look_again(&id) {
                    break;
                }
            }
        };
        self.merges.spawn(linking.in_current_span());
    }

    /// The file's running hash before chunk `index`, when it is known: at
    /// the start of the file, or at the end of a linked chunk before it.
    pub(super) async fn running_hash_before(
        &self,
        id: &UploadId,
        index: u64,
    ) -> UploadResult<Option<RunningSha256>> {
        let Some(previous) = index.checked_sub(1) else {
            return Ok(Some(RunningSha256::new()));
        };
        let previous = self.meta.chunk(id, previous).await?;
        Ok(previous.and_then(|chunk| chunk.link).map(|link| link.after))
    }

    /// Links the session's lowest unlinked chunk while the chunk before it
    /// is linked, and so on up; in a [`Pass::Held`], only while the window
    /// holds the chunk.
    async fn link_chunks(&self, id: &UploadId, pass: Pass) -> UploadResult<Left> {
        while let Some(next) = self.meta.first_unlinked(id).await? {
            if self.merges.is_stopping() {
                return Ok(Left::Nothing);
            }
            let before = match (next.chunk.index, next.previous) {
                (0, _) => RunningSha256::new(),
                (
                    _,
                    Some(Chunk {
                        link: Some(link), ..
                    }),
                ) => link.after,
                _ => return Ok(Left::Nothing),
            };
            let held = self
                .window
                .take(id, next.chunk.index, &next.chunk.object_key);
            let read_back = held.is_none();
            if read_back && pass == Pass::Held {
                return Ok(Left::Stored);
            }
            let after = match self
                .hash_held_or_stored(&next.chunk, held, before.clone())
                .await
            {
                Ok(after) => after,
                Err(Unhashable::Lost) => return Ok(Left::Nothing),
                Err(Unhashable::Failed(error)) => return Err(error),
            };
            let link = HashLink { before, after };
            if self.meta.link_chunk(id, &next.chunk, &link).await? {
                if read_back {
                    self.metrics.chunk_read_back(next.chunk.size);
                } else {
                    self.metrics.chunk_linked();
                }
            }
        }
        Ok(Left::Nothing)
    }

    /// The running hash after every one of `chunks` (session `id`'s, by
    /// ascending index): from their links where they meet end to end,
    /// else from the window, else from their stored copies, read back.
    pub(super) async fn hash_of_chunks(
        &self,
        id: &UploadId,
        chunks: &[Chunk],
    ) -> Result<RunningSha256, Unhashable> {
        let mut state = RunningSha256::new();
        for chunk in chunks {
            state = match &chunk.link {
                Some(link) if link.before == state => link.after.clone(),
                _ => {
                    let held = self.window.take(id, chunk.index, &chunk.object_key);
                    let read_back = held.is_none();
                    let after = self.hash_held_or_stored(chunk, held, state).await?;
                    if read_back {
                        self.metrics.merge_reread(chunk.size);
                    }
                    after
                }
            };
        }
        Ok(state)
    }

    /// Takes `chunk` into `state`: its `held` bytes when the window kept
    /// them, else its stored copy.
    async fn hash_held_or_stored(
        &self,
        chunk: &Chunk,
        held: Option<Vec<Bytes>>,
        mut state: RunningSha256,
    ) -> Result<RunningSha256, Unhashable> {
        let held_len =
            |pieces: &[Bytes]| pieces.iter().map(|piece| piece.len() as u64).sum::<u64>();
        match held {
            Some(pieces) if held_len(&pieces) == chunk.size => {
                for piece in &pieces {
                    state.update(piece);
                }
                Ok(state)
            }
            _ => self.hash_chunk(chunk, state).await,
        }
    }

    /// Takes the stored copy of `chunk` into `state`.
    async fn hash_chunk(
        &self,
        chunk: &Chunk,
        mut state: RunningSha256,
    ) -> Result<RunningSha256, Unhashable> {
        let start = state.len();
        let mut bytes = match self.blobs.read(&chunk.object_key, None).await {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => return Err(Unhashable::Lost),
            Err(error) => return Err(Unhashable::Failed(error.into())),
        };
        while let Some(piece) = bytes.next().await {
            match piece {
                Ok(piece) => state.update(&piece),
                Err(error) if error.is_not_found() => return Err(Unhashable::Lost),
                Err(error) => return Err(Unhashable::Failed(error.into())),
            }
        }
        if state.len() - start != chunk.size {
            return Err(Unhashable::Lost);
        }
        Ok(state)
    }
}
