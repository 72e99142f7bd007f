//! Lookups of one row taken on the thread that asks, over read-only
//! connections of the store's own, instead of on a pooled connection.
//!
//! sqlx runs each pooled SQLite connection on a thread of its own: a query
//! is handed to that thread and its rows handed back, and returning the
//! connection to the pool costs one more such trip. SQLite itself finds a
//! row by its index in microseconds, so those trips were most of the time
//! of a progress request. A lookup here is one auto-committed statement
//! and sees every transaction committed before it, as a pooled read does.
//! It does not wait for a busy database: a busy answer, or any other
//! failure, answers [`ReadHere::AskThePool`], and the caller asks the pool
//! instead, which waits and reports errors as every other query does. Rows
//! decode with the same decoders as the pool's. Like any small read of a
//! file, a lookup whose pages are not in memory reads them from disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use parking_lot::Mutex;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::from_millis;
use crate::ids::{OwnerId, UploadId};
use crate::meta::decode::{self, Columns};
use crate::meta::sql::{RECEIVED_BITS, ReadHere, SESSION_BY_OWNER_AND_HASH};
use crate::meta::{ReceivedChunks, Session};

/// Most idle connections kept. A lookup never awaits, so a thread uses one
/// connection at a time and this many serve as many threads.
const IDLE_CONNECTIONS: usize = 8;

/// A connection's page cache, as SQLite's negative `cache_size` in KiB.
const CACHE_KIB: i64 = -64;

/// The database file's read-only connections for lookups on the caller's
/// thread.
#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Set once a connection could not be opened for another reason than a
    /// busy database, so that none is tried again and every lookup goes to
    /// the pool.
    unusable: AtomicBool,
}

/// Why a lookup was not answered here.
#[derive(Debug)]
enum Unread {
    /// SQLite refused or failed it.
    Sqlite(rusqlite::Error),
    /// A row it read does not decode; the pool's read reports it.
    Row(sqlx::Error),
}

impl From<rusqlite::Error> for Unread {
    fn from(error: rusqlite::Error) -> Self {
        Unread::Sqlite(error)
    }
}

impl From<sqlx::Error> for Unread {
    fn from(error: sqlx::Error) -> Self {
        Unread::Row(error)
    }
}

impl Readers {
    /// Readers of the database file at `path`.
    pub(super) fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            unusable: AtomicBool::new(false),
        }
    }

    /// The session of `owner` and `sha256`, when it can be read at once.
    pub(super) fn session(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
    ) -> ReadHere<Option<Session>> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(SESSION_BY_OWNER_AND_HASH)?;
            let mut found = statement.query((owner.as_str(), sha256.to_hex()))?;
            Ok(found.next()?.map(decode::session).transpose()?)
        })
    }

    /// The chunks received by session `upload_id`, when its row keeps them
    /// as bits and can be read at once.
    pub(super) fn received(&self, upload_id: &UploadId) -> ReadHere<ReceivedChunks> {
        let found = self.read(|connection| {
            let mut statement = connection.prepare_cached(RECEIVED_BITS)?;
            let mut found = statement.query([upload_id.as_str()])?;
            match found.next()? {
                Some(session) => Ok(decode::received_bits(session)?),
                None => Ok(Some(ReceivedChunks::default())),
            }
        });
        match found {
            ReadHere::Answered(Some(received)) => ReadHere::Answered(received),
            ReadHere::Answered(None) | ReadHere::AskThePool => ReadHere::AskThePool,
        }
    }

    /// Runs `lookup` on an idle connection, opening one when none is.
    fn read<T>(&self, lookup: impl FnOnce(&Connection) -> Result<T, Unread>) -> ReadHere<T> {
        if self.unusable.load(Ordering::Relaxed) {
            return ReadHere::AskThePool;
        }
        let idle = self.idle.lock().pop();
        let Some(connection) = idle.or_else(|| self.open()) else {
            return ReadHere::AskThePool;
        };
        match lookup(&connection) {
            Ok(found) => {
                let mut idle = self.idle.lock();
                if idle.len() < IDLE_CONNECTIONS {
                    idle.push(connection);
                }
                ReadHere::Answered(found)
            }
            Err(Unread::Sqlite(error)) if is_busy(&error) => {
                tracing::debug!(%error, "the database is busy; asking the pool");
                ReadHere::AskThePool
            }
            Err(Unread::Sqlite(error)) => {
                tracing::warn!(%error, "a lookup failed on a reader; asking the pool");
                ReadHere::AskThePool
            }
            Err(Unread::Row(error)) => {
                tracing::warn!(%error, "a row read on a reader does not decode; asking the pool");
                ReadHere::AskThePool
            }
        }
    }

    /// A new connection that only reads, answers busy at once, leaves
    /// checkpoints to the pool even when it closes last, and caches little,
    /// since every write to the database empties its cache. It opens for
    /// writing so that it can recreate the shared-memory file a last
    /// connection closing removed.
    fn open(&self) -> Option<Connection> {
        let opened = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|connection| {
            connection.busy_timeout(Duration::ZERO)?;
            connection.pragma_update(None, "query_only", true)?;
            connection.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
            connection.pragma_update(None, "cache_size", CACHE_KIB)?;
            Ok(connection)
        });
        match opened {
            Ok(connection) => Some(connection),
            Err(error) if is_busy(&error) => None,
            Err(error) => {
                tracing::warn!(%error, path = %self.path.display(),
                    "cannot open a reader of the database; every lookup goes to the pool");
                self.unusable.store(true, Ordering::Relaxed);
                None
            }
        }
    }
}

/// Whether SQLite answered that the database is busy or locked.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Columns for rusqlite::Row<'_> {
    fn text_or_null(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.get(column).map_err(undecoded)
    }

    fn integer_or_null(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.get(column).map_err(undecoded)
    }

    fn bytes_or_null(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.get(column).map_err(undecoded)
    }

    fn time_or_null(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.integer_or_null(column)?.map(from_millis).transpose()
    }
}

/// A column rusqlite could not read, as the decode error sqlx's rows give.
fn undecoded(error: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

#[cfg(test)]
mod tests {
    use chrono::{SubsecRound, Utc};
    use ferry_proto::UploadStatus;

    use sqlx::Connection as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
    use tempfile::TempDir;

    use super::*;
    use crate::meta::SessionStore;
    use crate::meta::sqlite::{MIGRATOR, SqliteMeta};

    fn session() -> Session {
        Session {
            id: UploadId::generate(),
            owner: OwnerId::parse("reader").expect("an owner"),
            sha256: ContentHash::from_digest([7; 32]),
            size: 25,
            chunk_size: 10,
            filename: None,
            content_type: None,
            status: UploadStatus::Uploading,
            expires_at: Utc::now().trunc_subsecs(3),
        }
    }

    /// A database file with ferry's schema and `stored` in it, `received`
    /// its chunk bits, and a connection to it that no pool holds.
    async fn database_with(stored: &Session, received: Option<&[u8]>) -> (TempDir, Connection) {
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("ferry.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut migrating = SqliteConnection::connect_with(&options)
            .await
            .expect("a database");
        MIGRATOR.run(&mut migrating).await.expect("the schema");
        migrating.close().await.expect("closed");
        let connection = Connection::open(&path).expect("a connection");
        connection
            .execute(
                "INSERT INTO uploads (id, owner, sha256, size, chunk_size, chunk_count, status,
                                      expires_at, received)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                (
                    stored.id.as_str(),
                    stored.owner.as_str(),
                    stored.sha256.to_hex(),
                    25,
                    10,
                    3,
                    "uploading",
                    stored.expires_at.timestamp_millis(),
                    received,
                ),
            )
            .expect("a session");
        (folder, connection)
    }

    #[tokio::test]
    async fn a_locked_database_is_not_read_here_and_is_read_again_once_free() {
        let stored = session();
        let (folder, holder) = database_with(&stored, None).await;
        let readers = Readers::new(folder.path().join("ferry.db"));
        let lookup = || readers.session(&stored.owner, &stored.sha256);
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
            .expect("the database locked");
        assert_eq!(lookup(), ReadHere::AskThePool);
        drop(holder);
        assert_eq!(lookup(), ReadHere::Answered(Some(stored.clone())));
    }

    #[tokio::test]
    async fn received_chunks_are_read_from_their_bits_and_kept_otherwise_for_the_pool() {
        let stored = session();
        let (folder, _connection) = database_with(&stored, Some(&[0b101])).await;
        let readers = Readers::new(folder.path().join("ferry.db"));
        let ReadHere::Answered(received) = readers.received(&stored.id) else {
            panic!("the bits were not read here");
        };
        assert_eq!(received.runs, [[0, 0], [2, 2]]);
        assert_eq!(received.bytes, 15);
        assert_eq!(
            readers.received(&UploadId::generate()),
            ReadHere::Answered(ReceivedChunks::default())
        );

        let without_bits = session();
        let (folder, _connection) = database_with(&without_bits, None).await;
        let readers = Readers::new(folder.path().join("ferry.db"));
        assert_eq!(readers.received(&without_bits.id), ReadHere::AskThePool);
    }

    #[tokio::test]
    async fn a_database_in_memory_is_read_through_its_pool() {
        let meta = SqliteMeta::connect("sqlite::memory:")
            .await
            .expect("a database");
        assert!(meta.dialect().readers.is_none());
        let stored = session();
        meta.insert_session(&stored).await.expect("a session");
        let found = meta.find_session(&stored.owner, &stored.sha256).await;
        assert_eq!(found.expect("a lookup"), Some(stored));
    }
}
