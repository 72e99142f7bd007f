//! The upload domain: sessions keyed by content hash, chunks, merge,
//! verification and publication. It knows neither HTTP nor SQL.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, CreateUpload, UploadStatus};

use crate::blob::BlobStore;
use crate::ids::{OwnerId, UploadId};
use crate::meta::{FileRecord, Inserted, MetaStore, ReceivedChunks, Session};
use crate::metrics::Metrics;
use crate::webhooks::{Deliverer, Verdict, Webhooks, WouldBe};

mod appended;
mod buffer_budget;
mod chunk_plan;
mod chunks;
mod deletions;
mod direct;
mod download;
mod error;
mod hash_links;
mod hash_window;
mod holdings;
mod in_flight;
mod leftovers;
mod limits;
mod merge;
mod merge_end;
mod move_parts;
mod policy;
mod proof;
mod published;
mod readiness;
mod repair;
mod store_binding;
mod sweep;
mod validate;
mod view;

pub use crate::meta::{AppendedUpload, Concat};
pub use appended::{AppendRequest, Checksum, ChecksumAlgorithm, NewAppended};
pub use chunk_plan::{ChunkPlan, PlanError};
pub use chunks::{ChunkTarget, StagedChunk};
pub use direct::{Received, Stored};
pub use download::{ByteStream, Download};
pub use error::{UploadError, UploadResult};
pub use holdings::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
pub use leftovers::{Leftover, LeftoverAction, LeftoverKind, LeftoverReport};
pub use limits::Limits;
pub use merge::Completion;
pub use move_parts::{FileMove, MoveOutcome};
pub use policy::{AccessPolicy, DownloadLinks, InstantUpload, OwnerLimits};
pub use readiness::{NotReady, READY_KEPT, READY_TIMEOUT};
pub use store_binding::BindingError;
pub use sweep::SweepReport;
pub use validate::{content_type, filename, sha256};
pub use view::{file_view, upload_view};

/// How long things take and last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// How long a session lives after its last activity.
    pub session_ttl: Duration,
    /// How long `complete` waits for a merge before answering 202.
    pub merge_wait: Duration,
    /// How long a merge lease holds unless renewed.
    pub merge_lease: Duration,
    /// Attempts a merge gets when the store fails it in a way that may pass.
    pub merge_attempts: u32,
    /// How long a file no owner holds any more stays before it is deleted.
    pub delete_grace: Duration,
}

/// Bounds on the memory this instance holds for request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBounds {
    /// Bytes of buffers of bodies on their way to the store, across every
    /// request.
    pub body_buffers: u64,
    /// How long a write waits for its buffer before it is refused.
    pub buffer_wait: Duration,
    /// Bytes of chunks held until the chunk before them joins the running
    /// hash.
    pub hash_window: u64,
}

impl Default for MemoryBounds {
    fn default() -> Self {
        MemoryBounds {
            body_buffers: 256 << 20,
            buffer_wait: Duration::from_secs(10),
            hash_window: 64 << 20,
        }
    }
}

/// Whether a create made a new session or found one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new session (201).
    New,
    /// An existing session, or an instant upload of a published file (200).
    Existing,
}

/// The upload service: every operation a client can ask of an upload.
#[derive(Clone)]
pub struct Uploads {
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    limits: Limits,
    timings: Timings,
    policy: AccessPolicy,
    merges: merge::Registry,
    linking: hash_links::Linking,
    window: hash_window::HashWindow,
    in_flight: in_flight::InFlight,
    buffers: buffer_budget::BufferBudget,
    published: published::PublishedFiles,
    last_check: readiness::LastCheck,
    metrics: Metrics,
}

impl Uploads {
    /// Builds the service over its two stores. Merges run on the Tokio
    /// runtime this is called on, which must outlive the HTTP workers.
    pub fn new(
        meta: Arc<dyn MetaStore>,
        blobs: BlobStore,
        limits: Limits,
        timings: Timings,
        policy: AccessPolicy,
    ) -> Self {
        let metrics = Metrics::new();
        meta.report_acquires(metrics.acquire_waits());
        Uploads {
            meta,
            blobs,
            limits,
            timings,
            policy,
            merges: merge::Registry::on_current_runtime(),
            linking: hash_links::Linking::default(),
            window: hash_window::HashWindow::new(MemoryBounds::default().hash_window),
            in_flight: in_flight::InFlight::default(),
            buffers: buffer_budget::BufferBudget::new(&MemoryBounds::default()),
            published: published::PublishedFiles::default(),
            last_check: readiness::LastCheck::default(),
            metrics,
        }
    }

    /// The service with these bounds on the memory it holds for bodies.
    pub fn with_memory_bounds(mut self, bounds: MemoryBounds) -> Self {
        self.window = hash_window::HashWindow::new(bounds.hash_window);
        self.buffers = buffer_budget::BufferBudget::new(&bounds);
        self
    }

    /// Chunk uploads this instance is receiving now.
    pub fn chunks_arriving(&self) -> usize {
        self.in_flight.arriving()
    }

    /// Bytes of chunks the hash window holds now.
    pub fn hash_window_bytes(&self) -> u64 {
        self.window.held_bytes()
    }

    /// What this instance counts, for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Connections of the database pool in use now.
    pub fn database_connections_in_use(&self) -> u32 {
        self.meta.connections_in_use()
    }

    /// The deliverer of this service's events to `webhooks` (with none,
    /// events are only kept a while).
    pub fn deliverer(&self, webhooks: Option<Webhooks>) -> Deliverer {
        Deliverer::new(
            self.meta.clone(),
            webhooks,
            self.policy.links.clone(),
            self.metrics.clone(),
        )
    }

    /// The limits uploads are held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Creates a session, resumes the owner's live one, or answers an instant
    /// upload when the file is already published.
    /// A new session is asked of the pre-create hook first, if there is
    /// one; a resume is not.
    #[tracing::instrument(skip(self, request), fields(%owner, sha256 = %request.sha256, size = request.size))]
    pub async fn create(
        &self,
        owner: &OwnerId,
        request: CreateUpload,
        now: DateTime<Utc>,
        client_address: Option<IpAddr>,
    ) -> UploadResult<(Created, ferry_proto::Upload)> {
        let request = validate::create_request(request)?;
        let plan = ChunkPlan::choose(request.size, request.chunk_size, &self.limits).map_err(
            |PlanError::FileTooLarge| UploadError::FileTooLarge {
                limit: self.limits.max_file_size,
            },
        )?;
        let expires_at = now + self.timings.session_ttl;
        let published = self.meta.find_file(&request.sha256).await?;
        let existing = self.meta.find_session(owner, &request.sha256).await?;
        let live = match &existing {
            Some(session) if self.is_live(session, published.as_ref(), now).await? => Some(session),
            _ => None,
        };
        let instant = self
            .grants_instant(&request, published.as_ref(), live)
            .await?;
        if let Some(session) = live
            && !instant
        {
            if session.size != request.size {
                return Err(UploadError::UploadConflict { size: session.size });
            }
            self.meta.touch_session(&session.id, expires_at).await?;
            self.metrics.upload_resumed();
            tracing::info!(outcome = ?Created::Existing, instant, "upload session");
            return Ok((Created::Existing, self.view(session).await?));
        }
        self.admit(&WouldBe {
            owner,
            sha256: Some(&request.sha256),
            size: Some(request.size),
            filename: request.filename.as_ref(),
            content_type: request.content_type.as_ref(),
            client_address,
        })
        .await?;
        if !instant {
            self.count_challenged_session(owner, &request.sha256, now)
                .await?;
        }
        if let Some(session) = &existing {
            self.remove_session(session).await?;
        }
        let status = if instant {
            UploadStatus::Complete
        } else {
            UploadStatus::Uploading
        };
        let session = Session {
            id: UploadId::generate(),
            owner: owner.clone(),
            sha256: request.sha256,
            size: request.size,
            chunk_size: plan.chunk_size,
            filename: request.filename,
            content_type: request.content_type,
            status,
            expires_at,
        };
        let quota = self
            .session_quota()
            .filter(|_| status == UploadStatus::Uploading);
        let inserted = match quota {
            Some(quota) => {
                self.meta
                    .insert_session_within(&session, quota, now)
                    .await?
            }
            None => self.meta.insert_session(&session).await?,
        };
        let (created, session) = match inserted {
            Inserted::Created(session) if status == UploadStatus::Uploading => {
                (Created::New, session)
            }
            Inserted::Created(session) | Inserted::Existing(session) => {
                (Created::Existing, session)
            }
            Inserted::OverQuota(usage) => return Err(self.over_limit(usage)),
        };
        match created {
            Created::New => self.metrics.upload_created(),
            Created::Existing if instant => self.metrics.upload_instant(),
            Created::Existing => self.metrics.upload_resumed(),
        }
        tracing::info!(outcome = ?created, instant, "upload session");
        Ok((created, self.view(&session).await?))
    }

    /// Whether a create finds `session` to resume: not failed, not expired,
    /// and, when complete, its file still whole in the store (else the
    /// upload starts over, and its bytes repair the file).
    async fn is_live(
        &self,
        session: &Session,
        published: Option<&FileRecord>,
        now: DateTime<Utc>,
    ) -> UploadResult<bool> {
        Ok(match session.status {
            UploadStatus::Failed => false,
            _ if is_expired(session, now) => false,
            UploadStatus::Complete => match published {
                Some(file) => self.holds(file).await?,
                None => false,
            },
            UploadStatus::Uploading | UploadStatus::Merging => true,
        })
    }

    /// The progress of the owner's session for `sha256`.
    pub async fn progress(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
    ) -> UploadResult<ferry_proto::Upload> {
        let session = self.live_session(owner, sha256, now).await?;
        self.view(&session).await
    }

    /// Aborts the owner's session: it and its staged chunks are gone. A
    /// published file stays published.
    #[tracing::instrument(skip(self), fields(%owner, sha256 = %sha256))]
    pub async fn abort(&self, owner: &OwnerId, sha256: &ContentHash) -> UploadResult<()> {
        let session = self
            .meta
            .find_session(owner, sha256)
            .await?
            .ok_or(UploadError::UploadNotFound)?;
        if !self.meta.abort_session(&session.id).await? {
            return Err(UploadError::UploadNotFound);
        }
        self.remove_chunks(&session).await;
        Ok(())
    }

    /// Asks the pre-create hook, if there is one, whether `upload` may
    /// start: refused when it refuses, and when it cannot say unless it
    /// fails open.
    pub async fn admit(&self, upload: &WouldBe<'_>) -> UploadResult<()> {
        let Some(hook) = &self.policy.pre_create else {
            return Ok(());
        };
        match hook.ask(upload).await {
            Verdict::Allowed => Ok(()),
            Verdict::Refused(message) => {
                tracing::info!(%message, "the pre-create hook refused the upload");
                Err(UploadError::Rejected(message))
            }
            Verdict::Unanswered(reason) if hook.fail_open => {
                tracing::warn!(%reason, "the pre-create hook could not say; allowed (fail open)");
                Ok(())
            }
            Verdict::Unanswered(reason) => {
                tracing::warn!(%reason, "the pre-create hook could not say; refused");
                Err(UploadError::HookUnanswered)
            }
        }
    }

    async fn live_session(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
    ) -> UploadResult<Session> {
        match self.meta.find_session(owner, sha256).await? {
            Some(session) if !is_expired(&session, now) => Ok(session),
            _ => Err(UploadError::UploadNotFound),
        }
    }

    async fn view(&self, session: &Session) -> UploadResult<ferry_proto::Upload> {
        let (received, file) = match session.status {
            UploadStatus::Complete => (
                ReceivedChunks::default(),
                self.published_file(&session.sha256).await?,
            ),
            _ => (self.meta.received(&session.id).await?, None),
        };
        let mut upload = upload_view(session, received, file.as_ref(), &self.policy.links);
        upload.proof_challenge = self.challenge_for(session);
        Ok(upload)
    }

    /// Deletes a session, then its staged chunks. A chunk still arriving
    /// finds the session gone and discards itself. `false` when it was gone.
    async fn remove_session(&self, session: &Session) -> UploadResult<bool> {
        if !self.meta.delete_session(&session.id).await? {
            return Ok(false);
        }
        self.remove_chunks(session).await;
        Ok(true)
    }

    /// Deletes every staged chunk of a session that is no longer uploading.
    async fn remove_chunks(&self, session: &Session) {
        let prefix = BlobStore::chunks_prefix(&session.id);
        if let Err(error) = self.blobs.delete_prefix(&prefix).await {
            tracing::warn!(%prefix, %error, "could not delete staged chunks");
        }
    }
}

/// Whether a session has outlived its expiry. A merge under way keeps
/// its session's expiry moving; one that stopped lets it expire.
fn is_expired(session: &Session, now: DateTime<Utc>) -> bool {
    session.expires_at < now
}
