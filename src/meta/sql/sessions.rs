//! Sessions: finding one, inserting one under its owner's quota, keeping it
//! alive, deleting it, and counting how often an owner starts one.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};
use sqlx::Transaction;

use super::holdings::completed;
use super::outbox::session_data;
use super::{Connection, Dialect, INSERT_ATTEMPTS, ReadHere, SqlMeta, Statement};
use crate::ids::{OwnerId, UploadId};
use crate::meta::chunk_bits;
use crate::meta::decode::{self, Columns, parse_status, to_i64, to_u64};
use crate::meta::{
    EventKind, FileRef, Inserted, MetaError, MetaResult, OwnerUsage, Session, SessionQuota,
    SessionStore,
};

/// The session of `$1` for the hash `$2`; the SQLite fast path reads it too.
pub(crate) const SESSION_BY_OWNER_AND_HASH: &str = "SELECT id, owner, sha256, size, chunk_size, \
     filename, content_type, status, expires_at FROM uploads WHERE owner = $1 AND sha256 = $2";

/// The live sessions of `$1` at `$2`: uploading or merging, and unexpired.
/// Appended uploads count with their declared length, or what they
/// received while it is deferred.
const OWNER_USAGE: &str = "SELECT count(*) AS n, CAST(coalesce(sum(size), 0) AS BIGINT) AS bytes
     FROM (SELECT size FROM uploads
           WHERE owner = $1 AND status IN ('uploading', 'merging') AND expires_at >= $2
           UNION ALL
           SELECT coalesce(length, received) AS size FROM appended_uploads
           WHERE owner = $1 AND status IN ('uploading', 'merging') AND expires_at >= $2) AS live";

#[async_trait]
impl<D: Dialect> SessionStore for SqlMeta<D> {
    async fn find_session(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
    ) -> MetaResult<Option<Session>> {
        if let ReadHere::Answered(found) = self.dialect().session_here(owner, sha256) {
            return Ok(found);
        }
        Self::session_of(&mut *self.connection().await?, owner, sha256).await
    }

    async fn owner_usage(&self, owner: &OwnerId, now: DateTime<Utc>) -> MetaResult<OwnerUsage> {
        Self::usage_of(&mut *self.connection().await?, owner, now).await
    }

    async fn insert_session(&self, session: &Session) -> MetaResult<Inserted> {
        self.insert_session_checked(session, None).await
    }

    async fn insert_session_within(
        &self,
        session: &Session,
        quota: SessionQuota,
        now: DateTime<Utc>,
    ) -> MetaResult<Inserted> {
        self.insert_session_checked(session, Some((quota, now)))
            .await
    }

    async fn delete_session(&self, id: &UploadId) -> MetaResult<bool> {
        let deleted = Self::execute(
            &mut *self.connection().await?,
            Statement::new("DELETE FROM uploads WHERE id = $1").bind(id.as_str()),
        )
        .await?;
        Ok(deleted == 1)
    }

    async fn abort_session(&self, id: &UploadId) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = Self::fetch_optional(
            &mut tx,
            Statement::new(
                "DELETE FROM uploads WHERE id = $1
                 RETURNING id, owner, sha256, size, chunk_size, filename, content_type, status,
                           expires_at",
            )
            .bind(id.as_str()),
        )
        .await?;
        let Some(deleted) = deleted else {
            return Ok(false);
        };
        let session = decode::session(&deleted)?;
        Self::write_event(&mut tx, EventKind::UploadAborted, session_data(&session)).await?;
        tx.commit().await?;
        self.wake_deliveries();
        Ok(true)
    }

    async fn touch_session(&self, id: &UploadId, expires_at: DateTime<Utc>) -> MetaResult<()> {
        Self::execute(
            &mut *self.connection().await?,
            Statement::new("UPDATE uploads SET expires_at = $2 WHERE id = $1 AND expires_at < $2")
                .bind(id.as_str())
                .bind(expires_at),
        )
        .await?;
        Ok(())
    }

    async fn session_status(&self, id: &UploadId) -> MetaResult<Option<UploadStatus>> {
        let row = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT status FROM uploads WHERE id = $1
                 UNION ALL SELECT status FROM appended_uploads WHERE id = $1",
            )
            .bind(id.as_str()),
        )
        .await?;
        let status = row.map(|row| row.text("status")).transpose()?;
        Ok(status.map(parse_status).transpose()?)
    }

    async fn count_session_start(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
        window_from: DateTime<Utc>,
    ) -> MetaResult<(u64, DateTime<Utc>)> {
        let row = Self::fetch_one(
            &mut *self.connection().await?,
            Statement::new(
                "INSERT INTO session_starts (owner, sha256, window_start, starts)
                 VALUES ($1, $2, $3, 1)
                 ON CONFLICT (owner, sha256) DO UPDATE SET
                     starts = CASE WHEN session_starts.window_start < $4
                                   THEN 1 ELSE session_starts.starts + 1 END,
                     window_start = CASE WHEN session_starts.window_start < $4
                                   THEN excluded.window_start ELSE session_starts.window_start END
                 RETURNING starts, window_start",
            )
            .bind(owner.as_str())
            .bind(sha256.to_hex())
            .bind(now)
            .bind(window_from),
        )
        .await?;
        Ok((to_u64(row.integer("starts")?)?, row.time("window_start")?))
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// The session of `owner` for `sha256`, read on `connection` (a
    /// transaction's, or one of its own).
    async fn session_of(
        connection: &mut Connection<D>,
        owner: &OwnerId,
        sha256: &ContentHash,
    ) -> MetaResult<Option<Session>> {
        let row = Self::fetch_optional(
            connection,
            Statement::new(SESSION_BY_OWNER_AND_HASH)
                .bind(owner.as_str())
                .bind(sha256.to_hex()),
        )
        .await?;
        Ok(row.as_ref().map(decode::session).transpose()?)
    }

    /// What `owner` holds in sessions live at `now`, read on `connection`.
    pub(super) async fn usage_of(
        connection: &mut Connection<D>,
        owner: &OwnerId,
        now: DateTime<Utc>,
    ) -> MetaResult<OwnerUsage> {
        let statement = Statement::new(OWNER_USAGE).bind(owner.as_str()).bind(now);
        let row = Self::fetch_one(connection, statement).await?;
        Ok(decode::usage(&row)?)
    }

    /// Records in `tx` what creating `session` means: a new upload, or,
    /// for a session created complete (an instant upload), its owner's
    /// reference to the published file.
    async fn record_creation(
        tx: &mut Transaction<'static, D::Db>,
        session: &Session,
    ) -> MetaResult<()> {
        match session.status {
            UploadStatus::Uploading => {
                Self::write_event(tx, EventKind::UploadCreated, session_data(session)).await
            }
            UploadStatus::Complete => {
                if !Self::lock_file(tx, &session.sha256).await? {
                    return Ok(());
                }
                let statement = Statement::new("SELECT * FROM files WHERE sha256 = $1")
                    .bind(session.sha256.to_hex());
                let file = decode::file(&Self::fetch_one(tx, statement).await?)?;
                let holder = FileRef {
                    owner: session.owner.clone(),
                    sha256: session.sha256,
                    filename: session.filename.clone(),
                    content_type: session.content_type.clone(),
                    created_at: Utc::now().trunc_subsecs(3),
                };
                Self::add_reference(tx, &holder).await?;
                Self::write_event(tx, EventKind::UploadCompleted, completed(&file, &holder)).await
            }
            UploadStatus::Merging | UploadStatus::Failed => Ok(()),
        }
    }

    /// Inserts `session` unless one of its owner and hash is there, and,
    /// given a quota, unless it would take its owner over it; the quota is
    /// checked under a lock on the owner.
    async fn insert_session_checked(
        &self,
        session: &Session,
        quota: Option<(SessionQuota, DateTime<Utc>)>,
    ) -> MetaResult<Inserted> {
        for _ in 0..INSERT_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            if let Some((quota, now)) = quota {
                if let Some(lock) = D::LOCK_OWNER {
                    let statement = Statement::new(lock).bind(session.owner.as_str());
                    Self::execute(&mut tx, statement).await?;
                }
                let usage = Self::usage_of(&mut tx, &session.owner, now).await?;
                if !quota.admits(usage, session.size) {
                    let existing =
                        Self::session_of(&mut tx, &session.owner, &session.sha256).await?;
                    tx.commit().await?;
                    return Ok(match existing {
                        Some(existing) => Inserted::Existing(existing),
                        None => Inserted::OverQuota(usage),
                    });
                }
            }
            let created = Self::fetch_optional(&mut tx, insert_statement(session)).await?;
            if let Some(row) = created {
                let created = decode::session(&row)?;
                Self::record_creation(&mut tx, &created).await?;
                tx.commit().await?;
                self.wake_deliveries();
                return Ok(Inserted::Created(created));
            }
            let existing = Self::session_of(&mut tx, &session.owner, &session.sha256).await?;
            tx.commit().await?;
            if let Some(existing) = existing {
                return Ok(Inserted::Existing(existing));
            }
        }
        Err(MetaError::Unavailable(sqlx::Error::Protocol(
            "a session kept vanishing while it was created".into(),
        )))
    }
}

/// Inserts `session`, with no chunk received, unless its owner has one for
/// its hash; answers the inserted row.
fn insert_statement(session: &Session) -> Statement<'_> {
    Statement::new(
        "INSERT INTO uploads (id, owner, sha256, size, chunk_size, chunk_count,
                              filename, content_type, status, expires_at, received)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (owner, sha256) DO NOTHING
         RETURNING id, owner, sha256, size, chunk_size, filename, content_type, status, expires_at",
    )
    .bind(session.id.as_str())
    .bind(session.owner.as_str())
    .bind(session.sha256.to_hex())
    .bind(to_i64(session.size))
    .bind(to_i64(session.chunk_size))
    .bind(to_i64(session.chunk_count()))
    .bind(session.filename.as_ref().map(FileName::as_str))
    .bind(session.content_type.as_ref().map(MediaType::as_str))
    .bind(session.status.as_str())
    .bind(session.expires_at)
    .bind(chunk_bits::empty(session.chunk_count()))
}
