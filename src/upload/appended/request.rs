//! What a client asks of an appended upload: its creation, and one append
//! with the checksum its bytes must have.

use ferry_proto::{ContentHash, FileName, MediaType};

use crate::meta::Concat;
use sha2::digest::DynDigest;

/// What a client asks for when it creates an appended upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppended {
    /// The whole length, unless deferred.
    pub length: Option<u64>,
    /// The metadata header as sent, echoed back on HEAD.
    pub metadata: Option<String>,
    /// Name offered in the download URL.
    pub filename: Option<FileName>,
    /// Media type to serve the file with.
    pub content_type: Option<MediaType>,
    /// The whole file's SHA-256 as the client announces it.
    pub claimed: Option<ContentHash>,
    /// Whether it stands alone or is a piece of a later final upload.
    pub concat: Concat,
}

/// A digest algorithm a client may check one append with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-1.
    Sha1,
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The algorithm a tus `Upload-Checksum` names; `None` for others.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(ChecksumAlgorithm::Sha1),
            "md5" => Some(ChecksumAlgorithm::Md5),
            "sha256" => Some(ChecksumAlgorithm::Sha256),
            _ => None,
        }
    }

    pub(super) fn hasher(self) -> Box<dyn DynDigest + Send> {
        match self {
            ChecksumAlgorithm::Sha1 => Box::new(sha1::Sha1::default()),
            ChecksumAlgorithm::Md5 => Box::new(md5::Md5::default()),
            ChecksumAlgorithm::Sha256 => Box::new(sha2::Sha256::default()),
        }
    }
}

/// A digest the bytes of one append must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// How it is computed.
    pub algorithm: ChecksumAlgorithm,
    /// What it must be.
    pub digest: Vec<u8>,
}

/// One append as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// Where the client says it starts.
    pub offset: u64,
    /// The whole length, when the client declares it now.
    pub length: Option<u64>,
    /// The declared length of the body, if any.
    pub body_length: Option<u64>,
    /// A digest the body must have.
    pub checksum: Option<Checksum>,
    /// Whether the client says this body ends the upload, whose length is
    /// then where it ends if not known before.
    pub ends_here: bool,
}
