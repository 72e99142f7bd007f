//! The metadata store on SQLite: the embedded default for one instance.
//!
//! Its dialect: a writing transaction begins `IMMEDIATE`, taking the
//! database's write lock at once so that two writers queue on the busy
//! timeout instead of failing; times are milliseconds since the Unix epoch,
//! so that they compare as numbers. Commits are synchronous: an accepted
//! chunk survives a power loss.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::ContentHash;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use tokio::runtime::Handle;

use super::{MetaResult, ReceivedChunks, Session};
use crate::ids::{OwnerId, UploadId};
use readers::Readers;

mod readers;

/// SQLite migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Metadata in one SQLite file. Its connections are files open in this
/// process, which cannot be cut off as a network connection can, so none
/// is checked before use, which would cost every query one more trip to
/// the connection's thread. A session and its progress are looked up on
/// the caller's thread when the database is a file.
#[derive(Debug, Clone)]
pub struct SqliteMeta {
    pool: SqlitePool,
    /// Lookups on the caller's thread; none for a database in memory, which
    /// only the pool's connections share.
    readers: Option<Arc<Readers>>,
    /// The runtime the store was opened on; SQLite's connections do not
    /// need it, as each is a thread of its own.
    runtime: Handle,
}

impl SqliteMeta {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn connect(url: &str) -> MetaResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(&pool)
                .await?;
        Ok(SqliteMeta {
            pool,
            readers: (!file.is_empty()).then(|| Arc::new(Readers::new(PathBuf::from(file)))),
            runtime: Handle::current(),
        })
    }

    /// The session of `owner` and `sha256` read on this thread; `None`
    /// when the pool must be asked.
    fn session_here(&self, owner: &OwnerId, sha256: &ContentHash) -> Option<Option<Session>> {
        self.readers.as_ref()?.session(owner, sha256)
    }

    /// The chunks session `upload_id` received, read on this thread;
    /// `None` when the pool must be asked.
    fn received_here(&self, upload_id: &UploadId) -> Option<ReceivedChunks> {
        self.readers.as_ref()?.received(upload_id)
    }
}

/// What SQLite does its own way.
mod dialect {
    use chrono::{DateTime, Utc};
    use sqlx::Row;
    use sqlx::sqlite::SqliteRow;

    /// Starts a writing transaction, holding the write lock from the start.
    pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

    /// A connection is a thread of its own, whichever runtime opened it.
    pub(super) const CONNECTIONS_BELONG_TO_A_RUNTIME: bool = false;

    /// The machine's time, as a column `now` that [`read_time`] reads.
    pub(super) const CLOCK: &str =
        "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER) AS now";

    /// No lock beyond the write lock every writing transaction holds.
    pub(super) const LOCK_OWNER: Option<&str> = None;

    /// A time as milliseconds since the Unix epoch.
    pub(super) fn time(time: DateTime<Utc>) -> i64 {
        time.timestamp_millis()
    }

    /// Reads a column of milliseconds since the Unix epoch.
    pub(super) fn read_time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        let millis: i64 = row.try_get(column)?;
        DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| sqlx::Error::Decode(format!("timestamp {millis} out of range").into()))
    }
}

meta_store!(SqliteMeta, sqlx::Sqlite, sqlx::sqlite::SqliteRow, dialect);
