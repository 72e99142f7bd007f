//! Appended uploads: inserting one within its owner's quota, recording
//! each append by compare-and-set on the offset, and publishing the last
//! append under the merge lease of its hash.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use ferry_proto::{ContentHash, FileName};
use sqlx::Transaction;

use super::holdings::completed;
use super::{Connection, Dialect, SqlMeta, Statement};
use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::meta::decode::{self, Columns, decoded, parse_status, to_i64, to_u64};
use crate::meta::{
    Append, Appended, AppendedStore, AppendedUpload, Concat, EventKind, FileRecord, FileRef,
    MetaResult, OwnerUsage, Published, Segment, SessionQuota,
};
use crate::running_hash::RunningSha256;

/// Every column of an appended upload, as [`upload`] reads them.
const SELECT_UPLOAD: &str = "SELECT * FROM appended_uploads WHERE id = $1";

/// Moves an uploading upload on from the offset `$2`; the one write that
/// decides which of two appends at one offset wins.
const ADVANCE: &str = "UPDATE appended_uploads
     SET received = $3, running = $4, segments = segments + $5,
         length = coalesce(length, $6), expires_at = $7
     WHERE id = $1 AND received = $2 AND status = 'uploading'
       AND (length IS NULL OR $6 IS NULL OR length = $6)
       AND coalesce(length, $6, $3) >= $3";

#[async_trait]
impl<D: Dialect> AppendedStore for SqlMeta<D> {
    async fn insert_appended(
        &self,
        upload: &AppendedUpload,
        quota: Option<SessionQuota>,
        now: DateTime<Utc>,
    ) -> MetaResult<Result<(), OwnerUsage>> {
        let mut tx = self.begin_write().await?;
        if let Some(quota) = quota {
            if let Some(lock) = D::LOCK_OWNER {
                let statement = Statement::new(lock).bind(upload.owner.as_str());
                Self::execute(&mut tx, statement).await?;
            }
            let usage = Self::usage_of(&mut tx, &upload.owner, now).await?;
            if !quota.admits(usage, upload.length.unwrap_or(0)) {
                tx.commit().await?;
                return Ok(Err(usage));
            }
        }
        let claimed = upload.claimed.map(|hash| hash.to_hex());
        let statement = Statement::new(
            "INSERT INTO appended_uploads (id, owner, length, received, segments, running,
                 metadata, filename, content_type, claimed_sha256, concat, status, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(upload.id.as_str())
        .bind(upload.owner.as_str())
        .bind(upload.length.map(to_i64))
        .bind(to_i64(upload.offset))
        .bind(to_i64(upload.segments))
        .bind(upload.running.to_bytes())
        .bind(upload.metadata.as_deref())
        .bind(upload.filename.as_ref().map(FileName::as_str))
        .bind(upload.content_type.as_ref().map(|t| t.as_str()))
        .bind(claimed.as_deref())
        .bind(upload.concat.as_str())
        .bind(upload.status.as_str())
        .bind(upload.expires_at);
        Self::execute(&mut tx, statement).await?;
        if upload.concat != Concat::Partial {
            Self::write_event(&mut tx, EventKind::UploadCreated, appended_data(upload)).await?;
        }
        tx.commit().await?;
        self.wake_deliveries();
        Ok(Ok(()))
    }

    async fn find_appended(&self, id: &UploadId) -> MetaResult<Option<AppendedUpload>> {
        Self::appended_of(&mut *self.connection().await?, id).await
    }

    async fn append(&self, id: &UploadId, append: &Append) -> MetaResult<Appended> {
        let mut tx = self.begin_write().await?;
        let outcome = Self::advance(&mut tx, id, append).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn segments(&self, id: &UploadId) -> MetaResult<Vec<Segment>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT idx, size, object_key FROM appended_segments
                 WHERE upload_id = $1 ORDER BY idx",
            )
            .bind(id.as_str()),
        )
        .await?;
        let segments = rows
            .iter()
            .map(|row| {
                Ok(Segment {
                    index: to_u64(row.integer("idx")?)?,
                    size: to_u64(row.integer("size")?)?,
                    object_key: decoded(ObjectKey::parse(row.text("object_key")?))?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(segments)
    }

    async fn publish_appended(
        &self,
        id: &UploadId,
        append: &Append,
        file: &FileRecord,
        token: &WriteToken,
    ) -> MetaResult<Option<(Appended, Published)>> {
        let mut tx = self.begin_write().await?;
        if !Self::take_lease(&mut tx, &file.sha256, token).await? {
            return Ok(None);
        }
        let advanced = Self::advance(&mut tx, id, append).await?;
        if let Appended::Refused(_) = advanced {
            tx.commit().await?;
            return Ok(Some((advanced, Published::LeaseLost)));
        }
        let published = Self::insert_file_row(&mut tx, file).await?;
        let statement = Statement::new(
            "UPDATE appended_uploads SET status = 'complete', sha256 = $2 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(file.sha256.to_hex());
        Self::execute(&mut tx, statement).await?;
        let upload = Self::appended_of(&mut tx, id).await?;
        if let (Some(upload), Published::Now(file) | Published::Already(file)) =
            (&upload, &published)
        {
            let holder = FileRef {
                owner: upload.owner.clone(),
                sha256: file.sha256,
                filename: upload.filename.clone(),
                content_type: upload.content_type.clone(),
                created_at: Utc::now().trunc_subsecs(3),
            };
            Self::add_reference(&mut tx, &holder).await?;
            Self::write_event(
                &mut tx,
                EventKind::UploadCompleted,
                completed(file, &holder),
            )
            .await?;
        }
        tx.commit().await?;
        self.wake_deliveries();
        let outcome = upload.map_or(Appended::Refused(None), Appended::Accepted);
        Ok(Some((outcome, published)))
    }

    async fn fail_appended(&self, id: &UploadId, offset: u64) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE appended_uploads SET status = 'failed'
                 WHERE id = $1 AND received = $2 AND status = 'uploading'",
            )
            .bind(id.as_str())
            .bind(to_i64(offset)),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn delete_appended(&self, id: &UploadId) -> MetaResult<bool> {
        let statement = Statement::new("DELETE FROM appended_uploads WHERE id = $1 RETURNING *")
            .bind(id.as_str());
        self.delete_reporting(statement, EventKind::UploadAborted)
            .await
    }

    async fn expired_appended(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> MetaResult<Vec<AppendedUpload>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT * FROM appended_uploads WHERE expires_at < $1
                 ORDER BY expires_at LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit)),
        )
        .await?;
        Ok(rows.iter().map(upload).collect::<Result<Vec<_>, _>>()?)
    }

    async fn delete_expired_appended(&self, id: &UploadId, now: DateTime<Utc>) -> MetaResult<bool> {
        let statement = Statement::new(
            "DELETE FROM appended_uploads WHERE id = $1 AND expires_at < $2 RETURNING *",
        )
        .bind(id.as_str())
        .bind(now);
        self.delete_reporting(statement, EventKind::UploadExpired)
            .await
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// Runs `statement`, a delete of one appended upload returning its row,
    /// and records `kind` in the same transaction when the upload was
    /// still receiving bytes and was a file of its own (not a piece of a
    /// final upload). Answers whether a row was deleted.
    async fn delete_reporting(
        &self,
        statement: Statement<'_>,
        kind: EventKind,
    ) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        let Some(row) = Self::fetch_optional(&mut tx, statement).await? else {
            return Ok(false);
        };
        let deleted = upload(&row)?;
        let unfinished = deleted.status == ferry_proto::UploadStatus::Uploading;
        if unfinished && deleted.concat != Concat::Partial {
            Self::write_event(&mut tx, kind, appended_data(&deleted)).await?;
        }
        tx.commit().await?;
        self.wake_deliveries();
        Ok(true)
    }

    /// The appended upload `id`, read on `connection`.
    async fn appended_of(
        connection: &mut Connection<D>,
        id: &UploadId,
    ) -> MetaResult<Option<AppendedUpload>> {
        let row = Self::fetch_optional(connection, Statement::new(SELECT_UPLOAD).bind(id.as_str()))
            .await?;
        Ok(row.as_ref().map(upload).transpose()?)
    }

    /// Moves the upload on by `append` and records its segment, in `tx`.
    async fn advance(
        tx: &mut Transaction<'static, D::Db>,
        id: &UploadId,
        append: &Append,
    ) -> MetaResult<Appended> {
        let size = append.segment.as_ref().map_or(0, |segment| segment.size);
        let statement = Statement::new(ADVANCE)
            .bind(id.as_str())
            .bind(to_i64(append.from))
            .bind(to_i64(append.from + size))
            .bind(append.running.to_bytes())
            .bind(i64::from(append.segment.is_some()))
            .bind(append.length.map(to_i64))
            .bind(append.expires_at);
        if Self::execute(tx, statement).await? != 1 {
            return Ok(Appended::Refused(Self::appended_of(tx, id).await?));
        }
        if let Some(segment) = &append.segment {
            let statement = Statement::new(
                "INSERT INTO appended_segments (upload_id, idx, size, object_key)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(to_i64(segment.index))
            .bind(to_i64(segment.size))
            .bind(segment.object_key.as_str());
            Self::execute(tx, statement).await?;
        }
        let upload = Self::appended_of(tx, id).await?;
        Ok(upload.map_or(Appended::Refused(None), Appended::Accepted))
    }
}

/// The appended upload in a row of `appended_uploads`.
fn upload<R: Columns + ?Sized>(row: &R) -> Result<AppendedUpload, sqlx::Error> {
    let running = row.bytes_or_null("running")?.unwrap_or_default();
    let concat = row.text("concat")?;
    Ok(AppendedUpload {
        id: decoded(UploadId::parse(row.text("id")?))?,
        owner: decoded(OwnerId::parse(row.text("owner")?))?,
        length: row.integer_or_null("length")?.map(to_u64).transpose()?,
        offset: to_u64(row.integer("received")?)?,
        segments: to_u64(row.integer("segments")?)?,
        running: RunningSha256::from_bytes(&running)
            .ok_or_else(|| sqlx::Error::Decode("a stored running hash does not read".into()))?,
        metadata: row.text_or_null("metadata")?,
        filename: row
            .text_or_null("filename")?
            .map(|name| decoded(FileName::parse(name)))
            .transpose()?,
        content_type: decode::media_type(row.text_or_null("content_type")?)?,
        claimed: hash_or_null(row, "claimed_sha256")?,
        concat: Concat::parse(&concat)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown concat {concat:?}").into()))?,
        status: parse_status(row.text("status")?)?,
        sha256: hash_or_null(row, "sha256")?,
        expires_at: row.time("expires_at")?,
    })
}

fn hash_or_null<R: Columns + ?Sized>(
    row: &R,
    column: &str,
) -> Result<Option<ContentHash>, sqlx::Error> {
    row.text_or_null(column)?
        .map(|hex| decoded(ContentHash::parse(&hex)))
        .transpose()
}

/// The `data` of an event about the appended upload `upload`: its hash and
/// length when the client announced them.
fn appended_data(upload: &AppendedUpload) -> serde_json::Value {
    serde_json::json!({
        "sha256": upload.claimed.map(|hash| hash.to_hex()),
        "size": upload.length,
        "owner": upload.owner.as_str(),
        "filename": upload.filename.as_ref().map(FileName::as_str),
        "content_type": upload.content_type.as_ref().map(|media| media.as_str()),
    })
}
