//! The metadata store on PostgreSQL: for production and many instances.
//!
//! Its dialect: a writing transaction is a plain `BEGIN` (rows written are
//! locked until commit), and times are `TIMESTAMPTZ`.

use std::time::Duration;

use ferry_proto::ContentHash;
use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use tokio::runtime::Handle;

use super::{MetaResult, ReceivedChunks, Session};
use crate::ids::{OwnerId, UploadId};

/// PostgreSQL migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection idle for longer than this is checked (one round trip)
/// before it is used again, so that one the server or the network dropped
/// meanwhile is replaced rather than failing a request. One used more
/// recently goes straight to work.
const CHECK_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Metadata in PostgreSQL, shared by every instance.
#[derive(Debug, Clone)]
pub struct PostgresMeta {
    pool: PgPool,
    /// The runtime the store was opened on, which opens its connections.
    runtime: Handle,
}

impl PostgresMeta {
    /// Connects to `url` and applies the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> MetaResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    if metadata.idle_for < CHECK_WHEN_IDLE_FOR {
                        return Ok(true);
                    }
                    connection.ping().await.map(|()| true)
                })
            })
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresMeta {
            pool,
            runtime: Handle::current(),
        })
    }

    /// Nothing is read without a connection: PostgreSQL is a server.
    fn session_here(&self, _owner: &OwnerId, _sha256: &ContentHash) -> Option<Option<Session>> {
        None
    }

    /// Nothing is read without a connection: PostgreSQL is a server.
    fn received_here(&self, _upload_id: &UploadId) -> Option<ReceivedChunks> {
        None
    }
}

/// What PostgreSQL does its own way.
mod dialect {
    use chrono::{DateTime, Utc};
    use sqlx::Row;
    use sqlx::postgres::PgRow;

    /// Starts a writing transaction.
    pub(super) const BEGIN_WRITE: &str = "BEGIN";

    /// A connection's socket is driven by the runtime that opened it, and
    /// fails once that runtime ends.
    pub(super) const CONNECTIONS_BELONG_TO_A_RUNTIME: bool = true;

    /// The server's time, as a column `now` that [`read_time`] reads.
    pub(super) const CLOCK: &str = "SELECT now() AS now";

    /// Holds, until the transaction ends, a lock on the owner `$1`, so that
    /// the quota checks of its concurrent inserts see each other's rows.
    pub(super) const LOCK_OWNER: Option<&str> =
        Some("SELECT pg_advisory_xact_lock(1718773586, hashtext($1))");

    /// A time as a `TIMESTAMPTZ`.
    pub(super) fn time(time: DateTime<Utc>) -> DateTime<Utc> {
        time
    }

    /// Reads a `TIMESTAMPTZ` column.
    pub(super) fn read_time(row: &PgRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(column)
    }
}

meta_store!(PostgresMeta, sqlx::Postgres, sqlx::postgres::PgRow, dialect);
