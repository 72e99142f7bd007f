//! The metadata store: upload sessions, received chunks, merge leases and
//! published files, kept in a relational database.
//!
//! # Contract
//!
//! Every implementation must keep these promises; `conformance` checks them.
//!
//! * **Sessions** are unique per `(owner, sha256)`. [`MetaStore::insert_session`]
//!   never replaces a row: when one exists it answers [`Inserted::Existing`].
//!   [`MetaStore::insert_session_within`] checks the owner's quota and inserts
//!   as one step, so that concurrent inserts cannot together exceed it.
//! * **Chunks** are recorded only while their session is `uploading`, checked
//!   in the same transaction as the write, so that no chunk changes after a
//!   merge has started. Recording an index again replaces the row and hands
//!   back the object key it replaced.
//! * **Hash links** say what the file's running SHA-256 was before and after
//!   a chunk's bytes. A link is written only for the chunk copy it was
//!   computed from, and recording a chunk again clears it, and with other
//!   bytes than before, the links of every chunk after it too.
//! * **Starting a merge** moves a session from `uploading` to `merging` only
//!   when every chunk is recorded; of two concurrent callers exactly one wins.
//! * **Merge leases** are per content hash: at most one unexpired lease exists
//!   for a hash. A lease whose time has passed can be taken over, and the new
//!   holder learns the object key the old one was writing.
//! * **Publishing** is one transaction: it succeeds only while the caller
//!   still holds the lease, inserts the file unless one with this hash is
//!   there, and marks the session `complete`. A file row, once written,
//!   changes only by a repair, which points it from an object found missing
//!   to a verified copy of the same bytes, and only while it still names the
//!   missing one: the database is the only authority on what is published.
//! * Times are passed in by the caller, so that expiry can be tested.
//!
//! Both databases run the same SQL text (`meta/sql.rs`); what differs between them
//! is named once each in [`postgres`] and [`sqlite`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};

use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::running_hash::RunningSha256;

mod chunk_bits;
#[macro_use]
mod sql;
pub mod postgres;
pub mod sqlite;

/// A failure of the database itself, split by whether it may pass.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database cannot be reached now (a pool timeout, a closed pool, a
    /// lost connection, a busy lock): asking again later may succeed.
    #[error("the metadata database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A query failed in a way retrying will not mend (a row that does not
    /// decode, a violated constraint, a migration that does not apply).
    #[error("the metadata database failed")]
    Fault(#[source] sqlx::Error),
}

impl MetaError {
    /// Whether the failure may pass, so that a client should try again.
    pub fn is_transient(&self) -> bool {
        matches!(self, MetaError::Unavailable(_))
    }
}

impl From<sqlx::Error> for MetaError {
    fn from(error: sqlx::Error) -> Self {
        if is_passing(&error) {
            MetaError::Unavailable(error)
        } else {
            MetaError::Fault(error)
        }
    }
}

impl From<sqlx::migrate::MigrateError> for MetaError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        MetaError::from(sqlx::Error::from(error))
    }
}

/// PostgreSQL's SQLSTATE classes and codes of failures that pass: lost
/// connections (08), serialization failures and deadlocks (40001, 40P01),
/// too many connections (53300), and a server shutting down (57P01-57P03).
const PASSING_POSTGRES_STATES: [&str; 6] = ["40001", "40P01", "53300", "57P01", "57P02", "57P03"];

/// SQLite's result codes of failures that pass: the database is busy or locked.
const PASSING_SQLITE_CODES: [&str; 2] = ["5", "6"];

fn is_passing(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08")
                || PASSING_POSTGRES_STATES.contains(&code.as_ref())
                || PASSING_SQLITE_CODES.contains(&code.as_ref())
        }),
        _ => false,
    }
}

/// Result of a metadata operation.
pub type MetaResult<T> = Result<T, MetaError>;

/// One upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Unique id; names the folder of its staged chunks.
    pub id: UploadId,
    /// Who may see and touch the session.
    pub owner: OwnerId,
    /// The key: SHA-256 of the whole file.
    pub sha256: ContentHash,
    /// Size of the whole file.
    pub size: u64,
    /// Size of every chunk but the last.
    pub chunk_size: u64,
    /// Name offered in the download URL.
    pub filename: Option<FileName>,
    /// Media type to serve the file with.
    pub content_type: Option<MediaType>,
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
    /// SHA-256 of its bytes.
    pub sha256: ContentHash,
    /// Where its bytes are in the object store.
    pub object_key: ObjectKey,
    /// The file's running hash across this copy of the chunk, once computed.
    pub link: Option<HashLink>,
}

/// The running SHA-256 of a file across one of its chunks, computed by the
/// server from the chunk's stored copy: the state before its bytes and
/// after them. Links that meet end to end from the first chunk to the last
/// give the whole file's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashLink {
    /// The state after every chunk before this one.
    pub before: RunningSha256,
    /// The state after this chunk too.
    pub after: RunningSha256,
}

/// The first chunk of a session whose hash link is missing, with the chunk
/// before it, if that one is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlinked {
    /// The chunk to link next.
    pub chunk: Chunk,
    /// The chunk at the index before, whose link's end is where this
    /// chunk's link starts.
    pub previous: Option<Chunk>,
}

/// What a session has received, summed up by the database: the received
/// chunk indices as sorted, merged, inclusive runs, and their bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedChunks {
    /// Runs of received indices, `[first, last]`, ascending.
    pub runs: Vec<[u64; 2]>,
    /// Sum of the received chunks' sizes.
    pub bytes: u64,
}

/// A task that is aborted when its handle is dropped, so that a caller who
/// stops waiting does not leave it running.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A published file: verified bytes under their hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// SHA-256 of the bytes.
    pub sha256: ContentHash,
    /// Their length.
    pub size: u64,
    /// Media type given by the upload that published it.
    pub content_type: Option<MediaType>,
    /// Where the bytes are in the object store: the one object under this
    /// key, or, with a `part_size`, the objects `<object_key>/<index>`.
    pub object_key: ObjectKey,
    /// The length of every part but the last, when the bytes are stored in
    /// parts (a merged upload's chunks, in order).
    pub part_size: Option<u64>,
    /// When it was published: its Last-Modified, the same on every instance.
    pub published_at: DateTime<Utc>,
}

/// A claim on the one merge a content hash may have at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeLease {
    /// The content hash being merged.
    pub sha256: ContentHash,
    /// The session whose chunks are merged.
    pub upload_id: UploadId,
    /// Unique per attempt; proves who holds the lease.
    pub token: WriteToken,
    /// Where this attempt writes the merged bytes.
    pub object_key: ObjectKey,
    /// Until when the lease holds unless renewed.
    pub lease_until: DateTime<Utc>,
}

/// What one owner holds in live sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerUsage {
    /// Sessions uploading or merging.
    pub sessions: u64,
    /// The sizes of their files, added up.
    pub bytes: u64,
}

/// The most one owner may hold in live sessions once a session is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionQuota {
    /// Live sessions.
    pub max_sessions: u64,
    /// The sizes of their files, added up.
    pub max_bytes: u64,
}

impl SessionQuota {
    /// Whether one more session of `size` bytes on top of `usage` fits.
    pub fn admits(&self, usage: OwnerUsage, size: u64) -> bool {
        usage.sessions < self.max_sessions && usage.bytes.saturating_add(size) <= self.max_bytes
    }
}

/// Outcome of [`MetaStore::insert_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The session is new.
    Created(Session),
    /// A session for this owner and hash was already there; it is unchanged.
    Existing(Session),
    /// The session would take its owner over the quota, with this usage;
    /// nothing was inserted.
    OverQuota(OwnerUsage),
}

/// Outcome of [`MetaStore::record_chunk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The chunk is recorded.
    Accepted {
        /// Key of the copy it replaced, to delete.
        replaced_key: Option<ObjectKey>,
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
        abandoned_key: Option<ObjectKey>,
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

    /// Connections of the pool in use now.
    fn connections_in_use(&self) -> u32;

    /// The database's time: what merge leases are measured by, so that
    /// instances whose clocks disagree still agree on who holds a lease.
    async fn clock(&self) -> MetaResult<DateTime<Utc>>;

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

    /// Inserts a session as [`MetaStore::insert_session`] does, unless it
    /// would take its owner's live sessions at `now` over `quota`
    /// ([`Inserted::OverQuota`]). The check and the insert are one step:
    /// concurrent inserts of one owner cannot together exceed the quota.
    async fn insert_session_within(
        &self,
        session: &Session,
        quota: SessionQuota,
        now: DateTime<Utc>,
    ) -> MetaResult<Inserted>;

    /// Deletes a session and its chunk rows; `false` when it was not there.
    async fn delete_session(&self, id: &UploadId) -> MetaResult<bool>;

    /// Deletes a session only if it is still expired at `now` and not merging.
    async fn delete_expired_session(&self, id: &UploadId, now: DateTime<Utc>) -> MetaResult<bool>;

    /// Moves a session's expiry forward to `expires_at` (never back).
    async fn touch_session(&self, id: &UploadId, expires_at: DateTime<Utc>) -> MetaResult<()>;

    /// The chunks recorded for a session, by ascending index.
    async fn chunks(&self, upload_id: &UploadId) -> MetaResult<Vec<Chunk>>;

    /// What the session has received, computed without loading its chunks.
    async fn received(&self, upload_id: &UploadId) -> MetaResult<ReceivedChunks>;

    /// Records a stored chunk if the session is `uploading`, extending its expiry.
    async fn record_chunk(
        &self,
        upload_id: &UploadId,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded>;

    /// The chunk of a session at `index`, if recorded.
    async fn chunk(&self, upload_id: &UploadId, index: u64) -> MetaResult<Option<Chunk>>;

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

    /// Marks a merging session `failed` and gives up its lease; `false` when
    /// the lease was no longer held.
    async fn fail_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &UploadId,
        token: &WriteToken,
    ) -> MetaResult<bool>;

    /// Points the published file `file.sha256` at the verified copy `file`
    /// (its object key and part size), if it still names `missing_key`,
    /// whose object was found missing; `false` when it no longer does.
    async fn repair_file(&self, file: &FileRecord, missing_key: &ObjectKey) -> MetaResult<bool>;

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

    /// The state of the session with this id, if its row is there: one
    /// uploading or merging still needs its staged chunks.
    async fn session_status(&self, id: &UploadId) -> MetaResult<Option<UploadStatus>>;

    /// Whether a published file, or a merge under way, points at this key.
    async fn object_key_in_use(&self, object_key: &ObjectKey) -> MetaResult<bool>;

    /// Whether a merge under way writes to this key (its lease names it).
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

    /// The `limit` files published last, newest first.
    async fn newest_files(&self, limit: u32) -> MetaResult<Vec<FileRecord>>;

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

    /// Gives up a lease if its token still matches, leaving any merging
    /// session for a later attempt; `false` when the token no longer held it.
    async fn drop_merge(&self, sha256: &ContentHash, token: &WriteToken) -> MetaResult<bool>;
}

/// A session row's columns as stored, whichever driver read them.
struct StoredSession {
    id: String,
    owner: String,
    sha256: String,
    size: i64,
    chunk_size: i64,
    filename: Option<String>,
    content_type: Option<String>,
    status: String,
    expires_at: DateTime<Utc>,
}

impl StoredSession {
    /// The session, once every column holds what it should.
    fn checked(self) -> Result<Session, sqlx::Error> {
        Ok(Session {
            id: decoded(UploadId::parse(self.id))?,
            owner: decoded(OwnerId::parse(self.owner))?,
            sha256: decoded(ContentHash::parse(&self.sha256))?,
            size: to_u64(self.size)?,
            chunk_size: to_u64(self.chunk_size)?,
            filename: self
                .filename
                .map(FileName::parse)
                .map(decoded)
                .transpose()?,
            content_type: self
                .content_type
                .map(MediaType::parse)
                .map(decoded)
                .transpose()?,
            status: parse_status(self.status)?,
            expires_at: self.expires_at,
        })
    }
}

/// Turns a stored value that fails its own check into a decode error.
fn decoded<T, E>(parsed: Result<T, E>) -> Result<T, sqlx::Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    parsed.map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

fn parse_status(text: String) -> Result<UploadStatus, sqlx::Error> {
    UploadStatus::parse(&text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown upload status {text:?}").into()))
}

fn to_u64(value: i64) -> Result<u64, sqlx::Error> {
    decoded(u64::try_from(value))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
