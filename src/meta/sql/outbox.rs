//! The outbox: writing an event in the transaction of its change, routing
//! events to webhook URLs, and claiming and finishing their deliveries.
//! Routing and claiming look first, without a writing transaction, whether
//! there is anything to do: every instance asks every second, and on
//! SQLite a writing transaction takes the database's one write lock.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::json;
use sqlx::Transaction;

use super::{Dialect, SqlMeta, Statement};
use crate::ids::WriteToken;
use crate::meta::decode::{Columns, to_u64};
use ferry_proto::UploadStatus;

use crate::meta::{Attempted, Delivery, EventKind, EventStore, MergeFailure, MetaResult, Session};

/// Events not routed yet, oldest first, skipping those another
/// transaction is routing.
const UNROUTED_SKIPPING_LOCKED: &str = "SELECT id, type, created_at FROM events WHERE routed = 0
     ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED";
/// Events not routed yet, oldest first.
const UNROUTED: &str =
    "SELECT id, type, created_at FROM events WHERE routed = 0 ORDER BY created_at LIMIT $1";

/// Claims due deliveries for `$1` until `$3`, skipping those another
/// transaction is claiming.
const CLAIM_SKIPPING_LOCKED: &str =
    "UPDATE event_deliveries SET claim_token = $1, claimed_until = $3
     WHERE (event_id, target) IN (
         SELECT event_id, target FROM event_deliveries
         WHERE state = 'pending' AND due_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)
         ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING event_id, target, attempts";
/// Claims due deliveries for `$1` until `$3`.
const CLAIM: &str = "UPDATE event_deliveries SET claim_token = $1, claimed_until = $3
     WHERE (event_id, target) IN (
         SELECT event_id, target FROM event_deliveries
         WHERE state = 'pending' AND due_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)
         ORDER BY due_at LIMIT $4)
     RETURNING event_id, target, attempts";

#[async_trait]
impl<D: Dialect> EventStore for SqlMeta<D> {
    async fn route_events(
        &self,
        route: &(dyn for<'k> Fn(&'k str) -> Vec<String> + Sync),
        limit: u32,
    ) -> MetaResult<usize> {
        let waiting = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new("SELECT 1 AS waiting FROM events WHERE routed = 0 LIMIT 1"),
        )
        .await?;
        if waiting.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let select = if D::SKIPS_LOCKED_ROWS {
            UNROUTED_SKIPPING_LOCKED
        } else {
            UNROUTED
        };
        let events =
            Self::fetch_all(&mut tx, Statement::new(select).bind(i64::from(limit))).await?;
        for event in &events {
            let id = event.text("id")?;
            let kind = event.text("type")?;
            let targets: Vec<String> = route(kind.as_str());
            for target in targets {
                let statement = Statement::new(
                    "INSERT INTO event_deliveries (event_id, target, state, due_at)
                     VALUES ($1, $2, 'pending', $3) ON CONFLICT (event_id, target) DO NOTHING",
                )
                .bind(id.as_str())
                .bind(target)
                .bind(event.time("created_at")?);
                Self::execute(&mut tx, statement).await?;
            }
            let statement = Statement::new("UPDATE events SET routed = 1 WHERE id = $1").bind(id);
            Self::execute(&mut tx, statement).await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }

    async fn claim_deliveries(
        &self,
        token: &WriteToken,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        limit: u32,
    ) -> MetaResult<Vec<Delivery>> {
        let due = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT 1 AS due FROM event_deliveries
                 WHERE state = 'pending' AND due_at <= $1
                   AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1",
            )
            .bind(now),
        )
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let claim = if D::SKIPS_LOCKED_ROWS {
            CLAIM_SKIPPING_LOCKED
        } else {
            CLAIM
        };
        let claimed = Self::fetch_all(
            &mut tx,
            Statement::new(claim)
                .bind(token.as_str())
                .bind(now)
                .bind(claimed_until)
                .bind(i64::from(limit)),
        )
        .await?;
        let mut deliveries = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let event_id = row.text("event_id")?;
            let statement =
                Statement::new("SELECT type, payload, created_at FROM events WHERE id = $1")
                    .bind(event_id.as_str());
            let event = Self::fetch_one(&mut tx, statement).await?;
            deliveries.push(Delivery {
                event_id,
                target: row.text("target")?,
                kind: event.text("type")?,
                payload: event.text("payload")?,
                created_at: event.time("created_at")?,
                attempts: u32::try_from(to_u64(row.integer("attempts")?)?).unwrap_or(u32::MAX),
            });
        }
        tx.commit().await?;
        Ok(deliveries)
    }

    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        token: &WriteToken,
        attempted: &Attempted,
        now: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let (state, due_at, reason) = match attempted {
            Attempted::Delivered => ("delivered", now, None),
            Attempted::Retry { reason, retry_at } => ("pending", *retry_at, Some(reason.as_str())),
            Attempted::Failed { reason } => ("failed", now, Some(reason.as_str())),
        };
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE event_deliveries
                 SET state = $4, due_at = $5, last_error = $6,
                     done_at = CASE WHEN $4 = 'pending' THEN NULL ELSE $7 END,
                     attempts = attempts + 1, claimed_until = NULL, claim_token = NULL
                 WHERE event_id = $1 AND target = $2 AND claim_token = $3 AND state = 'pending'",
            )
            .bind(delivery.event_id.as_str())
            .bind(delivery.target.as_str())
            .bind(token.as_str())
            .bind(state)
            .bind(due_at)
            .bind(reason)
            .bind(now),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn pending_deliveries(&self) -> MetaResult<u64> {
        let row = Self::fetch_one(
            &mut *self.connection().await?,
            Statement::new("SELECT count(*) AS n FROM event_deliveries WHERE state = 'pending'"),
        )
        .await?;
        Ok(to_u64(row.integer("n")?)?)
    }

    async fn forget_events(&self, before: DateTime<Utc>) -> MetaResult<u64> {
        let mut tx = self.begin_write().await?;
        let statement = Statement::new(
            "DELETE FROM event_deliveries WHERE event_id IN (
                 SELECT id FROM events e WHERE e.created_at < $1 AND e.routed = 1
                   AND NOT EXISTS (SELECT 1 FROM event_deliveries d
                                   WHERE d.event_id = e.id AND d.state = 'pending'))",
        )
        .bind(before);
        Self::execute(&mut tx, statement).await?;
        let statement = Statement::new(
            "DELETE FROM events WHERE created_at < $1 AND routed = 1 AND NOT EXISTS (
                 SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id)",
        )
        .bind(before);
        let forgotten = Self::execute(&mut tx, statement).await?;
        tx.commit().await?;
        Ok(forgotten)
    }

    async fn event_written(&self) {
        self.events_written.notified().await;
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// Writes the event `kind` with `data` in `tx`, the transaction of the
    /// change it reports.
    pub(super) async fn write_event(
        tx: &mut Transaction<'static, D::Db>,
        kind: EventKind,
        data: serde_json::Value,
    ) -> MetaResult<()> {
        let now = Utc::now().trunc_subsecs(3);
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let payload = json!({
            "type": kind.as_str(),
            "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        });
        let statement = Statement::new(
            "INSERT INTO events (id, type, payload, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(payload.to_string())
        .bind(now);
        Self::execute(tx, statement).await?;
        Ok(())
    }

    /// Records in `tx` that a merge failed `session` for `failure`.
    pub(super) async fn record_failure(
        tx: &mut Transaction<'static, D::Db>,
        session: &Session,
        failure: MergeFailure,
    ) -> MetaResult<()> {
        let mut data = session_data(session);
        data["reason"] = failure.as_str().into();
        Self::write_event(tx, EventKind::UploadFailed, data).await
    }

    /// Records in `tx` that the sweep removed `session` expired, unless it
    /// had ended already (completed or failed).
    pub(super) async fn record_expiry(
        tx: &mut Transaction<'static, D::Db>,
        session: &Session,
    ) -> MetaResult<()> {
        match session.status {
            UploadStatus::Uploading | UploadStatus::Merging => {
                Self::write_event(tx, EventKind::UploadExpired, session_data(session)).await
            }
            UploadStatus::Complete | UploadStatus::Failed => Ok(()),
        }
    }

    /// Wakes this instance's deliverer: an event was committed.
    pub(super) fn wake_deliveries(&self) {
        self.events_written.notify_one();
    }
}

/// The `data` of an event about `session`.
pub(super) fn session_data(session: &Session) -> serde_json::Value {
    json!({
        "sha256": session.sha256.to_hex(),
        "size": session.size,
        "owner": session.owner.as_str(),
        "filename": session.filename.as_ref().map(|name| name.as_str()),
        "content_type": session.content_type.as_ref().map(|media| media.as_str()),
    })
}
