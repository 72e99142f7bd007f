//! Steps that several operations take inside one transaction: reading a
//! session or an owner's usage, inserting a file, releasing a lease.

/// Defines, inside [`meta_store!`]'s module, the steps run in a transaction
/// of database `$db`, storing times with the dialect module `$dialect`.
macro_rules! transaction_steps {
    ($db:ty, $dialect:ident) => {
        /// The session of `owner` for `sha256`, read on `connection` (a
        /// transaction's, or one of its own).
        async fn session_of(
            connection: &mut <$db as sqlx::Database>::Connection,
            owner: &OwnerId,
            sha256: &ContentHash,
        ) -> MetaResult<Option<Session>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM uploads WHERE owner = $1 AND sha256 = $2"
            ))
            .bind(owner.as_str())
            .bind(sha256.to_hex())
            .fetch_optional(connection)
            .await?;
            Ok(row.as_ref().map(session_from_row).transpose()?)
        }

        /// What `owner` holds in sessions live at `now`, read on `connection`.
        async fn usage_of(
            connection: &mut <$db as sqlx::Database>::Connection,
            owner: &OwnerId,
            now: DateTime<Utc>,
        ) -> MetaResult<OwnerUsage> {
            let row = sqlx::query(OWNER_USAGE)
                .bind(owner.as_str())
                .bind($dialect::time(now))
                .fetch_one(connection)
                .await?;
            usage_from_row(&row)
        }

        /// The live sessions of `$1` at `$2`: uploading and unexpired, or merging.
        const OWNER_USAGE: &str =
            "SELECT count(*) AS n, CAST(coalesce(sum(size), 0) AS BIGINT) AS bytes
             FROM uploads
             WHERE owner = $1 AND (status = 'merging'
                   OR (status = 'uploading' AND expires_at >= $2))";

        async fn insert_file_row(
            tx: &mut Transaction<'_, $db>,
            file: &FileRecord,
        ) -> MetaResult<Published> {
            let inserted = sqlx::query(
                "INSERT INTO files (sha256, size, content_type, object_key, part_size, published_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(file.sha256.to_hex())
            .bind(to_i64(file.size))
            .bind(file.content_type.as_ref().map(MediaType::as_str))
            .bind(file.object_key.as_str())
            .bind(file.part_size.map(to_i64))
            .bind($dialect::time(file.published_at))
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

        async fn take_lease(
            tx: &mut Transaction<'_, $db>,
            sha256: &ContentHash,
            token: &WriteToken,
        ) -> MetaResult<bool> {
            let released = sqlx::query("DELETE FROM merges WHERE sha256 = $1 AND token = $2")
                .bind(sha256.to_hex())
                .bind(token.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            Ok(released == 1)
        }
    };
}
