//! Reading rows back into the store's types, the same for both databases.

/// Defines, inside [`meta_store!`]'s module, the functions that decode rows
/// of type `$row`, reading times with the dialect module `$dialect`.
macro_rules! row_decoders {
    ($row:ty, $dialect:ident) => {
        fn usage_from_row(row: &$row) -> MetaResult<OwnerUsage> {
            Ok(OwnerUsage {
                sessions: to_u64(row.try_get("n")?)?,
                bytes: to_u64(row.try_get("bytes")?)?,
            })
        }

        fn session_from_row(row: &$row) -> Result<Session, sqlx::Error> {
            StoredSession {
                id: row.try_get("id")?,
                owner: row.try_get("owner")?,
                sha256: row.try_get("sha256")?,
                size: row.try_get("size")?,
                chunk_size: row.try_get("chunk_size")?,
                filename: row.try_get("filename")?,
                content_type: row.try_get("content_type")?,
                status: row.try_get("status")?,
                expires_at: $dialect::read_time(row, "expires_at")?,
            }
            .checked()
        }

        fn file_from_row(row: &$row) -> Result<FileRecord, sqlx::Error> {
            Ok(FileRecord {
                sha256: decoded(ContentHash::parse(row.try_get("sha256")?))?,
                size: to_u64(row.try_get("size")?)?,
                content_type: media_type(row.try_get("content_type")?)?,
                object_key: decoded(ObjectKey::parse(row.try_get::<String, _>("object_key")?))?,
                part_size: row
                    .try_get::<Option<i64>, _>("part_size")?
                    .map(to_u64)
                    .transpose()?,
                published_at: $dialect::read_time(row, "published_at")?,
            })
        }

        fn lease_from_row(row: &$row) -> Result<MergeLease, sqlx::Error> {
            Ok(MergeLease {
                sha256: decoded(ContentHash::parse(row.try_get("sha256")?))?,
                upload_id: decoded(UploadId::parse(row.try_get::<String, _>("upload_id")?))?,
                token: decoded(WriteToken::parse(row.try_get::<String, _>("token")?))?,
                object_key: decoded(ObjectKey::parse(row.try_get::<String, _>("object_key")?))?,
                lease_until: $dialect::read_time(row, "lease_until")?,
            })
        }

        fn chunk_from_row(row: &$row) -> Result<Chunk, sqlx::Error> {
            Ok(Chunk {
                index: to_u64(row.try_get("idx")?)?,
                size: to_u64(row.try_get("size")?)?,
                sha256: decoded(ContentHash::parse(row.try_get("sha256")?))?,
                object_key: decoded(ObjectKey::parse(row.try_get::<String, _>("object_key")?))?,
                link: hash_link(row)?,
            })
        }

        /// The hash link of a chunk row: both of its states, or neither.
        fn hash_link(row: &$row) -> Result<Option<HashLink>, sqlx::Error> {
            let before: Option<Vec<u8>> = row.try_get("hash_before")?;
            let after: Option<Vec<u8>> = row.try_get("hash_after")?;
            let (Some(before), Some(after)) = (before, after) else {
                return Ok(None);
            };
            let state = |bytes: &[u8]| {
                RunningSha256::from_bytes(bytes).ok_or_else(|| {
                    sqlx::Error::Decode("a stored hash state does not decode".into())
                })
            };
            Ok(Some(HashLink {
                before: state(&before)?,
                after: state(&after)?,
            }))
        }

        fn media_type(value: Option<String>) -> Result<Option<MediaType>, sqlx::Error> {
            value
                .map(|value| decoded(MediaType::parse(value)))
                .transpose()
        }

        fn object_key(value: Option<String>) -> Result<Option<ObjectKey>, sqlx::Error> {
            value
                .map(|value| decoded(ObjectKey::parse(value)))
                .transpose()
        }

        fn sessions(rows: &[$row]) -> MetaResult<Vec<Session>> {
            Ok(rows
                .iter()
                .map(session_from_row)
                .collect::<Result<_, _>>()?)
        }
    };
}
