//! The queries of chunks' hash links: finding where a session's running
//! hash stops, recording a link for the chunk copy it was computed from,
//! and clearing the links that a chunk sent again with other bytes breaks.

/// Defines, inside [`meta_store!`]'s module, the hash link queries on
/// connections of database `$db`.
macro_rules! link_queries {
    ($db:ty) => {
        /// The lowest-index chunk of `upload_id` without a link, and the
        /// chunk before it, read on `connection`.
        async fn first_unlinked_of(
            connection: &mut <$db as sqlx::Database>::Connection,
            upload_id: &UploadId,
        ) -> MetaResult<Option<Unlinked>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                chunk_columns!(),
                " FROM chunks WHERE upload_id = $1 AND hash_after IS NULL
                 ORDER BY idx LIMIT 1"
            ))
            .bind(upload_id.as_str())
            .fetch_optional(&mut *connection)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let chunk = chunk_from_row(&row)?;
            let Some(before) = chunk.index.checked_sub(1) else {
                return Ok(Some(Unlinked {
                    chunk,
                    previous: None,
                }));
            };
            let previous = chunk_at(connection, upload_id, before).await?;
            Ok(Some(Unlinked { chunk, previous }))
        }

        /// The chunk of `upload_id` at `index`, with its link, read on
        /// `connection`.
        async fn chunk_at(
            connection: &mut <$db as sqlx::Database>::Connection,
            upload_id: &UploadId,
            index: u64,
        ) -> MetaResult<Option<Chunk>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                chunk_columns!(),
                " FROM chunks WHERE upload_id = $1 AND idx = $2"
            ))
            .bind(upload_id.as_str())
            .bind(to_i64(index))
            .fetch_optional(connection)
            .await?;
            Ok(row.as_ref().map(chunk_from_row).transpose()?)
        }

        /// Clears the links of the chunks after `index`, on `connection`:
        /// they started from a chunk whose bytes are replaced.
        async fn clear_links_after(
            connection: &mut <$db as sqlx::Database>::Connection,
            upload_id: &UploadId,
            index: u64,
        ) -> MetaResult<()> {
            sqlx::query(
                "UPDATE chunks SET hash_before = NULL, hash_after = NULL
                 WHERE upload_id = $1 AND idx > $2 AND hash_after IS NOT NULL",
            )
            .bind(upload_id.as_str())
            .bind(to_i64(index))
            .execute(connection)
            .await?;
            Ok(())
        }

        /// Writes `link` on the row of `chunk` if it still names the same
        /// copy, on `connection`.
        async fn write_link(
            connection: &mut <$db as sqlx::Database>::Connection,
            upload_id: &UploadId,
            chunk: &Chunk,
            link: &HashLink,
        ) -> MetaResult<bool> {
            let updated = sqlx::query(
                "UPDATE chunks SET hash_before = $4, hash_after = $5
                 WHERE upload_id = $1 AND idx = $2 AND object_key = $3",
            )
            .bind(upload_id.as_str())
            .bind(to_i64(chunk.index))
            .bind(chunk.object_key.as_str())
            .bind(link.before.to_bytes())
            .bind(link.after.to_bytes())
            .execute(connection)
            .await?
            .rows_affected();
            Ok(updated == 1)
        }
    };
}
