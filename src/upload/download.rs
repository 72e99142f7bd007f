//! Opening a published file for download: what it is, and its bytes, whole
//! or a range at a time, streamed from the store. A file's object that is
//! missing or of another length than its record is found before any byte
//! is answered, and answered as `file-unreadable`, never as a body that
//! ends short.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::Uploads;
use super::error::{UploadError, UploadResult};
use super::view::served_content_type;
use crate::blob::{BlobError, BlobStore};
use crate::meta::FileRecord;

/// Bytes of a published file as they stream out of the store.
pub type ByteStream = BoxStream<'static, Result<Bytes, UploadError>>;

/// A published file, open for reading.
#[derive(Clone)]
pub struct Download {
    file: FileRecord,
    uploads: Uploads,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("file", &self.file)
            .finish()
    }
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
            uploads: self.clone(),
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

    /// A URL of the file's one object in a bucket that lets its holder GET
    /// it straight from the bucket for `ttl`; `None` for an empty file, a
    /// file stored in parts, or any store but a bucket.
    pub async fn presigned_url(&self, ttl: Duration) -> UploadResult<Option<url::Url>> {
        if self.file.size == 0 || self.file.part_size.is_some() {
            return Ok(None);
        }
        Ok(self
            .uploads
            .blobs
            .presigned_get(&self.file.object_key, ttl)
            .await?)
    }

    /// Streams the whole file, or the bytes of `range` (end exclusive).
    /// A record that names an object no longer there (its file moved to
    /// its one object since it was remembered) is looked up again once; a
    /// file deleted since (on another instance) is `FileNotFound`.
    pub async fn read(&self, range: Option<Range<u64>>) -> UploadResult<ByteStream> {
        if self.file.size == 0 || range.as_ref().is_some_and(|range| range.is_empty()) {
            return Ok(futures::stream::empty().boxed());
        }
        let uploads = &self.uploads;
        let mut file = self.file.clone();
        let mut looked_again = false;
        let bytes = loop {
            match stored_bytes(&uploads.blobs, &file, range.clone()).await {
                Ok(bytes) => break bytes,
                Err(error) if error.is_not_found() || error.is_short() => {
                    uploads.published.forget(&file.sha256);
                    let current = uploads.meta.find_file(&file.sha256).await?;
                    match current {
                        None => return Err(UploadError::FileNotFound),
                        Some(current) if !looked_again && current.object_key != file.object_key => {
                            looked_again = true;
                            file = current;
                        }
                        _ => {
                            let kind = if error.is_not_found() {
                                "missing"
                            } else {
                                "short"
                            };
                            return Err(unreadable(uploads, &file, kind, &error));
                        }
                    }
                }
                Err(error) => return Err(error.into()),
            }
        };
        let published = uploads.published.clone();
        let sha256 = file.sha256;
        let missing = move |error: BlobError| {
            if error.is_not_found() {
                published.forget(&sha256);
            }
            UploadError::from(error)
        };
        let metrics = uploads.metrics.clone();
        Ok(bytes
            .map_err(missing)
            .inspect_ok(move |piece| metrics.served(piece.len() as u64))
            .boxed())
    }

    /// Checks, without reading a byte of it, that the store holds the
    /// file's object whole (what a `HEAD`, or an answer of several ranges,
    /// does before its head), looking its record up again once as
    /// [`read`](Self::read) does; `file-unreadable` otherwise.
    pub async fn check_stored(&self) -> UploadResult<()> {
        if self.file.size == 0 {
            return Ok(());
        }
        let uploads = &self.uploads;
        let mut file = self.file.clone();
        let mut looked_again = false;
        loop {
            let kind = match file.part_size {
                Some(_) if uploads.holds(&file).await? => return Ok(()),
                Some(_) => "missing",
                None => match uploads.blobs.stored_size(&file.object_key).await? {
                    Some(size) if size == file.size => return Ok(()),
                    Some(_) => "short",
                    None => "missing",
                },
            };
            uploads.published.forget(&file.sha256);
            match uploads.meta.find_file(&file.sha256).await? {
                Some(current) if !looked_again && current.object_key != file.object_key => {
                    looked_again = true;
                    file = current;
                }
                _ => return Err(unreadable(uploads, &file, kind, &"found by its length")),
            }
        }
    }
}

/// The answer for a published file whose object the store does not hold
/// whole (`kind`: `missing` or `short`): logged, counted, and answered as
/// `file-unreadable`.
fn unreadable(
    uploads: &Uploads,
    file: &FileRecord,
    kind: &'static str,
    cause: &dyn std::fmt::Debug,
) -> UploadError {
    tracing::error!(
        sha256 = %file.sha256,
        key = %file.object_key,
        size = file.size,
        kind,
        ?cause,
        "a published file's object is missing or not its recorded length; answering file-unreadable"
    );
    uploads.metrics.stored_file_fault(kind);
    UploadError::FileUnreadable
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
        None => blobs.read_file(&file.object_key, file.size, range).await,
    }
}
