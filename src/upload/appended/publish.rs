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
use crate::blob::{BlobStore, MAX_COPY_SIZE, PartsError};
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
        let key = BlobStore::file_key(&sha256, &WriteToken::generate());
        if segments.is_empty() {
            let nothing =
                futures::stream::empty::<Result<bytes::Bytes, std::convert::Infallible>>();
            if let Err(error) = self.blobs.write(&key, nothing, 0).await {
                return Err(match error {
                    crate::blob::WriteError::Store(error) => error.into(),
                    _ => UploadError::MergeFailed,
                });
            }
        }
        let (file, outcome) = match self
            .publish_appended(upload, &append, &segments, size, &key)
            .await
        {
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
        let published = self
            .publish_appended(&upload, &append, &[], written.size, &key)
            .await;
        let (_, outcome) = match published {
            Ok(published) => published,
            Err(error) => {
                self.discard_segment(&key).await;
                return Err(error);
            }
        };
        for id in parts {
            if self.meta.delete_appended(id).await? {
                self.remove_segments(id).await;
            }
        }
        Ok(outcome)
    }

    /// Publishes the bytes of `segments` (or, with none, the object at
    /// `key` already written) as the file the running hash of `append`
    /// names, recording `append` in the same step: under the merge lease
    /// of the hash, reusing the published file when one is whole. The
    /// one place that decides how an appended upload's bytes become a
    /// published object.
    async fn publish_appended(
        &self,
        upload: &AppendedUpload,
        append: &Append,
        segments: &[Segment],
        size: u64,
        key: &ObjectKey,
    ) -> UploadResult<(FileRecord, AppendedUpload)> {
        let sha256 = append.running.clone().finish();
        let token = self.claim_lease(&upload.id, &sha256, key).await?;
        let existing = self.intact_file(&sha256).await?;
        let part_size = match &existing {
            Some(_) => None,
            None if segments.is_empty() => None,
            None => tokio::select! {
                composed = self.compose(segments, size, key) => composed?,
                () = self.keep_lease_of(&sha256, &token) => {
                    self.blobs.delete_file(key).await?;
                    return Err(UploadError::OffsetMismatch { offset: upload.offset });
                }
            },
        };
        let ours = FileRecord {
            sha256,
            size,
            content_type: upload.content_type.clone(),
            object_key: key.clone(),
            part_size,
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
                self.blobs.delete_file(key).await?;
                return Err(refusal(upload, now));
            }
            Ok(None) => {
                self.blobs.delete_file(key).await?;
                return Err(UploadError::OffsetMismatch {
                    offset: upload.offset,
                });
            }
            Err(error) => {
                tracing::warn!(%key, "publishing an appended upload failed with an unknown outcome; the sweep removes the bytes if no row points at them");
                return Err(error.into());
            }
        };
        self.metrics.upload_completed();
        let (now, published) = outcome;
        match published {
            Published::Now(file) => Ok((file, now)),
            Published::Already(file) => {
                if existing.is_some() {
                    if let Err(error) = self.blobs.delete_file(key).await {
                        tracing::warn!(%key, %error, "could not delete a spare copy; the leftover listing will");
                    }
                } else {
                    self.keep_one_copy(&file, &ours).await;
                }
                Ok((file, now))
            }
            Published::LeaseLost => Err(UploadError::OffsetMismatch {
                offset: upload.offset,
            }),
        }
    }

    /// Writes `segments` as the one file `key`: the store copies them as
    /// parts when all but the last are one size (answering that size),
    /// and otherwise they are streamed into one object.
    async fn compose(
        &self,
        segments: &[Segment],
        size: u64,
        key: &ObjectKey,
    ) -> UploadResult<Option<u64>> {
        let first = segments[0].size;
        let uniform = segments
            .iter()
            .enumerate()
            .all(|(i, s)| s.size == first || (i + 1 == segments.len() && s.size < first));
        if uniform && first <= MAX_COPY_SIZE {
            let parts: Vec<ObjectKey> = segments.iter().map(|s| s.object_key.clone()).collect();
            return match self.blobs.copy_parts(&parts, key).await {
                Ok(()) => Ok(Some(first)),
                Err(PartsError::MissingPart(part)) => {
                    self.blobs.delete_file(key).await?;
                    tracing::error!(%part, "a segment accepted earlier is gone from the store");
                    Err(UploadError::MergeFailed)
                }
                Err(PartsError::Store(error)) => {
                    self.blobs.delete_file(key).await?;
                    Err(error.into())
                }
            };
        }
        match self
            .blobs
            .write(key, self.read_segments(segments), size)
            .await
        {
            Ok(_) => Ok(None),
            Err(error) => {
                self.blobs.delete_file(key).await?;
                Err(match error {
                    crate::blob::WriteError::Store(error) => error.into(),
                    _ => UploadError::MergeFailed,
                })
            }
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
