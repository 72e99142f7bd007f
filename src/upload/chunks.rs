//! Receiving one chunk: check it against the session, stream it to the
//! store while hashing, verify it, then record it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferry_proto::{ChunkReceipt, ContentHash, UploadStatus};
use futures::Stream;

use super::Uploads;
use super::buffer_budget::Buffer;
use super::chunk_plan::ChunkPlan;
use super::error::{UploadError, UploadResult};
use super::in_flight::{Arrival, PREDECESSOR_WAIT, Waited};
use crate::blob::{BlobError, BlobStore, WriteError, Written};
use crate::ids::{ObjectKey, OwnerId, WriteToken};
use crate::meta::{Chunk, HashLink, Recorded, Session};
use crate::running_hash::RunningSha256;

/// A chunk the session is ready to receive: its index and exact length,
/// and the file's running hash before it, when that is known.
#[derive(Debug, Clone)]
pub struct ChunkTarget {
    session: Session,
    index: u64,
    expected: u64,
    running: Option<RunningSha256>,
    asked_at: Instant,
    arrival: Arc<Arrival>,
}

impl ChunkTarget {
    /// The refusal of a body that is not this chunk's size.
    pub fn size_mismatch(&self) -> UploadError {
        UploadError::ChunkSizeMismatch {
            index: self.index,
            expected: self.expected,
        }
    }

    /// The session's chunk size: the most any of its chunks holds.
    pub fn chunk_size(&self) -> u64 {
        self.session.chunk_size
    }
}

/// A chunk written to the store but not yet recorded, with its hash link
/// when it was hashed into the file's running hash as it arrived, else its
/// bytes when the write held them whole, for the hash window. It is held
/// there before it is recorded, so that the linking finds it as soon as
/// the database shows it.
#[derive(Debug)]
pub struct StagedChunk {
    key: ObjectKey,
    written: Written,
    link: Option<HashLink>,
    kept: Option<Vec<Bytes>>,
    _buffer: Buffer,
}

impl Uploads {
    /// Checks that the owner's session takes chunk `index`, and that a
    /// declared length fits, before any of the body is read.
    pub async fn chunk_target(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        index: u64,
        declared_len: Option<u64>,
        now: DateTime<Utc>,
    ) -> UploadResult<ChunkTarget> {
        let session = self.live_session(owner, sha256, now).await?;
        if session.status != UploadStatus::Uploading {
            return Err(UploadError::NotWritable(session.status));
        }
        let plan = ChunkPlan {
            size: session.size,
            chunk_size: session.chunk_size,
        };
        let expected = plan
            .chunk_len(index)
            .ok_or(UploadError::ChunkIndexOutOfRange {
                index,
                chunk_count: plan.chunk_count(),
            })?;
        match declared_len {
            Some(len) if len > session.chunk_size => {
                return Err(UploadError::ChunkTooLarge {
                    limit: session.chunk_size,
                });
            }
            Some(len) if len != expected => {
                return Err(UploadError::ChunkSizeMismatch { index, expected });
            }
            _ => {}
        }
        let arrival = self.in_flight.arrive(&session.id, index);
        let mut running = self.running_hash_before(&session.id, index).await?;
        let previous = index.checked_sub(1).filter(|_| running.is_none());
        if let Some(previous) = previous.filter(|&i| self.in_flight.is_arriving(&session.id, i)) {
            self.metrics.chunk_waited();
            running = match self
                .in_flight
                .wait_for(&session.id, previous, PREDECESSOR_WAIT)
                .await
            {
                Waited::Hashed(after) => Some(after),
                Waited::Ended => self.running_hash_before(&session.id, index).await?,
                Waited::NotArriving | Waited::TimedOut => None,
            };
        }
        Ok(ChunkTarget {
            session,
            index,
            expected,
            running,
            asked_at: Instant::now(),
            arrival: Arc::new(arrival),
        })
    }

    /// Streams a chunk's body into a fresh object, refusing any other length.
    pub async fn stage_chunk<S, E>(
        &self,
        target: &ChunkTarget,
        body: S,
    ) -> UploadResult<StagedChunk>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let keep = target.running.is_none();
        let buffer = self.write_buffer(target.expected, keep).await?;
        let key = BlobStore::chunk_key(&target.session.id, target.index, &WriteToken::generate());
        let mismatch = || target.size_mismatch();
        let stored = match target.running.clone() {
            Some(before) => self
                .blobs
                .write_continuing(
                    &key,
                    body,
                    target.expected,
                    before.clone(),
                    |size, after| {
                        if size == target.expected {
                            target.arrival.hashed(after);
                        }
                    },
                )
                .await
                .map(|(written, after)| (written, Some(HashLink { before, after }), None)),
            None => self
                .blobs
                .write_kept(&key, body, target.expected)
                .await
                .map(|(written, kept)| (written, None, kept)),
        };
        let (written, link, kept) = match stored {
            Ok(stored) => stored,
            Err(WriteError::TooLong { .. }) => return Err(mismatch()),
            Err(WriteError::Source(reason)) => return Err(UploadError::BodyUnreadable(reason)),
            Err(WriteError::Store(error)) => {
                return Err(self.chunk_write_failed(target, &key, error).await);
            }
        };
        let staged = StagedChunk {
            key,
            written,
            link,
            kept,
            _buffer: buffer,
        };
        if written.size != target.expected {
            self.discard(staged).await;
            return Err(mismatch());
        }
        Ok(staged)
    }

    /// Verifies a staged chunk against the digest the client sent, if any,
    /// and records it, replacing any earlier copy. A refused chunk leaves no
    /// trace.
    pub async fn accept_chunk(
        &self,
        target: ChunkTarget,
        mut staged: StagedChunk,
        digest: Option<ContentHash>,
        now: DateTime<Utc>,
    ) -> UploadResult<ChunkReceipt> {
        if digest.is_some_and(|claimed| claimed != staged.written.sha256) {
            self.discard(staged).await;
            self.metrics.digest_mismatch();
            tracing::info!(owner = %target.session.owner, sha256 = %target.session.sha256, index = target.index, "chunk refused: it does not match its digest");
            return Err(UploadError::DigestMismatch);
        }
        let chunk = Chunk {
            index: target.index,
            size: staged.written.size,
            sha256: staged.written.sha256,
            object_key: staged.key.clone(),
            link: staged.link.clone(),
        };
        let id = &target.session.id;
        let held = match staged.kept.take() {
            Some(bytes) if chunk.link.is_none() => {
                self.window.hold(id, chunk.index, &chunk.object_key, bytes)
            }
            _ => false,
        };
        let let_go = || {
            if held {
                self.window.take(id, chunk.index, &chunk.object_key);
            }
        };
        let expires_at = now + self.timings.session_ttl;
        let recorded = self
            .meta
            .record_chunk(&target.session.id, &chunk, expires_at)
            .await;
        let (replaced_key, received_count, received_bytes) = match recorded {
            Ok(Recorded::Accepted {
                replaced_key,
                received_count,
                received_bytes,
            }) => (replaced_key, received_count, received_bytes),
            Ok(Recorded::NotWritable(status)) => {
                let_go();
                self.discard(staged).await;
                return Err(UploadError::NotWritable(status));
            }
            Ok(Recorded::SessionGone) => {
                let_go();
                self.discard(staged).await;
                return Err(UploadError::UploadNotFound);
            }
            Err(error) => {
                tracing::warn!(key = %staged.key, "recording a chunk failed with an unknown outcome; its copy stays until the session ends");
                return Err(error.into());
            }
        };
        if let Some(old) = replaced_key
            && let Err(error) = self.blobs.delete(&old).await
        {
            tracing::warn!(key = %old, %error, "could not delete a replaced chunk copy");
        }
        self.metrics.chunk_received(chunk.size);
        if chunk.link.is_some() {
            self.metrics.chunk_linked();
        }
        self.link_after_accepting(id).await;
        tracing::debug!(
            owner = %target.session.owner,
            sha256 = %target.session.sha256,
            index = chunk.index,
            size = chunk.size,
            seconds = target.asked_at.elapsed().as_secs_f64(),
            received_count,
            "chunk accepted"
        );
        Ok(ChunkReceipt {
            index: chunk.index,
            size: chunk.size,
            sha256: chunk.sha256.to_hex(),
            received_bytes,
            received_count,
            chunk_count: target.session.chunk_count(),
        })
    }

    /// Why a chunk's write failed in the store. An abort, a publication or
    /// a new session removes the session's chunk folder, temporary files
    /// included, under a write still arriving: that write answers what the
    /// session's state says, as one that finished first would, and not a
    /// store failure a client would try again.
    async fn chunk_write_failed(
        &self,
        target: &ChunkTarget,
        key: &ObjectKey,
        error: BlobError,
    ) -> UploadError {
        let session = &target.session;
        let refusal = match self
            .meta
            .find_session(&session.owner, &session.sha256)
            .await
        {
            Ok(Some(now)) if now.id == session.id && now.status == UploadStatus::Uploading => {
                return error.into();
            }
            Ok(Some(now)) if now.id == session.id => UploadError::NotWritable(now.status),
            Ok(_) => UploadError::UploadNotFound,
            Err(_) => return error.into(),
        };
        tracing::info!(owner = %session.owner, sha256 = %session.sha256, index = target.index, %error, "chunk write cut off: its session was removed or moved on");
        if let Err(error) = self.blobs.delete(key).await {
            tracing::warn!(%key, %error, "could not delete a chunk cut off by its session's end");
        }
        refusal
    }

    /// Deletes a staged chunk that will not be recorded.
    pub async fn discard(&self, staged: StagedChunk) {
        if let Err(error) = self.blobs.delete(&staged.key).await {
            tracing::warn!(key = %staged.key, %error, "could not delete a refused chunk");
        }
    }
}
