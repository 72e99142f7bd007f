//! Hostile clients against the real server on a free port: a table of
//! malformed, lying, oversized and stalled requests, bodies nobody reads,
//! and downloads of bytes that look like a refusal, each of which must get
//! its exact contract answer and change nothing, on both metadata backends;
//! and a flood of endless multipart bodies against the `ferryd` binary,
//! whose memory must stay bounded.

#[path = "../common/databases.rs"]
#[allow(dead_code)]
mod databases;
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../common/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

mod cases;
mod memory;
mod raw;
mod snapshot;
mod table;
mod tus;

/// Runs each category of the table once per backend.
macro_rules! refused_on_both_backends {
    ($($category:ident),* $(,)?) => {
        $(
            mod $category {
                use crate::helpers::Backend;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_and_local_disk() {
                    crate::table::run(Backend::Sqlite, crate::cases::$category()).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_and_memory() {
                    crate::table::run(Backend::Postgres, crate::cases::$category()).await
                }
            }
        )*
    };
}

refused_on_both_backends!(
    malformed_json,
    numbers_out_of_range,
    malformed_hashes,
    chunk_indices_outside_the_file,
    unsafe_names,
    wrong_media_types,
    bodies_cut_short_or_too_long,
    wrong_digests,
    malformed_forms,
    oversized_or_ambiguous_heads,
    stalled_heads_and_bodies,
    downloads_of_bytes_that_look_like_a_refusal,
    bodies_nobody_reads,
    listings_and_deletes_out_of_range,
);

#[test]
fn the_table_holds_at_least_sixty_distinct_cases() {
    let cases = cases::all();
    let mut names: Vec<&str> = cases.iter().map(|case| case.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "every case has its own name");
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    eprintln!("{} hostile cases", cases.len());
}
