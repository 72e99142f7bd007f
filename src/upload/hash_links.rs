//! The file's running hash, carried from chunk to chunk as chunks arrive.
//!
//! A chunk whose predecessor is linked when it arrives (the first chunk,
//! and each chunk of a client that sends them in order, one at a time) is
//! hashed into the running hash as it streams in. After a chunk is
//! accepted, this instance reads back, in index order,
//! every stored chunk whose predecessor's link is known, and records the
//! file's SHA-256 state before and after it. Chunks arriving ahead of their
//! turn are taken up once the gap before them fills. When every chunk is
//! linked, `complete` knows the file's hash without reading it; a merge
//! reads back only the chunks whose links are missing or do not meet.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::Uploads;
use super::error::{UploadError, UploadResult};
use crate::ids::UploadId;
use crate::meta::{Chunk, HashLink};
use crate::running_hash::RunningSha256;

/// Sessions this instance links at once; more wait their turn, so that
/// hashing never takes every core from the requests being answered.
const CONCURRENT_LINKING: usize = 1;

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
            permits: Arc::new(Semaphore::new(CONCURRENT_LINKING)),
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

/// Why a chunk's bytes could not be hashed.
pub(super) enum Unhashable {
    /// Its stored copy is gone or not its recorded length.
    Lost,
    /// The store or the database failed.
    Failed(UploadError),
}

impl Uploads {
    /// Extends the session's running hash over the chunks that can join it
    /// now, in the background.
    pub(super) fn link_later(&self, id: &UploadId) {
        if self.merges.is_stopping() || !self.linking.start(id) {
            return;
        }
        let uploads = self.clone();
        let id = id.clone();
        let linking = async move {
            let _permit = uploads.linking.permits.clone().acquire_owned().await;
            loop {
                if let Err(error) = uploads.link_chunks(&id).await {
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
    /// is linked, and so on up.
    async fn link_chunks(&self, id: &UploadId) -> UploadResult<()> {
        while let Some(next) = self.meta.first_unlinked(id).await? {
            if self.merges.is_stopping() {
                return Ok(());
            }
            let before = match (next.chunk.index, next.previous) {
                (0, _) => RunningSha256::new(),
                (
                    _,
                    Some(Chunk {
                        link: Some(link), ..
                    }),
                ) => link.after,
                _ => return Ok(()),
            };
            let after = match self.hash_chunk(&next.chunk, before.clone()).await {
                Ok(after) => after,
                Err(Unhashable::Lost) => return Ok(()),
                Err(Unhashable::Failed(error)) => return Err(error),
            };
            let link = HashLink { before, after };
            if self.meta.link_chunk(id, &next.chunk, &link).await? {
                self.metrics.chunk_read_back();
            }
        }
        Ok(())
    }

    /// The running hash after every one of `chunks` (a session's, by
    /// ascending index): from their links where they meet end to end,
    /// else from their stored copies, read back.
    pub(super) async fn hash_of_chunks(
        &self,
        chunks: &[Chunk],
    ) -> Result<RunningSha256, Unhashable> {
        let mut state = RunningSha256::new();
        for chunk in chunks {
            state = match &chunk.link {
                Some(link) if link.before == state => link.after.clone(),
                _ => {
                    let after = self.hash_chunk(chunk, state).await?;
                    self.metrics.merge_reread(chunk.size);
                    after
                }
            };
        }
        Ok(state)
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
