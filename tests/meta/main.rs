//! The metadata conformance suite, each check run against PostgreSQL and
//! SQLite on a fresh database.

#[path = "../common/databases.rs"]
mod databases;

mod checks;

/// Runs each named check of [`checks`] once per database.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::databases::{Backend, TestDatabase};

                #[tokio::test]
                async fn sqlite() {
                    let database = TestDatabase::create(Backend::Sqlite).await;
                    crate::checks::$name(database.meta().await.as_ref()).await
                }

                #[tokio::test]
                async fn postgres() {
                    let database = TestDatabase::create(Backend::Postgres).await;
                    crate::checks::$name(database.meta().await.as_ref()).await
                }
            }
        )*
    };
}

on_both_databases!(
    sessions_are_unique_per_owner_and_hash,
    chunks_are_recorded_only_while_uploading,
    a_merge_starts_once_and_only_with_every_chunk,
    one_lease_per_hash_until_it_expires,
    publishing_needs_the_lease_and_keeps_the_first_file,
    a_failed_merge_marks_the_session_failed,
    the_sweep_queries_find_what_they_promise,
    the_database_tells_the_time,
    a_session_quota_holds_against_concurrent_inserts,
);
