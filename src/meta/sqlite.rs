//! The metadata store on SQLite: the embedded default for one instance.
//!
//! Its dialect: a writing transaction begins `IMMEDIATE`, taking the
//! database's write lock at once so that two writers queue on the busy
//! timeout instead of failing (which serializes an owner's quota checks
//! too); times are milliseconds since the Unix epoch, so that they compare
//! as numbers. Commits are synchronous: an accepted chunk survives a power
//! loss. A session and its progress are looked up on the caller's thread
//! when the database is a file, over rusqlite connections of its own.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use sqlx::Row as _;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteQueryResult, SqliteRow, SqliteSynchronous,
};

use super::sql::{Columns, Connection, Dialect, ReadHere, RowsAffected, SqlMeta, Statement};
use super::{MetaResult, ReceivedChunks, Session};
use crate::ids::{OwnerId, UploadId};
use readers::Readers;

mod readers;

/// SQLite migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Metadata in one SQLite file. Its connections are files open in this
/// process, which cannot be cut off as a network connection can, so none
/// is checked before use, which would cost every query one more trip to
/// the connection's thread.
pub type SqliteMeta = SqlMeta<Sqlite>;

/// SQLite's dialect, with the lookups it answers on the caller's thread.
#[derive(Debug, Clone)]
pub struct Sqlite {
    /// Lookups on the caller's thread; none for a database in memory, which
    /// only the pool's connections share.
    readers: Option<Arc<Readers>>,
}

impl SqlMeta<Sqlite> {
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
        let readers = (!file.is_empty()).then(|| Arc::new(Readers::new(PathBuf::from(file))));
        Ok(SqlMeta::new(pool, Sqlite { readers }))
    }
}

impl Dialect for Sqlite {
    type Db = sqlx::Sqlite;
    type Executor<'c> = &'c mut SqliteConnection;
    type Query<'q> = Query<'q, sqlx::Sqlite, SqliteArguments<'q>>;

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const SKIPS_LOCKED_ROWS: bool = false;
    const LOCK_OWNER: Option<&'static str> = None;
    const CLOCK: &'static str =
        "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER) AS now";
    const CONNECTIONS_BELONG_TO_A_RUNTIME: bool = false;

    fn executor(connection: &mut Connection<Self>) -> Self::Executor<'_> {
        connection
    }

    fn query(statement: Statement<'_>) -> Self::Query<'_> {
        statement.query(|time: DateTime<Utc>| time.timestamp_millis())
    }

    fn session_here(&self, owner: &OwnerId, sha256: &ContentHash) -> ReadHere<Option<Session>> {
        match &self.readers {
            Some(readers) => readers.session(owner, sha256),
            None => ReadHere::AskThePool,
        }
    }

    fn received_here(&self, upload_id: &UploadId) -> ReadHere<ReceivedChunks> {
        match &self.readers {
            Some(readers) => readers.received(upload_id),
            None => ReadHere::AskThePool,
        }
    }
}

impl Columns for SqliteRow {
    fn text_or_null(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }

    fn integer_or_null(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }

    fn bytes_or_null(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(column)
    }

    fn time_or_null(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.integer_or_null(column)?.map(from_millis).transpose()
    }
}

impl RowsAffected for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }
}

/// A time stored as milliseconds since the Unix epoch.
fn from_millis(millis: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| sqlx::Error::Decode(format!("timestamp {millis} out of range").into()))
}
