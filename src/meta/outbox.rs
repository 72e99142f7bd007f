//! The outbox: events written in the transaction of the change they
//! report, and their deliveries to webhook URLs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MetaResult;
use crate::ids::WriteToken;

/// A change an app hears of, as the `type` of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A session was created.
    UploadCreated,
    /// A file was published for an owner: by a merge, one request, or an
    /// instant upload.
    UploadCompleted,
    /// A merge failed its session (the bytes hashed to another key, or the
    /// store refused them).
    UploadFailed,
    /// An owner aborted a session.
    UploadAborted,
    /// A session expired before it completed and was swept.
    UploadExpired,
    /// A file's bytes were deleted, its last reference gone.
    FileDeleted,
}

impl EventKind {
    /// Every kind, in the order of the contract.
    pub const ALL: [EventKind; 6] = [
        EventKind::UploadCreated,
        EventKind::UploadCompleted,
        EventKind::UploadFailed,
        EventKind::UploadAborted,
        EventKind::UploadExpired,
        EventKind::FileDeleted,
    ];

    /// The event's `type`, as webhooks carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::UploadCreated => "upload.created",
            EventKind::UploadCompleted => "upload.completed",
            EventKind::UploadFailed => "upload.failed",
            EventKind::UploadAborted => "upload.aborted",
            EventKind::UploadExpired => "upload.expired",
            EventKind::FileDeleted => "file.deleted",
        }
    }

    /// The kind whose `type` is `text`.
    pub fn parse(text: &str) -> Option<Self> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One event on its way to one webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id, the same for every URL: `webhook-id`.
    pub event_id: String,
    /// The URL it goes to.
    pub target: String,
    /// The event's `type`.
    pub kind: String,
    /// The event as JSON: `type`, `timestamp` and `data`.
    pub payload: String,
    /// When the change happened.
    pub created_at: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How one attempt at a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// The URL acknowledged the event.
    Delivered,
    /// The attempt failed (`reason`); try again at `retry_at`.
    Retry {
        /// Why it failed, for operators.
        reason: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// The attempt failed (`reason`) and the retries ran out.
    Failed {
        /// Why the last attempt failed.
        reason: String,
    },
}

/// The outbox; see [`MetaStore`](super::MetaStore)'s *Events*.
///
/// Every event is written in the transaction of the change it reports.
/// Routing writes, in one transaction per batch, one delivery per URL that
/// takes the event's type. A delivery is claimed by one caller at a time
/// (PostgreSQL skips rows another transaction locked), until its claim
/// runs out; only the caller holding the claim may record how it ended.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes the deliveries of up to `limit` events not routed yet: one to
    /// each URL `route` answers for the event's type. Answers how many
    /// events were routed.
    async fn route_events(
        &self,
        route: &(dyn for<'k> Fn(&'k str) -> Vec<String> + Sync),
        limit: u32,
    ) -> MetaResult<usize>;

    /// Claims up to `limit` pending deliveries due at `now` and not claimed
    /// by another caller, for `token` until `claimed_until`.
    async fn claim_deliveries(
        &self,
        token: &WriteToken,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        limit: u32,
    ) -> MetaResult<Vec<Delivery>>;

    /// Records how an attempt at a claimed delivery ended, at `now`;
    /// `false` when `token` no longer holds its claim.
    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        token: &WriteToken,
        attempted: &Attempted,
        now: DateTime<Utc>,
    ) -> MetaResult<bool>;

    /// How many deliveries are pending.
    async fn pending_deliveries(&self) -> MetaResult<u64>;

    /// Deletes events written before `before` that have no pending
    /// delivery left; answers how many.
    async fn forget_events(&self, before: DateTime<Utc>) -> MetaResult<u64>;

    /// Waits until this store wrote an event, or was asked to wake the
    /// waiter; a wake-up before the wait is kept for it.
    async fn event_written(&self);
}
