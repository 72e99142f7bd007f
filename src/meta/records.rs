//! What the metadata store keeps and answers: sessions, chunks, published
//! files, merge leases, and the outcomes of its conditional writes.

use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};

use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::running_hash::RunningSha256;

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

/// Why a merge failed its session, as the session records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeFailure {
    /// The chunks' bytes do not hash to the session's key.
    HashMismatch,
    /// The object store refused the merge (access denied, an operation it
    /// does not support, a request over its limits).
    StoreRefused,
    /// The object store kept failing the merge past the retry bound.
    StoreUnavailable,
}

impl MergeFailure {
    /// The text the database keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeFailure::HashMismatch => "hash-mismatch",
            MergeFailure::StoreRefused => "store-refused",
            MergeFailure::StoreUnavailable => "store-unavailable",
        }
    }

    /// The failure the database text names; sessions failed before a cause
    /// was recorded failed on a hash mismatch.
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("store-refused") => MergeFailure::StoreRefused,
            Some("store-unavailable") => MergeFailure::StoreUnavailable,
            _ => MergeFailure::HashMismatch,
        }
    }
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

/// Outcome of [`SessionStore::insert_session`](super::SessionStore::insert_session).
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

/// Outcome of [`ChunkStore::record_chunk`](super::ChunkStore::record_chunk).
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

/// Outcome of [`MergeStore::claim_merge`](super::MergeStore::claim_merge).
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

/// Outcome of [`MergeStore::publish`](super::MergeStore::publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The caller's object is now the published file.
    Now(FileRecord),
    /// A file with this hash was already published; the caller's object is spare.
    Already(FileRecord),
    /// The caller no longer held the lease; nothing changed.
    LeaseLost,
}
