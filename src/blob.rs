//! The bytes: staged chunks and published files in one object store.
//!
//! Keys are laid out so that any instance can find any object:
//! `chunks/<upload id>/<index>.<token>` for a staged chunk,
//! `files/sha256/<sha256>` for a published file, one object whatever way
//! it was uploaded (and `files/sha256/<sha256>.<token>` for an attempt's
//! temporary file beside it on a folder),
//! `files/direct/<token>` for a one-request upload before it is verified,
//! `files/<sha256>/<token>/<index>` for the parts of a file published
//! before files were one object (one per chunk, until they are moved),
//! `multipart/<token>` for the note of a multipart upload under way, and
//! `ferry-store.json` for the identity the store shares with its database.
//! The store is a local folder or an S3-compatible bucket; no instance
//! keeps anything of its own on disk when it is a bucket.
//! A fresh token per write means that no write ever overwrites another:
//! the database says which copy counts.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{Stream, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;
use sha2::{Digest, Sha256};

use ferry_proto::ContentHash;

use crate::ids::{ObjectKey, UploadId, WriteToken};
use crate::running_hash::RunningSha256;

/// Bytes a local store writes at once: one hop to the blocking pool each,
/// and what a write holds in memory (a piece filling, two being written), so
/// that 64 chunks arriving at once hold under 50 MiB.
const LOCAL_PIECE: usize = 256 << 10;

mod backend;
mod compose;
mod identity;
mod local_read;
mod parts;
mod reads;
mod refusal;
mod s3;
mod s3_compose;
mod s3_multipart;
mod s3_plan;
mod s3_requests;
mod s3_unfinished;
mod s3_uploads;
mod tracked;
mod writer;

use backend::Backend;
pub use compose::{ComposePart, Composed};
pub use parts::PartsError;
pub use s3::{MAX_COPY_SIZE, MIN_PART_SIZE, S3Options};
pub use tracked::NotedUpload;
use writer::{ObjectWriter, PendingAborts};

/// A failure of the object store.
#[derive(Debug, thiserror::Error)]
#[error("object store")]
pub struct BlobError(#[from] object_store::Error);

impl BlobError {
    /// Whether the failure may pass (the store is unreachable, slow or
    /// refusing for now), so that a client should try again.
    pub fn is_transient(&self) -> bool {
        matches!(self.0, object_store::Error::Generic { .. }) && !self.is_permanent()
    }

    /// Whether asking the store again cannot succeed until an operator
    /// changes it: a refusal (access denied, an operation or a link across
    /// file systems it does not support, a request over its limits) rather
    /// than a store that is unreachable or slow.
    pub fn is_permanent(&self) -> bool {
        use object_store::Error;
        match &self.0 {
            Error::NotSupported { .. }
            | Error::NotImplemented
            | Error::PermissionDenied { .. }
            | Error::Unauthenticated { .. }
            | Error::InvalidPath { .. } => true,
            Error::Generic { source, .. } => refusal::refused_by_the_store(source.as_ref()),
            _ => false,
        }
    }

    /// Whether the object asked for is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self.0, object_store::Error::NotFound { .. })
    }

    /// Whether the object asked for is there at another length than its
    /// record says.
    pub fn is_short(&self) -> bool {
        matches!(&self.0, object_store::Error::Generic { source, .. } if source.is::<OtherLength>())
    }

    fn other_length(key: &ObjectKey, stored: u64, expected: u64) -> Self {
        BlobError(object_store::Error::Generic {
            store: "length",
            source: Box::new(OtherLength {
                key: key.to_string(),
                stored,
                expected,
            }),
        })
    }

    fn io(store: &'static str, error: std::io::Error) -> Self {
        BlobError(object_store::Error::Generic {
            store,
            source: Box::new(error),
        })
    }
}

/// An object found at another length than its record says.
#[derive(Debug, thiserror::Error)]
#[error("{key} holds {stored} bytes, not {expected}")]
struct OtherLength {
    key: String,
    stored: u64,
    expected: u64,
}

/// Why a streamed write did not produce an object.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The source sent more bytes than allowed; nothing was kept.
    #[error("the body is longer than {limit} bytes")]
    TooLong {
        /// The most bytes the write accepts.
        limit: u64,
    },
    /// The source failed (the client went away, a malformed body); nothing was kept.
    #[error("the body could not be read: {0}")]
    Source(String),
    /// The store failed; nothing was kept.
    #[error(transparent)]
    Store(#[from] BlobError),
}

/// What a completed write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub size: u64,
    /// Their SHA-256, computed as they streamed through.
    pub sha256: ContentHash,
}

/// The object store with ferry's key layout, streaming in and out.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
    aborts: PendingAborts,
}

/// Told the length and the running hash of a write as soon as its last
/// byte is hashed.
type Hashed<'a> = Box<dyn FnOnce(u64, &RunningSha256) + Send + 'a>;

impl BlobStore {
    /// Opens the store named by `location`: `memory://`, a `file://` URL, or a
    /// plain folder path, created if missing; `s3://` buckets as the
    /// environment's `AWS_*` variables describe them.
    pub fn open(location: &str) -> Result<Self, BlobError> {
        Self::open_with(location, &S3Options::default())
    }

    /// Opens the store named by `location`, reaching `s3://` buckets as
    /// `s3` says.
    pub fn open_with(location: &str, s3: &S3Options) -> Result<Self, BlobError> {
        Ok(Self::over(Backend::open(location, s3)?))
    }

    /// Wraps any object store; `part_size` is the buffer of each streamed write.
    pub fn new(store: Arc<dyn ObjectStore>, part_size: usize) -> Self {
        Self::over(Backend::Other { store, part_size })
    }

    fn over(backend: Backend) -> Self {
        BlobStore {
            backend,
            aborts: PendingAborts::default(),
        }
    }

    /// This store with its object store wrapped by `wrap` (a layer that
    /// counts, delays or injects faults), keeping its key layout and its
    /// local disk's own paths.
    pub fn wrapped(
        mut self,
        wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    ) -> Self {
        self.backend = self.backend.wrapped(wrap);
        self
    }

    fn store(&self) -> &dyn ObjectStore {
        self.backend.store()
    }

    /// The key of one staged copy of a chunk.
    pub fn chunk_key(upload_id: &UploadId, index: u64, token: &WriteToken) -> ObjectKey {
        key(format!("chunks/{upload_id}/{index}.{token}"))
    }

    /// The folder holding every staged chunk of an upload.
    pub fn chunks_prefix(upload_id: &UploadId) -> String {
        format!("chunks/{upload_id}/")
    }

    /// The one key of the published file with this hash.
    pub fn published_key(sha256: &ContentHash) -> ObjectKey {
        key(format!("files/sha256/{sha256}"))
    }

    /// Whether `key` is a published file's stable key.
    pub fn is_published_key(key: &ObjectKey) -> bool {
        key.as_str()
            .strip_prefix("files/sha256/")
            .is_some_and(|hex| ContentHash::parse(hex).is_ok_and(|hash| hash.to_hex() == hex))
    }

    /// The key a one-request upload writes its bytes to.
    pub fn direct_key(token: &WriteToken) -> ObjectKey {
        key(format!("files/direct/{token}"))
    }

    /// Waits until every write dropped so far has removed what it had sent.
    pub async fn settle(&self) {
        self.aborts.settle().await;
    }

    /// Answers whether the store can be listed.
    pub async fn ping(&self) -> Result<(), BlobError> {
        let mut listing = self.store().list(Some(&Path::from("files")));
        if let Some(entry) = listing.next().await {
            entry?;
        }
        Ok(())
    }

    /// Streams `source` into `key`, hashing it, keeping at most `limit` bytes.
    /// On any failure the partial object is aborted and nothing is kept.
    pub async fn write<S, E>(
        &self,
        key: &ObjectKey,
        source: S,
        limit: u64,
    ) -> Result<Written, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let (written, _, _) = self
            .write_with(key, source, limit, None, false, None)
            .await?;
        Ok(written)
    }

    /// Streams `source` into `key` as [`write`](Self::write) does, and
    /// answers the object's bytes too, in the pieces the write sent, when
    /// they are few enough to keep (up to 8 MiB): the buffers the write
    /// filled, not a copy.
    pub async fn write_kept<S, E>(
        &self,
        key: &ObjectKey,
        source: S,
        limit: u64,
    ) -> Result<(Written, Option<Vec<Bytes>>), WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let (written, _, kept) = self
            .write_with(key, source, limit, None, true, None)
            .await?;
        Ok((written, kept))
    }

    /// Most bytes a write of at most `limit` bytes holds in memory at once,
    /// its bytes kept (by [`write_kept`](Self::write_kept)) or not.
    pub fn write_buffer(&self, limit: u64, keep: bool) -> u64 {
        writer::buffered(self.backend.part_size(), limit, keep)
    }

    /// Streams `source` into `key` as [`write`](Self::write) does, and takes
    /// its bytes into `running` too, answering the state after them.
    /// `hashed` learns the length and the state as soon as the last byte is
    /// hashed, before the object is stored and flushed.
    pub async fn write_continuing<S, E>(
        &self,
        key: &ObjectKey,
        source: S,
        limit: u64,
        running: RunningSha256,
        hashed: impl FnOnce(u64, &RunningSha256) + Send,
    ) -> Result<(Written, RunningSha256), WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let running = Some(running);
        let (written, running, _) = self
            .write_with(key, source, limit, running, false, Some(Box::new(hashed)))
            .await?;
        Ok((written, running.unwrap_or_default()))
    }

    /// Streams `source` into `key` as [`write`](Self::write) does, taking
    /// its bytes into `running` only, with no hash of the object on its
    /// own (an append of an upload whose hash is learned at the end);
    /// answers its length and the state after.
    pub async fn write_appending<S, E>(
        &self,
        key: &ObjectKey,
        source: S,
        limit: u64,
        mut running: RunningSha256,
    ) -> Result<(u64, RunningSha256), WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let (backend, aborts) = (self.backend.clone(), self.aborts.clone());
        let mut writer = ObjectWriter::new(backend, aborts, path(key), limit, false);
        match copy_hashed(&mut writer, source, limit, None, Some(&mut running)).await {
            Ok(size) => {
                writer.finish().await.map_err(BlobError)?;
                self.flush(key, 1).await?;
                Ok((size, running))
            }
            Err(error) => {
                writer.abort().await;
                Err(error)
            }
        }
    }

    async fn write_with<S, E>(
        &self,
        key: &ObjectKey,
        source: S,
        limit: u64,
        mut running: Option<RunningSha256>,
        keep: bool,
        hashed: Option<Hashed<'_>>,
    ) -> Result<(Written, Option<RunningSha256>, Option<Vec<Bytes>>), WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let (backend, aborts) = (self.backend.clone(), self.aborts.clone());
        let mut writer = ObjectWriter::new(backend, aborts, path(key), limit, keep);
        let mut own = Sha256::new();
        match copy_hashed(&mut writer, source, limit, Some(&mut own), running.as_mut()).await {
            Ok(size) => {
                if let (Some(hashed), Some(running)) = (hashed, &running) {
                    hashed(size, running);
                }
                let written = Written {
                    size,
                    sha256: ContentHash::from_digest(own.finalize().into()),
                };
                let kept = writer.finish().await.map_err(BlobError)?;
                self.flush(key, 1).await?;
                Ok((written, running, kept))
            }
            Err(error) => {
                writer.abort().await;
                Err(error)
            }
        }
    }

    /// Flushes the object or folder at `key`, and the `folders_above` it, to
    /// disk on a local store, so that what was answered as stored survives
    /// a power loss. Object stores over the network are durable once a
    /// write returns.
    async fn flush(&self, key: &ObjectKey, folders_above: usize) -> Result<(), BlobError> {
        let Backend::Local { folder, .. } = &self.backend else {
            return Ok(());
        };
        let path = folder.path_to_filesystem(&path(key))?;
        on_local_disk(move || {
            for path in path.ancestors().take(1 + folders_above) {
                std::fs::File::open(path)?.sync_all()?;
            }
            Ok(())
        })
        .await
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, BlobError> {
        match self.store().head(&path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The folders directly under `prefix`, as keys such as `chunks/<id>`.
    pub async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let listing = self
            .store()
            .list_with_delimiter(Some(&Path::from(prefix)))
            .await?;
        Ok(listing
            .common_prefixes
            .into_iter()
            .map(|folder| folder.to_string())
            .collect())
    }

    /// The keys under `prefix` last written before `cutoff`.
    pub async fn list_written_before(
        &self,
        prefix: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<ObjectKey>, BlobError> {
        self.store()
            .list(Some(&Path::from(prefix)))
            .try_filter(|meta| futures::future::ready(meta.last_modified < cutoff))
            .try_filter_map(|meta| {
                futures::future::ready(Ok(ObjectKey::parse(meta.location.to_string()).ok()))
            })
            .try_collect()
            .await
            .map_err(BlobError)
    }

    /// Deletes one object; a missing object is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        match self.store().delete(&path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes every object under a folder; on a local store the folder
    /// goes whole, with the temporary file of any write cut off in it (the
    /// store's listings never show those). Answers whether anything was
    /// there to delete.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<bool, BlobError> {
        let prefix = Path::from(prefix);
        if prefix.as_ref().is_empty() {
            let refusal = std::io::Error::other("refusing to delete the whole store");
            return Err(BlobError::io("delete", refusal));
        }
        if let Backend::Local { folder, .. } = &self.backend {
            let folder = folder.path_to_filesystem(&prefix)?;
            return on_local_disk(move || match std::fs::remove_dir_all(&folder) {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(error),
            })
            .await;
        }
        let locations = self
            .store()
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store().delete_stream(locations);
        let mut found = false;
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => found = true,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(found)
    }
}

/// Streams `source` into `writer`, up to `limit` bytes, hashing it into
/// `own` and `running`, where given; answers its length.
async fn copy_hashed<S, E>(
    writer: &mut ObjectWriter,
    source: S,
    limit: u64,
    mut own: Option<&mut Sha256>,
    mut running: Option<&mut RunningSha256>,
) -> Result<u64, WriteError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut source = std::pin::pin!(source);
    let mut size = 0u64;
    while let Some(piece) = source.next().await {
        let piece = piece.map_err(|e| WriteError::Source(e.to_string()))?;
        size = size.saturating_add(piece.len() as u64);
        if size > limit {
            return Err(WriteError::TooLong { limit });
        }
        if let Some(own) = own.as_deref_mut() {
            own.update(&piece);
        }
        if let Some(running) = running.as_deref_mut() {
            running.update(&piece);
        }
        writer.put(piece).await.map_err(BlobError)?;
    }
    Ok(size)
}

/// Runs file-system work of a local store on the blocking pool.
async fn on_local_disk<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    on_blocking_pool(move || work().map_err(|e| BlobError::io("local", e))).await
}

/// Runs `work` on the blocking pool; a task lost there is a failure of the
/// local store.
async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::io("local", std::io::Error::other(e)))?
}

fn path(key: &ObjectKey) -> Path {
    Path::from(key.as_str())
}

/// A key this module built from valid ids, hashes and indices.
fn key(text: String) -> ObjectKey {
    ObjectKey::parse(text).unwrap_or_else(|_| unreachable!("keys are built from valid segments"))
}
