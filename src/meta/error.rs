//! How a failure of the metadata database is told apart: one that may pass
//! (try again later) from one that will not.

/// A failure of the database itself, split by whether it may pass.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database cannot be reached now (a pool timeout, a closed pool, a
    /// lost connection, a busy lock): asking again later may succeed.
    #[error("the metadata database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A query failed in a way retrying will not mend (a row that does not
    /// decode, a violated constraint, a migration that does not apply).
    #[error("the metadata database failed")]
    Fault(#[source] sqlx::Error),
}

impl MetaError {
    /// Whether the failure may pass, so that a client should try again.
    pub fn is_transient(&self) -> bool {
        matches!(self, MetaError::Unavailable(_))
    }
}

impl From<sqlx::Error> for MetaError {
    fn from(error: sqlx::Error) -> Self {
        if is_passing(&error) {
            MetaError::Unavailable(error)
        } else {
            MetaError::Fault(error)
        }
    }
}

impl From<sqlx::migrate::MigrateError> for MetaError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        MetaError::from(sqlx::Error::from(error))
    }
}

/// PostgreSQL's SQLSTATE classes and codes of failures that pass: lost
/// connections (08), serialization failures and deadlocks (40001, 40P01),
/// too many connections (53300), and a server shutting down (57P01-57P03).
const PASSING_POSTGRES_STATES: [&str; 6] = ["40001", "40P01", "53300", "57P01", "57P02", "57P03"];

/// SQLite's result codes of failures that pass: the database is busy or locked.
const PASSING_SQLITE_CODES: [&str; 2] = ["5", "6"];

fn is_passing(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08")
                || PASSING_POSTGRES_STATES.contains(&code.as_ref())
                || PASSING_SQLITE_CODES.contains(&code.as_ref())
        }),
        _ => false,
    }
}

/// Result of a metadata operation.
pub type MetaResult<T> = Result<T, MetaError>;
