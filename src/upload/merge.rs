//! Completing an upload: verify that the chunks, in order, hash to the key,
//! have the store compose them into the file's one object, and only then
//! publish it.
//!
//! One merge per content hash runs at a time across all instances: the right
//! to merge is a lease in the database, renewed while the merge runs and
//! taken over when its holder dies. The object appears at the file's stable
//! key only whole (a folder renames a temporary file named by the attempt
//! into place, a bucket completes an upload), so an attempt overtaken while
//! it still writes can only put the same verified bytes there; an attempt
//! that ends short of publishing deletes its own temporary file, never the
//! stable key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use ferry_proto::{ContentHash, UploadStatus, missing_ranges, to_ranges};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use super::Uploads;
use super::error::{UploadError, UploadResult};
use super::hash_links::Unhashable;
use crate::blob::{BlobStore, ComposePart, PartsError};
use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::meta::{Claim, FileRecord, MergeFailure, MergeLease, Published, Session};
use crate::metrics::MergeOutcome;

/// The answer to a complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The file is published (200).
    Done(ferry_proto::Upload),
    /// The merge goes on in the background (202).
    Pending(ferry_proto::Upload),
}

/// Most merges one instance runs at once; more wait their turn, so that a
/// backlog after an outage does not multiply memory and disk traffic.
const CONCURRENT_MERGES: usize = 4;

/// Merges running in this process, by session id, so that a session is
/// merged by one task here and waiters can follow it.
#[derive(Clone)]
pub(super) struct Registry {
    running: Arc<Mutex<HashMap<UploadId, watch::Receiver<bool>>>>,
    permits: Arc<Semaphore>,
    stopping: Arc<watch::Sender<bool>>,
    /// The runtime merges run on: the one the service was built on, not
    /// the HTTP worker's whose request started the merge, which ends with
    /// that worker when the server stops.
    runtime: Handle,
}

/// Takes a merge out of the registry and tells its waiters when its task
/// ends, also when the task panics or its runtime drops it.
struct MergeFinished {
    registry: Registry,
    id: UploadId,
    finished: watch::Sender<bool>,
}

impl Drop for MergeFinished {
    fn drop(&mut self) {
        self.registry.running.lock().remove(&self.id);
        self.finished.send_replace(true);
    }
}

impl Registry {
    /// A registry whose merges run on the current Tokio runtime.
    pub(super) fn on_current_runtime() -> Self {
        Registry {
            running: Arc::default(),
            permits: Arc::new(Semaphore::new(CONCURRENT_MERGES)),
            stopping: Arc::new(watch::channel(false).0),
            runtime: Handle::current(),
        }
    }

    /// Returns once the process has begun to stop.
    pub(super) async fn until_stopping(&self) {
        let mut stopping = self.stopping.subscribe();
        if stopping.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs `task` on the service's runtime.
    pub(super) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(task);
    }

    pub(super) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    fn follow(&self, session_id: &UploadId) -> Option<watch::Receiver<bool>> {
        self.running.lock().get(session_id).cloned()
    }
}

/// What a verified merge leaves to publish.
enum Merged {
    /// The chunks were composed into the file's one object.
    Copied,
    /// A file of this hash is published and whole; nothing was copied.
    AlreadyPublished(FileRecord),
}

/// How a merge attempt that held the lease ended, short of publishing.
enum Interrupted {
    Mismatch,
    ChunkLost,
    LeaseLost,
    HandedBack,
    Failed(UploadError),
}

impl Uploads {
    /// Merges, verifies and publishes the owner's upload, waiting up to the
    /// configured time; the merge goes on in the background after that.
    #[tracing::instrument(skip(self, now), fields(%owner, sha256 = %sha256))]
    pub async fn complete(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
    ) -> UploadResult<Completion> {
        let session = self.live_session(owner, sha256, now).await?;
        match session.status {
            UploadStatus::Complete => return Ok(Completion::Done(self.view(&session).await?)),
            UploadStatus::Failed => {
                let refusal = self.refusal_after_merge(&session).await?;
                return Err(refusal.unwrap_or(UploadError::HashMismatch));
            }
            UploadStatus::Uploading => self.start_merge(&session).await?,
            UploadStatus::Merging => {}
        }
        let asked = Instant::now();
        let done = self.spawn_merge(session.clone());
        self.wait_for_merge(&session, done).await;
        let session = self.live_session(owner, sha256, now).await?;
        let seconds = asked.elapsed().as_secs_f64();
        tracing::info!(
            status = session.status.as_str(),
            seconds,
            "complete answered"
        );
        if let Some(refusal) = self.refusal_after_merge(&session).await? {
            return Err(refusal);
        }
        match session.status {
            UploadStatus::Complete => Ok(Completion::Done(self.view(&session).await?)),
            _ => Ok(Completion::Pending(self.view(&session).await?)),
        }
    }

    /// Takes up every merge whose lease lapsed: after a crash, at start, and
    /// periodically, so that a dead instance's merges finish elsewhere. An
    /// instance that is stopping leaves them to the others.
    pub async fn resume_stalled_merges(&self) -> UploadResult<usize> {
        if self.merges.is_stopping() {
            return Ok(0);
        }
        let now = self.meta.clock().await?;
        let stalled = self.meta.stalled_merges(now).await?;
        let mut resumed = 0;
        for session in stalled {
            if self.merges.follow(&session.id).is_none() {
                tracing::info!(owner = %session.owner, sha256 = %session.sha256, "taking up an interrupted merge");
                self.spawn_merge(session);
                resumed += 1;
            }
        }
        Ok(resumed)
    }

    /// Stops merging in this process: running merges give their lease back
    /// at once, so that another instance takes them up without waiting for
    /// the lease to run out, and what they had written is removed. Waits
    /// for them up to `bound`.
    pub async fn hand_back_merges(&self, bound: Duration) {
        self.merges.stopping.send_replace(true);
        let handed_back = async {
            loop {
                let running: Vec<watch::Receiver<bool>> =
                    self.merges.running.lock().values().cloned().collect();
                if running.is_empty() {
                    break;
                }
                for mut done in running {
                    let _ = done.wait_for(|finished| *finished).await;
                }
            }
            self.blobs.settle().await;
        };
        if tokio::time::timeout(bound, handed_back).await.is_err() {
            tracing::warn!("merges still running at exit; their leases run out instead");
        }
    }

    /// Moves the session to `merging`, or says which chunks are missing.
    /// A chunk recorded between the two checks is simply checked again.
    async fn start_merge(&self, session: &Session) -> UploadResult<()> {
        loop {
            if self.meta.start_merge(&session.id).await? {
                return Ok(());
            }
            let chunks = self.meta.chunks(&session.id).await?;
            let received = to_ranges(chunks.iter().map(|chunk| chunk.index));
            let missing = missing_ranges(session.chunk_count(), &received);
            if !missing.is_empty() {
                return Err(UploadError::ChunksMissing(missing));
            }
            match self.current_session(session).await? {
                Some(current) if current.status == UploadStatus::Uploading => continue,
                _ => return Ok(()),
            }
        }
    }

    fn spawn_merge(&self, session: Session) -> watch::Receiver<bool> {
        let mut running = self.merges.running.lock();
        if let Some(done) = running.get(&session.id) {
            return done.clone();
        }
        let (finished, done) = watch::channel(false);
        running.insert(session.id.clone(), done.clone());
        drop(running);
        let uploads = self.clone();
        let started_by = tracing::Span::current();
        let merging = async move {
            let _finished = MergeFinished {
                registry: uploads.merges.clone(),
                id: session.id.clone(),
                finished,
            };
            let permit = uploads.merges.permits.clone().acquire_owned().await;
            uploads.merge_with_retries(session).await;
            drop(permit);
        };
        self.merges.runtime.spawn(merging.instrument(started_by));
        done
    }

    async fn wait_for_merge(&self, session: &Session, mut done: watch::Receiver<bool>) {
        let wait = self.timings.merge_wait;
        if tokio::time::timeout(wait, done.wait_for(|finished| *finished))
            .await
            .is_ok()
        {
            return;
        }
        tracing::info!(sha256 = %session.sha256, "merge still running; answering 202");
    }

    /// One attempt at a merge; on the `last` one, a store failure fails
    /// the upload instead of leaving it to be tried again.
    pub(super) async fn merge(&self, session: Session, last: bool) -> UploadResult<()> {
        let mut pause = Duration::from_millis(50);
        loop {
            if self.merges.is_stopping() {
                return Ok(());
            }
            let Some(current) = self.current_merge(&session).await? else {
                return Ok(());
            };
            let token = WriteToken::generate();
            let asked = Instant::now();
            let now = self.meta.clock().await?;
            let lease = MergeLease {
                sha256: current.sha256,
                upload_id: current.id.clone(),
                object_key: BlobStore::attempt_key(
                    &BlobStore::published_key(&current.sha256),
                    &token,
                ),
                token,
                lease_until: now + self.timings.merge_lease,
            };
            match self.meta.claim_merge(&lease, now).await? {
                Claim::Claimed { abandoned_key } => {
                    if let Some(key) = abandoned_key {
                        self.blobs.delete_file(&key).await?;
                    }
                    if self.current_merge(&current).await?.is_none() {
                        self.meta.drop_merge(&lease.sha256, &lease.token).await?;
                        return Ok(());
                    }
                    let held_until = asked + self.timings.merge_lease;
                    self.meta
                        .touch_session(&current.id, now + self.timings.session_ttl)
                        .await?;
                    return self.merge_holding(&current, &lease, held_until, last).await;
                }
                Claim::Busy => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn current_merge(&self, session: &Session) -> UploadResult<Option<Session>> {
        let current = self.current_session(session).await?;
        Ok(current.filter(|s| s.status == UploadStatus::Merging))
    }

    async fn current_session(&self, session: &Session) -> UploadResult<Option<Session>> {
        let current = self
            .meta
            .find_session(&session.owner, &session.sha256)
            .await?;
        Ok(current.filter(|s| s.id == session.id))
    }

    async fn merge_holding(
        &self,
        session: &Session,
        lease: &MergeLease,
        held_until: Instant,
        last: bool,
    ) -> UploadResult<()> {
        let timer = self.metrics.merge_started();
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = self.merge_and_verify(session, &lease.object_key) => outcome,
            () = self.keep_lease(session, lease, held_until) => Err(Interrupted::LeaseLost),
            () = self.merges.until_stopping() => Err(Interrupted::HandedBack),
        };
        match outcome {
            Ok(merged) => {
                let copied = matches!(merged, Merged::Copied);
                let file = match merged {
                    Merged::Copied => FileRecord {
                        sha256: session.sha256,
                        size: session.size,
                        content_type: session.content_type.clone(),
                        object_key: BlobStore::published_key(&session.sha256),
                        part_size: None,
                        published_at: Utc::now().trunc_subsecs(0),
                    },
                    Merged::AlreadyPublished(existing) => existing,
                };
                let published = self.meta.publish(&file, &session.id, &lease.token).await;
                let published = match published {
                    Ok(published) => published,
                    Err(error) => {
                        timer.finish(MergeOutcome::Failed);
                        return Err(error.into());
                    }
                };
                match published {
                    Published::Now(_) => {
                        timer.finish(MergeOutcome::Published);
                        self.metrics.upload_completed();
                        let seconds = started.elapsed().as_secs_f64();
                        tracing::info!(owner = %session.owner, sha256 = %session.sha256, size = session.size, seconds, "published");
                    }
                    Published::Already(existing) => {
                        timer.finish(MergeOutcome::Published);
                        self.metrics.upload_completed();
                        tracing::info!(owner = %session.owner, sha256 = %session.sha256, "completed: its chunks hash to a file already published");
                        if copied {
                            self.keep_one_copy(&existing, &file).await;
                        }
                    }
                    Published::LeaseLost => {
                        timer.finish(MergeOutcome::LeaseLost);
                        tracing::warn!(owner = %session.owner, sha256 = %session.sha256, "merge lease lost before publishing");
                        self.blobs.delete_file(&lease.object_key).await?;
                        return Ok(());
                    }
                }
                self.remove_chunks(session).await;
                Ok(())
            }
            Err(Interrupted::Mismatch) => {
                let seconds = started.elapsed().as_secs_f64();
                timer.finish(MergeOutcome::Mismatch);
                tracing::warn!(owner = %session.owner, sha256 = %session.sha256, seconds, "merged bytes do not hash to the key");
                self.fail_upload(session, lease, MergeFailure::HashMismatch)
                    .await
            }
            Err(Interrupted::ChunkLost) => {
                timer.finish(MergeOutcome::ChunkLost);
                self.reopen_lost_chunks(session, lease).await
            }
            Err(Interrupted::LeaseLost) => {
                timer.finish(MergeOutcome::LeaseLost);
                tracing::warn!(owner = %session.owner, sha256 = %session.sha256, "merge lease lost; another attempt goes on");
                self.blobs.delete_file(&lease.object_key).await?;
                Ok(())
            }
            Err(Interrupted::HandedBack) => {
                timer.finish(MergeOutcome::HandedBack);
                tracing::info!(owner = %session.owner, sha256 = %session.sha256, "stopping: merge handed back");
                self.blobs.settle().await;
                self.blobs.delete_file(&lease.object_key).await?;
                self.meta.drop_merge(&session.sha256, &lease.token).await?;
                Ok(())
            }
            Err(Interrupted::Failed(error)) => {
                self.end_failed_merge(session, lease, error, last, timer)
                    .await
            }
        }
    }

    /// Verifies that the session's chunks hash to its key, from their
    /// links and reading back only what they do not cover, then has the
    /// store compose them into the file's one object (through the
    /// attempt's `temporary` file on a folder), unless a file of this hash
    /// is published and its object is whole. Published or not, a session
    /// completes only once its own chunks hashed to its key.
    async fn merge_and_verify(
        &self,
        session: &Session,
        temporary: &ObjectKey,
    ) -> Result<Merged, Interrupted> {
        let chunks = self
            .meta
            .chunks(&session.id)
            .await
            .map_err(|e| Interrupted::Failed(e.into()))?;
        let hash = match self.hash_of_chunks(&session.id, &chunks).await {
            Ok(hash) => hash,
            Err(Unhashable::Lost) => return Err(Interrupted::ChunkLost),
            Err(Unhashable::Failed(error)) => return Err(Interrupted::Failed(error)),
        };
        if hash.len() != session.size || hash.finish() != session.sha256 {
            return Err(Interrupted::Mismatch);
        }
        let published = self
            .intact_file(&session.sha256)
            .await
            .map_err(Interrupted::Failed)?;
        if let Some(existing) = published {
            return Ok(Merged::AlreadyPublished(existing));
        }
        let parts: Vec<ComposePart> = chunks
            .into_iter()
            .map(|chunk| ComposePart {
                key: chunk.object_key,
                size: chunk.size,
            })
            .collect();
        let key = BlobStore::published_key(&session.sha256);
        let content_type = session.content_type.as_ref().map(|media| media.as_str());
        let composed = self
            .blobs
            .compose_via(&parts, &key, temporary, content_type)
            .await;
        match composed {
            Ok(composed) => {
                self.metrics.compose_streamed(composed.streamed_bytes);
                Ok(Merged::Copied)
            }
            Err(PartsError::MissingPart(_)) => Err(Interrupted::ChunkLost),
            Err(PartsError::Store(error)) => Err(Interrupted::Failed(error.into())),
        }
    }

    /// Renews the lease every third of its length; returns once it is lost
    /// or could not be renewed before it ran out. The lease is measured on
    /// the database's clock; this instance counts it down on its own
    /// monotonic clock from before each renewal was asked for.
    async fn keep_lease(&self, session: &Session, lease: &MergeLease, mut held_until: Instant) {
        let period = self.timings.merge_lease / 3;
        loop {
            tokio::time::sleep(period).await;
            let asked = Instant::now();
            let renewal = async {
                let now = self.meta.clock().await?;
                let until = now + self.timings.merge_lease;
                let renewed = self
                    .meta
                    .renew_merge(&lease.sha256, &lease.token, until)
                    .await?;
                if renewed {
                    let expires_at = now + self.timings.session_ttl;
                    self.meta.touch_session(&session.id, expires_at).await?;
                }
                Ok::<bool, crate::meta::MetaError>(renewed)
            };
            match tokio::time::timeout(period, renewal).await {
                Ok(Ok(true)) => held_until = asked + self.timings.merge_lease,
                Ok(Ok(false)) => return,
                Ok(Err(error)) => tracing::warn!(%error, "could not renew a merge lease"),
                Err(_) => tracing::warn!("renewing a merge lease timed out"),
            }
            if Instant::now() + period >= held_until {
                return;
            }
        }
    }
}
