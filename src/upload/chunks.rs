//! Receiving one chunk: check it against the session, stream it to the
//! store while hashing, verify it, then record it.

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;

use super::Uploads;
use super::chunk_plan::ChunkPlan;
use super::content_hash::ContentHash;
use super::error::{UploadError, UploadResult};
use crate::api::{ChunkReceipt, UploadStatus};
use crate::blob::{BlobStore, WriteError, Written};
use crate::meta::{Chunk, Recorded, Session};

/// A digest a client sent along with a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub ContentHash);

impl Digest {
    /// Reads an RFC 9530 `Content-Digest` value such as `sha-256=:<base64>:`.
    /// `Ok(None)` when it names only algorithms other than SHA-256.
    pub fn from_content_digest(value: &str) -> UploadResult<Option<Self>> {
        let malformed = || UploadError::InvalidField {
            field: "content-digest",
            reason: "must be sha-256=:<base64 of 32 bytes>:".into(),
        };
        for member in value.split(',') {
            let Some((algorithm, encoded)) = member.trim().split_once('=') else {
                return Err(malformed());
            };
            if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
                continue;
            }
            let encoded = encoded
                .trim()
                .strip_prefix(':')
                .and_then(|rest| rest.strip_suffix(':'))
                .ok_or_else(malformed)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| malformed())?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
            return Ok(Some(Digest(ContentHash::from_digest(bytes))));
        }
        Ok(None)
    }

    /// Reads a hex SHA-256 from `X-Chunk-Sha256` or the `sha256` form field.
    pub fn from_hex(field: &'static str, value: &str) -> UploadResult<Self> {
        ContentHash::parse(value.trim())
            .map(Digest)
            .map_err(|e| UploadError::InvalidField {
                field,
                reason: e.to_string(),
            })
    }
}

/// A chunk the session is ready to receive: its index and exact length.
#[derive(Debug, Clone)]
pub struct ChunkTarget {
    session: Session,
    index: u64,
    expected: u64,
}

impl ChunkTarget {
    /// The session's chunk size: the most any of its chunks holds.
    pub fn chunk_size(&self) -> u64 {
        self.session.chunk_size
    }
}

/// A chunk written to the store but not yet recorded.
#[derive(Debug, Clone)]
pub struct StagedChunk {
    key: String,
    written: Written,
}

impl Uploads {
    /// Checks that the owner's session takes chunk `index`, and that a
    /// declared length fits, before any of the body is read.
    pub async fn chunk_target(
        &self,
        owner: &str,
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
            Some(len) if len > session.chunk_size => Err(UploadError::ChunkTooLarge {
                limit: session.chunk_size,
            }),
            Some(len) if len != expected => Err(UploadError::ChunkSizeMismatch { index, expected }),
            _ => Ok(ChunkTarget {
                session,
                index,
                expected,
            }),
        }
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
        let token = uuid::Uuid::new_v4().simple().to_string();
        let key = BlobStore::chunk_key(&target.session.id, target.index, &token);
        let mismatch = || UploadError::ChunkSizeMismatch {
            index: target.index,
            expected: target.expected,
        };
        let written = match self.blobs.write(&key, body, target.expected).await {
            Ok(written) => written,
            Err(WriteError::TooLong { .. }) => return Err(mismatch()),
            Err(WriteError::Source(reason)) => return Err(UploadError::BodyUnreadable(reason)),
            Err(WriteError::Store(error)) => return Err(error.into()),
        };
        let staged = StagedChunk { key, written };
        if written.size != target.expected {
            self.discard(staged).await;
            return Err(mismatch());
        }
        Ok(staged)
    }

    /// Verifies a staged chunk against the client's digest and records it,
    /// replacing any earlier copy. A refused chunk leaves no trace.
    pub async fn accept_chunk(
        &self,
        target: ChunkTarget,
        staged: StagedChunk,
        digest: Option<Digest>,
        now: DateTime<Utc>,
    ) -> UploadResult<ChunkReceipt> {
        if digest.is_some_and(|Digest(claimed)| claimed != staged.written.sha256) {
            self.discard(staged).await;
            return Err(UploadError::DigestMismatch);
        }
        let chunk = Chunk {
            index: target.index,
            size: staged.written.size,
            sha256: staged.written.sha256.to_hex(),
            object_key: staged.key.clone(),
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
                self.discard(staged).await;
                return Err(UploadError::NotWritable(status));
            }
            Ok(Recorded::SessionGone) => {
                self.discard(staged).await;
                return Err(UploadError::UploadNotFound);
            }
            Err(error) => {
                self.discard(staged).await;
                return Err(error.into());
            }
        };
        if let Some(old) = replaced_key {
            if let Err(error) = self.blobs.delete(&old).await {
                tracing::warn!(key = %old, %error, "could not delete a replaced chunk copy");
            }
        }
        Ok(ChunkReceipt {
            index: chunk.index,
            size: chunk.size,
            sha256: chunk.sha256,
            received_bytes,
            received_count,
            chunk_count: target.session.chunk_count(),
        })
    }

    /// Deletes a staged chunk that will not be recorded.
    pub async fn discard(&self, staged: StagedChunk) {
        if let Err(error) = self.blobs.delete(&staged.key).await {
            tracing::warn!(key = %staged.key, %error, "could not delete a refused chunk");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn a_content_digest_yields_the_sha256_it_names() {
        let digest = Digest::from_content_digest(&format!("sha-256=:{EMPTY_B64}:")).unwrap();
        assert_eq!(digest.unwrap().0.to_hex(), EMPTY_HEX);
    }

    #[test]
    fn a_content_digest_listing_several_algorithms_uses_sha256() {
        let value = format!("sha-512=:AAAA:, SHA-256=:{EMPTY_B64}:");
        let digest = Digest::from_content_digest(&value).unwrap();
        assert_eq!(digest.unwrap().0.to_hex(), EMPTY_HEX);
    }

    #[test]
    fn a_content_digest_without_sha256_asks_for_no_check() {
        assert_eq!(Digest::from_content_digest("sha-512=:AAAA:").unwrap(), None);
    }

    #[test]
    fn a_content_digest_of_the_wrong_length_is_malformed() {
        assert!(Digest::from_content_digest("sha-256=:AAAA:").is_err());
        assert!(Digest::from_content_digest("sha-256=AAAA").is_err());
        assert!(Digest::from_content_digest("garbage").is_err());
    }

    #[test]
    fn a_hex_digest_is_accepted_in_upper_case() {
        let digest = Digest::from_hex("sha256", &EMPTY_HEX.to_uppercase()).unwrap();
        assert_eq!(digest.0.to_hex(), EMPTY_HEX);
    }
}
