//! Publishing an appended upload at its last byte, and joining partial
//! uploads into a final one: the hash is final, checked against what the
//! client announced, and the segments become the published file under the
//! merge lease of that hash, unless a file with the hash is published
//! already, whose owner then gets it and the new bytes are dropped.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use futures::{StreamExt, TryStreamExt};

use super::super::Uploads;
use super::super::error::{UploadError, UploadResult};
use super::refusal;
use crate::blob::{BlobStore, ComposePart, PartsError};
use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::meta::{
    Append, Appended, AppendedUpload, Claim, Concat, FileRecord, MergeLease, Published, Segment,
};
use crate::metrics::Failure;
use crate::running_hash::RunningSha256;

/// The longest pause between two asks for a busy merge lease.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

impl Uploads {
    /// Publishes an upload whose last append `append` was written: checks
    /// the hash the client announced, then publishes while recording the
    /// append. Answers the upload, complete.
    pub(super) async fn finish_appended(
        &self,
        upload: &AppendedUpload,
        append: Append,
    ) -> UploadResult<AppendedUpload> {
        let sha256 = append.running.clone().finish();
        let size = append.running.len();
        if upload.claimed.is_some_and(|claimed| claimed != sha256) {
            self.discard_append(&append).await;
            if self.meta.fail_appended(&upload.id, upload.offset).await? {
                self.remove_segments(&upload.id).await;
                self.metrics.upload_failed(Failure::HashMismatch);
            }
            tracing::info!(id = %upload.id, %sha256, "appended upload failed: its bytes hash to another sha256 than announced");
            return Err(UploadError::HashMismatch);
        }
        let mut segments = self.meta.segments(&upload.id).await?;
        segments.extend(append.segment.clone());
        let parts = segments.iter().map(part_of).collect::<Vec<_>>();
        let (file, outcome) = match self.publish_appended(upload, &append, &parts, size).await {
            Ok(published) => published,
            Err(error) => {
                self.discard_append(&append).await;
                return Err(error);
            }
        };
        self.remove_segments(&upload.id).await;
        tracing::info!(id = %upload.id, sha256 = %file.sha256, size, "appended upload published");
        Ok(outcome)
    }

    /// Joins the owner's complete partial uploads `parts`, in order, into
    /// one final upload, published before this returns.
    #[tracing::instrument(skip(self, parts, template), fields(%owner, parts = parts.len()))]
    pub async fn concatenate(
        &self,
        owner: &OwnerId,
        parts: &[UploadId],
        template: super::NewAppended,
        now: chrono::DateTime<Utc>,
    ) -> UploadResult<AppendedUpload> {
        let mut segments = Vec::new();
        for id in parts {
            let part = self.appended(owner, id, now).await?;
            if part.concat != Concat::Partial || !part.is_whole() {
                return Err(UploadError::InvalidField {
                    field: "Upload-Concat",
                    reason: format!("{id} is not a complete partial upload"),
                });
            }
            segments.extend(self.meta.segments(id).await?);
        }
        let key = BlobStore::direct_key(&WriteToken::generate());
        let limit = self.limits.max_file_size;
        let (written, running) = self
            .blobs
            .write_continuing(
                &key,
                self.read_segments(&segments),
                limit,
                RunningSha256::new(),
                |_, _| {},
            )
            .await
            .map_err(|error| match error {
                crate::blob::WriteError::TooLong { limit } => UploadError::FileTooLarge { limit },
                crate::blob::WriteError::Source(reason) => {
                    tracing::error!(%reason, "the pieces of a final upload could not be read");
                    UploadError::MergeFailed
                }
                crate::blob::WriteError::Store(error) => error.into(),
            })?;
        if template
            .claimed
            .is_some_and(|claimed| claimed != written.sha256)
        {
            self.discard_segment(&key).await;
            self.metrics.upload_failed(Failure::HashMismatch);
            return Err(UploadError::HashMismatch);
        }
        let mut template = template;
        template.length = Some(written.size);
        template.concat = Concat::Final;
        let created = self.create_appended(owner, template, now).await;
        let upload = match created {
            Ok(upload) => upload,
            Err(error) => {
                self.discard_segment(&key).await;
                return Err(error);
            }
        };
        let append = Append {
            from: 0,
            segment: None,
            running,
            length: None,
            expires_at: now + self.timings.session_ttl,
        };
        let joined = ComposePart {
            key: key.clone(),
            size: written.size,
        };
        let published = self
            .publish_appended(&upload, &append, &[joined], written.size)
            .await;
        self.discard_segment(&key).await;
        let (_, outcome) = published?;
        for id in parts {
            if self.meta.delete_appended(id).await? {
                self.remove_segments(id).await;
            }
        }
        Ok(outcome)
    }

    /// Publishes the bytes of `parts`, in order, as the file the running
    /// hash of `append` names, recording `append` in the same step: under
    /// the merge lease of the hash, composed into the file's one object
    /// unless the published file is whole. The one place that decides how
    /// an appended upload's bytes become a published object. A failed or
    /// overtaken attempt deletes only its own temporary object.
    async fn publish_appended(
        &self,
        upload: &AppendedUpload,
        append: &Append,
        parts: &[ComposePart],
        size: u64,
    ) -> UploadResult<(FileRecord, AppendedUpload)> {
        let sha256 = append.running.clone().finish();
        let target = BlobStore::published_key(&sha256);
        let temporary = BlobStore::attempt_key(&target, &WriteToken::generate());
        let token = self.claim_lease(&upload.id, &sha256, &temporary).await?;
        let existing = self.intact_file(&sha256).await?;
        if existing.is_none() {
            let content_type = upload.content_type.as_ref().map(|media| media.as_str());
            tokio::select! {
                composed = self.blobs.compose_via(parts, &target, &temporary, content_type) => {
                    match composed {
                        Ok(composed) => self.metrics.compose_streamed(composed.streamed_bytes),
                        Err(error) => {
                            self.blobs.delete_file(&temporary).await?;
                            return Err(self.compose_failed(upload, error).await);
                        }
                    }
                }
                () = self.keep_lease_of(&sha256, &token) => {
                    self.blobs.delete_file(&temporary).await?;
                    return Err(UploadError::OffsetMismatch { offset: upload.offset });
                }
            }
        }
        let ours = FileRecord {
            sha256,
            size,
            content_type: upload.content_type.clone(),
            object_key: target,
            part_size: None,
            published_at: Utc::now().trunc_subsecs(0),
        };
        let file = existing.clone().unwrap_or_else(|| ours.clone());
        let recorded = self
            .meta
            .publish_appended(&upload.id, append, &file, &token)
            .await;
        let outcome = match recorded {
            Ok(Some((Appended::Accepted(now), published))) => (now, published),
            Ok(Some((Appended::Refused(now), _))) => {
                self.blobs.delete_file(&temporary).await?;
                return Err(refusal(upload, now));
            }
            Ok(None) => {
                self.blobs.delete_file(&temporary).await?;
                return Err(UploadError::OffsetMismatch {
                    offset: upload.offset,
                });
            }
            Err(error) => {
                tracing::warn!(key = %ours.object_key, "publishing an appended upload failed with an unknown outcome; the verified object stays at its key for the next upload of these bytes");
                return Err(error.into());
            }
        };
        self.metrics.upload_completed();
        let (now, published) = outcome;
        match published {
            Published::Now(file) => Ok((file, now)),
            Published::Already(file) => {
                if existing.is_none() {
                    self.keep_one_copy(&file, &ours).await;
                }
                Ok((file, now))
            }
            Published::LeaseLost => Err(UploadError::OffsetMismatch {
                offset: upload.offset,
            }),
        }
    }

    /// The answer to a compose that failed. One racing the upload's end
    /// (another append publishing it, a termination) finds segments removed
    /// under it and answers what the upload's state says; otherwise a
    /// segment accepted earlier and gone is a failed merge.
    async fn compose_failed(&self, upload: &AppendedUpload, error: PartsError) -> UploadError {
        if let Some(refused) = self.moved_on(upload).await {
            tracing::info!(id = %upload.id, %error, "publishing cut off: the upload was removed or moved on");
            return refused;
        }
        match error {
            PartsError::MissingPart(part) => {
                tracing::error!(%part, "a segment accepted earlier is gone from the store");
                UploadError::MergeFailed
            }
            PartsError::Store(error) => error.into(),
        }
    }

    /// The bytes of `segments`, in order.
    fn read_segments(
        &self,
        segments: &[Segment],
    ) -> impl futures::Stream<Item = Result<bytes::Bytes, crate::blob::BlobError>> + use<> {
        let blobs = self.blobs.clone();
        let keys: Vec<ObjectKey> = segments.iter().map(|s| s.object_key.clone()).collect();
        futures::stream::iter(keys)
            .then(move |key| {
                let blobs = blobs.clone();
                async move { blobs.read(&key, None).await }
            })
            .try_flatten()
    }

    /// Renews the merge lease `token` holds on `sha256` every third of its
    /// length; returns once it is lost.
    async fn keep_lease_of(&self, sha256: &ferry_proto::ContentHash, token: &WriteToken) {
        let period = self.timings.merge_lease / 3;
        loop {
            tokio::time::sleep(period).await;
            let renewed = async {
                let now = self.meta.clock().await?;
                self.meta
                    .renew_merge(sha256, token, now + self.timings.merge_lease)
                    .await
            };
            match renewed.await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => tracing::warn!(%error, "could not renew a merge lease"),
            }
        }
    }

    /// Claims the merge lease of `sha256` for upload `id`, waiting while
    /// another holds it; answers the token that proves it.
    async fn claim_lease(
        &self,
        id: &UploadId,
        sha256: &ferry_proto::ContentHash,
        key: &ObjectKey,
    ) -> UploadResult<WriteToken> {
        let mut pause = Duration::from_millis(20);
        loop {
            let now = self.meta.clock().await?;
            let lease = MergeLease {
                sha256: *sha256,
                upload_id: id.clone(),
                token: WriteToken::generate(),
                object_key: key.clone(),
                lease_until: now + self.timings.merge_lease,
            };
            match self.meta.claim_merge(&lease, now).await? {
                Claim::Claimed { abandoned_key } => {
                    if let Some(abandoned) = abandoned_key {
                        self.blobs.delete_file(&abandoned).await?;
                    }
                    return Ok(lease.token);
                }
                Claim::Busy => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
            }
        }
    }
}

/// A segment as a part of the file it is composed into.
fn part_of(segment: &Segment) -> ComposePart {
    ComposePart {
        key: segment.object_key.clone(),
        size: segment.size,
    }
}
