//! What the deployment decides about access: how published files are
//! linked, what instant upload asks of a caller, and how much one owner may
//! hold at once.

use std::time::{Duration, SystemTime};

use crate::access::{LinkSigner, ProofKey};
use crate::webhooks::PreCreateHook;

/// How the `url` of a published file is written.
#[derive(Debug, Clone)]
pub enum DownloadLinks {
    /// The plain download path: anyone who knows the hash may download.
    Public,
    /// A link signed to hold for `ttl`.
    Signed {
        /// Signs the links.
        signer: LinkSigner,
        /// How long a link holds from when it is written.
        ttl: Duration,
    },
}

impl DownloadLinks {
    /// The link to hand out for the download `path`.
    pub fn link(&self, path: String) -> String {
        match self {
            DownloadLinks::Public => path,
            DownloadLinks::Signed { signer, ttl } => signer.sign(&path, *ttl, SystemTime::now()),
        }
    }
}

/// What an upload of content the server already holds must show before it
/// publishes at once.
#[derive(Debug, Clone)]
pub enum InstantUpload {
    /// The hash and size alone.
    Hash,
    /// The SHA-256 of byte ranges derived from this key.
    Proof(ProofKey),
    /// Nothing suffices: every upload sends its bytes.
    Off,
}

/// The most one owner may hold in live sessions at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerLimits {
    /// Live sessions.
    pub max_sessions: u64,
    /// Bytes those sessions add up to.
    pub max_staged_bytes: u64,
}

/// The access decisions of a deployment.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// How published files are linked.
    pub links: DownloadLinks,
    /// What instant upload asks.
    pub instant: InstantUpload,
    /// Per-owner limits, when owners are told apart by tokens.
    pub owner_limits: Option<OwnerLimits>,
    /// The app's say before an upload starts, when it wants one.
    pub pre_create: Option<PreCreateHook>,
}

impl AccessPolicy {
    /// Public links, instant upload by hash, no per-owner limits: the
    /// embedded default for one trusted machine.
    pub fn open() -> Self {
        AccessPolicy {
            links: DownloadLinks::Public,
            instant: InstantUpload::Hash,
            owner_limits: None,
            pre_create: None,
        }
    }
}
