//! An owner's files as `GET /v1/files` lists them.

use serde::{Deserialize, Serialize};

/// One of the caller's files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OwnedFile {
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The name the caller gave it.
    pub filename: Option<String>,
    /// The media type the caller gave it.
    pub content_type: Option<String>,
    /// When the caller first held it (RFC 3339).
    pub created: String,
    /// Where it downloads from (signed when links are).
    pub url: String,
}

/// A page of the caller's files, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileList {
    /// The files of this page.
    pub files: Vec<OwnedFile>,
    /// The `cursor` of the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
