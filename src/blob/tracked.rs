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
}

/// A multipart upload noted in a bucket.
#[derive(Debug, Clone)]
pub struct NotedUpload {
    location: Path,
    note: Note,
    /// The key the upload writes.
    pub target: ObjectKey,
    /// When the upload started.
    pub noted_at: DateTime<Utc>,
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
    fn full_path(&self, key: &str) -> Path {
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
        let note = Path::from(format!("{NOTES}/{}", WriteToken::generate()));
        let said = Note {
            key: path.to_string(),
            upload_id: upload_id.clone(),
        };
        if let Err(error) = self
            .notes
            .put(&note, PutPayload::from(said.to_bytes()))
            .await
        {
            let _ = self.bucket.abort_multipart(&full, &upload_id).await;
            return Err(error);
        }
        Ok(Box::new(TrackedUpload {
            bucket: self.clone(),
            path: full,
            upload_id,
            note,
            parts: Arc::default(),
            next: 0,
        }))
    }

    /// Aborts the upload a note names and removes the note; an upload that
    /// is already gone is not an error.
    pub(super) async fn abandon(&self, note_path: &Path, note: &Note) -> object_store::Result<()> {
        let full = self.full_path(&note.key);
        match self.bucket.abort_multipart(&full, &note.upload_id).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        forget(&self.notes, note_path).await
    }
}

impl BlobStore {
    /// The multipart uploads whose notes are in the bucket: running, or left
    /// by a process that died. Empty for stores other than buckets.
    pub async fn noted_uploads(&self) -> Result<Vec<NotedUpload>, BlobError> {
        if !matches!(self.backend, Backend::Bucket { .. }) {
            return Ok(Vec::new());
        }
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
                location: meta.location,
                note,
                target,
                noted_at: meta.last_modified,
            });
        }
        Ok(noted)
    }

    /// Aborts a noted multipart upload and removes its note.
    pub async fn abort_noted(&self, upload: &NotedUpload) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Bucket { bucket, .. } => {
                Ok(bucket.abandon(&upload.location, &upload.note).await?)
            }
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
