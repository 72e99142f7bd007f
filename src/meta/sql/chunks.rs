//! Chunks and their hash links: recording a chunk while its session takes
//! chunks, summing up what a session received, and linking each chunk copy
//! to the file's running hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::UploadStatus;
use sqlx::Transaction;

use super::{Connection, Dialect, ReadHere, Row, SqlMeta, Statement};
use crate::ids::UploadId;
use crate::meta::chunk_bits;
use crate::meta::decode::{self, Columns, parse_status, to_i64, to_u64};
use crate::meta::{Chunk, ChunkStore, HashLink, MetaResult, ReceivedChunks, Recorded, Unlinked};

/// A session's size, chunk size and received bits; the SQLite fast path
/// reads them too.
pub(crate) const RECEIVED_BITS: &str =
    "SELECT size, chunk_size, received FROM uploads WHERE id = $1";

/// The received chunks of session `$1` as runs, counted in SQL, for a
/// session row that keeps no bits.
const RECEIVED_RUNS: &str = "SELECT CAST(min(idx) AS BIGINT) AS first,
            CAST(max(idx) AS BIGINT) AS last, CAST(sum(size) AS BIGINT) AS bytes
     FROM (SELECT idx, size, idx - row_number() OVER (ORDER BY idx) AS run
           FROM chunks WHERE upload_id = $1) AS numbered
     GROUP BY run ORDER BY first";

#[async_trait]
impl<D: Dialect> ChunkStore for SqlMeta<D> {
    async fn chunks(&self, upload_id: &UploadId) -> MetaResult<Vec<Chunk>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT idx, size, sha256, object_key, hash_before, hash_after
                 FROM chunks WHERE upload_id = $1 ORDER BY idx",
            )
            .bind(upload_id.as_str()),
        )
        .await?;
        Ok(rows.iter().map(decode::chunk).collect::<Result<_, _>>()?)
    }

    async fn chunk(&self, upload_id: &UploadId, index: u64) -> MetaResult<Option<Chunk>> {
        Self::chunk_at(&mut *self.connection().await?, upload_id, index).await
    }

    async fn received(&self, upload_id: &UploadId) -> MetaResult<ReceivedChunks> {
        if let ReadHere::Answered(received) = self.dialect().received_here(upload_id) {
            return Ok(received);
        }
        let mut connection = self.connection().await?;
        let statement = Statement::new(RECEIVED_BITS).bind(upload_id.as_str());
        let Some(session) = Self::fetch_optional(&mut connection, statement).await? else {
            return Ok(ReceivedChunks::default());
        };
        if let Some(received) = decode::received_bits(&session)? {
            return Ok(received);
        }
        let statement = Statement::new(RECEIVED_RUNS).bind(upload_id.as_str());
        let runs = Self::fetch_all(&mut connection, statement).await?;
        let mut received = ReceivedChunks::default();
        for run in &runs {
            let first = to_u64(run.integer("first")?)?;
            let last = to_u64(run.integer("last")?)?;
            received.runs.push([first, last]);
            received.bytes += to_u64(run.integer("bytes")?)?;
        }
        Ok(received)
    }

    async fn record_chunk(
        &self,
        upload_id: &UploadId,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded> {
        let mut tx = self.begin_write().await?;
        let recorded = Self::record_chunk_in(&mut tx, upload_id, chunk, expires_at).await?;
        if matches!(recorded, Recorded::Accepted { .. }) {
            tx.commit().await?;
        }
        Ok(recorded)
    }

    async fn first_unlinked(&self, upload_id: &UploadId) -> MetaResult<Option<Unlinked>> {
        let mut connection = self.connection().await?;
        let row = Self::fetch_optional(
            &mut connection,
            Statement::new(
                "SELECT idx, size, sha256, object_key, hash_before, hash_after
                 FROM chunks WHERE upload_id = $1 AND hash_after IS NULL
                 ORDER BY idx LIMIT 1",
            )
            .bind(upload_id.as_str()),
        )
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let chunk = decode::chunk(&row)?;
        let previous = match chunk.index.checked_sub(1) {
            Some(before) => Self::chunk_at(&mut connection, upload_id, before).await?,
            None => None,
        };
        Ok(Some(Unlinked { chunk, previous }))
    }

    async fn link_chunk(
        &self,
        upload_id: &UploadId,
        chunk: &Chunk,
        link: &HashLink,
    ) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE chunks SET hash_before = $4, hash_after = $5
                 WHERE upload_id = $1 AND idx = $2 AND object_key = $3",
            )
            .bind(upload_id.as_str())
            .bind(to_i64(chunk.index))
            .bind(chunk.object_key.as_str())
            .bind(link.before.to_bytes())
            .bind(link.after.to_bytes()),
        )
        .await?;
        Ok(updated == 1)
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// The chunk of `upload_id` at `index`, with its link, read on
    /// `connection`.
    async fn chunk_at(
        connection: &mut Connection<D>,
        upload_id: &UploadId,
        index: u64,
    ) -> MetaResult<Option<Chunk>> {
        let row = Self::fetch_optional(
            connection,
            Statement::new(
                "SELECT idx, size, sha256, object_key, hash_before, hash_after
                 FROM chunks WHERE upload_id = $1 AND idx = $2",
            )
            .bind(upload_id.as_str())
            .bind(to_i64(index)),
        )
        .await?;
        Ok(row.as_ref().map(decode::chunk).transpose()?)
    }

    /// Records `chunk` for `upload_id` in `tx` and extends the session's
    /// expiry to `expires_at`; the caller commits an accepted chunk.
    async fn record_chunk_in(
        tx: &mut Transaction<'static, D::Db>,
        upload_id: &UploadId,
        chunk: &Chunk,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<Recorded> {
        // Writing the session row first locks it until commit, so that no
        // merge can start while this chunk is being recorded.
        let session = Self::fetch_optional(
            tx,
            Statement::new(
                "UPDATE uploads
                 SET expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END
                 WHERE id = $1 RETURNING status, received, size, chunk_size",
            )
            .bind(upload_id.as_str())
            .bind(expires_at),
        )
        .await?;
        let Some(session) = session else {
            return Ok(Recorded::SessionGone);
        };
        let status = parse_status(session.text("status")?)?;
        if status != UploadStatus::Uploading {
            return Ok(Recorded::NotWritable(status));
        }
        let replaced = Self::chunk_at(tx, upload_id, chunk.index).await?;
        if replaced
            .as_ref()
            .is_some_and(|earlier| earlier.sha256 != chunk.sha256)
        {
            Self::clear_links_after(tx, upload_id, chunk.index).await?;
        }
        Self::execute(tx, upsert_statement(upload_id, chunk)).await?;
        let (received_count, received_bytes) =
            Self::count_received(tx, upload_id, &session, chunk.index).await?;
        Ok(Recorded::Accepted {
            replaced_key: replaced
                .map(|earlier| earlier.object_key)
                .filter(|key| *key != chunk.object_key),
            received_count,
            received_bytes,
        })
    }

    /// Adds chunk `index` to the received bits of `session` (its row as
    /// [`RECEIVED_BITS`] reads it) in `tx`; answers how many chunks the
    /// session holds and their bytes, counted in SQL for a row without bits.
    async fn count_received(
        tx: &mut Transaction<'static, D::Db>,
        upload_id: &UploadId,
        session: &Row<D>,
        index: u64,
    ) -> MetaResult<(u64, u64)> {
        let Some(mut bits) = session.bytes_or_null("received")? else {
            let totals = Self::fetch_one(
                tx,
                Statement::new(
                    "SELECT count(*) AS n, CAST(coalesce(sum(size), 0) AS BIGINT) AS bytes
                     FROM chunks WHERE upload_id = $1",
                )
                .bind(upload_id.as_str()),
            )
            .await?;
            return Ok((
                to_u64(totals.integer("n")?)?,
                to_u64(totals.integer("bytes")?)?,
            ));
        };
        let added = chunk_bits::insert(&mut bits, index);
        let size = to_u64(session.integer("size")?)?;
        let totals = chunk_bits::totals(&bits, size, to_u64(session.integer("chunk_size")?)?);
        if added {
            let statement = Statement::new("UPDATE uploads SET received = $2 WHERE id = $1")
                .bind(upload_id.as_str())
                .bind(bits);
            Self::execute(tx, statement).await?;
        }
        Ok(totals)
    }

    /// Clears the links of the chunks after `index`, on `connection`: they
    /// started from a chunk whose bytes are replaced.
    async fn clear_links_after(
        connection: &mut Connection<D>,
        upload_id: &UploadId,
        index: u64,
    ) -> MetaResult<()> {
        let statement = Statement::new(
            "UPDATE chunks SET hash_before = NULL, hash_after = NULL
             WHERE upload_id = $1 AND idx > $2 AND hash_after IS NOT NULL",
        )
        .bind(upload_id.as_str())
        .bind(to_i64(index));
        Self::execute(connection, statement).await?;
        Ok(())
    }
}

/// Inserts `chunk`, or replaces the row of its index with it.
fn upsert_statement<'a>(upload_id: &'a UploadId, chunk: &'a Chunk) -> Statement<'a> {
    let link = chunk.link.as_ref();
    Statement::new(
        "INSERT INTO chunks (upload_id, idx, size, sha256, object_key, hash_before, hash_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (upload_id, idx) DO UPDATE
         SET size = excluded.size, sha256 = excluded.sha256,
             object_key = excluded.object_key,
             hash_before = excluded.hash_before, hash_after = excluded.hash_after",
    )
    .bind(upload_id.as_str())
    .bind(to_i64(chunk.index))
    .bind(to_i64(chunk.size))
    .bind(chunk.sha256.to_hex())
    .bind(chunk.object_key.as_str())
    .bind(link.map(|link| link.before.to_bytes()))
    .bind(link.map(|link| link.after.to_bytes()))
}
