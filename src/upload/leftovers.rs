//! Leftovers: what a crash or a failed delete can leave in the object store
//! with no database row needing it. The chunk folder of a session the
//! database records as complete or failed goes at once: the row says so.
//! Chunk folders of sessions with no row, and objects of attempts never
//! published (a one-request upload's before it moved to its file's key, an
//! attempt's temporary file beside it, a merge's object of the layout
//! before), are noted as orphans in the database when a listing finds
//! them, and deleted only once they have been orphans for the quarantine,
//! or on an operator's command: never because a row is missing at one
//! moment. A file's one object (`files/sha256/<sha256>`) and a folder of
//! parts are never leftovers: they go only when a row records them for
//! deletion. Multipart uploads a killed process left unfinished in a
//! bucket are aborted: a merge's noted one once no lease names its key, any
//! other (one that never got its note too) once it is older than the
//! minimum age; they were never objects anyone could read.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_proto::UploadStatus;

use super::Uploads;
use super::error::UploadResult;
use crate::blob::BlobStore;
use crate::ids::{ObjectKey, UploadId};
use crate::metrics::Swept;

/// What a listing does with the leftovers it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftoverAction {
    /// Only report them: nothing is noted, deleted or aborted.
    List,
    /// Note them, and delete those noted for at least this long.
    Quarantine(Duration),
    /// Note nothing, keep nothing: delete them all now.
    DeleteNow,
}

/// What kind of thing a leftover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftoverKind {
    /// A folder of staged chunks whose session is gone or done.
    ChunkFolder,
    /// An attempt's object (a one-request upload's, a temporary file, a
    /// merge object of the earlier layout) that no file or merge names.
    File,
    /// A multipart upload left unfinished in a bucket.
    MultipartUpload,
}

impl LeftoverKind {
    /// A short name, for listings and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftoverKind::ChunkFolder => "chunk-folder",
            LeftoverKind::File => "file",
            LeftoverKind::MultipartUpload => "multipart-upload",
        }
    }
}

/// One leftover a listing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its key in the store: a folder, a file, or a multipart upload's target.
    pub key: String,
    /// What it is.
    pub kind: LeftoverKind,
    /// When a listing first noted it, once one has.
    pub first_noted: Option<DateTime<Utc>>,
    /// Whether this listing deleted (or aborted) it.
    pub removed: bool,
}

/// What one listing of the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftoverReport {
    /// Every leftover found, in the order found.
    pub found: Vec<Leftover>,
}

impl LeftoverReport {
    /// How many of them were deleted or aborted.
    pub fn removed(&self) -> usize {
        self.found
            .iter()
            .filter(|leftover| leftover.removed)
            .count()
    }

    /// How many are kept, waiting out their quarantine or a command.
    pub fn kept(&self) -> usize {
        self.found.len() - self.removed()
    }
}

impl Uploads {
    /// Lists the store for leftovers as of `now` and does with them what
    /// `action` says. Files written less than `min_age` ago are not
    /// leftovers yet: they may be about to be published.
    pub async fn collect_leftovers(
        &self,
        now: DateTime<Utc>,
        min_age: Duration,
        action: LeftoverAction,
    ) -> UploadResult<LeftoverReport> {
        let mut report = LeftoverReport::default();
        for folder in self.blobs.list_folders("chunks").await? {
            let status = match folder.rsplit('/').next().map(UploadId::parse) {
                Some(Ok(upload_id)) => self.meta.session_status(&upload_id).await?,
                _ => None,
            };
            let action = match status {
                Some(UploadStatus::Uploading | UploadStatus::Merging) => continue,
                Some(UploadStatus::Complete | UploadStatus::Failed)
                    if action != LeftoverAction::List =>
                {
                    LeftoverAction::DeleteNow
                }
                _ => action,
            };
            let key = format!("{folder}/");
            let leftover = self
                .settle(key, LeftoverKind::ChunkFolder, &[], now, action)
                .await?;
            report.found.extend(leftover);
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
            if !may_be_leftover(&file, &keys) {
                continue;
            }
            if !self.meta.object_key_in_use(&file).await? {
                let leftover = self
                    .settle(file.to_string(), LeftoverKind::File, &keys, now, action)
                    .await?;
                report.found.extend(leftover);
            }
        }
        for upload in self.blobs.noted_uploads().await? {
            let target = upload.target.as_str();
            let merging = target.starts_with("files/") && !target.starts_with("files/direct/");
            let abandoned = if merging && upload.is_noted() {
                !self.meta.merge_writes_to(&upload.target).await?
            } else {
                upload.noted_at < cutoff
            };
            if abandoned {
                let removed = action != LeftoverAction::List;
                if removed {
                    self.blobs.abort_noted(&upload).await?;
                }
                report.found.push(Leftover {
                    key: target.to_owned(),
                    kind: LeftoverKind::MultipartUpload,
                    first_noted: None,
                    removed,
                });
            }
        }
        if matches!(action, LeftoverAction::Quarantine(_)) {
            self.meta.forget_orphans_unseen_since(now).await?;
        }
        self.metrics.leftovers_kept(report.kept());
        if action != LeftoverAction::List {
            self.metrics.sweep(Swept {
                leftover_objects: report.removed(),
                ..Swept::default()
            });
        }
        if !report.found.is_empty() {
            tracing::info!(
                found = report.found.len(),
                removed = report.removed(),
                kept = report.kept(),
                "listed the store for leftovers no database row needs"
            );
        }
        Ok(report)
    }

    /// Lists the store for leftovers unless another instance did within
    /// `every`, deleting those noted for at least `quarantine` (`None`:
    /// none). The listing is claimed in the database, so that one instance
    /// at a time lists the store, and skipped when the store no longer
    /// carries the database's identity. `None` when not listed.
    pub async fn sweep_leftovers(
        &self,
        every: Duration,
        quarantine: Option<Duration>,
    ) -> UploadResult<Option<LeftoverReport>> {
        let now = self.meta.clock().await?;
        let since = now - every.mul_f64(0.9);
        if !self.meta.claim_leftover_listing(now, since).await? {
            return Ok(None);
        }
        if !self.store_still_bound().await? {
            tracing::error!(
                "the object store no longer carries the identity its database is bound to; not listing it for leftovers"
            );
            return Ok(None);
        }
        let action = LeftoverAction::Quarantine(quarantine.unwrap_or(Duration::MAX));
        let report = self.collect_leftovers(now, every, action).await?;
        Ok(Some(report))
    }

    /// Deletes a leftover (a chunk folder `key`, or a file's `objects`)
    /// when `action` says so; notes it otherwise. `None` when it was gone
    /// by the time it was to be deleted: nothing was removed.
    async fn settle(
        &self,
        key: String,
        kind: LeftoverKind,
        objects: &[ObjectKey],
        now: DateTime<Utc>,
        action: LeftoverAction,
    ) -> UploadResult<Option<Leftover>> {
        let (first_noted, removed) = match action {
            LeftoverAction::List => (None, false),
            LeftoverAction::DeleteNow => (None, true),
            LeftoverAction::Quarantine(quarantine) => {
                let first = self.meta.note_orphan(&key, now).await?;
                let served = (now - first).to_std().unwrap_or_default();
                (Some(first), served >= quarantine)
            }
        };
        if removed {
            let mut found = !objects.is_empty();
            if kind == LeftoverKind::ChunkFolder {
                found |= self.blobs.delete_prefix(&key).await?;
            }
            for object in objects {
                self.blobs.delete(object).await?;
            }
            self.meta.forget_orphan(&key).await?;
            if !found {
                return Ok(None);
            }
        }
        Ok(Some(Leftover {
            key,
            kind,
            first_noted,
            removed,
        }))
    }
}

/// Whether the objects `keys` under `file` may be taken for a leftover
/// when no row needs them: an attempt's object, never a file's one object
/// nor a folder of parts, which may be a published file's that a database
/// lacking its row does not know.
fn may_be_leftover(file: &ObjectKey, keys: &[ObjectKey]) -> bool {
    !BlobStore::is_published_key(file) && keys.iter().all(|key| key == file)
}
