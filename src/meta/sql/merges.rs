//! Merges and their leases: starting a merge once every chunk is there,
//! claiming, renewing and giving up the one lease a hash may have, and
//! publishing or failing while the lease holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use sqlx::Transaction;

use super::{Dialect, SqlMeta, Statement};
use crate::ids::{UploadId, WriteToken};
use crate::meta::chunk_bits;
use crate::meta::decode::to_i64;
use crate::meta::decode::{self, Columns};
use crate::meta::{Claim, FileRecord, MergeFailure, MergeLease, MergeStore, MetaResult, Published};

#[async_trait]
impl<D: Dialect> MergeStore for SqlMeta<D> {
    async fn start_merge(&self, upload_id: &UploadId) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE uploads SET status = 'merging'
                 WHERE id = $1 AND status = 'uploading'
                   AND chunk_count = (SELECT count(*) FROM chunks WHERE upload_id = $1)",
            )
            .bind(upload_id.as_str()),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn claim_merge(&self, lease: &MergeLease, now: DateTime<Utc>) -> MetaResult<Claim> {
        let sha256 = lease.sha256.to_hex();
        let mut tx = self.begin_write().await?;
        let inserted = Self::execute(
            &mut tx,
            Statement::new(
                "INSERT INTO merges (sha256, upload_id, token, object_key, lease_until)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha256.as_str())
            .bind(lease.upload_id.as_str())
            .bind(lease.token.as_str())
            .bind(lease.object_key.as_str())
            .bind(lease.lease_until),
        )
        .await?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Claim::Claimed {
                abandoned_key: None,
            });
        }
        let expired = Self::fetch_optional(
            &mut tx,
            Statement::new(
                "SELECT token, object_key FROM merges WHERE sha256 = $1 AND lease_until < $2",
            )
            .bind(sha256.as_str())
            .bind(now),
        )
        .await?;
        let Some(expired) = expired else {
            return Ok(Claim::Busy);
        };
        let taken_over = Self::execute(
            &mut tx,
            Statement::new(
                "UPDATE merges SET upload_id = $3, token = $4, object_key = $5, lease_until = $6
                 WHERE sha256 = $1 AND token = $2",
            )
            .bind(sha256.as_str())
            .bind(expired.text("token")?)
            .bind(lease.upload_id.as_str())
            .bind(lease.token.as_str())
            .bind(lease.object_key.as_str())
            .bind(lease.lease_until),
        )
        .await?;
        tx.commit().await?;
        if taken_over != 1 {
            return Ok(Claim::Busy);
        }
        Ok(Claim::Claimed {
            abandoned_key: decode::object_key_or_null(&expired, "object_key")?,
        })
    }

    async fn renew_merge(
        &self,
        sha256: &ContentHash,
        token: &WriteToken,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new("UPDATE merges SET lease_until = $3 WHERE sha256 = $1 AND token = $2")
                .bind(sha256.to_hex())
                .bind(token.as_str())
                .bind(lease_until),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn publish(
        &self,
        file: &FileRecord,
        upload_id: &UploadId,
        token: &WriteToken,
    ) -> MetaResult<Published> {
        let mut tx = self.begin_write().await?;
        if !Self::take_lease(&mut tx, &file.sha256, token).await? {
            return Ok(Published::LeaseLost);
        }
        let published = Self::insert_file_row(&mut tx, file).await?;
        let statement = Statement::new(
            "UPDATE uploads SET status = 'complete' WHERE id = $1 AND status = 'merging'
             RETURNING id, owner, sha256, size, chunk_size, filename, content_type, status,
                       expires_at",
        )
        .bind(upload_id.as_str());
        let completed = Self::fetch_optional(&mut tx, statement).await?;
        if let Some(session) = completed {
            Self::hold_published(&mut tx, &published, &decode::session(&session)?).await?;
        }
        tx.commit().await?;
        self.wake_deliveries();
        Ok(published)
    }

    async fn fail_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &UploadId,
        token: &WriteToken,
        failure: MergeFailure,
    ) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        if !Self::take_lease(&mut tx, sha256, token).await? {
            return Ok(false);
        }
        let statement = Statement::new(
            "UPDATE uploads SET status = 'failed', failure = $2
             WHERE id = $1 AND status = 'merging'
             RETURNING id, owner, sha256, size, chunk_size, filename, content_type, status,
                       expires_at",
        )
        .bind(upload_id.as_str())
        .bind(failure.as_str());
        if let Some(failed) = Self::fetch_optional(&mut tx, statement).await? {
            Self::record_failure(&mut tx, &decode::session(&failed)?, failure).await?;
        }
        tx.commit().await?;
        self.wake_deliveries();
        Ok(true)
    }

    async fn merge_failure(&self, upload_id: &UploadId) -> MetaResult<Option<MergeFailure>> {
        let row = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new("SELECT failure FROM uploads WHERE id = $1 AND status = 'failed'")
                .bind(upload_id.as_str()),
        )
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text = row.text_or_null("failure")?;
        Ok(Some(MergeFailure::parse(text.as_deref())))
    }

    async fn reopen_merge(
        &self,
        sha256: &ContentHash,
        upload_id: &UploadId,
        token: &WriteToken,
        lost: &[u64],
    ) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        if !Self::take_lease(&mut tx, sha256, token).await? {
            return Ok(false);
        }
        let session = Self::fetch_optional(
            &mut tx,
            Statement::new(
                "UPDATE uploads SET status = 'uploading'
                 WHERE id = $1 AND status = 'merging' RETURNING received",
            )
            .bind(upload_id.as_str()),
        )
        .await?;
        if let Some(session) = session {
            for index in lost {
                let statement =
                    Statement::new("DELETE FROM chunks WHERE upload_id = $1 AND idx = $2")
                        .bind(upload_id.as_str())
                        .bind(to_i64(*index));
                Self::execute(&mut tx, statement).await?;
            }
            if let Some(first) = lost.iter().min() {
                let statement = Statement::new(
                    "UPDATE chunks SET hash_before = NULL, hash_after = NULL
                     WHERE upload_id = $1 AND idx > $2",
                )
                .bind(upload_id.as_str())
                .bind(to_i64(*first));
                Self::execute(&mut tx, statement).await?;
            }
            if let Some(mut bits) = session.bytes_or_null("received")? {
                for index in lost {
                    chunk_bits::remove(&mut bits, *index);
                }
                let statement = Statement::new("UPDATE uploads SET received = $2 WHERE id = $1")
                    .bind(upload_id.as_str())
                    .bind(bits);
                Self::execute(&mut tx, statement).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn drop_merge(&self, sha256: &ContentHash, token: &WriteToken) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        let dropped = Self::take_lease(&mut tx, sha256, token).await?;
        tx.commit().await?;
        Ok(dropped)
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// Deletes the lease of `sha256` in `tx` if `token` still holds it;
    /// `false` when it does not.
    pub(super) async fn take_lease(
        tx: &mut Transaction<'static, D::Db>,
        sha256: &ContentHash,
        token: &WriteToken,
    ) -> MetaResult<bool> {
        let statement = Statement::new("DELETE FROM merges WHERE sha256 = $1 AND token = $2")
            .bind(sha256.to_hex())
            .bind(token.as_str());
        Ok(Self::execute(tx, statement).await? == 1)
    }
}
