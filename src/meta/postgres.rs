//! The metadata store on PostgreSQL: for production and many instances.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::{
    Chunk, Claim, FileRecord, Inserted, MergeLease, MetaResult, MetaStore, Published, Recorded,
    Session, parse_hash, parse_status, to_i64, to_u64,
};
use crate::api::UploadStatus;
use crate::upload::ContentHash;

/// PostgreSQL migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const SESSION_COLUMNS: &str =
    "id, owner, sha256, size, chunk_size, filename, content_type, status, expires_at";

/// Metadata in PostgreSQL, shared by every instance.
#[derive(Debug, Clone)]
pub struct PostgresMeta {
    pool: PgPool,
}

impl PostgresMeta {
    /// Connects to `url` and applies the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> MetaResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await.map_err(sqlx::Error::from)?;
        Ok(PostgresMeta { pool })
    }
}

fn session_from_row(row: &PgRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        sha256: parse_hash(row.try_get("sha256")?)?,
        size: to_u64(row.try_get("size")?)?,
        chunk_size: to_u64(row.try_get("chunk_size")?)?,
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        status: parse_status(row.try_get("status")?)?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn file_from_row(row: &PgRow) -> Result<FileRecord, sqlx::Error> {
    Ok(FileRecord {
        sha256: parse_hash(row.try_get("sha256")?)?,
        size: to_u64(row.try_get("size")?)?,
        content_type: row.try_get("content_type")?,
        object_key: row.try_get("object_key")?,
        published_at: row.try_get("published_at")?,
    })
}

fn lease_from_row(row: &PgRow) -> Result<MergeLease, sqlx::Error> {
    Ok(MergeLease {
        sha256: parse_hash(row.try_get("sha256")?)?,
        upload_id: row.try_get("upload_id")?,
        token: row.try_get("token")?,
        object_key: row.try_get("object_key")?,
        lease_until: row.try_get("lease_until")?,
    })
}

async fn insert_file_row(
    tx: &mut Transaction<'_, Postgres>,
    file: &FileRecord,
) -> MetaResult<Published> {
    let inserted = sqlx::query(
        "INSERT INTO files (sha256, size, content_type, object_key, published_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(file.sha256.to_hex())
    .bind(to_i64(file.size))
    .bind(&file.content_type)
    .bind(&file.object_key)
    .bind(file.published_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Published::Now(file.clone()));
    }
    let row = sqlx::query("SELECT * FROM files WHERE sha256 = $1")
        .bind(file.sha256.to_hex())
        .fetch_one(&mut **tx)
        .await?;
    Ok(Published::Already(file_from_row(&row)?))
}

#[async_trait]
impl MetaStore for PostgresMeta {
    async fn ping(&self) -> MetaResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn find_session(&self, owner: &str, sha256: &ContentHash) -> MetaResult<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM uploads WHERE owner = $1 AND sha256 = $2"
        ))
        .bind(owner)
        .bind(sha256.to_hex())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn insert_session(&self, session: &Session) -> MetaResult<Inserted> {
        let chunk_count = session.chunk_count();
        let row = sqlx::query(&format!(
            "INSERT INTO uploads (id, owner, sha256, size, chunk_size, chunk_count, filename,
                                  content_type, status, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (owner, sha256) DO NOTHING
             RETURNING {SESSION_COLUMNS}"
        ))
        .bind(&session.id)
        .bind(&session.owner)
        .bind(session.sha256.to_hex())
        .bind(to_i64(session.size))
        .bind(to_i64(session.chunk_size))
        .bind(to_i64(chunk_count))
        .bind(&session.filename)
        .bind(&session.content_type)
        .bind(session.status.as_str())
        .bind(session.expires_at)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(Inserted::Created(session_from_row(&row)?));
        }
        match self.find_session(&session.owner, &session.sha256).await? {
            Some(existing) => Ok(Inserted::Existing(existing)),
            None => Box::pin(self.insert_session(session)).await,
        }
    }

    async fn delete_session(&self, id: &str) -> MetaResult<bool> {
        let deleted = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn delete_expired_session(&self, id: &str, now: DateTime<Utc>) -> MetaResult<bool> {
        let deleted = sqlx::query(
            "DELETE FROM uploads WHERE id = $1 AND expires_at < $2 AND status <> 'merging'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(deleted == 1)
    }

    async fn touch_session(&self, id: &str, expires_at: DateTime<Utc>) -> MetaResult<()> {
        sqlx::query("UPDATE uploads SET expires_at = GREATEST(expires_at, $2) WHERE id = $1")
            .bind(id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn chunks(&self, upload_id: &str) -> MetaResult<Vec<Chunk>> {
        let rows = sqlx::query(
            "SELECT idx, size, sha256, object_key FROM chunks WHERE upload_id = $1 ORDER BY idx",
        )
        .bind(upload_id)
        .fetch_all(&self.pool)
        .await?;
        let chunks = rows
            .iter()
            .map(|row| {
                Ok(Chunk {
                    index: to_u64(row.try_get("idx")?)?,
                    size: to_u64(row.try_get("size")?)?,
                    sha256: row.try_get("sha256")?,
                    object_key: row.try_get("object_key")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(chunks)
    }

    async fn record_chunk(
        &self,
        upload_id: &str,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM uploads WHERE id = $1 FOR UPDATE")
                .bind(upload_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(status) = status else {
            return Ok(Recorded::SessionGone);
        };
        let status = parse_status(status)?;
        if status != UploadStatus::Uploading {
            return Ok(Recorded::NotWritable(status));
        }
        let replaced_key: Option<String> =
            sqlx::query_scalar("SELECT object_key FROM chunks WHERE upload_id = $1 AND idx = $2")
                .bind(upload_id)
                .bind(to_i64(chunk.index))
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO chunks (upload_id, idx, size, sha256, object_key)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (upload_id, idx) DO UPDATE
             SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, object_key = EXCLUDED.object_key",
        )
        .bind(upload_id)
        .bind(to_i64(chunk.index))
        .bind(to_i64(chunk.size))
        .bind(&chunk.sha256)
        .bind(&chunk.object_key)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE uploads SET expires_at = GREATEST(expires_at, $2) WHERE id = $1")
            .bind(upload_id)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        let totals = sqlx::query(
            "SELECT count(*) AS n, COALESCE(sum(size), 0)::BIGINT AS bytes
             FROM chunks WHERE upload_id = $1",
        )
        .bind(upload_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Recorded::Accepted {
            replaced_key: replaced_key.filter(|key| *key != chunk.object_key),
            received_count: to_u64(totals.try_get("n")?)?,
            received_bytes: to_u64(totals.try_get("bytes")?)?,
        })
    }

    async fn start_merge(&self, upload_id: &str) -> MetaResult<bool> {
        let updated = sqlx::query(
            "UPDATE uploads SET status = 'merging'
             WHERE id = $1 AND status = 'uploading'
               AND chunk_count = (SELECT count(*) FROM chunks WHERE upload_id = $1)",
        )
        .bind(upload_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn claim_merge(&self, lease: &MergeLease, now: DateTime<Utc>) -> MetaResult<Claim> {
        let sha256 = lease.sha256.to_hex();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO merges (sha256, upload_id, token, object_key, lease_until)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha256)
        .bind(&lease.upload_id)
        .bind(&lease.token)
        .bind(&lease.object_key)
        .bind(lease.lease_until)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Claim::Claimed {
                abandoned_key: None,
            });
        }
        let current =
            sqlx::query("SELECT object_key, lease_until FROM merges WHERE sha256 = $1 FOR UPDATE")
                .bind(&sha256)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else {
            return Ok(Claim::Busy);
        };
        let lease_until: DateTime<Utc> = current.try_get("lease_until")?;
        if lease_until >= now {
            return Ok(Claim::Busy);
        }
        sqlx::query(
            "UPDATE merges SET upload_id = $2, token = $3, object_key = $4, lease_until = $5
             WHERE sha256 = $1",
        )
        .bind(&sha256)
        .bind(&lease.upload_id)
        .bind(&lease.token)
        .bind(&lease.object_key)
        .bind(lease.lease_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claim::Claimed {
            abandoned_key: Some(current.try_get("object_key")?),
        })
    }

    async fn renew_merge(
        &self,
        sha256: &ContentHash,
        token: &str,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let updated =
            sqlx::query("UPDATE merges SET lease_until = $3 WHERE sha256 = $1 AND token = $2")
                .bind(sha256.to_hex())
                .bind(token)
                .bind(lease_until)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(updated == 1)
    }

    async fn publish(
        &self,
        file: &FileRecord,
        upload_id: &str,
        token: &str,
    ) -> MetaResult<Published> {
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query("DELETE FROM merges WHERE sha256 = $1 AND token = $2")
            .bind(file.sha256.to_hex())
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if released != 1 {
            return Ok(Published::LeaseLost);
        }
        let published = insert_file_row(&mut tx, file).await?;
        sqlx::query("UPDATE uploads SET status = 'complete' WHERE id = $1 AND status = 'merging'")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn fail_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &str,
        token: &str,
    ) -> MetaResult<bool> {
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query("DELETE FROM merges WHERE sha256 = $1 AND token = $2")
            .bind(sha256.to_hex())
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if released != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE uploads SET status = 'failed' WHERE id = $1 AND status = 'merging'")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn complete_session(&self, upload_id: &str) -> MetaResult<bool> {
        let updated = sqlx::query(
            "UPDATE uploads SET status = 'complete' WHERE id = $1 AND status = 'merging'",
        )
        .bind(upload_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn insert_file(&self, file: &FileRecord) -> MetaResult<Published> {
        let mut tx = self.pool.begin().await?;
        let published = insert_file_row(&mut tx, file).await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn find_file(&self, sha256: &ContentHash) -> MetaResult<Option<FileRecord>> {
        let row = sqlx::query("SELECT * FROM files WHERE sha256 = $1")
            .bind(sha256.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(file_from_row).transpose()?)
    }

    async fn stalled_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<Session>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM uploads u
             WHERE status = 'merging' AND NOT EXISTS (
                 SELECT 1 FROM merges m WHERE m.sha256 = u.sha256 AND m.lease_until >= $1)"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(session_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> MetaResult<Vec<Session>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM uploads
             WHERE expires_at < $1 AND status <> 'merging' ORDER BY expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(session_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn orphaned_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<MergeLease>> {
        let rows = sqlx::query(
            "SELECT m.* FROM merges m
             WHERE m.lease_until < $1 AND NOT EXISTS (
                 SELECT 1 FROM uploads u WHERE u.id = m.upload_id AND u.status = 'merging')",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(lease_from_row).collect::<Result<_, _>>()?)
    }

    async fn session_exists(&self, id: &str) -> MetaResult<bool> {
        let found = sqlx::query("SELECT 1 FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn file_key_in_use(&self, object_key: &str) -> MetaResult<bool> {
        let found = sqlx::query("SELECT 1 FROM files WHERE object_key = $1")
            .bind(object_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn drop_merge(&self, sha256: &ContentHash, token: &str) -> MetaResult<bool> {
        let dropped = sqlx::query("DELETE FROM merges WHERE sha256 = $1 AND token = $2")
            .bind(sha256.to_hex())
            .bind(token)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(dropped == 1)
    }
}
