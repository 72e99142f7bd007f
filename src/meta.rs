//! The metadata store: upload sessions, received chunks, merge leases and
//! published files, kept in a relational database.
//!
//! [`MetaStore`] is the whole store, composed of one trait per concern
//! ([`SessionStore`], [`ChunkStore`], [`MergeStore`], [`FileStore`], [`MoveStore`],
//! [`HoldingStore`], [`EventStore`], [`UpkeepStore`], [`AppendedStore`]); its documentation is the contract every
//! implementation keeps, and `tests/meta` checks it on both databases.
//! [`sql::SqlMeta`] is the one implementation: one SQL text, run by
//! PostgreSQL ([`postgres`]) and SQLite ([`sqlite`]), whose differences
//! are each a [`sql::Dialect`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, UploadStatus};

use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::metrics::AcquireWaits;

mod appended;
mod chunk_bits;
mod decode;
mod error;
mod holdings;
mod outbox;
pub mod postgres;
mod records;
pub mod sql;
pub mod sqlite;

pub use appended::{Append, Appended, AppendedStore, AppendedUpload, Concat, Segment};
pub use error::{MetaError, MetaResult};
pub use holdings::{ClaimedDeletion, FileRef, HoldingStore, ListAfter, OwnedFile};
pub use outbox::{Attempted, Delivery, EventKind, EventStore};
pub use records::{
    Chunk, Claim, FileRecord, HashLink, Inserted, MergeFailure, MergeLease, OwnerUsage, Published,
    ReceivedChunks, Recorded, Session, SessionQuota, Unlinked,
};

/// The metadata store. Implementations: [`postgres::PostgresMeta`] for many
/// instances, [`sqlite::SqliteMeta`] for one.
///
/// # Sessions
///
/// Sessions are unique per `(owner, sha256)`. [`SessionStore::insert_session`]
/// never replaces a row: when one exists it answers [`Inserted::Existing`].
/// [`SessionStore::insert_session_within`] checks the owner's quota and
/// inserts as one step, so that concurrent inserts cannot together exceed
/// it.
///
/// # Chunks and hash links
///
/// Chunks are recorded only while their session is `uploading`, checked in
/// the same transaction as the write, so that no chunk changes after a
/// merge has started. Recording an index again replaces the row and hands
/// back the object key it replaced.
///
/// Hash links say what the file's running SHA-256 was before and after a
/// chunk's bytes. A link is written only for the chunk copy it was
/// computed from, and recording a chunk again clears it, and with other
/// bytes than before, the links of every chunk after it too.
///
/// # Merges and leases
///
/// Starting a merge moves a session from `uploading` to `merging` only when
/// every chunk is recorded; of two concurrent callers exactly one wins.
///
/// Merge leases are per content hash: at most one unexpired lease exists
/// for a hash. A lease whose time has passed can be taken over, and the new
/// holder learns the object key the old one was writing. Leases are
/// measured by [`MetaStore::clock`], the database's time.
///
/// # Files
///
/// Publishing is one transaction: it succeeds only while the caller still
/// holds the lease, inserts the file unless one with this hash is there,
/// and marks the session `complete`. A file row, once written, changes only
/// by a repair, which points it from an object found missing to a verified
/// copy of the same bytes, and only while it still names the missing one:
/// the database is the only authority on what is published.
///
/// # Moves
///
/// A file published in parts (before each file became one object) moves
/// to its one object by [`MoveStore::move_file`], a compare-and-set on the
/// key it names that records the parts for deletion in the same
/// transaction. One instance at a time holds the claim on a file's move.
/// Objects are deleted by inference never: only those a row of
/// [`MoveStore::recorded_deletions`] names.
///
/// # Holdings
///
/// Each owner holds references to the files it published; see
/// [`HoldingStore`]. A file none holds is deleted once its deletion is due,
/// with its hash leased as a merge would lease it.
///
/// # Events
///
/// Every change an app hears of (a session created, completed, failed,
/// aborted or expired; a file deleted) writes its event in the transaction
/// of the change; see [`EventStore`].
///
/// # Upkeep
///
/// The sweep's queries find only what they name (expired sessions that no
/// live lease merges, merging sessions in any state of expiry without a
/// live lease, expired leases without a merging session), and deleting an
/// expired session checks its expiry and the lease again. A `merging`
/// session expires like any other. The database is bound to one object store, and one
/// instance at a time lists that store for leftovers.
///
/// # Time
///
/// Times are passed in by the caller, so that expiry can be tested; only
/// [`MetaStore::clock`] reads the database's own.
///
/// # Errors
///
/// A failure of the database is a [`MetaError`]: [`MetaError::Unavailable`]
/// when asking again later may succeed, [`MetaError::Fault`] otherwise.
/// Refusals the contract foresees (a lost lease, a full quota, a session
/// gone) are outcomes, never errors.
#[async_trait]
pub trait MetaStore:
    SessionStore
    + ChunkStore
    + MergeStore
    + FileStore
    + MoveStore
    + HoldingStore
    + EventStore
    + UpkeepStore
    + AppendedStore
    + 'static
{
    /// Answers whether the database is reachable.
    async fn ping(&self) -> MetaResult<()>;

    /// Connections of the pool in use now.
    fn connections_in_use(&self) -> u32;

    /// Reports how long each connection of the pool took to acquire to
    /// `waits`, from now on; a store reports to the first it is given.
    fn report_acquires(&self, waits: AcquireWaits) {
        let _ = waits;
    }

    /// The database's time: what merge leases are measured by, so that
    /// instances whose clocks disagree still agree on who holds a lease.
    async fn clock(&self) -> MetaResult<DateTime<Utc>>;
}

/// Upload sessions and the counts kept per owner; see [`MetaStore`]'s
/// *Sessions*.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session of `owner` for `sha256`, in whatever state.
    async fn find_session(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
    ) -> MetaResult<Option<Session>>;

    /// What `owner` holds in sessions that are live at `now`.
    async fn owner_usage(&self, owner: &OwnerId, now: DateTime<Utc>) -> MetaResult<OwnerUsage>;

    /// Inserts a session unless the owner has one for this hash.
    async fn insert_session(&self, session: &Session) -> MetaResult<Inserted>;

    /// Inserts a session as [`SessionStore::insert_session`] does, unless it
    /// would take its owner's live sessions at `now` over `quota`
    /// ([`Inserted::OverQuota`]). The check and the insert are one step:
    /// concurrent inserts of one owner cannot together exceed the quota.
    async fn insert_session_within(
        &self,
        session: &Session,
        quota: SessionQuota,
        now: DateTime<Utc>,
    ) -> MetaResult<Inserted>;

    /// Moves a session's expiry forward to `expires_at` (never back).
    async fn touch_session(&self, id: &UploadId, expires_at: DateTime<Utc>) -> MetaResult<()>;

    /// Deletes a session and its chunk rows; `false` when it was not there.
    async fn delete_session(&self, id: &UploadId) -> MetaResult<bool>;

    /// Deletes a session as [`SessionStore::delete_session`] does, at its
    /// owner's word, recording `upload.aborted`.
    async fn abort_session(&self, id: &UploadId) -> MetaResult<bool>;

    /// The state of the session with this id, if its row is there: one
    /// uploading or merging still needs its staged chunks.
    async fn session_status(&self, id: &UploadId) -> MetaResult<Option<UploadStatus>>;

    /// Counts one more new session of `owner` for `sha256` at `now`, in a
    /// window of counting that starts over when it began before
    /// `window_from`; answers the count in the window and when it began.
    async fn count_session_start(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
        window_from: DateTime<Utc>,
    ) -> MetaResult<(u64, DateTime<Utc>)>;
}

/// The chunks a session received and their hash links; see
/// [`MetaStore`]'s *Chunks and hash links*.
#[async_trait]
pub trait ChunkStore: Send + Sync {
    /// The chunks recorded for a session, by ascending index.
    async fn chunks(&self, upload_id: &UploadId) -> MetaResult<Vec<Chunk>>;

    /// The chunk of a session at `index`, if recorded.
    async fn chunk(&self, upload_id: &UploadId, index: u64) -> MetaResult<Option<Chunk>>;

    /// What the session has received, computed without loading its chunks.
    async fn received(&self, upload_id: &UploadId) -> MetaResult<ReceivedChunks>;

    /// Records a stored chunk if the session is `uploading`, extending its expiry.
    async fn record_chunk(
        &self,
        upload_id: &UploadId,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded>;

    /// The lowest-index chunk of a session that has no hash link, with the
    /// chunk before it.
    async fn first_unlinked(&self, upload_id: &UploadId) -> MetaResult<Option<Unlinked>>;

    /// Records the hash link of a chunk, unless the copy it was computed
    /// from (`chunk.object_key`) was replaced meanwhile; `false` then.
    async fn link_chunk(
        &self,
        upload_id: &UploadId,
        chunk: &Chunk,
        link: &HashLink,
    ) -> MetaResult<bool>;
}

/// Merges and the one lease per content hash; see [`MetaStore`]'s
/// *Merges and leases* and *Files*.
#[async_trait]
pub trait MergeStore: Send + Sync {
    /// Moves a session from `uploading` to `merging` if every chunk is recorded.
    async fn start_merge(&self, upload_id: &UploadId) -> MetaResult<bool>;

    /// Claims the merge lease of a hash, taking over one that expired before `now`.
    async fn claim_merge(&self, lease: &MergeLease, now: DateTime<Utc>) -> MetaResult<Claim>;

    /// Extends a held lease; `false` when the caller no longer holds it.
    async fn renew_merge(
        &self,
        sha256: &ContentHash,
        token: &WriteToken,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// Publishes verified bytes and completes the session, while the lease holds.
    async fn publish(
        &self,
        file: &FileRecord,
        upload_id: &UploadId,
        token: &WriteToken,
    ) -> MetaResult<Published>;

    /// Marks a merging session `failed` for `failure` and gives up its
    /// lease; `false` when the lease was no longer held.
    async fn fail_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &UploadId,
        token: &WriteToken,
        failure: MergeFailure,
    ) -> MetaResult<bool>;

    /// Why a failed session failed; `None` when there is no such session.
    async fn merge_failure(&self, upload_id: &UploadId) -> MetaResult<Option<MergeFailure>>;

    /// Forgets the chunks at `lost` (rows and received bits) of a merging
    /// session whose objects are gone, moves it back to `uploading` so that
    /// they can be sent again, and gives up the lease; `false` when the
    /// lease was no longer held.
    async fn reopen_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &UploadId,
        token: &WriteToken,
        lost: &[u64],
    ) -> MetaResult<bool>;

    /// Gives up a lease if its token still matches, leaving any merging
    /// session for a later attempt; `false` when the token no longer held it.
    async fn drop_merge(&self, sha256: &ContentHash, token: &WriteToken) -> MetaResult<bool>;
}

/// Published files; see [`MetaStore`]'s *Files*.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Publishes a file outside any session (one-request uploads).
    async fn insert_file(&self, file: &FileRecord) -> MetaResult<Published>;

    /// The published file with this hash.
    async fn find_file(&self, sha256: &ContentHash) -> MetaResult<Option<FileRecord>>;

    /// Points the published file `file.sha256` at the verified copy `file`
    /// (its object key and part size), if it still names `missing_key`,
    /// whose object was found missing; `false` when it no longer does.
    async fn repair_file(&self, file: &FileRecord, missing_key: &ObjectKey) -> MetaResult<bool>;

    /// The `limit` files published last, newest first.
    async fn newest_files(&self, limit: u32) -> MetaResult<Vec<FileRecord>>;
}

/// Files published in parts moving to their one object, and objects
/// recorded for deletion; see [`MetaStore`]'s *Moves*.
#[async_trait]
pub trait MoveStore: Send + Sync {
    /// Claims until `until` the move of one file still published in parts,
    /// the oldest whose move no claim unexpired at `now` holds; answers
    /// its record. `None` when there is none to claim.
    async fn claim_file_move(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> MetaResult<Option<FileRecord>>;

    /// Gives the claim on a file's move back.
    async fn release_file_move(&self, sha256: &ContentHash) -> MetaResult<()>;

    /// How many files are still published in parts.
    async fn files_in_parts(&self) -> MetaResult<u64>;

    /// Points the file `sha256` at its one object `to` if it still names
    /// `from`, records `from` for deletion and gives the move's claim back,
    /// as one transaction; `false` when the file no longer names `from`.
    async fn move_file(
        &self,
        sha256: &ContentHash,
        from: &ObjectKey,
        to: &ObjectKey,
        now: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// Records that the object (or folder of parts) `key` is to be deleted.
    async fn record_deletion(&self, key: &ObjectKey, now: DateTime<Utc>) -> MetaResult<()>;

    /// Up to `limit` keys recorded for deletion, oldest first.
    async fn recorded_deletions(&self, limit: u32) -> MetaResult<Vec<ObjectKey>>;

    /// Forgets a recorded deletion: done, or not to be done.
    async fn forget_deletion(&self, key: &ObjectKey) -> MetaResult<()>;
}

/// What the sweep and the store's listing ask; see [`MetaStore`]'s
/// *Upkeep*.
#[async_trait]
pub trait UpkeepStore: Send + Sync {
    /// Up to `limit` sessions past their expiry at `now` that no live merge
    /// lease names.
    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> MetaResult<Vec<Session>>;

    /// Deletes a session only if it is still expired at `now` and no live
    /// merge lease names it.
    async fn delete_expired_session(&self, id: &UploadId, now: DateTime<Utc>) -> MetaResult<bool>;

    /// Merging sessions with no unexpired lease on their hash at `now`.
    async fn stalled_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<Session>>;

    /// Leases that expired before `now` whose session is gone or not merging.
    async fn orphaned_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<MergeLease>>;

    /// Whether a published file, or a merge under way, points at this key.
    async fn object_key_in_use(&self, object_key: &ObjectKey) -> MetaResult<bool>;

    /// Whether a merge or a move under way writes to this key: its lease
    /// names it, or it is the one object of the file it writes.
    async fn merge_writes_to(&self, object_key: &ObjectKey) -> MetaResult<bool>;

    /// The identity of the object store this database is bound to, if any.
    async fn store_binding(&self) -> MetaResult<Option<String>>;

    /// Binds the database to the store `store_id` unless it is bound
    /// already; answers the identity it is bound to, of whichever of two
    /// concurrent callers came first.
    async fn bind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<String>;

    /// Binds the database to the store `store_id`, whatever it was bound to:
    /// an operator's explicit word that the two belong together.
    async fn rebind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<()>;

    /// Takes the listing of the store for leftovers, recording `now`,
    /// unless an instance took it after `since`: so that one instance at a
    /// time lists the store. `false` when another did, or the database is
    /// bound to no store.
    async fn claim_leftover_listing(
        &self,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// Notes the store key `key` (a chunk folder or a file's object) as
    /// needed by no row at `now`; answers when it was first noted so.
    async fn note_orphan(&self, key: &str, now: DateTime<Utc>) -> MetaResult<DateTime<Utc>>;

    /// Forgets the orphan `key`: deleted, or needed again.
    async fn forget_orphan(&self, key: &str) -> MetaResult<()>;

    /// Forgets every orphan last noted before `before`: the listing after
    /// it no longer found them. Answers how many.
    async fn forget_orphans_unseen_since(&self, before: DateTime<Utc>) -> MetaResult<u64>;
}
