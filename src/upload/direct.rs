//! One-request uploads of small files: stream, verify, move to the file's
//! one object, publish.

use bytes::Bytes;
use chrono::{SubsecRound, Utc};
use futures::Stream;

use ferry_proto::{ContentHash, FileName, MediaType};

use super::Uploads;
use super::error::{UploadError, UploadResult};
use super::policy::InstantUpload;
use super::view::file_view;
use crate::blob::{BlobStore, WriteError};
use crate::ids::{ObjectKey, OwnerId, WriteToken};
use crate::meta::{FileRecord, FileRef, Published};
use crate::metrics::Failure;

/// Whether a one-request upload stored the file or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The bytes were verified and published now (201).
    New,
    /// A file with this hash was already published (200).
    Existing,
}

/// A file received in one request, verified but not yet published.
#[derive(Debug, Clone)]
pub struct Received {
    key: ObjectKey,
    size: u64,
    sha256: ContentHash,
}

impl Received {
    /// How many bytes were received.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Uploads {
    /// The largest file a one-request upload takes.
    pub fn direct_upload_max(&self) -> u64 {
        self.limits.direct_upload_max
    }

    /// Refuses a one-request upload whose declared length is over the limit,
    /// before its body is read.
    pub fn check_direct_length(&self, declared_len: Option<u64>) -> UploadResult<()> {
        let limit = self.limits.direct_upload_max;
        match declared_len {
            Some(len) if len > limit => Err(UploadError::FileTooLarge { limit }),
            _ => Ok(()),
        }
    }

    /// The file already published under `sha256`, when the instant-upload
    /// policy lets the hash alone stand for the bytes; otherwise `None`, and
    /// the body must be sent and verified like any other.
    /// The owner then holds the file, under `filename` and `content_type`.
    pub async fn existing_file(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        filename: Option<&FileName>,
        content_type: Option<&MediaType>,
    ) -> UploadResult<Option<ferry_proto::File>> {
        if !matches!(self.policy.instant, InstantUpload::Hash) {
            return Ok(None);
        }
        let Some(file) = self.intact_file(sha256).await? else {
            return Ok(None);
        };
        let holder = holder(owner, sha256, filename, content_type.cloned());
        if !self.meta.hold_file(&holder).await? {
            return Ok(None);
        }
        self.metrics.upload_instant();
        Ok(Some(file_view(&file, filename, &self.policy.links)))
    }

    /// Streams a small file into the store, hashing it.
    pub async fn receive_direct<S, E>(&self, body: S) -> UploadResult<Received>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let limit = self.limits.direct_upload_max;
        let _buffer = self.write_buffer(limit, false).await?;
        let key = BlobStore::direct_key(&WriteToken::generate());
        match self.blobs.write(&key, body, limit).await {
            Ok(written) => {
                self.metrics.file_received(written.size);
                Ok(Received {
                    key,
                    size: written.size,
                    sha256: written.sha256,
                })
            }
            Err(WriteError::TooLong { limit }) => Err(UploadError::FileTooLarge { limit }),
            Err(WriteError::Source(reason)) => Err(UploadError::BodyUnreadable(reason)),
            Err(WriteError::Store(error)) => Err(error.into()),
        }
    }

    /// Publishes received bytes if they hash to `sha256`; otherwise deletes them.
    pub async fn publish_direct(
        &self,
        owner: &OwnerId,
        received: Received,
        sha256: &ContentHash,
        filename: Option<&FileName>,
        content_type: Option<MediaType>,
    ) -> UploadResult<(Stored, ferry_proto::File)> {
        if received.sha256 != *sha256 {
            self.discard_direct(&received).await;
            self.metrics.upload_failed(Failure::HashMismatch);
            tracing::info!(%sha256, size = received.size, "one-request upload refused: its bytes hash to another sha256");
            return Err(UploadError::HashMismatch);
        }
        let key = BlobStore::published_key(sha256);
        if let Err(error) = self.place_direct(&received, &key).await {
            self.discard_direct(&received).await;
            return Err(error);
        }
        let holder = holder(owner, sha256, filename, content_type.clone());
        let file = FileRecord {
            sha256: received.sha256,
            size: received.size,
            content_type,
            part_size: None,
            object_key: key,
            published_at: Utc::now().trunc_subsecs(0),
        };
        match self.meta.insert_held_file(&file, &holder).await {
            Ok(Published::Now(file)) => {
                self.metrics.upload_completed();
                tracing::info!(%sha256, size = file.size, "published");
                Ok((Stored::New, file_view(&file, filename, &self.policy.links)))
            }
            Ok(Published::Already(published)) => {
                self.metrics.upload_completed();
                self.keep_one_copy(&published, &file).await;
                Ok((
                    Stored::Existing,
                    file_view(&published, filename, &self.policy.links),
                ))
            }
            Ok(Published::LeaseLost) => Err(UploadError::Deleting),
            Err(error) => {
                tracing::warn!(key = %file.object_key, "publishing failed with an unknown outcome; the verified object stays at its key for the next upload of these bytes");
                Err(error.into())
            }
        }
    }

    /// Moves verified bytes received in one request to the file's one
    /// object `key`: a rename on a folder; elsewhere a copy, and then a
    /// delete of the received object, recorded for deletion first, so that
    /// a crash before it leaves a deletion to do, not an object to guess
    /// at.
    async fn place_direct(&self, received: &Received, key: &ObjectKey) -> UploadResult<()> {
        if self.blobs.moves_by_rename() {
            return Ok(self.blobs.place(&received.key, key).await?);
        }
        self.blobs.copy_object(&received.key, key).await?;
        let now = self.meta.clock().await?;
        self.meta.record_deletion(&received.key, now).await?;
        self.blobs.delete(&received.key).await?;
        self.meta.forget_deletion(&received.key).await?;
        Ok(())
    }

    /// Deletes received bytes that will not be published.
    pub async fn discard_direct(&self, received: &Received) {
        if let Err(error) = self.blobs.delete(&received.key).await {
            tracing::warn!(key = %received.key, %error, "could not delete a refused upload");
        }
    }
}

/// `owner`'s reference to `sha256`, made now.
fn holder(
    owner: &OwnerId,
    sha256: &ContentHash,
    filename: Option<&FileName>,
    content_type: Option<MediaType>,
) -> FileRef {
    FileRef {
        owner: owner.clone(),
        sha256: *sha256,
        filename: filename.cloned(),
        content_type,
        created_at: Utc::now().trunc_subsecs(3),
    }
}
