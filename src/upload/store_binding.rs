//! Binding the object store to its database: both keep one identity, and
//! an instance whose two disagree refuses to start. A database that does
//! not know a store's files (a mistyped `DATABASE_URL`, a backup restored
//! from before the store was bound, SQLite's default path off the volume)
//! must not take them for leftovers.

use chrono::Utc;

use super::Uploads;
use super::error::UploadError;

/// Why the object store and the database may not be used together.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// Both carry an identity, and they differ.
    #[error(
        "the object store belongs to another database: the store's identity is {store}, \
         the database is bound to {database}"
    )]
    Mismatch {
        /// The identity in the store.
        store: String,
        /// The identity in the database.
        database: String,
    },
    /// The store carries an identity; the database carries none.
    #[error(
        "the object store belongs to another database: its identity is {store}, and this \
         database is bound to no store"
    )]
    UnboundDatabase {
        /// The identity in the store.
        store: String,
    },
    /// The database carries an identity; the store carries none.
    #[error(
        "the database is bound to the store {database}, and this object store carries no \
         identity (no ferry-store.json at its root): it is another store, or an emptied one"
    )]
    UnmarkedStore {
        /// The identity in the database.
        database: String,
    },
    /// Neither carries one, and one holds what the other does not know.
    #[error("{0}, and neither carries an identity binding them")]
    Unrelated(&'static str),
    /// The database or the store failed.
    #[error(transparent)]
    Unavailable(#[from] UploadError),
}

impl BindingError {
    /// What an operator does about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            BindingError::Unavailable(_) => "check that the database and the store are reachable",
            _ => {
                "check DATABASE_URL and FERRY_STORE: one of them names another database or store \
                 than the one the other belongs to. If they do belong together (a database \
                 rebuilt from scratch, a store copied to a new bucket), run `ferryd store bind` \
                 once with the same settings; files the database does not record then stay in \
                 the store as leftovers, listed by `ferryd store leftovers`, and files it records \
                 whose objects are missing are repaired by uploading their bytes again"
            }
        }
    }
}

/// A newly made identity.
fn new_identity() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Uploads {
    /// Checks that the object store and the database belong together, and
    /// binds a new pair (or a pair from before identities) the first time;
    /// answers their identity.
    pub async fn check_store_binding(&self) -> Result<String, BindingError> {
        let in_database = self.meta.store_binding().await.map_err(UploadError::from)?;
        let in_store = self.blobs.identity().await.map_err(UploadError::from)?;
        match (in_store, in_database) {
            (Some(store), Some(database)) if store == database => Ok(store),
            (Some(store), Some(database)) => Err(BindingError::Mismatch { store, database }),
            (Some(store), None) => Err(BindingError::UnboundDatabase { store }),
            (None, Some(database)) => {
                if self.records_published_files().await? || self.holds_files().await? {
                    return Err(BindingError::UnmarkedStore { database });
                }
                self.write_store_identity(&database).await?;
                Ok(database)
            }
            (None, None) => {
                let records = self.records_published_files().await?;
                let files = self.holds_files().await?;
                if files && !records {
                    return Err(BindingError::Unrelated(
                        "the object store holds files and the database records no published file",
                    ));
                }
                if records && !files {
                    return Err(BindingError::Unrelated(
                        "the database records published files and the object store holds none",
                    ));
                }
                let bound = self
                    .meta
                    .bind_store(&new_identity(), Utc::now())
                    .await
                    .map_err(UploadError::from)?;
                self.write_store_identity(&bound).await?;
                tracing::info!(store_id = %bound, "bound the object store and the database to each other");
                Ok(bound)
            }
        }
    }

    /// Binds the object store and the database to each other whatever they
    /// were bound to: the store's identity, or a new one, goes into both.
    /// For an operator who knows they belong together.
    pub async fn bind_store(&self) -> Result<String, UploadError> {
        let identity = match self.blobs.identity().await? {
            Some(identity) => identity,
            None => new_identity(),
        };
        self.meta.rebind_store(&identity, Utc::now()).await?;
        self.blobs.write_identity(&identity).await?;
        tracing::info!(store_id = %identity, "bound the object store and the database to each other on command");
        Ok(identity)
    }

    async fn records_published_files(&self) -> Result<bool, BindingError> {
        Ok(self
            .meta
            .records_published_files()
            .await
            .map_err(UploadError::from)?)
    }

    async fn holds_files(&self) -> Result<bool, BindingError> {
        Ok(self.blobs.holds_files().await.map_err(UploadError::from)?)
    }

    async fn write_store_identity(&self, identity: &str) -> Result<(), BindingError> {
        Ok(self
            .blobs
            .write_identity(identity)
            .await
            .map_err(UploadError::from)?)
    }
}
