//! Uploads whose hash is learned at the end: what the store keeps of them
//! and the one trait that keeps it. See [`AppendedStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};

use super::{FileRecord, MetaResult, OwnerUsage, Published, SessionQuota};
use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::running_hash::RunningSha256;

/// What an appended upload is to the uploads around it (tus concatenation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concat {
    /// A file of its own, published at its last byte.
    None,
    /// A piece of a later final upload; never published itself.
    Partial,
    /// Pieces joined in order, published as one file.
    Final,
}

impl Concat {
    /// The text the database keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Concat::None => "none",
            Concat::Partial => "partial",
            Concat::Final => "final",
        }
    }

    /// The kind the database text names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Concat::None),
            "partial" => Some(Concat::Partial),
            "final" => Some(Concat::Final),
            _ => None,
        }
    }
}

/// An upload created without a hash and appended to in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedUpload {
    /// The server's id; names the folder of its segments.
    pub id: UploadId,
    /// Who may see and touch it.
    pub owner: OwnerId,
    /// The whole length, once the client said it.
    pub length: Option<u64>,
    /// Bytes received so far: where the next append starts.
    pub offset: u64,
    /// Segments recorded so far: the index of the next.
    pub segments: u64,
    /// The SHA-256 state after the bytes received.
    pub running: RunningSha256,
    /// The `Upload-Metadata` header as the client sent it.
    pub metadata: Option<String>,
    /// Name offered in the download URL.
    pub filename: Option<FileName>,
    /// Media type to serve the file with.
    pub content_type: Option<MediaType>,
    /// The whole file's SHA-256 as the client announced it, checked at the end.
    pub claimed: Option<ContentHash>,
    /// Whether it stands alone, is a piece, or joins pieces.
    pub concat: Concat,
    /// Where it stands; `complete` once its bytes are published (or, for a
    /// partial upload, all received).
    pub status: UploadStatus,
    /// The SHA-256 it was published under, once complete.
    pub sha256: Option<ContentHash>,
    /// When the sweep may remove it.
    pub expires_at: DateTime<Utc>,
}

impl AppendedUpload {
    /// Whether every byte has arrived.
    pub fn is_whole(&self) -> bool {
        self.length == Some(self.offset)
    }
}

/// The object holding the bytes of one append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its place in the upload, from 0.
    pub index: u64,
    /// Its length in bytes, never 0.
    pub size: u64,
    /// Where its bytes are.
    pub object_key: ObjectKey,
}

/// One append, to be recorded if the upload is still where the client
/// thought it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The offset the append starts at.
    pub from: u64,
    /// Its bytes' object, unless it brought none.
    pub segment: Option<Segment>,
    /// The SHA-256 state after its bytes.
    pub running: RunningSha256,
    /// The whole length, if the client declares it with this append.
    pub length: Option<u64>,
    /// The upload's new expiry.
    pub expires_at: DateTime<Utc>,
}

/// Outcome of [`AppendedStore::append`] and [`AppendedStore::publish_appended`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Recorded; the upload now stands as answered.
    Accepted(AppendedUpload),
    /// The upload is not at the offset the append starts at (another
    /// append won), not uploading, or gone: nothing changed.
    Refused(Option<AppendedUpload>),
}

/// Appended uploads and their segments.
///
/// An append is one conditional write: it succeeds only while the upload
/// is `uploading` at exactly the offset the append starts at, so that of
/// two appends at one offset exactly one wins. Publishing the last append
/// is one transaction too: it needs the merge lease of the hash, moves the
/// upload from that offset to complete, and inserts the file unless one
/// with the hash is there.
#[async_trait]
pub trait AppendedStore: Send + Sync {
    /// Inserts a new upload, unless it would take its owner's live
    /// uploads at `now` over `quota`: then answers the owner's usage.
    async fn insert_appended(
        &self,
        upload: &AppendedUpload,
        quota: Option<SessionQuota>,
        now: DateTime<Utc>,
    ) -> MetaResult<Result<(), OwnerUsage>>;

    /// The upload with this id, in whatever state.
    async fn find_appended(&self, id: &UploadId) -> MetaResult<Option<AppendedUpload>>;

    /// Records an append if the upload is uploading at `append.from`.
    async fn append(&self, id: &UploadId, append: &Append) -> MetaResult<Appended>;

    /// The segments of an upload, in order.
    async fn segments(&self, id: &UploadId) -> MetaResult<Vec<Segment>>;

    /// Records the last append and publishes `file` as one step, while the
    /// lease `token` on its hash holds and the upload is uploading at
    /// `append.from`; the lease is given up. `Ok(None)` when the lease was
    /// lost; [`Appended::Refused`] when the upload moved on.
    async fn publish_appended(
        &self,
        id: &UploadId,
        append: &Append,
        file: &FileRecord,
        token: &WriteToken,
    ) -> MetaResult<Option<(Appended, Published)>>;

    /// Marks an upload that is uploading at `offset` `failed`; `false` when
    /// it moved on.
    async fn fail_appended(&self, id: &UploadId, offset: u64) -> MetaResult<bool>;

    /// Deletes an upload and its segment rows; `false` when it was not there.
    async fn delete_appended(&self, id: &UploadId) -> MetaResult<bool>;

    /// Up to `limit` uploads past their expiry at `now`.
    async fn expired_appended(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> MetaResult<Vec<AppendedUpload>>;

    /// Deletes an upload only if it is still expired at `now`.
    async fn delete_expired_appended(&self, id: &UploadId, now: DateTime<Utc>) -> MetaResult<bool>;
}
