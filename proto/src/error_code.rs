//! The error answers of the API: one stable code per kind of refusal or
//! fault, each with its one HTTP status, and the JSON body that carries it.

use serde::{Deserialize, Serialize};

use crate::UploadStatus;

/// A stable kebab-case code that clients match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// A field of the request is malformed; `field` names it.
    InvalidRequest,
    /// The file is larger than the server accepts.
    FileTooLarge,
    /// A file with this hash but another size exists.
    SizeMismatch,
    /// A live session with this hash but another size exists.
    UploadConflict,
    /// No session for this hash (for this owner).
    UploadNotFound,
    /// The chunk index is outside `[0, chunk_count)`.
    ChunkIndexOutOfRange,
    /// The chunk body is not exactly the chunk's length.
    ChunkSizeMismatch,
    /// The declared chunk length is above the largest chunk.
    ChunkTooLarge,
    /// The chunk does not match its declared digest.
    DigestMismatch,
    /// The session no longer accepts chunks.
    UploadNotWritable,
    /// Complete was asked before every chunk arrived.
    ChunksMissing,
    /// The merged bytes do not hash to the key.
    HashMismatch,
    /// The object store refused the merge, or kept failing it; the upload failed.
    MergeFailed,
    /// No published file with this hash.
    FileNotFound,
    /// The file is published but its stored object cannot be read whole.
    FileUnreadable,
    /// An append does not start where the upload stands (tus and IETF).
    OffsetMismatch,
    /// An append's bytes do not match its `Upload-Checksum` (tus); nothing was kept.
    ChecksumMismatch,
    /// A conditional header of a download does not hold.
    PreconditionFailed,
    /// No requested byte range lies within the file.
    RangeNotSatisfiable,
    /// No route for this method and path.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The request's media type is not one this route takes.
    UnsupportedMediaType,
    /// No valid token came with the request (with `WWW-Authenticate: Bearer`).
    Unauthorized,
    /// A download link's signature is missing, wrong or expired.
    Forbidden,
    /// The request body stopped arriving before it was complete.
    RequestTimeout,
    /// The caller is over one of its limits; `Retry-After` says when to ask again.
    TooManyRequests,
    /// A header, or the request head as a whole, is larger than the server reads.
    HeadersTooLarge,
    /// The app behind ferry refused the upload before it started.
    Rejected,
    /// A dependency (database, object store) is not answering: try again.
    Unavailable,
    /// Something failed inside the server; details are in its log.
    InternalError,
}

impl ErrorCode {
    /// Every code, in the order of the contract.
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::InvalidRequest,
        ErrorCode::FileTooLarge,
        ErrorCode::SizeMismatch,
        ErrorCode::UploadConflict,
        ErrorCode::UploadNotFound,
        ErrorCode::ChunkIndexOutOfRange,
        ErrorCode::ChunkSizeMismatch,
        ErrorCode::ChunkTooLarge,
        ErrorCode::DigestMismatch,
        ErrorCode::UploadNotWritable,
        ErrorCode::ChunksMissing,
        ErrorCode::HashMismatch,
        ErrorCode::MergeFailed,
        ErrorCode::FileNotFound,
        ErrorCode::FileUnreadable,
        ErrorCode::OffsetMismatch,
        ErrorCode::ChecksumMismatch,
        ErrorCode::PreconditionFailed,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RequestTimeout,
        ErrorCode::TooManyRequests,
        ErrorCode::HeadersTooLarge,
        ErrorCode::Rejected,
        ErrorCode::Unavailable,
        ErrorCode::InternalError,
    ];

    /// The HTTP status every answer with this code carries.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::ChunkIndexOutOfRange
            | ErrorCode::ChunkSizeMismatch
            | ErrorCode::DigestMismatch => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::Rejected => 403,
            ErrorCode::UploadNotFound | ErrorCode::FileNotFound | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::UploadConflict
            | ErrorCode::UploadNotWritable
            | ErrorCode::ChunksMissing
            | ErrorCode::OffsetMismatch => 409,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::FileTooLarge | ErrorCode::ChunkTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RangeNotSatisfiable => 416,
            ErrorCode::SizeMismatch | ErrorCode::HashMismatch => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::HeadersTooLarge => 431,
            ErrorCode::ChecksumMismatch => 460,
            ErrorCode::InternalError | ErrorCode::MergeFailed | ErrorCode::FileUnreadable => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The code as it stands on the wire, e.g. `chunks-missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid-request",
            ErrorCode::FileTooLarge => "file-too-large",
            ErrorCode::SizeMismatch => "size-mismatch",
            ErrorCode::UploadConflict => "upload-conflict",
            ErrorCode::UploadNotFound => "upload-not-found",
            ErrorCode::ChunkIndexOutOfRange => "chunk-index-out-of-range",
            ErrorCode::ChunkSizeMismatch => "chunk-size-mismatch",
            ErrorCode::ChunkTooLarge => "chunk-too-large",
            ErrorCode::DigestMismatch => "digest-mismatch",
            ErrorCode::UploadNotWritable => "upload-not-writable",
            ErrorCode::ChunksMissing => "chunks-missing",
            ErrorCode::HashMismatch => "hash-mismatch",
            ErrorCode::MergeFailed => "merge-failed",
            ErrorCode::FileNotFound => "file-not-found",
            ErrorCode::FileUnreadable => "file-unreadable",
            ErrorCode::OffsetMismatch => "offset-mismatch",
            ErrorCode::ChecksumMismatch => "checksum-mismatch",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::RangeNotSatisfiable => "range-not-satisfiable",
            ErrorCode::NotFound => "not-found",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::UnsupportedMediaType => "unsupported-media-type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RequestTimeout => "request-timeout",
            ErrorCode::TooManyRequests => "too-many-requests",
            ErrorCode::HeadersTooLarge => "headers-too-large",
            ErrorCode::Rejected => "rejected",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InternalError => "internal-error",
        }
    }

    /// Whether asking again later may succeed: the fault was passing, or
    /// the caller was asked to slow down.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Unavailable | ErrorCode::TooManyRequests | ErrorCode::RequestTimeout
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// What went wrong, as a stable code.
    pub code: ErrorCode,
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

impl ErrorBody {
    /// A body with a code and a message, and no other field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            field: None,
            status: None,
            missing_chunks: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_as_its_wire_name() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn only_a_passing_fault_is_worth_retrying() {
        let retryable: Vec<ErrorCode> = ErrorCode::ALL
            .into_iter()
            .filter(|code| code.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorCode::RequestTimeout,
                ErrorCode::TooManyRequests,
                ErrorCode::Unavailable
            ]
        );
        assert_eq!(ErrorCode::InternalError.status(), 500);
    }

    #[test]
    fn every_code_has_a_client_or_server_error_status() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    #[test]
    fn an_error_body_carries_only_the_fields_it_has() {
        let body = ErrorBody::new(ErrorCode::UploadNotFound, "no upload");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"code": "upload-not-found", "message": "no upload"})
        );
    }
}
