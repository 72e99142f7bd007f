//! The metadata conformance suite, run against PostgreSQL and SQLite.

#[path = "common/databases.rs"]
mod databases;

use databases::{Backend, TestDatabase};
use ferry::meta::conformance;

async fn run_check(backend: Backend, name: &str) {
    let database = TestDatabase::create(backend).await;
    let meta = database.meta().await;
    conformance::run(name, meta.as_ref()).await;
}

macro_rules! conformance_checks {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    run_check(Backend::Sqlite, stringify!($name)).await
                }

                #[tokio::test]
                async fn postgres() {
                    run_check(Backend::Postgres, stringify!($name)).await
                }
            }
        )*

        #[test]
        fn every_conformance_check_runs_here() {
            let listed = [$(stringify!($name)),*];
            assert_eq!(listed.as_slice(), conformance::CHECKS);
        }
    };
}

conformance_checks!(
    sessions_are_unique_per_owner_and_hash,
    chunks_are_recorded_only_while_uploading,
    a_merge_starts_once_and_only_with_every_chunk,
    one_lease_per_hash_until_it_expires,
    publishing_needs_the_lease_and_keeps_the_first_file,
    a_failed_merge_marks_the_session_failed,
    the_sweep_queries_find_what_they_promise,
);
