//! Published files: inserting one unless its hash is published, finding
//! one, repairing one whose object went missing, and listing the newest.

use async_trait::async_trait;
use ferry_proto::{ContentHash, MediaType};
use sqlx::Transaction;

use super::{Dialect, SqlMeta, Statement};
use crate::ids::ObjectKey;
use crate::meta::decode::{self, to_i64};
use crate::meta::{FileRecord, FileStore, MetaResult, Published};

#[async_trait]
impl<D: Dialect> FileStore for SqlMeta<D> {
    async fn insert_file(&self, file: &FileRecord) -> MetaResult<Published> {
        let mut tx = self.begin_write().await?;
        let published = Self::insert_file_row(&mut tx, file).await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn find_file(&self, sha256: &ContentHash) -> MetaResult<Option<FileRecord>> {
        let row = Self::fetch_optional(
            &mut *self.connection().await?,
            Statement::new("SELECT * FROM files WHERE sha256 = $1").bind(sha256.to_hex()),
        )
        .await?;
        Ok(row.as_ref().map(decode::file).transpose()?)
    }

    async fn repair_file(&self, file: &FileRecord, missing_key: &ObjectKey) -> MetaResult<bool> {
        let updated = Self::execute(
            &mut *self.connection().await?,
            Statement::new(
                "UPDATE files SET object_key = $1, part_size = $2
                 WHERE sha256 = $3 AND object_key = $4 AND size = $5",
            )
            .bind(file.object_key.as_str())
            .bind(file.part_size.map(to_i64))
            .bind(file.sha256.to_hex())
            .bind(missing_key.as_str())
            .bind(to_i64(file.size)),
        )
        .await?;
        Ok(updated == 1)
    }

    async fn newest_files(&self, limit: u32) -> MetaResult<Vec<FileRecord>> {
        let rows = Self::fetch_all(
            &mut *self.connection().await?,
            Statement::new("SELECT * FROM files ORDER BY published_at DESC LIMIT $1")
                .bind(i64::from(limit)),
        )
        .await?;
        Ok(rows.iter().map(decode::file).collect::<Result<_, _>>()?)
    }
}

impl<D: Dialect> SqlMeta<D> {
    /// Inserts the row of `file` in `tx` unless a file with its hash is
    /// published; answers which file is published now.
    pub(super) async fn insert_file_row(
        tx: &mut Transaction<'static, D::Db>,
        file: &FileRecord,
    ) -> MetaResult<Published> {
        let inserted = Self::execute(
            tx,
            Statement::new(
                "INSERT INTO files (sha256, size, content_type, object_key, part_size, published_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(file.sha256.to_hex())
            .bind(to_i64(file.size))
            .bind(file.content_type.as_ref().map(MediaType::as_str))
            .bind(file.object_key.as_str())
            .bind(file.part_size.map(to_i64))
            .bind(file.published_at),
        )
        .await?;
        if inserted == 1 {
            return Ok(Published::Now(file.clone()));
        }
        let statement =
            Statement::new("SELECT * FROM files WHERE sha256 = $1").bind(file.sha256.to_hex());
        let row = Self::fetch_one(tx, statement).await?;
        Ok(Published::Already(decode::file(&row)?))
    }
}
