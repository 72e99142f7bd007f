//! Multipart uploads to an S3 bucket that leave a note behind them: a small
//! object under `multipart/` naming the upload, written when it starts and
//! removed once it is completed or aborted. A process killed half-way
//! leaves its note, and the leftover sweep aborts the upload it names; S3
//! itself would keep the parts, and bill for them, forever.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutPayload, PutResult, UploadPart};
use parking_lot::Mutex;

use super::backend::Backend;
use super::s3_requests::BucketRequests;
use super::{BlobError, BlobStore};
use crate::ids::{ObjectKey, WriteToken};

/// Where the notes of running multipart uploads are kept, under the prefix.
pub(super) const NOTES: &str = "multipart";

/// A bucket whose multipart uploads are tracked by notes.
#[derive(Debug, Clone)]
pub(super) struct TrackedBucket {
    /// The bucket itself, keys from its root.
    pub(super) bucket: Arc<AmazonS3>,
    /// The prefix every ferry key is under.
    pub(super) prefix: Path,
    /// The store the notes are written to, keys under the prefix.
    pub(super) notes: Arc<dyn ObjectStore>,
    /// Signed requests to the bucket that `object_store` does not make.
    pub(super) requests: BucketRequests,
    /// The smallest part, but the last, the bucket takes in a multipart upload.
    pub(super) min_part_size: u64,
}

/// A multipart upload in a bucket: noted, or found by listing the bucket
/// with no note naming it.
#[derive(Debug, Clone)]
pub struct NotedUpload {
    location: Option<Path>,
    note: Note,
    /// The key the upload writes.
    pub target: ObjectKey,
    /// When the upload started.
    pub noted_at: DateTime<Utc>,
}

impl NotedUpload {
    /// Whether a note names the upload; one that none names was left by a
    /// process killed before it could note it, once it is not new.
    pub fn is_noted(&self) -> bool {
        self.location.is_some()
    }
}

/// What a note says: which key, and which upload of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Note {
    /// The key being written, under the prefix.
    pub(super) key: String,
    /// The upload's id in the bucket.
    pub(super) upload_id: String,
}

impl Note {
    fn to_bytes(&self) -> Vec<u8> {
        format!("{}\n{}", self.key, self.upload_id).into_bytes()
    }

    /// Reads a note back; `None` for anything else.
    pub(super) fn parse(bytes: &[u8]) -> Option<Note> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (key, upload_id) = text.split_once('\n')?;
        (!key.is_empty() && !upload_id.is_empty()).then(|| Note {
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
        })
    }
}

impl TrackedBucket {
    /// The key from the bucket's root of `key` under the prefix.
    pub(super) fn full_path(&self, key: &str) -> Path {
        if self.prefix.as_ref().is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Starts a multipart upload of `path` (under the prefix), noted first.
    pub(super) async fn start(
        &self,
        path: &Path,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let full = self.full_path(path.as_ref());
        let upload_id = self.bucket.create_multipart(&full).await?;
        let said = Note {
            key: path.to_string(),
            upload_id: upload_id.clone(),
        };
        let note = match self.note(&said).await {
            Ok(note) => note,
            Err(error) => {
                let _ = self.bucket.abort_multipart(&full, &upload_id).await;
                return Err(error);
            }
        };
        Ok(Box::new(TrackedUpload {
            bucket: self.clone(),
            path: full,
            upload_id,
            note,
            parts: Arc::default(),
            next: 0,
        }))
    }

    /// Leaves a note of a multipart upload under way; answers where.
    pub(super) async fn note(&self, note: &Note) -> object_store::Result<Path> {
        let location = Path::from(format!("{NOTES}/{}", WriteToken::generate()));
        self.notes
            .put(&location, PutPayload::from(note.to_bytes()))
            .await?;
        Ok(location)
    }

    /// Removes the note of an upload completed.
    pub(super) async fn forget_note(&self, location: &Path) -> object_store::Result<()> {
        forget(&self.notes, location).await
    }

    /// Aborts the upload a note names and removes the note; an upload that
    /// is already gone is not an error.
    pub(super) async fn abandon(&self, note_path: &Path, note: &Note) -> object_store::Result<()> {
        self.abort(note).await?;
        forget(&self.notes, note_path).await
    }

    /// Aborts the upload `note` names; one already gone is not an error.
    pub(super) async fn abort(&self, note: &Note) -> object_store::Result<()> {
        let full = self.full_path(&note.key);
        match self.bucket.abort_multipart(&full, &note.upload_id).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

impl BlobStore {
    /// The multipart uploads in the bucket: those whose notes are in it
    /// (running, or left by a process that died), then those no note names.
    /// Empty for stores other than buckets.
    pub async fn noted_uploads(&self) -> Result<Vec<NotedUpload>, BlobError> {
        let Backend::Bucket { bucket, .. } = &self.backend else {
            return Ok(Vec::new());
        };
        let notes: Vec<object_store::ObjectMeta> = self
            .store()
            .list(Some(&Path::from(NOTES)))
            .try_collect()
            .await?;
        let mut noted = Vec::new();
        for meta in notes {
            let bytes = match self.store().get(&meta.location).await {
                Ok(found) => found.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(error) => return Err(error.into()),
            };
            let Some(note) = Note::parse(&bytes) else {
                continue;
            };
            let Ok(target) = ObjectKey::parse(note.key.clone()) else {
                continue;
            };
            noted.push(NotedUpload {
                location: Some(meta.location),
                note,
                target,
                noted_at: meta.last_modified,
            });
        }
        let listed = match bucket.listed_uploads().await {
            Ok(listed) => listed,
            Err(error) if error.is_unsupported() => {
                tracing::warn!(
                    %error,
                    "the bucket does not list its multipart uploads; only noted ones are swept"
                );
                Vec::new()
            }
            Err(error) => return Err(BlobError(error.into_store_error())),
        };
        for upload in listed {
            if noted.iter().any(|n| n.note.upload_id == upload.upload_id) {
                continue;
            }
            let Ok(target) = ObjectKey::parse(upload.key.clone()) else {
                continue;
            };
            noted.push(NotedUpload {
                location: None,
                note: Note {
                    key: upload.key,
                    upload_id: upload.upload_id,
                },
                target,
                noted_at: upload.initiated,
            });
        }
        Ok(noted)
    }

    /// Aborts a noted multipart upload and removes its note.
    pub async fn abort_noted(&self, upload: &NotedUpload) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Bucket { bucket, .. } => match &upload.location {
                Some(location) => Ok(bucket.abandon(location, &upload.note).await?),
                None => Ok(bucket.abort(&upload.note).await?),
            },
            _ => Ok(()),
        }
    }
}

async fn forget(notes: &Arc<dyn ObjectStore>, note: &Path) -> object_store::Result<()> {
    match notes.delete(note).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// One multipart upload with its note.
#[derive(Debug)]
struct TrackedUpload {
    bucket: TrackedBucket,
    path: Path,
    upload_id: String,
    note: Path,
    parts: Arc<Mutex<Vec<Option<PartId>>>>,
    next: usize,
}

#[async_trait]
impl MultipartUpload for TrackedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next;
        self.next += 1;
        let bucket = self.bucket.bucket.clone();
        let path = self.path.clone();
        let upload_id = self.upload_id.clone();
        let parts = self.parts.clone();
        Box::pin(async move {
            let part = bucket.put_part(&path, &upload_id, index, data).await?;
            let mut parts = parts.lock();
            if parts.len() <= index {
                parts.resize(index + 1, None);
            }
            parts[index] = Some(part);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let parts: Option<Vec<PartId>> = self.parts.lock().iter().cloned().collect();
        let parts = parts.ok_or_else(|| object_store::Error::Generic {
            store: "S3",
            source: "a part was not sent before completing".into(),
        })?;
        let done = self
            .bucket
            .bucket
            .complete_multipart(&self.path, &self.upload_id, parts)
            .await?;
        if let Err(error) = forget(&self.bucket.notes, &self.note).await {
            tracing::warn!(note = %self.note, %error, "could not remove the note of a completed upload");
        }
        Ok(done)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.bucket
            .bucket
            .abort_multipart(&self.path, &self.upload_id)
            .await?;
        forget(&self.bucket.notes, &self.note).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_reads_back_as_written_and_nothing_else_reads_as_one() {
        let note = Note {
            key: "files/ab/cd".to_owned(),
            upload_id: "2~xyz".to_owned(),
        };
        assert_eq!(Note::parse(&note.to_bytes()), Some(note));
        for other in [
            &b""[..],
            b"files/ab",
            b"\nid",
            b"key\n",
            &[0xff, b'\n', b'a'],
        ] {
            assert_eq!(Note::parse(other), None);
        }
    }
}
