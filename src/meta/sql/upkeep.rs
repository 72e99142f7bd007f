//! Upkeep: the identity the database shares with its object store, the
//! claim on listing the store, the orphans listings found, and the count
//! of new sessions per owner and hash that bounds proof challenges.

/// Defines, inside [`meta_store!`]'s module, the upkeep queries of database
/// `$db`, storing times with the dialect module `$dialect`.
macro_rules! upkeep_queries {
    ($db:ty, $dialect:ident) => {
        /// The identity of the store the database is bound to, if any.
        async fn store_binding_of(
            connection: &mut <$db as sqlx::Database>::Connection,
        ) -> MetaResult<Option<String>> {
            let row = sqlx::query("SELECT store_id FROM store_binding WHERE only_row = 1")
                .fetch_optional(connection)
                .await?;
            Ok(row.map(|row| row.try_get("store_id")).transpose()?)
        }

        /// Binds the database to `store_id`: unless it is bound already,
        /// or, with `replace`, whatever it was bound to.
        async fn write_store_binding(
            connection: &mut <$db as sqlx::Database>::Connection,
            store_id: &str,
            now: DateTime<Utc>,
            replace: bool,
        ) -> MetaResult<()> {
            let statement = if replace {
                "INSERT INTO store_binding (only_row, store_id, bound_at) VALUES (1, $1, $2)
                 ON CONFLICT (only_row) DO UPDATE
                 SET store_id = excluded.store_id, bound_at = excluded.bound_at"
            } else {
                "INSERT INTO store_binding (only_row, store_id, bound_at) VALUES (1, $1, $2)
                 ON CONFLICT (only_row) DO NOTHING"
            };
            sqlx::query(statement)
                .bind(store_id)
                .bind($dialect::time(now))
                .execute(connection)
                .await?;
            Ok(())
        }

        /// The `limit` files published last, newest first.
        async fn newest_files_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            limit: u32,
        ) -> MetaResult<Vec<FileRecord>> {
            let rows = sqlx::query("SELECT * FROM files ORDER BY published_at DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(connection)
                .await?;
            Ok(rows.iter().map(file_from_row).collect::<Result<_, _>>()?)
        }

        /// Takes the listing of the store at `now` unless one began after
        /// `since`; `false` when one did.
        async fn claim_listing_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            now: DateTime<Utc>,
            since: DateTime<Utc>,
        ) -> MetaResult<bool> {
            let updated = sqlx::query(
                "UPDATE store_binding SET listed_at = $1
                 WHERE only_row = 1 AND (listed_at IS NULL OR listed_at <= $2)",
            )
            .bind($dialect::time(now))
            .bind($dialect::time(since))
            .execute(connection)
            .await?
            .rows_affected();
            Ok(updated == 1)
        }

        /// Notes `key` as an orphan found at `now`; answers when it was
        /// first found.
        async fn note_orphan_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            key: &str,
            now: DateTime<Utc>,
        ) -> MetaResult<DateTime<Utc>> {
            let row = sqlx::query(
                "INSERT INTO orphans (object_key, first_seen, last_seen) VALUES ($1, $2, $2)
                 ON CONFLICT (object_key) DO UPDATE SET last_seen = excluded.last_seen
                 RETURNING first_seen",
            )
            .bind(key)
            .bind($dialect::time(now))
            .fetch_one(connection)
            .await?;
            Ok($dialect::read_time(&row, "first_seen")?)
        }

        /// Forgets the orphan `key`: deleted, or needed again.
        async fn forget_orphan_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            key: &str,
        ) -> MetaResult<()> {
            sqlx::query("DELETE FROM orphans WHERE object_key = $1")
                .bind(key)
                .execute(connection)
                .await?;
            Ok(())
        }

        /// Forgets every orphan last found before `before`: a later listing
        /// no longer found it.
        async fn forget_orphans_unseen_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            before: DateTime<Utc>,
        ) -> MetaResult<u64> {
            let forgotten = sqlx::query("DELETE FROM orphans WHERE last_seen < $1")
                .bind($dialect::time(before))
                .execute(connection)
                .await?;
            Ok(forgotten.rows_affected())
        }

        /// Counts one more session started by `owner` for `sha256` at
        /// `now`, in a window that starts over once it began before
        /// `window_from`; answers the count and when the window began.
        async fn count_session_start_on(
            connection: &mut <$db as sqlx::Database>::Connection,
            owner: &OwnerId,
            sha256: &ContentHash,
            now: DateTime<Utc>,
            window_from: DateTime<Utc>,
        ) -> MetaResult<(u64, DateTime<Utc>)> {
            let row = sqlx::query(
                "INSERT INTO session_starts (owner, sha256, window_start, starts)
                 VALUES ($1, $2, $3, 1)
                 ON CONFLICT (owner, sha256) DO UPDATE SET
                     starts = CASE WHEN session_starts.window_start < $4
                                   THEN 1 ELSE session_starts.starts + 1 END,
                     window_start = CASE WHEN session_starts.window_start < $4
                                   THEN excluded.window_start ELSE session_starts.window_start END
                 RETURNING starts, window_start",
            )
            .bind(owner.as_str())
            .bind(sha256.to_hex())
            .bind($dialect::time(now))
            .bind($dialect::time(window_from))
            .fetch_one(connection)
            .await?;
            let starts: i64 = row.try_get("starts")?;
            Ok((to_u64(starts)?, $dialect::read_time(&row, "window_start")?))
        }
    };
}
