//! How a merge ends short of publishing: a store that refused it or kept
//! failing it fails the upload, a chunk whose object is gone is forgotten
//! so that the client sends it again, and a failure that may pass is tried
//! again with a growing pause, a bounded number of times.

use std::time::Duration;

use ferry_proto::{UploadStatus, missing_ranges, to_ranges};
use futures::stream::{self, StreamExt};

use super::Uploads;
use super::error::{UploadError, UploadResult};
use crate::meta::{MergeFailure, MergeLease, Session};
use crate::metrics::{Failure, MergeOutcome, MergeTimer};

/// The pause before a merge's second attempt; it doubles after each.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause between two attempts of a merge.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// Chunks whose objects are looked for at once after one was found gone.
const PARALLEL_LOOKS: usize = 8;

impl Uploads {
    /// Runs a merge until it ends: a failure that may pass is tried again,
    /// up to the configured attempts, and the last one fails the upload.
    pub(super) async fn merge_with_retries(&self, session: Session) {
        let attempts = self.timings.merge_attempts.max(1);
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=attempts {
            let last = attempt == attempts;
            let Err(error) = self.merge(session.clone(), last).await else {
                return;
            };
            if last {
                tracing::error!(error = %error, attempt, "merge failed on its last attempt");
                return;
            }
            tracing::warn!(
                error = %error,
                attempt,
                attempts,
                pause_seconds = pause.as_secs_f64(),
                "merge failed; it will be tried again"
            );
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.merges.until_stopping() => return,
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Ends a merge attempt that the store failed with `error`: the upload
    /// fails when the store refused, or on the last attempt; otherwise the
    /// lease is given back and `error` returned, to be tried again.
    pub(super) async fn end_failed_merge(
        &self,
        session: &Session,
        lease: &MergeLease,
        error: UploadError,
        last: bool,
        timer: MergeTimer,
    ) -> UploadResult<()> {
        let refused = matches!(&error, UploadError::Blob(blob) if blob.is_permanent());
        if refused || last {
            let (outcome, failure) = if refused {
                (MergeOutcome::Refused, MergeFailure::StoreRefused)
            } else {
                (MergeOutcome::GaveUp, MergeFailure::StoreUnavailable)
            };
            tracing::error!(
                owner = %session.owner,
                sha256 = %session.sha256,
                error = %error,
                failure = failure.as_str(),
                "the object store could not merge the upload; it fails with merge-failed"
            );
            timer.finish(outcome);
            return self.fail_upload(session, lease, failure).await;
        }
        timer.finish(MergeOutcome::Failed);
        if let Err(cleanup) = self.blobs.delete_file(&lease.object_key).await {
            tracing::warn!(key = %lease.object_key, error = %cleanup, "could not delete a failed merge's object; the leftover sweep will");
        }
        self.meta.drop_merge(&session.sha256, &lease.token).await?;
        Err(error)
    }

    /// Fails the upload for `failure` while the lease holds: the attempt's
    /// object goes, the session is marked `failed`, and then its chunks go.
    pub(super) async fn fail_upload(
        &self,
        session: &Session,
        lease: &MergeLease,
        failure: MergeFailure,
    ) -> UploadResult<()> {
        if let Err(cleanup) = self.blobs.delete_file(&lease.object_key).await {
            tracing::warn!(key = %lease.object_key, error = %cleanup, "could not delete a failed merge's object; the leftover sweep will");
        }
        if self
            .meta
            .fail_merge(&session.sha256, &session.id, &lease.token, failure)
            .await?
        {
            self.metrics.upload_failed(match failure {
                MergeFailure::HashMismatch => Failure::HashMismatch,
                MergeFailure::StoreRefused => Failure::StoreRefused,
                MergeFailure::StoreUnavailable => Failure::StoreUnavailable,
            });
            self.remove_chunks(session).await;
        }
        Ok(())
    }

    /// Forgets the chunks of the session whose objects are gone, so that
    /// progress lists them missing and the client sends them again; the
    /// session goes back to `uploading`.
    pub(super) async fn reopen_lost_chunks(
        &self,
        session: &Session,
        lease: &MergeLease,
    ) -> UploadResult<()> {
        if let Err(cleanup) = self.blobs.delete_file(&lease.object_key).await {
            tracing::warn!(key = %lease.object_key, error = %cleanup, "could not delete a merge's object; the leftover sweep will");
        }
        let chunks = self.meta.chunks(&session.id).await?;
        let looks = chunks.into_iter().map(|chunk| async move {
            let stored = self.blobs.stored_size(&chunk.object_key).await;
            stored.map(|size| (size != Some(chunk.size)).then_some(chunk.index))
        });
        let found: Vec<_> = stream::iter(looks)
            .buffered(PARALLEL_LOOKS)
            .collect::<Vec<_>>()
            .await;
        let mut lost = Vec::new();
        for look in found {
            lost.extend(look?);
        }
        let reopened = self
            .meta
            .reopen_merge(&session.sha256, &session.id, &lease.token, &lost)
            .await?;
        if reopened {
            tracing::error!(
                owner = %session.owner,
                sha256 = %session.sha256,
                lost = ?to_ranges(lost.iter().copied()),
                "chunks accepted earlier are gone from the store; the client is to send them again"
            );
        }
        Ok(())
    }

    /// The refusal `complete` answers for the owner's session, now that its
    /// merge ended without publishing: the chunks to send again, or why
    /// the upload failed. `None` while it is still to be merged.
    pub(super) async fn refusal_after_merge(
        &self,
        session: &Session,
    ) -> UploadResult<Option<UploadError>> {
        match session.status {
            UploadStatus::Failed => Ok(Some(match self.meta.merge_failure(&session.id).await? {
                Some(MergeFailure::StoreRefused | MergeFailure::StoreUnavailable) => {
                    UploadError::MergeFailed
                }
                Some(MergeFailure::HashMismatch) | None => UploadError::HashMismatch,
            })),
            UploadStatus::Uploading => {
                let chunks = self.meta.chunks(&session.id).await?;
                let mut indices: Vec<u64> = chunks.iter().map(|chunk| chunk.index).collect();
                indices.sort_unstable();
                let received = to_ranges(indices);
                let missing = missing_ranges(session.chunk_count(), &received);
                Ok((!missing.is_empty()).then_some(UploadError::ChunksMissing(missing)))
            }
            UploadStatus::Merging | UploadStatus::Complete => Ok(None),
        }
    }
}
