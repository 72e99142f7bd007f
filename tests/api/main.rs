//! API tests: the real server on a free port, each test against both
//! metadata backends (SQLite with a local-disk store, PostgreSQL with the
//! in-memory store).

#[path = "../common/databases.rs"]
mod databases;
mod helpers;

/// Runs each named `async fn(Backend)` once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_and_local_disk() {
                    super::$name(Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_and_memory() {
                    super::$name(Backend::Postgres).await
                }
            }
        )*
    };
}

mod auth;
mod chunks;
mod complete;
mod direct;
mod downloads;
mod instances;
mod ownership;
mod proof;
mod sessions;
mod signed_links;
mod transport;
