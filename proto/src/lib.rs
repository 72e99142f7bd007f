//! ferry's wire protocol, version 1: the types, hashes, digest headers,
//! names, sizes and error codes that the server and every client share.
//!
//! The contract these types implement is written for users in the
//! repository's `docs/api.md` and `docs/openapi.yaml`.
#![warn(missing_docs, unreachable_pub)]

mod chunk_ranges;
mod content_hash;
mod digest;
mod error_code;
mod file;
mod names;
mod owned_files;
mod proof;
mod units;
mod upload;

pub use chunk_ranges::{missing_ranges, to_ranges};
pub use content_hash::{ContentHash, InvalidContentHash};
pub use digest::{
    CONTENT_DIGEST, InvalidDigest, X_CHUNK_SHA256, content_digest, parse_content_digest,
};
pub use error_code::{ErrorBody, ErrorCode};
pub use file::{File, file_url};
pub use names::{FileName, InvalidName, MediaType, is_format_character};
pub use owned_files::{FileList, OwnedFile};
pub use proof::proof_of;
pub use units::{parse_duration, parse_size};
pub use upload::{ChunkReceipt, CreateUpload, ProofChallenge, Upload, UploadStatus};
