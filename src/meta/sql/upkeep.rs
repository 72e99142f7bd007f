//! Upkeep: what the sweep finds (expired sessions, stalled merges, orphaned
//! leases), the identity the database shares with its object store, the
//! claim on listing the store, and the orphans listings found.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Connection, Dialect, SqlMeta, Statement};
use crate::ids::{ObjectKey, UploadId};
use crate::meta::decode::{self, Columns};
use crate::meta::{MergeLease, MetaError, MetaResult, Session, UpkeepStore};

#[async_trait]
impl<D: Dialect> UpkeepStore for SqlMeta<D> {
    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> MetaResult<Vec<Session>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT id, owner, sha256, size, chunk_size, filename, content_type, status,
                        expires_at
                 FROM uploads u WHERE expires_at < $1 AND NOT EXISTS (
                     SELECT 1 FROM merges m WHERE m.upload_id = u.id AND m.lease_until >= $1)
                 ORDER BY expires_at LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit)),
        )
        .await?;
        Ok(rows.iter().map(decode::session).collect::<Result<_, _>>()?)
    }

    async fn delete_expired_session(&self, id: &UploadId, now: DateTime<Utc>) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = Self::fetch_optional(
            &mut tx,
            Statement::new(
                "DELETE FROM uploads WHERE id = $1 AND expires_at < $2 AND NOT EXISTS (
                     SELECT 1 FROM merges m WHERE m.upload_id = $1 AND m.lease_until >= $2)
                 RETURNING id, owner, sha256, size, chunk_size, filename, content_type, status,
                           expires_at",
            )
            .bind(id.as_str())
            .bind(now),
        )
        .await?;
        let Some(deleted) = deleted else {
            return Ok(false);
        };
        Self::record_expiry(&mut tx, &decode::session(&deleted)?).await?;
        tx.commit().await?;
        self.wake_deliveries();
        Ok(true)
    }

    async fn stalled_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<Session>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT id, owner, sha256, size, chunk_size, filename, content_type, status,
                        expires_at
                 FROM uploads u
                 WHERE status = 'merging' AND NOT EXISTS (
                     SELECT 1 FROM merges m WHERE m.sha256 = u.sha256 AND m.lease_until >= $1)",
            )
            .bind(now),
        )
        .await?;
        Ok(rows.iter().map(decode::session).collect::<Result<_, _>>()?)
    }

    async fn orphaned_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<MergeLease>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT m.* FROM merges m
                 WHERE m.lease_until < $1 AND NOT EXISTS (
                     SELECT 1 FROM uploads u WHERE u.id = m.upload_id AND u.status = 'merging')",
            )
            .bind(now),
        )
        .await?;
        Ok(rows.iter().map(decode::lease).collect::<Result<_, _>>()?)
    }

    async fn object_key_in_use(&self, object_key: &ObjectKey) -> MetaResult<bool> {
        let found = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT 1 FROM files WHERE object_key = $1
                 UNION ALL SELECT 1 FROM merges WHERE object_key = $1",
            )
            .bind(object_key.as_str()),
        )
        .await?;
        Ok(found.is_some())
    }

    async fn merge_writes_to(&self, object_key: &ObjectKey) -> MetaResult<bool> {
        let found = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT 1 FROM merges WHERE object_key = $1 OR 'files/sha256/' || sha256 = $1
                 UNION ALL SELECT 1 FROM file_moves WHERE 'files/sha256/' || sha256 = $1",
            )
            .bind(object_key.as_str()),
        )
        .await?;
        Ok(found.is_some())
    }

    async fn store_binding(&self) -> MetaResult<Option<String>> {
        Self::store_binding_of(&mut *self.connection().await?).await
    }

    async fn bind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<String> {
        let mut connection = self.connection().await?;
        let statement = Statement::new(
            "INSERT INTO store_binding (only_row, store_id, bound_at) VALUES (1, $1, $2)
             ON CONFLICT (only_row) DO NOTHING",
        );
        Self::execute(&mut connection, statement.bind(store_id).bind(now)).await?;
        let bound = Self::store_binding_of(&mut connection).await?;
        bound.ok_or(MetaError::Fault(sqlx::Error::RowNotFound))
    }

    async fn rebind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<()> {
        let statement = Statement::new(
            "INSERT INTO store_binding (only_row, store_id, bound_at) VALUES (1, $1, $2)
             ON CONFLICT (only_row) DO UPDATE
             SET store_id = excluded.store_id, bound_at = excluded.bound_at",
        );
        let mut connection = self.connection().await?;
        Self::execute(&mut connection, statement.bind(store_id).bind(now)).await?;
        Ok(())
    }

    async fn claim_leftover_listing(
        &self,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE store_binding SET listed_at = $1
                 WHERE only_row = 1 AND (listed_at IS NULL OR listed_at <= $2)",
            )
            .bind(now)
            .bind(since),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn note_orphan(&self, key: &str, now: DateTime<Utc>) -> MetaResult<DateTime<Utc>> {
        let row = Self::fetch_one(
            &mut *self.connection().await?,
            Statement::new(
                "INSERT INTO orphans (object_key, first_seen, last_seen) VALUES ($1, $2, $2)
                 ON CONFLICT (object_key) DO UPDATE SET last_seen = excluded.last_seen
                 RETURNING first_seen",
            )
            .bind(key)
            .bind(now),
        )
        .await?;
        Ok(row.time("first_seen")?)
    }

    async fn forget_orphan(&self, key: &str) -> MetaResult<()> {
        let statement = Statement::new("DELETE FROM orphans WHERE object_key = $1").bind(key);
        Self::execute(&mut *self.connection().await?, statement).await?;
        Ok(())
    }

    async fn forget_orphans_unseen_since(&self, before: DateTime<Utc>) -> MetaResult<u64> {
        let statement = Statement::new("DELETE FROM orphans WHERE last_seen < $1").bind(before);
        Self::execute(&mut *self.connection().await?, statement).await
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// The identity of the store the database is bound to, if any, read on
    /// `connection`.
    async fn store_binding_of(connection: &mut Connection<D>) -> MetaResult<Option<String>> {
        let statement = Statement::new("SELECT store_id FROM store_binding WHERE only_row = 1");
        let row = Self::fetch_optional(connection, statement).await?;
        Ok(row.map(|row| row.text("store_id")).transpose()?)
    }
}
