//! Recording a chunk, in one writing transaction: the session must still
//! take chunks, an earlier copy is replaced (and, with other bytes, the hash
//! links after it cleared), and what the session then holds is counted.

/// Defines, inside [`meta_store!`]'s module, the recording of a chunk in a
/// transaction of database `$db`, storing times with the dialect `$dialect`.
macro_rules! chunk_recording {
    ($db:ty, $dialect:ident) => {
        /// Records `chunk` for `upload_id` in `tx` and extends the session's
        /// expiry to `expires_at`; the caller commits an accepted chunk.
        async fn record_chunk_in(
            tx: &mut Transaction<'_, $db>,
            upload_id: &UploadId,
            chunk: &Chunk,
            expires_at: DateTime<Utc>,
        ) -> MetaResult<Recorded> {
            // Writing the session row first locks it until commit, so that
            // no merge can start while this chunk is being recorded.
            let session = sqlx::query(
                "UPDATE uploads
                 SET expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END
                 WHERE id = $1 RETURNING status, received, size, chunk_size",
            )
            .bind(upload_id.as_str())
            .bind($dialect::time(expires_at))
            .fetch_optional(&mut **tx)
            .await?;
            let Some(session) = session else {
                return Ok(Recorded::SessionGone);
            };
            let status = parse_status(session.try_get("status")?)?;
            let received: Option<Vec<u8>> = session.try_get("received")?;
            if status != UploadStatus::Uploading {
                return Ok(Recorded::NotWritable(status));
            }
            let replaced = chunk_at(&mut **tx, upload_id, chunk.index).await?;
            if replaced
                .as_ref()
                .is_some_and(|earlier| earlier.sha256 != chunk.sha256)
            {
                clear_links_after(&mut **tx, upload_id, chunk.index).await?;
            }
            let link = chunk.link.as_ref();
            sqlx::query(
                "INSERT INTO chunks (upload_id, idx, size, sha256, object_key,
                                     hash_before, hash_after)
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
            .execute(&mut **tx)
            .await?;
            let (received_count, received_bytes) = match received {
                Some(mut bits) => {
                    if chunk_bits::insert(&mut bits, chunk.index) {
                        sqlx::query("UPDATE uploads SET received = $2 WHERE id = $1")
                            .bind(upload_id.as_str())
                            .bind(&bits)
                            .execute(&mut **tx)
                            .await?;
                    }
                    chunk_bits::totals(
                        &bits,
                        to_u64(session.try_get("size")?)?,
                        to_u64(session.try_get("chunk_size")?)?,
                    )
                }
                None => {
                    let totals = sqlx::query(
                        "SELECT count(*) AS n, CAST(coalesce(sum(size), 0) AS BIGINT) AS bytes
                         FROM chunks WHERE upload_id = $1",
                    )
                    .bind(upload_id.as_str())
                    .fetch_one(&mut **tx)
                    .await?;
                    (
                        to_u64(totals.try_get("n")?)?,
                        to_u64(totals.try_get("bytes")?)?,
                    )
                }
            };
            Ok(Recorded::Accepted {
                replaced_key: replaced
                    .map(|earlier| earlier.object_key)
                    .filter(|key| *key != chunk.object_key),
                received_count,
                received_bytes,
            })
        }
    };
}
