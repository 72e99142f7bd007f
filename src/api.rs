//! Wire types of the HTTP API, version 1, shared by the server and the CLI.
//!
//! The contract they implement is `shared/design/api-v1.md`.

use serde::{Deserialize, Serialize};

/// Header carrying an RFC 9530 digest of a chunk: `sha-256=:<base64>:`.
pub const CONTENT_DIGEST: &str = "content-digest";
/// Header carrying the hex SHA-256 of a chunk.
pub const X_CHUNK_SHA256: &str = "x-chunk-sha256";

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
    pub file: Option<File>,
}

/// A published file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct File {
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type it is served with.
    pub content_type: Option<String>,
    /// Path of its download, e.g. `/v1/files/<sha256>/lecture.mp4`.
    pub url: String,
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

/// Body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable kebab-case code that clients match on.
    pub code: String,
    /// Text for a person.
    pub message: String,
    /// The field at fault, for `invalid-request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The session's status, for `upload-not-writable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UploadStatus>,
    /// Inclusive index ranges still missing, for `chunks-missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_chunks: Option<Vec<[u64; 2]>>,
}

/// The error codes of the contract.
pub mod codes {
    /// A field of the request is malformed; `field` names it.
    pub const INVALID_REQUEST: &str = "invalid-request";
    /// The file is larger than the server accepts.
    pub const FILE_TOO_LARGE: &str = "file-too-large";
    /// A file with this hash but another size exists.
    pub const SIZE_MISMATCH: &str = "size-mismatch";
    /// A live session with this hash but another size exists.
    pub const UPLOAD_CONFLICT: &str = "upload-conflict";
    /// No session for this hash (for this owner).
    pub const UPLOAD_NOT_FOUND: &str = "upload-not-found";
    /// The chunk index is outside `[0, chunk_count)`.
    pub const CHUNK_INDEX_OUT_OF_RANGE: &str = "chunk-index-out-of-range";
    /// The chunk body is not exactly the chunk's length.
    pub const CHUNK_SIZE_MISMATCH: &str = "chunk-size-mismatch";
    /// The declared chunk length is above the largest chunk.
    pub const CHUNK_TOO_LARGE: &str = "chunk-too-large";
    /// The chunk does not match its declared digest.
    pub const DIGEST_MISMATCH: &str = "digest-mismatch";
    /// The session no longer accepts chunks.
    pub const UPLOAD_NOT_WRITABLE: &str = "upload-not-writable";
    /// Complete was asked before every chunk arrived.
    pub const CHUNKS_MISSING: &str = "chunks-missing";
    /// The merged bytes do not hash to the key.
    pub const HASH_MISMATCH: &str = "hash-mismatch";
    /// No published file with this hash.
    pub const FILE_NOT_FOUND: &str = "file-not-found";
    /// A conditional header of a download does not hold.
    pub const PRECONDITION_FAILED: &str = "precondition-failed";
    /// No requested byte range lies within the file.
    pub const RANGE_NOT_SATISFIABLE: &str = "range-not-satisfiable";
    /// No route for this method and path.
    pub const NOT_FOUND: &str = "not-found";
    /// The route exists but not for this method.
    pub const METHOD_NOT_ALLOWED: &str = "method-not-allowed";
    /// The request's media type is not one this route takes.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported-media-type";
    /// A dependency (database, object store) is not answering.
    pub const UNAVAILABLE: &str = "unavailable";
    /// Something failed inside the server; details are in its log.
    pub const INTERNAL: &str = "internal-error";

    /// Every code above.
    pub const ALL: &[&str] = &[
        INVALID_REQUEST,
        FILE_TOO_LARGE,
        SIZE_MISMATCH,
        UPLOAD_CONFLICT,
        UPLOAD_NOT_FOUND,
        CHUNK_INDEX_OUT_OF_RANGE,
        CHUNK_SIZE_MISMATCH,
        CHUNK_TOO_LARGE,
        DIGEST_MISMATCH,
        UPLOAD_NOT_WRITABLE,
        CHUNKS_MISSING,
        HASH_MISMATCH,
        FILE_NOT_FOUND,
        PRECONDITION_FAILED,
        RANGE_NOT_SATISFIABLE,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        UNSUPPORTED_MEDIA_TYPE,
        UNAVAILABLE,
        INTERNAL,
    ];
}

/// The download path of a file, with its filename percent-encoded when present.
pub fn file_url(sha256: &str, filename: Option<&str>) -> String {
    match filename {
        Some(name) if !name.is_empty() => {
            let encoded = percent_encoding::utf8_percent_encode(name, PATH_SEGMENT);
            format!("/v1/files/{sha256}/{encoded}")
        }
        _ => format!("/v1/files/{sha256}"),
    }
}

/// Characters escaped in one path segment (RFC 3986 `pchar` complement).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_url_encodes_its_filename_as_one_path_segment() {
        assert_eq!(
            file_url("ab", Some("课程 第1讲/a.mp4")),
            "/v1/files/ab/%E8%AF%BE%E7%A8%8B%20%E7%AC%AC1%E8%AE%B2%2Fa.mp4"
        );
    }

    #[test]
    fn a_file_url_without_filename_is_the_bare_hash_path() {
        assert_eq!(file_url("ab", None), "/v1/files/ab");
        assert_eq!(file_url("ab", Some("")), "/v1/files/ab");
    }

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
