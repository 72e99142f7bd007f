//! Repairing a published file whose object went missing from the store (a
//! restored bucket, a deleted folder): the next upload of its bytes puts
//! them back. Until then no upload is completed by its hash alone, since
//! there would be nothing to serve.

use ferry_proto::ContentHash;

use super::Uploads;
use super::error::UploadResult;
use crate::blob::BlobStore;
use crate::ids::ObjectKey;
use crate::meta::FileRecord;

impl Uploads {
    /// The published file of this hash, when the store holds its object
    /// whole; `None` when none is published or its object is missing.
    pub(super) async fn intact_file(
        &self,
        sha256: &ContentHash,
    ) -> UploadResult<Option<FileRecord>> {
        let Some(file) = self.meta.find_file(sha256).await? else {
            return Ok(None);
        };
        if self.holds(&file).await? {
            return Ok(Some(file));
        }
        tracing::warn!(%sha256, key = %file.object_key, "a published file's object is missing or short; the next upload of its bytes repairs it");
        Ok(None)
    }

    /// Settles two verified copies of one file. When they are one object
    /// (both name the file's stable key) there is nothing to settle; when
    /// `ours` is the file's one object and the published copy is in parts,
    /// the file moves to `ours` and the parts are deleted, recorded first.
    /// Otherwise the published one is kept when the store holds it whole,
    /// and `ours`, which this process just wrote, deleted; or else the
    /// file is pointed at `ours`. The upload that wrote `ours` is published
    /// either way, so a failure here is logged, not passed on: a copy left
    /// over is the leftover listing's.
    pub(super) async fn keep_one_copy(&self, published: &FileRecord, ours: &FileRecord) {
        if published.object_key == ours.object_key {
            self.published.forget(&ours.sha256);
            return;
        }
        if BlobStore::is_published_key(&ours.object_key) {
            if let Err(error) = self.move_to_one_object(published, &ours.object_key).await {
                tracing::warn!(sha256 = %ours.sha256, %error, "could not move a file to its one object; the move is tried again later");
            }
            return;
        }
        match self.holds(published).await {
            Ok(true) => {}
            Ok(false) => match self.meta.repair_file(ours, &published.object_key).await {
                Ok(true) => {
                    self.published.forget(&ours.sha256);
                    self.metrics.file_repaired();
                    tracing::warn!(sha256 = %ours.sha256, missing = %published.object_key, key = %ours.object_key, "repaired a published file whose object was missing");
                    return;
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(sha256 = %ours.sha256, %error, "could not repair a published file; its copy stays for the leftover listing");
                    return;
                }
            },
            Err(error) => {
                tracing::warn!(sha256 = %ours.sha256, %error, "could not check a published file's object; a second copy stays for the leftover listing");
                return;
            }
        }
        if let Err(error) = self.blobs.delete_file(&ours.object_key).await {
            tracing::warn!(key = %ours.object_key, %error, "could not delete a spare copy of a published file; the leftover listing will");
        }
    }

    /// Points the published `file` at its one object `key`, verified and
    /// in place, if it still names the object it names now; that object
    /// is recorded for deletion in the same step, and then deleted.
    /// Answers whether the file moved.
    pub(super) async fn move_to_one_object(
        &self,
        file: &FileRecord,
        key: &ObjectKey,
    ) -> UploadResult<bool> {
        let now = self.meta.clock().await?;
        let moved = self
            .meta
            .move_file(&file.sha256, &file.object_key, key, now)
            .await?;
        self.published.forget(&file.sha256);
        if moved {
            self.metrics.file_moved();
            tracing::info!(sha256 = %file.sha256, from = %file.object_key, to = %key, "moved a file to its one object");
            self.delete_recorded(&file.object_key).await?;
        }
        Ok(moved)
    }

    /// Whether the store holds the published file's object whole.
    pub(super) async fn holds(&self, file: &FileRecord) -> UploadResult<bool> {
        Ok(self
            .blobs
            .holds_file(&file.object_key, file.size, file.part_size)
            .await?)
    }
}
