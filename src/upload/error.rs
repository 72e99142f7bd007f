//! Why an upload operation was refused or failed.

use ferry_proto::{ErrorCode, UploadStatus};

use crate::blob::BlobError;
use crate::meta::MetaError;

/// Every way an upload operation can end without success.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A field of the request is malformed.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The file is larger than the server accepts.
    #[error("the file is larger than the {limit} bytes this server accepts")]
    FileTooLarge {
        /// The largest size accepted.
        limit: u64,
    },
    /// A file with this hash but another size is published.
    #[error("a file with this sha256 is published with size {published}")]
    SizeMismatch {
        /// The size of the published file.
        published: u64,
    },
    /// A live session for this hash has another size.
    #[error("an upload of this sha256 with size {size} is in progress")]
    UploadConflict {
        /// The size of the live session.
        size: u64,
    },
    /// No session for this owner and hash.
    #[error("no upload session for this sha256")]
    UploadNotFound,
    /// The chunk index is outside `[0, chunk_count)`.
    #[error("chunk index {index} is outside [0, {chunk_count})")]
    ChunkIndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The session's chunk count.
        chunk_count: u64,
    },
    /// The body is not exactly the chunk's length.
    #[error("chunk {index} must be exactly {expected} bytes")]
    ChunkSizeMismatch {
        /// The chunk's index.
        index: u64,
        /// Its exact length.
        expected: u64,
    },
    /// The declared length is above the largest chunk.
    #[error("a chunk of this upload is at most {limit} bytes")]
    ChunkTooLarge {
        /// The largest chunk of the session.
        limit: u64,
    },
    /// The chunk's bytes do not match the digest sent with it.
    #[error("the chunk does not match its digest")]
    DigestMismatch,
    /// The session no longer accepts chunks.
    #[error("the upload is {} and accepts no chunks", .0.as_str())]
    NotWritable(UploadStatus),
    /// Complete was asked before every chunk arrived.
    #[error("some chunks have not arrived")]
    ChunksMissing(Vec<[u64; 2]>),
    /// The merged bytes do not hash to the key; nothing was published.
    #[error("the uploaded bytes do not hash to the sha256 of the upload")]
    HashMismatch,
    /// The object store refused the merge, or kept failing it; the upload
    /// failed and nothing was published.
    #[error("the object store could not merge the chunks; the upload failed: create it again")]
    MergeFailed,
    /// No published file with this hash.
    #[error("no file with this sha256")]
    FileNotFound,
    /// The file is published, but the store does not hold its object
    /// whole (it is missing, or of another length); nothing was sent.
    #[error("the stored file cannot be read whole; its bytes are to be uploaded again")]
    FileUnreadable,
    /// An append does not start where the upload stands.
    #[error("the upload stands at offset {offset}")]
    OffsetMismatch {
        /// Where the upload stands.
        offset: u64,
    },
    /// An append's bytes do not match the checksum sent with it.
    #[error("the body does not match its Upload-Checksum; nothing was kept")]
    ChecksumMismatch,
    /// The upload takes no appends: it joins others.
    #[error("a final upload takes no appends")]
    NotAppendable,
    /// The owner is over one of its limits.
    #[error("this owner may hold {what}; finish or abort an upload first")]
    OverLimit {
        /// The limit, for a person.
        what: String,
        /// When to ask again.
        retry_after: std::time::Duration,
    },
    /// The instance holds as many bodies in memory as it may; the request
    /// is to be sent again after a pause.
    #[error("the server is receiving as many bodies as it can hold; send this again shortly")]
    Busy {
        /// When to ask again.
        retry_after: std::time::Duration,
    },
    /// The file of this hash is being deleted (no owner held it any more);
    /// a one-request upload of it is to be sent again once it is gone.
    #[error("this file is being deleted; send it again shortly")]
    Deleting,
    /// The app's pre-create hook refused the upload, saying this.
    #[error("{0}")]
    Rejected(String),
    /// The app's pre-create hook could not say whether the upload may
    /// start, and ferry fails closed.
    #[error("the service that approves uploads is not answering; try again later")]
    HookUnanswered,
    /// The request body could not be read.
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    /// The database failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The object store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl UploadError {
    /// The contract's code for this error; a store failure is `unavailable`
    /// when it may pass and `internal-error` when it is a fault.
    pub fn code(&self) -> ErrorCode {
        match self {
            UploadError::InvalidField { .. } | UploadError::BodyUnreadable(_) => {
                ErrorCode::InvalidRequest
            }
            UploadError::FileTooLarge { .. } => ErrorCode::FileTooLarge,
            UploadError::SizeMismatch { .. } => ErrorCode::SizeMismatch,
            UploadError::UploadConflict { .. } => ErrorCode::UploadConflict,
            UploadError::UploadNotFound => ErrorCode::UploadNotFound,
            UploadError::ChunkIndexOutOfRange { .. } => ErrorCode::ChunkIndexOutOfRange,
            UploadError::ChunkSizeMismatch { .. } => ErrorCode::ChunkSizeMismatch,
            UploadError::ChunkTooLarge { .. } => ErrorCode::ChunkTooLarge,
            UploadError::DigestMismatch => ErrorCode::DigestMismatch,
            UploadError::NotWritable(_) => ErrorCode::UploadNotWritable,
            UploadError::ChunksMissing(_) => ErrorCode::ChunksMissing,
            UploadError::HashMismatch => ErrorCode::HashMismatch,
            UploadError::MergeFailed => ErrorCode::MergeFailed,
            UploadError::FileNotFound => ErrorCode::FileNotFound,
            UploadError::FileUnreadable => ErrorCode::FileUnreadable,
            UploadError::OffsetMismatch { .. } => ErrorCode::OffsetMismatch,
            UploadError::ChecksumMismatch => ErrorCode::ChecksumMismatch,
            UploadError::NotAppendable => ErrorCode::Forbidden,
            UploadError::OverLimit { .. } => ErrorCode::TooManyRequests,
            UploadError::Busy { .. } => ErrorCode::Unavailable,
            UploadError::Rejected(_) => ErrorCode::Rejected,
            UploadError::HookUnanswered | UploadError::Deleting => ErrorCode::Unavailable,
            UploadError::Meta(error) if error.is_transient() => ErrorCode::Unavailable,
            UploadError::Blob(error) if error.is_transient() => ErrorCode::Unavailable,
            UploadError::Meta(_) | UploadError::Blob(_) => ErrorCode::InternalError,
        }
    }
}

/// Result of an upload operation.
pub type UploadResult<T> = Result<T, UploadError>;
