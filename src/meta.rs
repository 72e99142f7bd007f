//! The metadata store: upload sessions, received chunks, merge leases and
//! published files, kept in a relational database.
//!
//! # Contract
//!
//! Every implementation must keep these promises; `conformance` checks them.
//!
//! * **Sessions** are unique per `(owner, sha256)`. [`MetaStore::insert_session`]
//!   never replaces a row: when one exists it answers [`Inserted::Existing`].
//! * **Chunks** are recorded only while their session is `uploading`, checked
//!   in the same transaction as the write, so that no chunk changes after a
//!   merge has started. Recording an index again replaces the row and hands
//!   back the object key it replaced.
//! * **Starting a merge** moves a session from `uploading` to `merging` only
//!   when every chunk is recorded; of two concurrent callers exactly one wins.
//! * **Merge leases** are per content hash: at most one unexpired lease exists
//!   for a hash. A lease whose time has passed can be taken over, and the new
//!   holder learns the object key the old one was writing.
//! * **Publishing** is one transaction: it succeeds only while the caller
//!   still holds the lease, inserts the file unless one with this hash is
//!   there, and marks the session `complete`. A file row, once written, never
//!   changes: the database is the only authority on what is published.
//! * Times are passed in by the caller, so that expiry can be tested.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api::UploadStatus;
use crate::upload::ContentHash;

pub mod conformance;
pub mod postgres;
pub mod sqlite;

/// A failure of the database itself (connection, query, migration).
#[derive(Debug, thiserror::Error)]
#[error("metadata store: {0}")]
pub struct MetaError(#[from] pub sqlx::Error);

/// Result of a metadata operation.
pub type MetaResult<T> = Result<T, MetaError>;

/// One upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Unique id; names the folder of its staged chunks.
    pub id: String,
    /// Who may see and touch the session.
    pub owner: String,
    /// The key: SHA-256 of the whole file.
    pub sha256: ContentHash,
    /// Size of the whole file.
    pub size: u64,
    /// Size of every chunk but the last.
    pub chunk_size: u64,
    /// Name offered in the download URL.
    pub filename: Option<String>,
    /// Media type to serve the file with.
    pub content_type: Option<String>,
    /// Where the session stands.
    pub status: UploadStatus,
    /// When the sweep may remove it.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// `ceil(size / chunk_size)`: how many chunks the file is cut into.
    pub fn chunk_count(&self) -> u64 {
        self.size.div_ceil(self.chunk_size.max(1))
    }
}

/// A chunk that was stored and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Its index in the file.
    pub index: u64,
    /// Its length in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Where its bytes are in the object store.
    pub object_key: String,
}

/// A published file: verified bytes under their hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// SHA-256 of the bytes.
    pub sha256: ContentHash,
    /// Their length.
    pub size: u64,
    /// Media type given by the upload that published it.
    pub content_type: Option<String>,
    /// Where the bytes are in the object store.
    pub object_key: String,
    /// When it was published: its Last-Modified, the same on every instance.
    pub published_at: DateTime<Utc>,
}

/// A claim on the one merge a content hash may have at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeLease {
    /// The content hash being merged.
    pub sha256: ContentHash,
    /// The session whose chunks are merged.
    pub upload_id: String,
    /// Unique per attempt; proves who holds the lease.
    pub token: String,
    /// Where this attempt writes the merged bytes.
    pub object_key: String,
    /// Until when the lease holds unless renewed.
    pub lease_until: DateTime<Utc>,
}

/// Outcome of [`MetaStore::insert_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The session is new.
    Created(Session),
    /// A session for this owner and hash was already there; it is unchanged.
    Existing(Session),
}

/// Outcome of [`MetaStore::record_chunk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The chunk is recorded.
    Accepted {
        /// Key of the copy it replaced, to delete.
        replaced_key: Option<String>,
        /// Chunks recorded in the session, this one included.
        received_count: u64,
        /// Their total size.
        received_bytes: u64,
    },
    /// The session no longer takes chunks.
    NotWritable(UploadStatus),
    /// The session is gone.
    SessionGone,
}

/// Outcome of [`MetaStore::claim_merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the lease.
    Claimed {
        /// Object key of an expired attempt that was taken over, to delete.
        abandoned_key: Option<String>,
    },
    /// Another attempt holds an unexpired lease on this hash.
    Busy,
}

/// Outcome of [`MetaStore::publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The caller's object is now the published file.
    Now(FileRecord),
    /// A file with this hash was already published; the caller's object is spare.
    Already(FileRecord),
    /// The caller no longer held the lease; nothing changed.
    LeaseLost,
}

/// The metadata store. Implementations: [`postgres::PostgresMeta`] for many
/// instances, [`sqlite::SqliteMeta`] for one.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Answers whether the database is reachable.
    async fn ping(&self) -> MetaResult<()>;

    /// The session of `owner` for `sha256`, in whatever state.
    async fn find_session(&self, owner: &str, sha256: &ContentHash) -> MetaResult<Option<Session>>;

    /// Inserts a session unless the owner has one for this hash.
    async fn insert_session(&self, session: &Session) -> MetaResult<Inserted>;

    /// Deletes a session and its chunk rows; `false` when it was not there.
    async fn delete_session(&self, id: &str) -> MetaResult<bool>;

    /// Deletes a session only if it is still expired at `now` and not merging.
    async fn delete_expired_session(&self, id: &str, now: DateTime<Utc>) -> MetaResult<bool>;

    /// Moves a session's expiry.
    async fn touch_session(&self, id: &str, expires_at: DateTime<Utc>) -> MetaResult<()>;

    /// The chunks recorded for a session, by ascending index.
    async fn chunks(&self, upload_id: &str) -> MetaResult<Vec<Chunk>>;

    /// Records a stored chunk if the session is `uploading`, extending its expiry.
    async fn record_chunk(
        &self,
        upload_id: &str,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded>;

    /// Moves a session from `uploading` to `merging` if every chunk is recorded.
    async fn start_merge(&self, upload_id: &str) -> MetaResult<bool>;

    /// Claims the merge lease of a hash, taking over one that expired before `now`.
    async fn claim_merge(&self, lease: &MergeLease, now: DateTime<Utc>) -> MetaResult<Claim>;

    /// Extends a held lease; `false` when the caller no longer holds it.
    async fn renew_merge(
        &self,
        sha256: &ContentHash,
        token: &str,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// Publishes verified bytes and completes the session, while the lease holds.
    async fn publish(
        &self,
        file: &FileRecord,
        upload_id: &str,
        token: &str,
    ) -> MetaResult<Published>;

    /// Marks a merging session `failed` and gives up its lease; `false` when
    /// the lease was no longer held.
    async fn fail_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &str,
        token: &str,
    ) -> MetaResult<bool>;

    /// Completes a merging session whose content another upload published.
    async fn complete_session(&self, upload_id: &str) -> MetaResult<bool>;

    /// Publishes a file outside any session (one-request uploads).
    async fn insert_file(&self, file: &FileRecord) -> MetaResult<Published>;

    /// The published file with this hash.
    async fn find_file(&self, sha256: &ContentHash) -> MetaResult<Option<FileRecord>>;

    /// Merging sessions with no unexpired lease on their hash at `now`.
    async fn stalled_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<Session>>;

    /// Up to `limit` sessions past their expiry at `now` that are not merging.
    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> MetaResult<Vec<Session>>;

    /// Leases that expired before `now` whose session is gone or not merging.
    async fn orphaned_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<MergeLease>>;

    /// Whether a session with this id exists, in any state.
    async fn session_exists(&self, id: &str) -> MetaResult<bool>;

    /// Whether a published file's bytes are stored under this key.
    async fn file_key_in_use(&self, object_key: &str) -> MetaResult<bool>;

    /// Gives up a lease if its token still matches, leaving any merging
    /// session for a later attempt; `false` when the token no longer held it.
    async fn drop_merge(&self, sha256: &ContentHash, token: &str) -> MetaResult<bool>;
}

fn parse_hash(text: String) -> Result<ContentHash, sqlx::Error> {
    ContentHash::parse(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn parse_status(text: String) -> Result<UploadStatus, sqlx::Error> {
    UploadStatus::parse(&text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown upload status {text:?}").into()))
}

fn to_u64(value: i64) -> Result<u64, sqlx::Error> {
    u64::try_from(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
