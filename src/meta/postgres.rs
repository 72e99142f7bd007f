//! The metadata store on PostgreSQL: for production and many instances.
//!
//! Its dialect: a writing transaction is a plain `BEGIN` (rows written are
//! locked until commit), an owner's quota is checked under an advisory
//! lock, and times are `TIMESTAMPTZ`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgConnection, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::query::Query;
use sqlx::{Connection as _, Row as _};

use super::MetaResult;
use super::sql::{Columns, Connection, Dialect, RowsAffected, SqlMeta, Statement};

/// PostgreSQL migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection idle for longer than this is checked (one round trip)
/// before it is used again, so that one the server or the network dropped
/// meanwhile is replaced rather than failing a request. One used more
/// recently goes straight to work.
const CHECK_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Metadata in PostgreSQL, shared by every instance.
pub type PostgresMeta = SqlMeta<Postgres>;

/// PostgreSQL's dialect: everything it is asked is asked over the pool.
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl SqlMeta<Postgres> {
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
        Ok(SqlMeta::new(pool, Postgres))
    }
}

impl Dialect for Postgres {
    type Db = sqlx::Postgres;
    type Executor<'c> = &'c mut PgConnection;
    type Query<'q> = Query<'q, sqlx::Postgres, PgArguments>;

    const BEGIN_WRITE: &'static str = "BEGIN";
    const SKIPS_LOCKED_ROWS: bool = true;
    const LOCK_OWNER: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(1718773586, hashtext($1))");
    const CLOCK: &'static str = "SELECT now() AS now";
    const CONNECTIONS_BELONG_TO_A_RUNTIME: bool = true;

    fn executor(connection: &mut Connection<Self>) -> Self::Executor<'_> {
        connection
    }

    fn query(statement: Statement<'_>) -> Self::Query<'_> {
        statement.query(|time: DateTime<Utc>| time)
    }
}

impl Columns for PgRow {
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
        self.try_get(column)
    }
}

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}
