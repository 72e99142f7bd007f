//! Collecting what a crash or a failed delete can leave in the object store
//! with no database row needing it: chunk folders of sessions that are gone
//! or done, and merged or one-request files that were stored but never
//! published (or published twice, the second copy not deleted), and
//! multipart uploads a killed process left unfinished in a bucket, or
//! finished without removing their note: a merge's once no lease names its
//! key, any other once it is older than the minimum age.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Uploads;
use super::error::UploadResult;
use crate::blob::BlobStore;
use crate::ids::{ObjectKey, UploadId};
use crate::metrics::Swept;

impl Uploads {
    /// Deletes leftovers as of `now`; files younger than `min_age` are left
    /// alone, as they may be about to be published.
    /// Answers how many chunk folders, files and multipart uploads were
    /// removed.
    pub async fn collect_leftovers(
        &self,
        now: DateTime<Utc>,
        min_age: Duration,
    ) -> UploadResult<usize> {
        let mut removed = 0;
        for folder in self.blobs.list_folders("chunks").await? {
            let owner = folder.rsplit('/').next().map(UploadId::parse);
            let orphaned = match owner {
                Some(Ok(upload_id)) => !self.meta.session_holds_chunks(&upload_id).await?,
                _ => true,
            };
            if orphaned {
                self.blobs.delete_prefix(&format!("{folder}/")).await?;
                removed += 1;
            }
        }
        let cutoff = now - min_age;
        let mut by_file: BTreeMap<ObjectKey, Vec<ObjectKey>> = BTreeMap::new();
        for key in self.blobs.list_written_before("files", cutoff).await? {
            by_file
                .entry(BlobStore::file_of(&key))
                .or_default()
                .push(key);
        }
        for (file, keys) in by_file {
            if !self.meta.object_key_in_use(&file).await? {
                for key in keys {
                    self.blobs.delete(&key).await?;
                }
                removed += 1;
            }
        }
        for upload in self.blobs.noted_uploads().await? {
            let target = upload.target.as_str();
            let merging = target.starts_with("files/") && !target.starts_with("files/direct/");
            let abandoned = if merging {
                !self.meta.merge_writes_to(&upload.target).await?
            } else {
                upload.noted_at < cutoff
            };
            if abandoned {
                self.blobs.abort_noted(&upload).await?;
                removed += 1;
            }
        }
        self.metrics.sweep(Swept {
            leftover_objects: removed,
            ..Swept::default()
        });
        if removed > 0 {
            tracing::info!(removed, "removed leftovers no database row points at");
        }
        Ok(removed)
    }
}
