//! The one SQL implementation of the metadata store, [`SqlMeta`], which
//! both databases run.
//!
//! Statements use `$N` placeholders, which PostgreSQL and SQLite both read,
//! and only SQL that both agree on. What differs is a [`Dialect`]: how a
//! writing transaction begins, how one owner's inserts are serialized, how
//! the database tells the time, how a time is stored (bound by
//! [`Dialect::query`], read by the engine's [`Columns`]), whether a
//! connection belongs to the runtime that opened it, and the lookups an
//! engine can answer without a pooled connection.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferry_proto::ContentHash;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Execute, Executor, Pool, Transaction};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio_util::task::AbortOnDropHandle;

use super::{MetaError, MetaResult, MetaStore, ReceivedChunks, Session};
use crate::ids::{OwnerId, UploadId};
use crate::metrics::AcquireWaits;

mod appended;
mod chunks;
mod files;
mod holdings;
mod merges;
mod moves;
mod outbox;
mod sessions;
mod statement;
mod upkeep;

pub use super::decode::Columns;
pub(crate) use chunks::RECEIVED_BITS;
pub(crate) use sessions::SESSION_BY_OWNER_AND_HASH;
pub use statement::{Statement, Value};

/// The metadata store over a pool of `D`'s database; see
/// [`PostgresMeta`](super::postgres::PostgresMeta) and
/// [`SqliteMeta`](super::sqlite::SqliteMeta).
#[derive(Debug, Clone)]
pub struct SqlMeta<D: Dialect> {
    pool: Pool<D::Db>,
    /// The runtime the store was opened on, which opens its connections
    /// where they belong to a runtime.
    runtime: Handle,
    dialect: D,
    acquire_waits: OnceLock<AcquireWaits>,
    /// Told each time this store commits an event.
    events_written: Arc<Notify>,
}

/// What one database does its own way; every statement the store runs is
/// the same text on both.
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx database this dialect speaks to.
    type Db: Database<Row: Columns, QueryResult: RowsAffected>;

    /// A borrowed connection as sqlx's executor.
    type Executor<'c>: Executor<'c, Database = Self::Db>;

    /// A [`Statement`] with its values bound as this database stores them.
    type Query<'q>: Execute<'q, Self::Db> + 'q;

    /// Starts a writing transaction.
    const BEGIN_WRITE: &'static str;

    /// Holds, until the transaction ends, a lock on the owner `$1`, so that
    /// the quota checks of its concurrent inserts see each other's rows;
    /// `None` where every writing transaction excludes the others already.
    const LOCK_OWNER: Option<&'static str>;

    /// Whether a `SELECT … FOR UPDATE SKIP LOCKED` passes over the rows
    /// other transactions locked; where it does not, writing transactions
    /// exclude each other already.
    const SKIPS_LOCKED_ROWS: bool;

    /// The database's time, as a column `now`.
    const CLOCK: &'static str;

    /// Whether a connection's socket is driven by the runtime that opened
    /// it, and fails once that runtime ends.
    const CONNECTIONS_BELONG_TO_A_RUNTIME: bool;

    /// `connection` as its executor, which generic code cannot see it is.
    fn executor(connection: &mut Connection<Self>) -> Self::Executor<'_>;

    /// `statement` as a query of this database, its times bound as it
    /// stores them.
    fn query(statement: Statement<'_>) -> Self::Query<'_>;

    /// The session of `owner` for `sha256`, if this engine can read it
    /// without a pooled connection.
    fn session_here(&self, _owner: &OwnerId, _sha256: &ContentHash) -> ReadHere<Option<Session>> {
        ReadHere::AskThePool
    }

    /// What session `upload_id` received, if this engine can read it
    /// without a pooled connection.
    fn received_here(&self, _upload_id: &UploadId) -> ReadHere<ReceivedChunks> {
        ReadHere::AskThePool
    }
}

/// A connection of a dialect's database.
pub type Connection<D> = <<D as Dialect>::Db as Database>::Connection;

/// A row of a dialect's database.
pub type Row<D> = <<D as Dialect>::Db as Database>::Row;

/// How a statement that writes tells how many rows it changed.
pub trait RowsAffected {
    /// The number of rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

/// The answer of a lookup made without a pooled connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadHere<T> {
    /// Read here: this is the answer.
    Answered(T),
    /// Not read here (no way to, a busy database, a failure): the pool's
    /// connections must be asked, which wait and report errors.
    AskThePool,
}

/// Attempts at inserting a session whose conflicting row vanishes between
/// the insert and the read (an abort racing a create).
const INSERT_ATTEMPTS: usize = 5;

impl<D: Dialect> SqlMeta<D> {
    /// The store over `pool`, opened on the current runtime.
    pub(super) fn new(pool: Pool<D::Db>, dialect: D) -> Self {
        SqlMeta {
            pool,
            runtime: Handle::current(),
            dialect,
            acquire_waits: OnceLock::new(),
            events_written: Arc::new(Notify::new()),
        }
    }

    /// The engine's own state and lookups.
    pub(super) fn dialect(&self) -> &D {
        &self.dialect
    }

    /// A connection from the pool. Where connections belong to a runtime,
    /// it is taken on the one that opened the store: a connection the pool
    /// opens for it then belongs to that runtime, not to an HTTP worker's,
    /// which ends while the process still serves. A caller that gives up
    /// (a client gone, a timeout) takes its place in the pool's queue with
    /// it. Each wait is reported, once the store was given where to.
    async fn connection(&self) -> MetaResult<PoolConnection<D::Db>> {
        let asked = Instant::now();
        let connection = self.acquire().await;
        if let Some(waits) = self.acquire_waits.get() {
            waits.observe(asked.elapsed());
        }
        connection
    }

    async fn acquire(&self) -> MetaResult<PoolConnection<D::Db>> {
        if !D::CONNECTIONS_BELONG_TO_A_RUNTIME {
            return Ok(self.pool.acquire().await?);
        }
        let pool = self.pool.clone();
        let acquiring = self.runtime.spawn(async move { pool.acquire().await });
        match AbortOnDropHandle::new(acquiring).await {
            Ok(connection) => Ok(connection?),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(MetaError::Unavailable(sqlx::Error::PoolClosed)),
        }
    }

    /// A writing transaction on a pooled connection.
    async fn begin_write(&self) -> MetaResult<Transaction<'static, D::Db>> {
        let connection = self.connection().await?;
        let statement = Some(D::BEGIN_WRITE.into());
        Ok(Transaction::begin(connection, statement).await?)
    }

    /// Runs `statement` on `connection`; answers how many rows it changed.
    async fn execute(connection: &mut Connection<D>, statement: Statement<'_>) -> MetaResult<u64> {
        let done = D::executor(connection).execute(D::query(statement)).await?;
        Ok(done.rows_affected())
    }

    /// Runs `statement` on `connection`; answers its first row, if any.
    async fn fetch_optional(
        connection: &mut Connection<D>,
        statement: Statement<'_>,
    ) -> MetaResult<Option<Row<D>>> {
        Ok(D::executor(connection)
            .fetch_optional(D::query(statement))
            .await?)
    }

    /// Runs `statement` on `connection`; answers its one row.
    async fn fetch_one(
        connection: &mut Connection<D>,
        statement: Statement<'_>,
    ) -> MetaResult<Row<D>> {
        Ok(D::executor(connection)
            .fetch_one(D::query(statement))
            .await?)
    }

    /// Runs `statement` on `connection`; answers all of its rows.
    async fn fetch_all(
        connection: &mut Connection<D>,
        statement: Statement<'_>,
    ) -> MetaResult<Vec<Row<D>>> {
        Ok(D::executor(connection)
            .fetch_all(D::query(statement))
            .await?)
    }
}

#[async_trait]
impl<D: Dialect> MetaStore for SqlMeta<D> {
    async fn ping(&self) -> MetaResult<()> {
        Self::execute(&mut *self.connection().await?, Statement::new("SELECT 1")).await?;
        Ok(())
    }

    fn connections_in_use(&self) -> u32 {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        self.pool.size().saturating_sub(idle)
    }

    fn report_acquires(&self, waits: AcquireWaits) {
        let _ = self.acquire_waits.set(waits);
    }

    async fn clock(&self) -> MetaResult<DateTime<Utc>> {
        let row = Self::fetch_one(&mut *self.connection().await?, Statement::new(D::CLOCK)).await?;
        Ok(row.time("now")?)
    }
}
