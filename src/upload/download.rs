//! Opening a published file for download: what it is, and its bytes, whole
//! or a range at a time, streamed from the store.

use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::Uploads;
use super::error::{UploadError, UploadResult};
use super::published::PublishedFiles;
use super::view::served_content_type;
use crate::blob::{BlobError, BlobStore};
use crate::meta::FileRecord;
use crate::metrics::Metrics;

/// Bytes of a published file as they stream out of the store.
pub type ByteStream = BoxStream<'static, Result<Bytes, UploadError>>;

/// A published file, open for reading.
#[derive(Debug, Clone)]
pub struct Download {
    file: FileRecord,
    blobs: BlobStore,
    metrics: Metrics,
    published: PublishedFiles,
}

impl Uploads {
    /// Opens the published file with this hash.
    pub async fn open_file(&self, sha256: &ContentHash) -> UploadResult<Download> {
        let file = self
            .published_file(sha256)
            .await?
            .ok_or(UploadError::FileNotFound)?;
        Ok(Download {
            file,
            blobs: self.blobs.clone(),
            metrics: self.metrics.clone(),
            published: self.published.clone(),
        })
    }

    /// The record of the published file with this hash: from memory when it
    /// was seen before, else from the database.
    pub(super) async fn published_file(
        &self,
        sha256: &ContentHash,
    ) -> UploadResult<Option<FileRecord>> {
        if let Some(file) = self.published.get(sha256) {
            return Ok(Some(file));
        }
        let file = self.meta.find_file(sha256).await?;
        if let Some(file) = &file {
            self.published.remember(file);
        }
        Ok(file)
    }
}

impl Download {
    /// The file's SHA-256: its key and its entity-tag.
    pub fn sha256(&self) -> &ContentHash {
        &self.file.sha256
    }

    /// Its length in bytes.
    pub fn size(&self) -> u64 {
        self.file.size
    }

    /// When it was published: its Last-Modified.
    pub fn published_at(&self) -> DateTime<Utc> {
        self.file.published_at
    }

    /// The media type it is served with when saved as `filename`.
    pub fn content_type(&self, filename: Option<&str>) -> String {
        served_content_type(&self.file, filename)
    }

    /// Streams the whole file, or the bytes of `range` (end exclusive); a
    /// file whose object is gone (deleted on another instance since this
    /// one remembered it, or lost by the store) is `FileNotFound`.
    pub async fn read(&self, range: Option<Range<u64>>) -> UploadResult<ByteStream> {
        if self.file.size == 0 || range.as_ref().is_some_and(|range| range.is_empty()) {
            return Ok(futures::stream::empty().boxed());
        }
        let published = self.published.clone();
        let sha256 = self.file.sha256;
        let bytes = match stored_bytes(&self.blobs, &self.file, range).await {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => {
                published.forget(&sha256);
                return Err(UploadError::FileNotFound);
            }
            Err(error) => return Err(error.into()),
        };
        let missing = move |error: BlobError| {
            if error.is_not_found() {
                published.forget(&sha256);
            }
            UploadError::from(error)
        };
        let metrics = self.metrics.clone();
        Ok(bytes
            .map_err(missing)
            .inspect_ok(move |piece| metrics.served(piece.len() as u64))
            .boxed())
    }
}

/// Streams the bytes of `range` of a published file (not empty), or all of
/// them, out of the store: from its one object or across its parts.
pub(super) async fn stored_bytes(
    blobs: &BlobStore,
    file: &FileRecord,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
    match file.part_size {
        Some(part_size) => {
            blobs
                .read_parts(&file.object_key, part_size, file.size, range)
                .await
        }
        None => blobs.read_published(&file.object_key, range).await,
    }
}
