//! What each owner holds: references to published files, and the files no
//! reference holds any more, deleted once their grace has passed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, FileName, MediaType};

use super::{FileRecord, MetaResult, Published};
use crate::ids::{OwnerId, WriteToken};

/// An owner's reference to a published file, with the name and media type
/// they gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// Who holds the file.
    pub owner: OwnerId,
    /// The file held.
    pub sha256: ContentHash,
    /// The name the owner gave.
    pub filename: Option<FileName>,
    /// The media type the owner gave.
    pub content_type: Option<MediaType>,
    /// When the owner first held it (to the millisecond).
    pub created_at: DateTime<Utc>,
}

/// One of an owner's files as listed: the reference and the file's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFile {
    /// The reference.
    pub reference: FileRef,
    /// The published file's size.
    pub size: u64,
}

/// Where a listing of an owner's files goes on: after the file created at
/// `created_at` with hash `sha256`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListAfter {
    /// The creation time of the last file listed.
    pub created_at: DateTime<Utc>,
    /// Its hash, which orders files created in the same millisecond.
    pub sha256: ContentHash,
}

/// A file whose deletion was claimed: its row is gone, and its object is
/// the claimer's to delete while it holds the merge lease `token` on its
/// hash, which records the object for the sweep should the claimer die.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDeletion {
    /// The file as it was published.
    pub file: FileRecord,
    /// The lease held on its hash.
    pub token: WriteToken,
}

/// Owners' references and the deletion of files none holds; see
/// [`MetaStore`](super::MetaStore)'s *Files*.
///
/// Adding a reference cancels a deletion not yet made; removing the last
/// one records a deletion due at the time given. Deleting a due file is one
/// transaction that finds it still unreferenced, takes the merge lease of
/// its hash (so that no merge writes its key meanwhile, and so that the
/// sweep deletes the object should the deleter die), removes its row and
/// records the `file.deleted` event.
#[async_trait]
pub trait HoldingStore: Send + Sync {
    /// Publishes `file` outside any session as
    /// [`FileStore::insert_file`](super::FileStore::insert_file) does, and
    /// gives `holder` a reference to whichever file is published, in one
    /// transaction that records `upload.completed`. While a deletion of the
    /// hash holds its lease, changes nothing and answers
    /// [`Published::LeaseLost`]: the deleter is about to delete the object.
    async fn insert_held_file(&self, file: &FileRecord, holder: &FileRef) -> MetaResult<Published>;

    /// Gives `holder` a reference to the published file of its hash (an
    /// instant upload), recording `upload.completed`; `false` when no file
    /// with this hash is published.
    async fn hold_file(&self, holder: &FileRef) -> MetaResult<bool>;

    /// Up to `limit` of `owner`'s files, newest first, after `after`.
    async fn held_files(
        &self,
        owner: &OwnerId,
        after: Option<ListAfter>,
        limit: u32,
    ) -> MetaResult<Vec<OwnedFile>>;

    /// Removes `owner`'s reference to `sha256` (every owner's, for `None`);
    /// when none is left, records the file's deletion due at `due_at`.
    /// `false` when there was no such reference.
    async fn release_file(
        &self,
        owner: Option<&OwnerId>,
        sha256: &ContentHash,
        due_at: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// Claims one file whose deletion is due at `now` and which no
    /// reference or live merge lease holds, as described above, leasing its
    /// hash until `lease_until`; `None` when no file is due.
    async fn claim_deletion(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<Option<ClaimedDeletion>>;
}
