//! Isolated databases for tests: a fresh PostgreSQL database per test
//! (dropped afterwards) or a SQLite file in a temporary folder.

use std::sync::Arc;

use ferry::meta::MetaStore;
use ferry::meta::postgres::PostgresMeta;
use ferry::meta::sqlite::SqliteMeta;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Where the PostgreSQL server for tests is: `DATABASE_URL`, or the local default.
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which metadata backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _folder: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Creates an empty database of the given kind. Panics with a clear
    /// message when PostgreSQL cannot be reached: such tests never skip.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let folder = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}/ferry.db", folder.path().display());
                TestDatabase {
                    url,
                    postgres_name: None,
                    _folder: Some(folder),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("ferry_test_{}", uuid::Uuid::new_v4().simple());
                let mut connection = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for these tests and is not reachable at {admin}: {e}. \
                         Run scripts/test.sh, which finds or starts one."
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut connection)
                    .await
                    .expect("creating a test database");
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("DATABASE_URL {admin} names no database"),
                };
                TestDatabase {
                    url,
                    postgres_name: Some(name),
                    _folder: None,
                }
            }
        }
    }

    /// Opens the metadata store on this database, migrated.
    pub async fn meta(&self) -> Arc<dyn MetaStore> {
        if self.postgres_name.is_some() {
            Arc::new(
                PostgresMeta::connect(&self.url, 8)
                    .await
                    .expect("PostgreSQL metadata"),
            )
        } else {
            Arc::new(
                SqliteMeta::connect(&self.url)
                    .await
                    .expect("SQLite metadata"),
            )
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut connection)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error}");
        }
    }
}
