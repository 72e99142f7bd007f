//! Binding the object store to its database: both keep one identity, and
//! an instance whose two disagree refuses to start. A database that does
//! not know a store's files (a mistyped `DATABASE_URL`, a backup restored
//! from before the store was bound, SQLite's default path off the volume)
//! must not take them for leftovers.

use chrono::Utc;

use super::Uploads;
use super::error::{UploadError, UploadResult};

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
    /// Neither carries one yet, and this command does not bind them.
    #[error("the object store and the database are not bound to each other yet")]
    NotBound,
    /// The database or the store failed.
    #[error(transparent)]
    Unavailable(#[from] UploadError),
}

impl BindingError {
    /// Whether asking again later may succeed: the database or the store
    /// could not be reached.
    pub fn is_transient(&self) -> bool {
        match self {
            BindingError::Unavailable(UploadError::Meta(error)) => error.is_transient(),
            BindingError::Unavailable(UploadError::Blob(error)) => error.is_transient(),
            _ => false,
        }
    }

    /// What an operator does about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            BindingError::Unavailable(_) => "check that the database and the store are reachable",
            BindingError::NotBound => "start ferryd once with these settings to bind them",
            _ => {
                "check DATABASE_URL and FERRY_STORE: one of them names another database or store \
                 than the one the other belongs to. Only if they do belong together (a database \
                 rebuilt from scratch, a store copied to a new bucket), run `ferryd store bind` \
                 once with the same settings. Then the objects of uploads this database does not \
                 record become leftovers: `ferryd store leftovers` lists them, and they are \
                 deleted once FERRY_LEFTOVER_QUARANTINE has passed (7 days by default), while \
                 published files' objects it does not record stay untouched; files it \
                 records whose objects are missing are repaired by uploading their bytes again"
            }
        }
    }
}

/// Published files whose objects are looked for in the store before a
/// database and a store without identities are bound to each other.
const SAMPLED_FILES: u32 = 8;

/// What a database and a store hold, when at most one carries an identity.
struct Evidence {
    /// The database records published files.
    database_files: bool,
    /// The store holds files' objects.
    store_files: bool,
    /// The store holds the objects of the database's newest files.
    sample_found: bool,
}

impl Evidence {
    /// Whether the two may be bound: neither holds anything the other could
    /// lose, or the database's newest files are whole in the store.
    fn belong_together(&self) -> bool {
        match (self.database_files, self.store_files) {
            (false, false) => true,
            (true, true) => self.sample_found,
            (true, false) | (false, true) => false,
        }
    }

    fn describe(&self) -> &'static str {
        match (self.database_files, self.store_files) {
            (false, true) => "the object store holds files and the database records none",
            (true, false) => "the database records published files and the object store holds none",
            _ => "the object store lacks the objects of the database's newest files",
        }
    }
}

/// A newly made identity.
fn new_identity() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Uploads {
    /// Checks that the object store and the database belong together;
    /// answers their identity. With `may_bind`, a pair where one or neither
    /// carries an identity yet (a first start, the first start after an
    /// upgrade, or one cut short between the two writes) is bound when
    /// nothing says they are strangers.
    pub async fn check_store_binding(&self, may_bind: bool) -> Result<String, BindingError> {
        let in_database = self.meta.store_binding().await.map_err(UploadError::from)?;
        let in_store = self.blobs.identity().await.map_err(UploadError::from)?;
        if let (Some(store), Some(database)) = (&in_store, &in_database) {
            if store == database {
                return Ok(store.clone());
            }
            return Err(BindingError::Mismatch {
                store: store.clone(),
                database: database.clone(),
            });
        }
        let evidence = self.evidence().await?;
        if !evidence.belong_together() {
            return Err(match (in_store, in_database) {
                (Some(store), _) => BindingError::UnboundDatabase { store },
                (_, Some(database)) => BindingError::UnmarkedStore { database },
                (None, None) => BindingError::Unrelated(evidence.describe()),
            });
        }
        if !may_bind {
            return Err(BindingError::NotBound);
        }
        let identity = in_store
            .clone()
            .or(in_database)
            .unwrap_or_else(new_identity);
        let bound = self
            .meta
            .bind_store(&identity, Utc::now())
            .await
            .map_err(UploadError::from)?;
        if in_store.is_none() {
            self.write_store_identity(&bound).await?;
        }
        let in_store = self.blobs.identity().await.map_err(UploadError::from)?;
        match in_store {
            Some(store) if store == bound => {
                tracing::info!(store_id = %bound, "bound the object store and the database to each other");
                Ok(bound)
            }
            store => Err(BindingError::Mismatch {
                store: store.unwrap_or_default(),
                database: bound,
            }),
        }
    }

    /// Whether the store still carries the identity the database is bound
    /// to: checked before each listing of the store, in case it was
    /// swapped or remounted while this instance ran.
    pub(super) async fn store_still_bound(&self) -> UploadResult<bool> {
        let in_database = self.meta.store_binding().await?;
        let in_store = self.blobs.identity().await?;
        Ok(in_database.is_some() && in_database == in_store)
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

    async fn evidence(&self) -> Result<Evidence, BindingError> {
        let newest = self
            .meta
            .newest_files(SAMPLED_FILES)
            .await
            .map_err(UploadError::from)?;
        let mut sample_found = true;
        for file in &newest {
            let held = self
                .blobs
                .holds_file(&file.object_key, file.size, file.part_size)
                .await
                .map_err(UploadError::from)?;
            sample_found &= held;
        }
        Ok(Evidence {
            database_files: !newest.is_empty(),
            store_files: self.holds_files().await?,
            sample_found,
        })
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
