//! The upload session as clients see it: the create request, the upload
//! resource, its status, and the receipt of a chunk.

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/uploads`: create a session or resume one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    /// SHA-256 of the whole file, 64 hex digits in either case.
    pub sha256: String,
    /// Size of the whole file in bytes.
    pub size: u64,
    /// The chunk size the client would like; the server decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    /// Name to offer in the download URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Media type to serve the file with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The answer to the [`ProofChallenge`] of an earlier create: the lower-case
    /// hex SHA-256 of the challenged bytes, in the order of its ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// A proof-of-possession challenge: the caller proves it holds the file by
/// sending the SHA-256 of these bytes of it back as `proof` in a create
/// request; only then does an upload of a file the server has publish at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofChallenge {
    /// Inclusive byte ranges `[first, last]` of the file, in the order to hash them.
    pub ranges: Vec<[u64; 2]>,
}

/// Lifecycle state of an upload session.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// Accepting chunks.
    Uploading,
    /// Every chunk is there; the server is merging and verifying.
    Merging,
    /// Verified and published.
    Complete,
    /// The merged bytes did not hash to the key; nothing was published.
    Failed,
}

impl UploadStatus {
    /// The lower-case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Uploading => "uploading",
            UploadStatus::Merging => "merging",
            UploadStatus::Complete => "complete",
            UploadStatus::Failed => "failed",
        }
    }

    /// Parses the lower-case name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "uploading" => Some(UploadStatus::Uploading),
            "merging" => Some(UploadStatus::Merging),
            "complete" => Some(UploadStatus::Complete),
            "failed" => Some(UploadStatus::Failed),
            _ => None,
        }
    }
}

/// The upload resource: a session's progress as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upload {
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// Size of the whole file in bytes.
    pub size: u64,
    /// Size of every chunk but the last; clients must use it.
    pub chunk_size: u64,
    /// `ceil(size / chunk_size)`.
    pub chunk_count: u64,
    /// Where the session stands.
    pub status: UploadStatus,
    /// Sorted, merged, inclusive index ranges of the chunks received.
    pub received_chunks: Vec<[u64; 2]>,
    /// Sum of the sizes of the chunks received.
    pub received_bytes: u64,
    /// Name offered in the download URL, if any.
    pub filename: Option<String>,
    /// Media type the file is served with, if given.
    pub content_type: Option<String>,
    /// When the session will be swept if nothing happens (RFC 3339, UTC).
    pub expires_at: String,
    /// The published file, once `status` is `complete`.
    pub file: Option<crate::File>,
    /// Present while the server would publish this file at once if the
    /// caller proves it holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_challenge: Option<ProofChallenge>,
}

/// Answer to an accepted chunk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkReceipt {
    /// Index of the chunk.
    pub index: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of this chunk.
    pub sha256: String,
    /// Bytes received so far in the session.
    pub received_bytes: u64,
    /// Chunks received so far in the session.
    pub received_count: u64,
    /// Chunks the session needs in all.
    pub chunk_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in [
            UploadStatus::Uploading,
            UploadStatus::Merging,
            UploadStatus::Complete,
            UploadStatus::Failed,
        ] {
            assert_eq!(UploadStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(UploadStatus::parse("done"), None);
    }
}
