//! The one SQL text of the metadata store, run by both databases.
//!
//! Statements use `$N` placeholders, which PostgreSQL and SQLite both read,
//! and only SQL that both dialects agree on. What differs is named once in
//! each backend's `dialect` module: how a writing transaction begins, how
//! one owner's inserts are serialized, how a time is stored, how the
//! database tells the time, and whether a connection belongs to the
//! runtime that opened it. [`meta_store!`] implements
//! [`super::MetaStore`] for a backend from those facts.

#[macro_use]
mod rows;
#[macro_use]
mod steps;
#[macro_use]
mod links;
#[macro_use]
mod recording;
#[macro_use]
mod upkeep;
#[macro_use]
mod pooled;

/// The columns of a session row, in the order every query selects them.
macro_rules! session_columns {
    () => {
        "id, owner, sha256, size, chunk_size, filename, content_type, status, expires_at"
    };
}

/// The columns of a chunk row, in the order every query selects them.
macro_rules! chunk_columns {
    () => {
        "idx, size, sha256, object_key, hash_before, hash_after"
    };
}

/// Implements [`MetaStore`](super::MetaStore) for `$store`, whose `pool`
/// field is a pool of `$db` rows `$row` and whose `runtime` field is the
/// runtime that opened it, with the dialect module `$dialect`
/// (`BEGIN_WRITE`, `LOCK_OWNER`, `CLOCK`, `time`, `read_time`,
/// `CONNECTIONS_BELONG_TO_A_RUNTIME`). `$store` answers the lookups it can
/// without a pooled connection with `session_here` and `received_here`
/// (`None`: ask the pool).
macro_rules! meta_store {
    ($store:ident, $db:ty, $row:ty, $dialect:ident) => {
        mod store {
            use super::{$dialect, $store};
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};
            use sqlx::pool::PoolConnection;
            use sqlx::{Row, Transaction};

            use $crate::meta::chunk_bits;
            use $crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
            use $crate::meta::{
                Chunk, Claim, FileRecord, HashLink, Inserted, MergeLease, MetaError, MetaResult,
                MetaStore, OwnerUsage, Published, ReceivedChunks, Recorded, Session, SessionQuota,
                StoredSession, Unlinked, decoded, parse_status, to_i64, to_u64,
            };
            use $crate::running_hash::RunningSha256;

            pooled_writes!($store, $db, $dialect);

            transaction_steps!($db, $dialect);

            link_queries!($db);

            chunk_recording!($db, $dialect);

            upkeep_queries!($db, $dialect);

            row_decoders!($row, $dialect);

            #[async_trait]
            impl MetaStore for $store {
                async fn ping(&self) -> MetaResult<()> {
                    sqlx::query("SELECT 1").execute(&mut *self.connection().await?).await?;
                    Ok(())
                }

                fn connections_in_use(&self) -> u32 {
                    let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
                    self.pool.size().saturating_sub(idle)
                }

                async fn clock(&self) -> MetaResult<DateTime<Utc>> {
                    let row = sqlx::query($dialect::CLOCK).fetch_one(&mut *self.connection().await?).await?;
                    Ok($dialect::read_time(&row, "now")?)
                }

                async fn find_session(
                    &self,
                    owner: &OwnerId,
                    sha256: &ContentHash,
                ) -> MetaResult<Option<Session>> {
                    if let Some(found) = self.session_here(owner, sha256) {
                        return Ok(found);
                    }
                    session_of(&mut *self.connection().await?, owner, sha256).await
                }

                async fn owner_usage(
                    &self,
                    owner: &OwnerId,
                    now: DateTime<Utc>,
                ) -> MetaResult<OwnerUsage> {
                    usage_of(&mut *self.connection().await?, owner, now).await
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
                    self.insert_session_checked(session, Some((quota, now))).await
                }

                async fn delete_session(&self, id: &UploadId) -> MetaResult<bool> {
                    let deleted = sqlx::query("DELETE FROM uploads WHERE id = $1")
                        .bind(id.as_str())
                        .execute(&mut *self.connection().await?)
                        .await?
                        .rows_affected();
                    Ok(deleted == 1)
                }

                async fn delete_expired_session(
                    &self,
                    id: &UploadId,
                    now: DateTime<Utc>,
                ) -> MetaResult<bool> {
                    let deleted = sqlx::query(
                        "DELETE FROM uploads WHERE id = $1 AND expires_at < $2 AND status <> 'merging'",
                    )
                    .bind(id.as_str())
                    .bind($dialect::time(now))
                    .execute(&mut *self.connection().await?)
                    .await?
                    .rows_affected();
                    Ok(deleted == 1)
                }

                async fn touch_session(
                    &self,
                    id: &UploadId,
                    expires_at: DateTime<Utc>,
                ) -> MetaResult<()> {
                    sqlx::query("UPDATE uploads SET expires_at = $2 WHERE id = $1 AND expires_at < $2")
                        .bind(id.as_str())
                        .bind($dialect::time(expires_at))
                        .execute(&mut *self.connection().await?)
                        .await?;
                    Ok(())
                }

                async fn chunks(&self, upload_id: &UploadId) -> MetaResult<Vec<Chunk>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        chunk_columns!(),
                        " FROM chunks WHERE upload_id = $1 ORDER BY idx"
                    ))
                    .bind(upload_id.as_str())
                    .fetch_all(&mut *self.connection().await?)
                    .await?;
                    Ok(rows.iter().map(chunk_from_row).collect::<Result<_, _>>()?)
                }

                async fn received(&self, upload_id: &UploadId) -> MetaResult<ReceivedChunks> {
                    if let Some(received) = self.received_here(upload_id) {
                        return Ok(received);
                    }
                    let session = sqlx::query(
                        "SELECT size, chunk_size, received FROM uploads WHERE id = $1",
                    )
                    .bind(upload_id.as_str())
                    .fetch_optional(&mut *self.connection().await?)
                    .await?;
                    let Some(session) = session else {
                        return Ok(ReceivedChunks::default());
                    };
                    if let Some(bits) = session.try_get::<Option<Vec<u8>>, _>("received")? {
                        return Ok(chunk_bits::summed_up(
                            &bits,
                            to_u64(session.try_get("size")?)?,
                            to_u64(session.try_get("chunk_size")?)?,
                        ));
                    }
                    let rows = sqlx::query(
                        "SELECT CAST(min(idx) AS BIGINT) AS first, CAST(max(idx) AS BIGINT) AS last,
                                CAST(sum(size) AS BIGINT) AS bytes
                         FROM (SELECT idx, size, idx - row_number() OVER (ORDER BY idx) AS run
                               FROM chunks WHERE upload_id = $1) AS numbered
                         GROUP BY run ORDER BY first",
                    )
                    .bind(upload_id.as_str())
                    .fetch_all(&mut *self.connection().await?)
                    .await?;
                    let mut received = ReceivedChunks::default();
                    for row in &rows {
                        received
                            .runs
                            .push([to_u64(row.try_get("first")?)?, to_u64(row.try_get("last")?)?]);
                        received.bytes += to_u64(row.try_get("bytes")?)?;
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
                    let recorded = record_chunk_in(&mut tx, upload_id, chunk, expires_at).await?;
                    if matches!(recorded, Recorded::Accepted { .. }) {
                        tx.commit().await?;
                    }
                    Ok(recorded)
                }

                async fn chunk(&self, upload_id: &UploadId, index: u64) -> MetaResult<Option<Chunk>> {
                    chunk_at(&mut *self.connection().await?, upload_id, index).await
                }

                async fn first_unlinked(&self, upload_id: &UploadId) -> MetaResult<Option<Unlinked>> {
                    first_unlinked_of(&mut *self.connection().await?, upload_id).await
                }

                async fn link_chunk(
                    &self,
                    upload_id: &UploadId,
                    chunk: &Chunk,
                    link: &HashLink,
                ) -> MetaResult<bool> {
                    write_link(&mut *self.connection().await?, upload_id, chunk, link).await
                }

                async fn start_merge(&self, upload_id: &UploadId) -> MetaResult<bool> {
                    let updated = sqlx::query(
                        "UPDATE uploads SET status = 'merging'
                         WHERE id = $1 AND status = 'uploading'
                           AND chunk_count = (SELECT count(*) FROM chunks WHERE upload_id = $1)",
                    )
                    .bind(upload_id.as_str())
                    .execute(&mut *self.connection().await?)
                    .await?
                    .rows_affected();
                    Ok(updated == 1)
                }

                async fn claim_merge(
                    &self,
                    lease: &MergeLease,
                    now: DateTime<Utc>,
                ) -> MetaResult<Claim> {
                    let sha256 = lease.sha256.to_hex();
                    let mut tx = self.begin_write().await?;
                    let inserted = sqlx::query(
                        "INSERT INTO merges (sha256, upload_id, token, object_key, lease_until)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(&sha256)
                    .bind(lease.upload_id.as_str())
                    .bind(lease.token.as_str())
                    .bind(lease.object_key.as_str())
                    .bind($dialect::time(lease.lease_until))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        tx.commit().await?;
                        return Ok(Claim::Claimed {
                            abandoned_key: None,
                        });
                    }
                    let expired = sqlx::query(
                        "SELECT token, object_key FROM merges WHERE sha256 = $1 AND lease_until < $2",
                    )
                    .bind(&sha256)
                    .bind($dialect::time(now))
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(expired) = expired else {
                        return Ok(Claim::Busy);
                    };
                    let taken_over = sqlx::query(
                        "UPDATE merges SET upload_id = $3, token = $4, object_key = $5, lease_until = $6
                         WHERE sha256 = $1 AND token = $2",
                    )
                    .bind(&sha256)
                    .bind(expired.try_get::<String, _>("token")?)
                    .bind(lease.upload_id.as_str())
                    .bind(lease.token.as_str())
                    .bind(lease.object_key.as_str())
                    .bind($dialect::time(lease.lease_until))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    if taken_over != 1 {
                        return Ok(Claim::Busy);
                    }
                    Ok(Claim::Claimed {
                        abandoned_key: object_key(expired.try_get("object_key")?)?,
                    })
                }

                async fn renew_merge(
                    &self,
                    sha256: &ContentHash,
                    token: &WriteToken,
                    lease_until: DateTime<Utc>,
                ) -> MetaResult<bool> {
                    let updated = sqlx::query(
                        "UPDATE merges SET lease_until = $3 WHERE sha256 = $1 AND token = $2",
                    )
                    .bind(sha256.to_hex())
                    .bind(token.as_str())
                    .bind($dialect::time(lease_until))
                    .execute(&mut *self.connection().await?)
                    .await?
                    .rows_affected();
                    Ok(updated == 1)
                }

                async fn publish(
                    &self,
                    file: &FileRecord,
                    upload_id: &UploadId,
                    token: &WriteToken,
                ) -> MetaResult<Published> {
                    let mut tx = self.begin_write().await?;
                    if !take_lease(&mut tx, &file.sha256, token).await? {
                        return Ok(Published::LeaseLost);
                    }
                    let published = insert_file_row(&mut tx, file).await?;
                    sqlx::query(
                        "UPDATE uploads SET status = 'complete' WHERE id = $1 AND status = 'merging'",
                    )
                    .bind(upload_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(published)
                }

                async fn fail_merge(
                    &self,
                    sha256: &ContentHash,
                    upload_id: &UploadId,
                    token: &WriteToken,
                ) -> MetaResult<bool> {
                    let mut tx = self.begin_write().await?;
                    if !take_lease(&mut tx, sha256, token).await? {
                        return Ok(false);
                    }
                    sqlx::query(
                        "UPDATE uploads SET status = 'failed' WHERE id = $1 AND status = 'merging'",
                    )
                    .bind(upload_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn insert_file(&self, file: &FileRecord) -> MetaResult<Published> {
                    let mut tx = self.begin_write().await?;
                    let published = insert_file_row(&mut tx, file).await?;
                    tx.commit().await?;
                    Ok(published)
                }

                async fn repair_file(
                    &self,
                    file: &FileRecord,
                    missing_key: &ObjectKey,
                ) -> MetaResult<bool> {
                    let updated = sqlx::query(
                        "UPDATE files SET object_key = $1, part_size = $2
                         WHERE sha256 = $3 AND object_key = $4 AND size = $5",
                    )
                    .bind(file.object_key.as_str())
                    .bind(file.part_size.map(to_i64))
                    .bind(file.sha256.to_hex())
                    .bind(missing_key.as_str())
                    .bind(to_i64(file.size))
                    .execute(&mut *self.connection().await?)
                    .await?
                    .rows_affected();
                    Ok(updated == 1)
                }

                async fn find_file(&self, sha256: &ContentHash) -> MetaResult<Option<FileRecord>> {
                    let row = sqlx::query("SELECT * FROM files WHERE sha256 = $1")
                        .bind(sha256.to_hex())
                        .fetch_optional(&mut *self.connection().await?)
                        .await?;
                    Ok(row.as_ref().map(file_from_row).transpose()?)
                }

                async fn stalled_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<Session>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        session_columns!(),
                        " FROM uploads u
                         WHERE status = 'merging' AND NOT EXISTS (
                             SELECT 1 FROM merges m
                             WHERE m.sha256 = u.sha256 AND m.lease_until >= $1)"
                    ))
                    .bind($dialect::time(now))
                    .fetch_all(&mut *self.connection().await?)
                    .await?;
                    sessions(&rows)
                }

                async fn expired_sessions(
                    &self,
                    now: DateTime<Utc>,
                    limit: u32,
                ) -> MetaResult<Vec<Session>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        session_columns!(),
                        " FROM uploads WHERE expires_at < $1 AND status <> 'merging'
                         ORDER BY expires_at LIMIT $2"
                    ))
                    .bind($dialect::time(now))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.connection().await?)
                    .await?;
                    sessions(&rows)
                }

                async fn orphaned_merges(&self, now: DateTime<Utc>) -> MetaResult<Vec<MergeLease>> {
                    let rows = sqlx::query(
                        "SELECT m.* FROM merges m
                         WHERE m.lease_until < $1 AND NOT EXISTS (
                             SELECT 1 FROM uploads u
                             WHERE u.id = m.upload_id AND u.status = 'merging')",
                    )
                    .bind($dialect::time(now))
                    .fetch_all(&mut *self.connection().await?)
                    .await?;
                    Ok(rows.iter().map(lease_from_row).collect::<Result<_, _>>()?)
                }

                async fn session_status(&self, id: &UploadId) -> MetaResult<Option<UploadStatus>> {
                    let row = sqlx::query("SELECT status FROM uploads WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *self.connection().await?)
                        .await?;
                    let status: Option<String> = row.map(|row| row.try_get("status")).transpose()?;
                    Ok(status.map(parse_status).transpose()?)
                }

                async fn merge_writes_to(&self, object_key: &ObjectKey) -> MetaResult<bool> {
                    let found = sqlx::query("SELECT 1 FROM merges WHERE object_key = $1")
                        .bind(object_key.as_str())
                        .fetch_optional(&mut *self.connection().await?)
                        .await?;
                    Ok(found.is_some())
                }

                async fn object_key_in_use(&self, object_key: &ObjectKey) -> MetaResult<bool> {
                    let found = sqlx::query(
                        "SELECT 1 FROM files WHERE object_key = $1
                         UNION ALL SELECT 1 FROM merges WHERE object_key = $1",
                    )
                    .bind(object_key.as_str())
                    .fetch_optional(&mut *self.connection().await?)
                    .await?;
                    Ok(found.is_some())
                }

                async fn store_binding(&self) -> MetaResult<Option<String>> {
                    store_binding_of(&mut *self.connection().await?).await
                }

                async fn bind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<String> {
                    let mut connection = self.connection().await?;
                    write_store_binding(&mut *connection, store_id, now, false).await?;
                    let bound = store_binding_of(&mut *connection).await?;
                    bound.ok_or_else(|| {
                        MetaError::Fault(sqlx::Error::RowNotFound)
                    })
                }

                async fn rebind_store(&self, store_id: &str, now: DateTime<Utc>) -> MetaResult<()> {
                    write_store_binding(&mut *self.connection().await?, store_id, now, true).await
                }

                async fn newest_files(&self, limit: u32) -> MetaResult<Vec<FileRecord>> {
                    newest_files_on(&mut *self.connection().await?, limit).await
                }

                async fn claim_leftover_listing(
                    &self,
                    now: DateTime<Utc>,
                    since: DateTime<Utc>,
                ) -> MetaResult<bool> {
                    claim_listing_on(&mut *self.connection().await?, now, since).await
                }

                async fn note_orphan(&self, key: &str, now: DateTime<Utc>) -> MetaResult<DateTime<Utc>> {
                    note_orphan_on(&mut *self.connection().await?, key, now).await
                }

                async fn forget_orphan(&self, key: &str) -> MetaResult<()> {
                    forget_orphan_on(&mut *self.connection().await?, key).await
                }

                async fn count_session_start(
                    &self,
                    owner: &OwnerId,
                    sha256: &ContentHash,
                    now: DateTime<Utc>,
                    window_from: DateTime<Utc>,
                ) -> MetaResult<(u64, DateTime<Utc>)> {
                    let mut connection = self.connection().await?;
                    count_session_start_on(&mut *connection, owner, sha256, now, window_from).await
                }

                async fn forget_orphans_unseen_since(&self, before: DateTime<Utc>) -> MetaResult<u64> {
                    forget_orphans_unseen_on(&mut *self.connection().await?, before).await
                }

                async fn drop_merge(
                    &self,
                    sha256: &ContentHash,
                    token: &WriteToken,
                ) -> MetaResult<bool> {
                    let mut tx = self.begin_write().await?;
                    let dropped = take_lease(&mut tx, sha256, token).await?;
                    tx.commit().await?;
                    Ok(dropped)
                }
            }
        }
    };
}
