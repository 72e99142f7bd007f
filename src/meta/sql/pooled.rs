//! Taking pooled connections and writing transactions, and inserting a
//! session under its owner's quota: the store's own steps, shared by the
//! operations of [`meta_store!`].

/// Defines, inside [`meta_store!`]'s module, how `$store` takes a
/// connection of its pool of database `$db` and begins a writing
/// transaction, and inserts sessions, with the dialect module `$dialect`.
macro_rules! pooled_writes {
    ($store:ident, $db:ty, $dialect:ident) => {
        /// Attempts at inserting a session whose conflicting row vanishes
        /// between the insert and the read (an abort racing a create).
        const INSERT_ATTEMPTS: usize = 5;

        impl $store {
            /// A connection from the pool. Where connections belong to
            /// a runtime, it is taken on the one that opened the store:
            /// a connection the pool opens for it then belongs to that
            /// runtime, not to an HTTP worker's, which ends while the
            /// process still serves. A caller that gives up (a client
            /// gone, a timeout) takes its place in the pool's queue
            /// with it.
            async fn connection(&self) -> MetaResult<PoolConnection<$db>> {
                if !$dialect::CONNECTIONS_BELONG_TO_A_RUNTIME {
                    return Ok(self.pool.acquire().await?);
                }
                let pool = self.pool.clone();
                let acquiring = self.runtime.spawn(async move { pool.acquire().await });
                let mut acquiring = $crate::meta::AbortOnDrop(acquiring);
                match (&mut acquiring.0).await {
                    Ok(connection) => Ok(connection?),
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    Err(_) => Err(MetaError::Unavailable(sqlx::Error::PoolClosed)),
                }
            }

            async fn begin_write(&self) -> MetaResult<Transaction<'static, $db>> {
                let connection = self.connection().await?;
                let statement = Some($dialect::BEGIN_WRITE.into());
                Ok(Transaction::begin(connection, statement).await?)
            }

            /// Inserts `session` unless one of its owner and hash is
            /// there, and, given a quota, unless it would take its owner
            /// over it; the quota is checked under a lock on the owner.
            async fn insert_session_checked(
                &self,
                session: &Session,
                quota: Option<(SessionQuota, DateTime<Utc>)>,
            ) -> MetaResult<Inserted> {
                for _ in 0..INSERT_ATTEMPTS {
                    let mut tx = self.begin_write().await?;
                    if let Some((quota, now)) = quota {
                        if let Some(lock) = $dialect::LOCK_OWNER {
                            sqlx::query(lock)
                                .bind(session.owner.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        let usage = usage_of(&mut *tx, &session.owner, now).await?;
                        if !quota.admits(usage, session.size) {
                            let existing =
                                session_of(&mut *tx, &session.owner, &session.sha256).await?;
                            tx.commit().await?;
                            return Ok(match existing {
                                Some(existing) => Inserted::Existing(existing),
                                None => Inserted::OverQuota(usage),
                            });
                        }
                    }
                    let created = sqlx::query(concat!(
                        "INSERT INTO uploads (id, owner, sha256, size, chunk_size, chunk_count,
                                              filename, content_type, status, expires_at, received)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                         ON CONFLICT (owner, sha256) DO NOTHING
                         RETURNING ",
                        session_columns!()
                    ))
                    .bind(session.id.as_str())
                    .bind(session.owner.as_str())
                    .bind(session.sha256.to_hex())
                    .bind(to_i64(session.size))
                    .bind(to_i64(session.chunk_size))
                    .bind(to_i64(session.chunk_count()))
                    .bind(session.filename.as_ref().map(FileName::as_str))
                    .bind(session.content_type.as_ref().map(MediaType::as_str))
                    .bind(session.status.as_str())
                    .bind($dialect::time(session.expires_at))
                    .bind(chunk_bits::empty(session.chunk_count()))
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = created {
                        tx.commit().await?;
                        return Ok(Inserted::Created(session_from_row(&row)?));
                    }
                    let existing = session_of(&mut *tx, &session.owner, &session.sha256).await?;
                    tx.commit().await?;
                    if let Some(existing) = existing {
                        return Ok(Inserted::Existing(existing));
                    }
                }
                Err(MetaError::Unavailable(sqlx::Error::Protocol(
                    "a session kept vanishing while it was created".into(),
                )))
            }
        }
    };
}
