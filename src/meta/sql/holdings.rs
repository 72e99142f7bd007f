//! Owners' references to published files, and the deletion of files none
//! holds. Every transaction that changes a file's references first locks
//! its row (an update that changes nothing), so that a deletion and a new
//! reference to the same file cannot pass each other.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use ferry_proto::{ContentHash, FileName, MediaType};
use serde_json::json;
use sqlx::Transaction;

use super::{Dialect, SqlMeta, Statement};
use crate::ids::{OwnerId, WriteToken};
use crate::meta::decode::{self, Columns, to_u64};
use crate::meta::{
    ClaimedDeletion, EventKind, FileRecord, FileRef, HoldingStore, ListAfter, MetaResult,
    OwnedFile, Published, Session,
};

/// The upload id a deletion's merge lease names: no session has it, so
/// the sweep takes a lease its deleter left for an orphan and deletes its
/// object.
const DELETION_LEASE: &str = "00000000-0000-0000-0000-000000000000";

#[async_trait]
impl<D: Dialect> HoldingStore for SqlMeta<D> {
    async fn insert_held_file(&self, file: &FileRecord, holder: &FileRef) -> MetaResult<Published> {
        let mut tx = self.begin_write().await?;
        let mut published = Self::insert_file_row(&mut tx, file).await?;
        if !Self::lock_file(&mut tx, &file.sha256).await? {
            published = Self::insert_file_row(&mut tx, file).await?;
        }
        let held = match &published {
            Published::Now(file) | Published::Already(file) => file.clone(),
            Published::LeaseLost => unreachable!("a file inserted outside a merge needs no lease"),
        };
        if Self::deletion_holds(&mut tx, &file.sha256).await? {
            return Ok(Published::LeaseLost);
        }
        Self::add_reference(&mut tx, holder).await?;
        Self::write_event(
            &mut tx,
            EventKind::UploadCompleted,
            completed(&held, holder),
        )
        .await?;
        tx.commit().await?;
        self.wake_deliveries();
        Ok(published)
    }

    async fn hold_file(&self, holder: &FileRef) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        if !Self::lock_file(&mut tx, &holder.sha256).await? {
            return Ok(false);
        }
        let statement =
            Statement::new("SELECT * FROM files WHERE sha256 = $1").bind(holder.sha256.to_hex());
        let file = decode::file(&Self::fetch_one(&mut tx, statement).await?)?;
        Self::add_reference(&mut tx, holder).await?;
        Self::write_event(
            &mut tx,
            EventKind::UploadCompleted,
            completed(&file, holder),
        )
        .await?;
        tx.commit().await?;
        self.wake_deliveries();
        Ok(true)
    }

    async fn held_files(
        &self,
        owner: &OwnerId,
        after: Option<ListAfter>,
        limit: u32,
    ) -> MetaResult<Vec<OwnedFile>> {
        let (created_at, sha256) = match after {
            Some(after) => (after.created_at, after.sha256.to_hex()),
            None => (far_future(), "~".to_owned()),
        };
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT r.owner, r.sha256, r.filename, r.content_type, r.created_at, f.size
                 FROM file_refs r JOIN files f ON f.sha256 = r.sha256
                 WHERE r.owner = $1
                   AND (r.created_at < $2 OR (r.created_at = $2 AND r.sha256 < $3))
                 ORDER BY r.created_at DESC, r.sha256 DESC LIMIT $4",
            )
            .bind(owner.as_str())
            .bind(created_at)
            .bind(sha256)
            .bind(i64::from(limit)),
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OwnedFile {
                    reference: reference(row)?,
                    size: to_u64(row.integer("size")?)?,
                })
            })
            .collect()
    }

    async fn release_file(
        &self,
        owner: Option<&OwnerId>,
        sha256: &ContentHash,
        due_at: DateTime<Utc>,
    ) -> MetaResult<bool> {
        let mut tx = self.begin_write().await?;
        Self::lock_file(&mut tx, sha256).await?;
        let removed = Self::execute(
            &mut tx,
            Statement::new(
                "DELETE FROM file_refs WHERE ($1 IS NULL OR owner = $1) AND sha256 = $2",
            )
            .bind(owner.map(OwnerId::as_str))
            .bind(sha256.to_hex()),
        )
        .await?;
        if removed == 0 {
            return Ok(false);
        }
        let remaining = Self::fetch_optional(
            &mut tx,
            Statement::new("SELECT 1 AS held FROM file_refs WHERE sha256 = $1")
                .bind(sha256.to_hex()),
        )
        .await?;
        if remaining.is_none() {
            let statement = Statement::new(
                "INSERT INTO file_deletions (sha256, due_at) VALUES ($1, $2)
                 ON CONFLICT (sha256) DO UPDATE SET due_at = excluded.due_at",
            )
            .bind(sha256.to_hex())
            .bind(due_at);
            Self::execute(&mut tx, statement).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_deletion(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<Option<ClaimedDeletion>> {
        let due = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new(
                "SELECT sha256 FROM file_deletions WHERE due_at <= $1 ORDER BY due_at LIMIT 16",
            )
            .bind(now),
        )
        .await?;
        for row in due {
            let sha256 = row.text("sha256")?;
            if let Some(claimed) = self.claim_one_deletion(&sha256, now, lease_until).await? {
                self.wake_deliveries();
                return Ok(Some(claimed));
            }
        }
        Ok(None)
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// Locks the row of the published file `sha256` in `tx` until it ends;
    /// `false` when no file with this hash is published.
    pub(super) async fn lock_file(
        tx: &mut Transaction<'static, D::Db>,
        sha256: &ContentHash,
    ) -> MetaResult<bool> {
        let statement =
            Statement::new("UPDATE files SET size = size WHERE sha256 = $1").bind(sha256.to_hex());
        Ok(Self::execute(tx, statement).await? == 1)
    }

    /// Gives the owner of `session`, which a merge completed in `tx`, its
    /// reference to the file `published`, and records `upload.completed`.
    pub(super) async fn hold_published(
        tx: &mut Transaction<'static, D::Db>,
        published: &Published,
        session: &Session,
    ) -> MetaResult<()> {
        let (Published::Now(file) | Published::Already(file)) = published else {
            return Ok(());
        };
        let holder = FileRef {
            owner: session.owner.clone(),
            sha256: session.sha256,
            filename: session.filename.clone(),
            content_type: session.content_type.clone(),
            created_at: Utc::now().trunc_subsecs(3),
        };
        Self::add_reference(tx, &holder).await?;
        Self::write_event(tx, EventKind::UploadCompleted, completed(file, &holder)).await
    }

    /// Gives `holder` its reference in `tx` (keeping the first one's name
    /// and time), and cancels a deletion of the file not yet made.
    pub(super) async fn add_reference(
        tx: &mut Transaction<'static, D::Db>,
        holder: &FileRef,
    ) -> MetaResult<()> {
        let statement = Statement::new(
            "INSERT INTO file_refs (owner, sha256, filename, content_type, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, sha256) DO NOTHING",
        )
        .bind(holder.owner.as_str())
        .bind(holder.sha256.to_hex())
        .bind(holder.filename.as_ref().map(FileName::as_str))
        .bind(holder.content_type.as_ref().map(MediaType::as_str))
        .bind(holder.created_at);
        Self::execute(tx, statement).await?;
        let statement = Statement::new("DELETE FROM file_deletions WHERE sha256 = $1")
            .bind(holder.sha256.to_hex());
        Self::execute(tx, statement).await?;
        Ok(())
    }

    /// Whether a deletion holds the merge lease of `sha256` in `tx`: its
    /// row is gone or going, and its object is deleted once it commits. Run
    /// after the file's row was locked or inserted, so that a deletion
    /// that took the row first has committed and is seen.
    async fn deletion_holds(
        tx: &mut Transaction<'static, D::Db>,
        sha256: &ContentHash,
    ) -> MetaResult<bool> {
        let statement =
            Statement::new("SELECT 1 AS deleting FROM merges WHERE sha256 = $1 AND upload_id = $2")
                .bind(sha256.to_hex())
                .bind(DELETION_LEASE);
        Ok(Self::fetch_optional(tx, statement).await?.is_some())
    }

    /// Claims the deletion of `sha256` if it is still due and unreferenced
    /// and no live lease names its hash; forgets a deletion whose file was
    /// held again or is gone.
    async fn claim_one_deletion(
        &self,
        sha256: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> MetaResult<Option<ClaimedDeletion>> {
        let mut tx = self.begin_write().await?;
        let hash = decode::hash(sha256)?;
        let file_there = Self::lock_file(&mut tx, &hash).await?;
        let held = Self::fetch_optional(
            &mut tx,
            Statement::new("SELECT 1 AS held FROM file_refs WHERE sha256 = $1").bind(sha256),
        )
        .await?;
        if !file_there || held.is_some() {
            let statement =
                Statement::new("DELETE FROM file_deletions WHERE sha256 = $1").bind(sha256);
            Self::execute(&mut tx, statement).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let file = decode::file(
            &Self::fetch_one(
                &mut tx,
                Statement::new("SELECT * FROM files WHERE sha256 = $1").bind(sha256),
            )
            .await?,
        )?;
        let token = WriteToken::generate();
        let leased = Self::execute(
            &mut tx,
            Statement::new(
                "INSERT INTO merges (sha256, upload_id, token, object_key, lease_until)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha256)
            .bind(DELETION_LEASE)
            .bind(token.as_str())
            .bind(file.object_key.as_str())
            .bind(lease_until),
        )
        .await?;
        let due = Self::execute(
            &mut tx,
            Statement::new("DELETE FROM file_deletions WHERE sha256 = $1 AND due_at <= $2")
                .bind(sha256)
                .bind(now),
        )
        .await?;
        if leased != 1 || due != 1 {
            return Ok(None);
        }
        Self::execute(
            &mut tx,
            Statement::new("DELETE FROM files WHERE sha256 = $1").bind(sha256),
        )
        .await?;
        let data = json!({"sha256": sha256, "size": file.size});
        Self::write_event(&mut tx, EventKind::FileDeleted, data).await?;
        tx.commit().await?;
        Ok(Some(ClaimedDeletion { file, token }))
    }
}

/// The `data` of `upload.completed` for `holder`'s reference to `file`.
pub(super) fn completed(file: &FileRecord, holder: &FileRef) -> serde_json::Value {
    json!({
        "sha256": file.sha256.to_hex(),
        "size": file.size,
        "owner": holder.owner.as_str(),
        "filename": holder.filename.as_ref().map(FileName::as_str),
        "content_type": holder
            .content_type
            .as_ref()
            .or(file.content_type.as_ref())
            .map(MediaType::as_str),
    })
}

/// A time later than any stored, and which both databases store.
fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The reference in a row of `file_refs`.
fn reference<R: Columns + ?Sized>(row: &R) -> Result<FileRef, sqlx::Error> {
    Ok(FileRef {
        owner: decode::owner(&row.text("owner")?)?,
        sha256: decode::hash(&row.text("sha256")?)?,
        filename: decode::file_name(row.text_or_null("filename")?)?,
        content_type: decode::media_type(row.text_or_null("content_type")?)?,
        created_at: row.time("created_at")?,
    })
}
