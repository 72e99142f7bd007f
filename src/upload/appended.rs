//! Uploads whose hash is learned at the end (tus and the IETF resumable
//! uploads draft): created without a hash, appended to in order, hashed as
//! the bytes arrive, and published at the last byte under the SHA-256 the
//! server computed.
//!
//! Each append streams into a new segment object, feeding the running
//! SHA-256 carried from the append before; the offset, the segment and the
//! running state are then recorded in one compare-and-set on the offset,
//! so that of two appends at one offset exactly one wins and the other's
//! object is deleted. An append cut off midway keeps nothing: the client
//! asks for the offset and sends the rest again.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferry_proto::UploadStatus;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;

use super::Uploads;
use super::error::{UploadError, UploadResult};
use super::view::file_view;
use crate::blob::{BlobError, BlobStore, WriteError};
use crate::ids::{OwnerId, UploadId, WriteToken};
use crate::meta::{Append, Appended, AppendedUpload, Concat, Segment};
use crate::running_hash::RunningSha256;

mod publish;
mod request;

pub use request::{AppendRequest, Checksum, ChecksumAlgorithm, NewAppended};

impl Uploads {
    /// The largest upload accepted.
    pub fn appended_max_size(&self) -> u64 {
        self.limits.max_file_size
    }

    /// Creates an appended upload for `owner`.
    #[tracing::instrument(skip(self, new, now), fields(%owner))]
    pub async fn create_appended(
        &self,
        owner: &OwnerId,
        new: NewAppended,
        now: DateTime<Utc>,
    ) -> UploadResult<AppendedUpload> {
        let limit = self.limits.max_file_size;
        if new.length.is_some_and(|length| length > limit) {
            return Err(UploadError::FileTooLarge { limit });
        }
        let upload = AppendedUpload {
            id: UploadId::generate(),
            owner: owner.clone(),
            length: new.length,
            offset: 0,
            segments: 0,
            running: RunningSha256::new(),
            metadata: new.metadata,
            filename: new.filename,
            content_type: new.content_type,
            claimed: new.claimed,
            concat: new.concat,
            status: UploadStatus::Uploading,
            sha256: None,
            expires_at: now + self.timings.session_ttl,
        };
        if let Err(usage) = self
            .meta
            .insert_appended(&upload, self.session_quota(), now)
            .await?
        {
            return Err(self.over_limit(usage));
        }
        self.metrics.upload_created();
        tracing::info!(id = %upload.id, length = ?upload.length, "appended upload created");
        Ok(upload)
    }

    /// The owner's appended upload `id`; another owner's, an expired or a
    /// failed one is not found.
    pub async fn appended(
        &self,
        owner: &OwnerId,
        id: &UploadId,
        now: DateTime<Utc>,
    ) -> UploadResult<AppendedUpload> {
        match self.meta.find_appended(id).await? {
            Some(upload)
                if upload.owner == *owner
                    && upload.status != UploadStatus::Failed
                    && (upload.status == UploadStatus::Complete || upload.expires_at >= now) =>
            {
                Ok(upload)
            }
            _ => Err(UploadError::UploadNotFound),
        }
    }

    /// The published file of a complete upload, as its owner sees it.
    pub async fn appended_file(
        &self,
        upload: &AppendedUpload,
    ) -> UploadResult<Option<ferry_proto::File>> {
        let Some(sha256) = upload.sha256 else {
            return Ok(None);
        };
        let file = self.published_file(&sha256).await?;
        Ok(file.map(|file| file_view(&file, upload.filename.as_ref(), &self.policy.links)))
    }

    /// Appends a body at `request.offset`; at the last byte the file is
    /// published before this returns.
    #[tracing::instrument(skip(self, request, body, now), fields(%owner, %id, offset = request.offset))]
    pub async fn append_to<S, E>(
        &self,
        owner: &OwnerId,
        id: &UploadId,
        request: AppendRequest,
        body: S,
        now: DateTime<Utc>,
    ) -> UploadResult<AppendedUpload>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let upload = self.appended(owner, id, now).await?;
        if upload.concat == Concat::Final {
            return Err(UploadError::NotAppendable);
        }
        if upload.status != UploadStatus::Uploading {
            return Err(UploadError::NotWritable(upload.status));
        }
        if request.offset != upload.offset {
            return Err(UploadError::OffsetMismatch {
                offset: upload.offset,
            });
        }
        let length = match (upload.length, request.length) {
            (Some(known), Some(declared)) if known != declared => {
                return Err(UploadError::InvalidField {
                    field: "Upload-Length",
                    reason: format!("the upload's length is {known}"),
                });
            }
            (known, declared) => known.or(declared),
        };
        let limit = self.limits.max_file_size;
        if length.is_some_and(|length| length > limit || length < upload.offset) {
            return Err(UploadError::FileTooLarge { limit });
        }
        let room = length.unwrap_or(limit) - upload.offset;
        if request.body_length.is_some_and(|declared| declared > room) {
            return Err(UploadError::FileTooLarge { limit });
        }
        let (size, mut append) = self
            .write_segment(&upload, &request, length, body, room, now)
            .await?;
        let length = length.or(request.ends_here.then_some(upload.offset + size));
        if upload.length.is_none() {
            append.length = length;
        }
        let whole = length == Some(upload.offset + size);
        if request.ends_here && !whole {
            self.discard_append(&append).await;
            return Err(UploadError::InvalidField {
                field: "Upload-Complete",
                reason: format!(
                    "the upload is {} bytes long, and this body ends at {}",
                    length.unwrap_or_default(),
                    upload.offset + size
                ),
            });
        }
        if whole && upload.concat == Concat::None {
            return self.finish_appended(&upload, append).await;
        }
        self.record_append(&upload, append).await
    }

    /// Streams one append's body into a new segment object, checking it
    /// against the client's checksum; an empty body leaves no object.
    async fn write_segment<S, E>(
        &self,
        upload: &AppendedUpload,
        request: &AppendRequest,
        length: Option<u64>,
        body: S,
        room: u64,
        now: DateTime<Utc>,
    ) -> UploadResult<(u64, Append)>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let index = upload.segments;
        let key = BlobStore::chunk_key(&upload.id, index, &WriteToken::generate());
        let check = request
            .checksum
            .as_ref()
            .map(|checksum| (checksum, Arc::new(Mutex::new(checksum.algorithm.hasher()))));
        let feeding = check.as_ref().map(|(_, hasher)| hasher.clone());
        let body = body.map(move |piece| {
            if let (Ok(bytes), Some(hasher)) = (&piece, &feeding) {
                hasher.lock().update(bytes);
            }
            piece
        });
        let written = self
            .blobs
            .write_appending(&key, body, room, upload.running.clone())
            .await;
        let (size, running) = match written {
            Ok(written) => written,
            Err(WriteError::TooLong { .. }) => {
                return Err(UploadError::FileTooLarge {
                    limit: self.limits.max_file_size,
                });
            }
            Err(WriteError::Source(reason)) => return Err(UploadError::BodyUnreadable(reason)),
            Err(WriteError::Store(error)) => {
                return Err(self.segment_write_failed(upload, &key, error).await);
            }
        };
        if let Some((checksum, hasher)) = check {
            let digest = hasher.lock().finalize_reset();
            if *digest != *checksum.digest {
                self.discard_segment(&key).await;
                self.metrics.digest_mismatch();
                return Err(UploadError::ChecksumMismatch);
            }
        }
        let segment = if size == 0 {
            self.discard_segment(&key).await;
            None
        } else {
            Some(Segment {
                index,
                size,
                object_key: key,
            })
        };
        let append = Append {
            from: upload.offset,
            segment,
            running,
            length: length.filter(|_| upload.length.is_none()),
            expires_at: now + self.timings.session_ttl,
        };
        Ok((size, append))
    }

    /// Records an append that does not complete a file.
    async fn record_append(
        &self,
        upload: &AppendedUpload,
        append: Append,
    ) -> UploadResult<AppendedUpload> {
        match self.meta.append(&upload.id, &append).await {
            Ok(Appended::Accepted(now)) => {
                if let Some(segment) = &append.segment {
                    self.metrics.chunk_received(segment.size);
                }
                Ok(now)
            }
            Ok(Appended::Refused(now)) => {
                self.discard_append(&append).await;
                Err(refusal(upload, now))
            }
            Err(error) => {
                tracing::warn!(
                    "recording an append failed with an unknown outcome; its segment stays until the upload ends"
                );
                Err(error.into())
            }
        }
    }

    /// Ends the owner's upload: it and its segments are gone. A published
    /// file stays published.
    #[tracing::instrument(skip(self), fields(%owner, %id))]
    pub async fn terminate_appended(&self, owner: &OwnerId, id: &UploadId) -> UploadResult<()> {
        let upload = match self.meta.find_appended(id).await? {
            Some(upload) if upload.owner == *owner => upload,
            _ => return Err(UploadError::UploadNotFound),
        };
        if !self.meta.delete_appended(&upload.id).await? {
            return Err(UploadError::UploadNotFound);
        }
        self.remove_segments(&upload.id).await;
        Ok(())
    }

    /// Removes appended uploads expired at `now` with their segments;
    /// answers how many.
    pub(super) async fn sweep_appended(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> UploadResult<usize> {
        let mut removed = 0;
        loop {
            let expired = self.meta.expired_appended(now, batch).await?;
            let found = expired.len();
            let before = removed;
            for upload in expired {
                if self.meta.delete_expired_appended(&upload.id, now).await? {
                    self.remove_segments(&upload.id).await;
                    removed += 1;
                }
            }
            if found < batch as usize || removed == before {
                return Ok(removed);
            }
        }
    }

    /// The answer to an append whose store write failed. An append racing
    /// the upload's end (another append publishing it, a termination, the
    /// sweep) can find the upload's folder removed under its write: it
    /// answers what the upload's state says, as one that finished first
    /// would, and not a store failure a client would try again.
    async fn segment_write_failed(
        &self,
        upload: &AppendedUpload,
        key: &crate::ids::ObjectKey,
        error: BlobError,
    ) -> UploadError {
        let Some(refused) = self.moved_on(upload).await else {
            return error.into();
        };
        tracing::info!(id = %upload.id, offset = upload.offset, %error, "append cut off: its upload was removed or moved on");
        self.discard_segment(key).await;
        refused
    }

    /// Why an append at `upload`'s offset can no longer be taken, when the
    /// upload has since been removed, completed or moved past it; `None`
    /// while it still stands as `upload` says, or cannot be read.
    async fn moved_on(&self, upload: &AppendedUpload) -> Option<UploadError> {
        let now = self.meta.find_appended(&upload.id).await.ok()?;
        let unchanged = now.as_ref().is_some_and(|now| {
            now.status == UploadStatus::Uploading && now.offset == upload.offset
        });
        (!unchanged).then(|| refusal(upload, now))
    }

    async fn remove_segments(&self, id: &UploadId) {
        let prefix = BlobStore::chunks_prefix(id);
        if let Err(error) = self.blobs.delete_prefix(&prefix).await {
            tracing::warn!(%prefix, %error, "could not delete an upload's segments");
        }
    }

    async fn discard_append(&self, append: &Append) {
        if let Some(segment) = &append.segment {
            self.discard_segment(&segment.object_key).await;
        }
    }

    async fn discard_segment(&self, key: &crate::ids::ObjectKey) {
        if let Err(error) = self.blobs.delete(key).await {
            tracing::warn!(%key, %error, "could not delete a refused segment");
        }
    }
}

/// Why an append at `upload`'s offset was refused, now that the upload
/// stands as `now` says.
fn refusal(upload: &AppendedUpload, now: Option<AppendedUpload>) -> UploadError {
    match now {
        Some(now) if now.status != UploadStatus::Uploading => UploadError::NotWritable(now.status),
        Some(now) if now.offset != upload.offset => {
            UploadError::OffsetMismatch { offset: now.offset }
        }
        Some(_) => UploadError::InvalidField {
            field: "Upload-Length",
            reason: "the length does not fit the upload".to_owned(),
        },
        None => UploadError::UploadNotFound,
    }
}
