//! Moves of files published in parts to their one object, claimed one file
//! at a time, and the objects recorded for deletion.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;

use super::{Dialect, SqlMeta, Statement};
use crate::ids::ObjectKey;
use crate::meta::decode::{self, Columns, to_u64};
use crate::meta::{FileRecord, MetaResult, MoveStore};

#[async_trait]
impl<D: Dialect> MoveStore for SqlMeta<D> {
    async fn claim_file_move(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> MetaResult<Option<FileRecord>> {
        let mut tx = self.begin_write().await?;
        let claimed = Self::fetch_optional(
            &mut tx,
            Statement::new(
                "INSERT INTO file_moves (sha256, claimed_until)
                 SELECT f.sha256, $2 FROM files f
                 WHERE f.part_size IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM file_moves m WHERE m.sha256 = f.sha256 AND m.claimed_until >= $1)
                 ORDER BY f.published_at LIMIT 1
                 ON CONFLICT (sha256) DO UPDATE SET claimed_until = excluded.claimed_until
                 WHERE file_moves.claimed_until < $1
                 RETURNING sha256",
            )
            .bind(now)
            .bind(until),
        )
        .await?;
        let Some(claimed) = claimed else {
            tx.commit().await?;
            return Ok(None);
        };
        let statement =
            Statement::new("SELECT * FROM files WHERE sha256 = $1").bind(claimed.text("sha256")?);
        let row = Self::fetch_optional(&mut tx, statement).await?;
        tx.commit().await?;
        Ok(row.as_ref().map(decode::file).transpose()?)
    }

    async fn release_file_move(&self, sha256: &ContentHash) -> MetaResult<()> {
        let statement =
            Statement::new("DELETE FROM file_moves WHERE sha256 = $1").bind(sha256.to_hex());
        Self::execute(&mut *self.connection().await?, statement).await?;
        Ok(())
    }

    async fn files_in_parts(&self) -> MetaResult<u64> {
        let row = Self::fetch_one(
            &mut *self.connection().await?,
            Statement::new("SELECT count(*) AS n FROM files WHERE part_size IS NOT NULL"),
        )
        .await?;
        Ok(to_u64(row.integer("n")?)?)
    }

    async fn move_file(
        &self,
        sha256: &ContentHash,
        from: &ObjectKey,
        to: &ObjectKey,
        now: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        let moved = Self::execute(
            &mut tx,
            Statement::new(
                "UPDATE files SET object_key = $3, part_size = NULL
                 WHERE sha256 = $1 AND object_key = $2",
            )
            .bind(sha256.to_hex())
            .bind(from.as_str())
            .bind(to.as_str()),
        )
        .await?;
        if moved == 1 {
            Self::execute(&mut tx, record(from, now)).await?;
        }
        let statement =
            Statement::new("DELETE FROM file_moves WHERE sha256 = $1").bind(sha256.to_hex());
        Self::execute(&mut tx, statement).await?;
        tx.commit().await?;
        Ok(moved == 1)
    }

    async fn record_deletion(&self, key: &ObjectKey, now: DateTime<Utc>) -> MetaResult<()> {
        Self::execute(&mut *self.connection().await?, record(key, now)).await?;
        Ok(())
    }

    async fn recorded_deletions(&self, limit: u32) -> MetaResult<Vec<ObjectKey>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new("SELECT object_key FROM deletions ORDER BY recorded_at LIMIT $1")
                .bind(i64::from(limit)),
        )
        .await?;
        let keys = rows
            .iter()
            .map(|row| decode::object_key_or_null(row, "object_key"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(keys.into_iter().flatten().collect())
    }

    async fn forget_deletion(&self, key: &ObjectKey) -> MetaResult<()> {
        let statement =
            Statement::new("DELETE FROM deletions WHERE object_key = $1").bind(key.as_str());
        Self::execute(&mut *self.connection().await?, statement).await?;
        Ok(())
    }
}

/// The statement that records `key` for deletion at `now`.
fn record(key: &ObjectKey, now: DateTime<Utc>) -> Statement<'static> {
    Statement::new(
        "INSERT INTO deletions (object_key, recorded_at) VALUES ($1, $2)
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(key.as_str().to_owned())
    .bind(now)
}
