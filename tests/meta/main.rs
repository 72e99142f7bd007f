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
    hash_links_follow_the_chunk_copy_they_were_computed_from,
    a_merge_starts_once_and_only_with_every_chunk,
    one_lease_per_hash_until_it_expires,
    publishing_needs_the_lease_and_keeps_the_first_file,
    a_failed_merge_marks_the_session_failed,
    a_reopened_merge_forgets_its_lost_chunks,
    the_sweep_queries_find_what_they_promise,
    the_database_tells_the_time,
    a_session_quota_holds_against_concurrent_inserts,
    what_a_session_received_is_summed_up_in_runs,
    a_database_is_bound_to_one_store,
    concurrent_binds_agree_on_one_store,
    new_sessions_are_counted_per_owner_and_hash_in_a_window,
    a_repair_needs_the_missing_key_it_names,
    one_listing_of_the_store_at_a_time,
    orphans_keep_when_they_were_first_found,
    a_file_in_parts_is_claimed_by_one_mover_at_a_time,
    a_move_needs_the_key_it_names_and_records_it_for_deletion,
    each_delivery_is_claimed_by_one_caller_at_a_time,
    a_claim_that_runs_out_is_taken_over,
    a_file_is_deleted_only_when_due_and_held_by_none,
    of_two_appends_at_one_offset_one_wins,
    a_deferred_length_is_set_once,
    the_last_append_publishes_only_under_the_lease,
    appended_uploads_count_towards_the_quota_and_expire,
);

/// A session created before received chunks were kept as bits on its row
/// (`received` is NULL there) still reports what it has, counted in SQL.
mod sessions_from_before_received_bits {
    use crate::databases::{Backend, TestDatabase};

    async fn report_what_they_received(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let meta = database.meta().await;
        let expected = crate::checks::record_scattered_chunks(meta.as_ref()).await;
        let forget = "UPDATE uploads SET received = NULL";
        let forgotten = match backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&database.url)
                    .await
                    .expect("SQLite");
                sqlx::query(forget)
                    .execute(&pool)
                    .await
                    .map(|done| done.rows_affected())
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&database.url)
                    .await
                    .expect("PostgreSQL");
                sqlx::query(forget)
                    .execute(&pool)
                    .await
                    .map(|done| done.rows_affected())
            }
        };
        assert_eq!(forgotten.expect("forgetting the bits"), 1);
        let session = crate::checks::id("s1");
        assert_eq!(meta.received(&session).await.expect("received"), expected);
        let chunk = ferry::meta::Chunk {
            index: 3,
            size: 10,
            sha256: ferry_proto::ContentHash::from_digest([3; 32]),
            object_key: ferry::ids::ObjectKey::parse("k3").expect("a key"),
            link: None,
        };
        let expires = chrono::Utc::now() + chrono::Duration::hours(48);
        assert_eq!(
            meta.record_chunk(&session, &chunk, expires)
                .await
                .expect("record"),
            ferry::meta::Recorded::Accepted {
                replaced_key: None,
                received_count: 8,
                received_bytes: 75,
            },
            "a chunk recorded on such a session is counted in SQL"
        );
    }

    #[tokio::test]
    async fn sqlite() {
        report_what_they_received(Backend::Sqlite).await
    }

    #[tokio::test]
    async fn postgres() {
        report_what_they_received(Backend::Postgres).await
    }
}

/// A PostgreSQL connection that the server cut off while it sat idle in
/// the pool is replaced before the next query uses it.
mod postgres_connections_cut_off_while_idle {
    use std::time::Duration;

    use ferry::meta::MetaStore;
    use ferry::meta::postgres::PostgresMeta;

    use crate::databases::{Backend, TestDatabase};

    #[tokio::test]
    async fn are_replaced_before_use() {
        let database = TestDatabase::create(Backend::Postgres).await;
        let meta = PostgresMeta::connect(&database.url, 2)
            .await
            .expect("PostgreSQL metadata");
        meta.clock().await.expect("the database's time");
        let admin = sqlx::PgPool::connect(&database.url)
            .await
            .expect("PostgreSQL");
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend' AND usename = current_user",
        )
        .fetch_all(&admin)
        .await
        .expect("cutting the store's connections off");
        assert!(
            cut.contains(&true),
            "no connection of the store was cut off"
        );
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        meta.clock()
            .await
            .expect("the database's time, on a fresh connection");
    }
}
